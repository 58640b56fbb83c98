package crosstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// BenchmarkReadyHTTP times GET /v1/ready (a page of 100) on a 10,000-WP
// project through the handler, as bench's read step does, by key number
// and (fastjson-priority) by priority: a quarter of the WPs at each.
func BenchmarkReadyHTTP(b *testing.B) {
	ctx := agileplus.WithActor(context.Background(), "bench")
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(b.TempDir(), "a.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := agileplus.NewService(store)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "TENK", Name: "x"}); err != nil {
		b.Fatal(err)
	}
	for f := range 20 {
		if _, err := svc.CreateFeature(ctx, "TENK", agileplus.FeatureCreate{Slug: fmt.Sprint("f-", f), Title: "f"}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	const n = 10000
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := svc.CreateWP(ctx, fmt.Sprint("f-", i%20), agileplus.WPCreate{Title: fmt.Sprint("work package number ", i), Description: "some description of the work",
					Priority: agileplus.Priorities[i%4]}); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	for i := 2; i <= n; i++ {
		if rng.IntN(10) < 6 {
			continue // a ready set of about 40% of the open WPs
		}
		for range 1 + rng.IntN(3) {
			j := max(1, i-1-rng.IntN(50))
			svc.AddDependency(ctx, agileplus.DependencyCreate{From: fmt.Sprint("TENK-", i), To: fmt.Sprint("TENK-", j)})
		}
	}
	for i := 1; i <= n*4/10; i++ {
		k := fmt.Sprint("TENK-", i)
		for _, st := range []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone} {
			svc.TransitionWP(ctx, k, agileplus.Transition{To: st, Force: true, Reason: "bench"}, 0)
		}
	}
	h := httpapi.NewServer(svc, nil, nil, "bench")
	for _, c := range []struct {
		name        string
		fast, byPri bool
	}{{"encoding-json", false, false}, {"fastjson", true, false}, {"fastjson-priority", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			h.PlainJSON = !c.fast
			runtime.GC()
			times := make([]time.Duration, 0, 4096)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				url := "/v1/ready?project=TENK&limit=100"
				switch {
				case c.byPri && i%5 != 0:
					url += fmt.Sprint("&order=priority&after=", agileplus.Priorities[rng.IntN(4)], ":TENK-", 4000+rng.IntN(6000))
				case c.byPri:
					url += "&order=priority"
				case i%5 != 0:
					url += fmt.Sprint("&after=TENK-", 4000+rng.IntN(6000))
				}
				req := httptest.NewRequest("GET", url, nil)
				rec := httptest.NewRecorder()
				t := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(t))
				if rec.Code != 200 {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
}
