package sqlitestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/relay"
	"github.com/agileplus/agileplus/sqlitestore"
)

// discardPublisher accepts every event: the benchmark below measures the
// store's side of the relay (reading and marking the outbox), not a bus.
type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, []*agileplus.Event) error { return nil }

// BenchmarkWriterMixed runs the HTTP write benchmark's mixed load (create
// WP, transition, add dependency in turn) through the Service from 32
// goroutines, with a relay draining the outbox, and no HTTP: the single
// writer goroutine is the bottleneck, so ns/op is its time per command.
//
//	go test -run '^$' -bench WriterMixed -benchtime 20000x ./sqlitestore
func BenchmarkWriterMixed(b *testing.B) {
	const workers = 32
	ctx := agileplus.WithActor(context.Background(), "bench")
	path := filepath.Join(b.TempDir(), "a.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rel := &relay.Relay{Outbox: s, Publisher: discardPublisher{}}
	rel.Open()
	defer rel.Close()
	svc := agileplus.NewService(s)
	svc.OnCommit = rel.Poke
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "BENCH", Name: "b"}); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateFeature(ctx, "BENCH", agileplus.FeatureCreate{Slug: "f", Title: "f"}); err != nil {
		b.Fatal(err)
	}
	// Transitions and dependencies need WPs that exist: 2 per worker to
	// toggle, and a lower half nothing depends from.
	const base = 4096
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < base; i += workers {
				if _, err := svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "base"}); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	var next, edges atomic.Int64
	est := 2.0
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			blocked := map[int]bool{}
			for j := 0; ; j++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				var err error
				switch (w + j) % 3 {
				case 0:
					_, err = svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "bench wp", Description: "made by the write benchmark", Estimate: &est})
				case 1:
					idx := w + (j%(base/workers))*workers
					to := agileplus.WPBlocked
					if blocked[idx] {
						to = agileplus.WPPlanned
					}
					blocked[idx] = !blocked[idx]
					_, err = svc.TransitionWP(ctx, fmt.Sprint("BENCH-", idx+1), agileplus.Transition{To: to}, 0)
				default:
					k := int(edges.Add(1) - 1)
					half := base / 2
					i, round := k%half, k/half
					_, err = svc.AddDependency(ctx, agileplus.DependencyCreate{From: fmt.Sprint("BENCH-", half+i+1), To: fmt.Sprint("BENCH-", (i+round)%half+1), Kind: agileplus.DependsOn})
				}
				if err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if fi, err := os.Stat(path + "-wal"); err == nil {
		b.ReportMetric(float64(fi.Size())/4096, "wal-pages")
	}
}
