//go:build unix

package sqlitestore_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// bigPlan writes a canonical bulk file of n WPs in 100 features with about
// 3n depends_on edges, each WP on earlier ones (so no cycle); the same file
// as cmd/agileplus's 100k round trip.
func bigPlan(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	var recs []agileplus.Record
	recs = append(recs, agileplus.Record{Type: agileplus.RecProject, Key: "BIG", Name: "Big plan"})
	for f := range 100 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecFeature, Project: "BIG", Slug: fmt.Sprintf("f-%03d", f), Title: fmt.Sprintf("Feature %d", f), State: agileplus.FeatureStates[f%len(agileplus.FeatureStates)]})
	}
	for i := 1; i <= n; i++ {
		est := float64(1 + rng.IntN(16))
		recs = append(recs, agileplus.Record{Type: agileplus.RecWP, Key: fmt.Sprintf("BIG-%d", i), Feature: fmt.Sprintf("f-%03d", i%100),
			Title: fmt.Sprintf("Work package %d", i), State: agileplus.WPStates[rng.IntN(len(agileplus.WPStates))], Estimate: &est})
	}
	seen := map[[2]int]bool{}
	for len(seen) < 3*n-6 {
		a := 2 + rng.IntN(n-1)
		b := max(1, a-1-rng.IntN(200))
		if b < a && !seen[[2]int{a, b}] {
			seen[[2]int{a, b}] = true
			recs = append(recs, agileplus.Record{Type: agileplus.RecDependency, From: fmt.Sprintf("BIG-%d", a), To: fmt.Sprintf("BIG-%d", b), Kind: agileplus.DependsOn})
		}
	}
	agileplus.SortRecords(recs)
	var buf bytes.Buffer
	if err := agileplus.WriteRecords(&buf, recs); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// BenchmarkImport100k imports the 100,000-WP file into a new store in
// process and reports the wall time and the CPU time (all goroutines) of
// the import:
//
//	go test -run '^$' -bench Import100k -benchtime 1x -cpuprofile cpu.out ./sqlitestore
func BenchmarkImport100k(b *testing.B) {
	file := bigPlan(100_000)
	ctx := agileplus.WithActor(context.Background(), "bench")
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(b.TempDir(), "a.db")})
		if err != nil {
			b.Fatal(err)
		}
		svc := agileplus.NewService(s)
		b.StartTimer()
		cpu0 := cpuTime()
		res, err := svc.BulkImport(ctx, bytes.NewReader(file), agileplus.ImportOptions{})
		cpu += cpuTime() - cpu0
		b.StopTimer()
		if err != nil || res.Created[agileplus.RecWP] != 100_000 {
			b.Fatalf("got %+v, %v; want 100000 WPs created", res, err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
