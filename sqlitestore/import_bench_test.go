//go:build unix

package sqlitestore_test

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/planfile"
	"github.com/agileplus/agileplus/sqlitestore"
)

// BenchmarkImport100k imports the 100,000-WP file into a new store in
// process and reports the wall time and the CPU time (all goroutines) of
// the import:
//
//	go test -run '^$' -bench Import100k -benchtime 1x -cpuprofile cpu.out ./sqlitestore
func BenchmarkImport100k(b *testing.B) {
	file := planfile.Big(100_000)
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
