//go:build linux

package sqlitestore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// BenchmarkImportMemory imports a generated bulk file of about
// AGILEPLUS_IMPORT_BENCH_MB megabytes (default 500) into a new SQLite
// store in process and reports how much the process's peak RSS grew
// during the import, next to the file's size:
//
//	go test -run '^$' -bench ImportMemory -benchtime 1x ./sqlitestore
//	AGILEPLUS_IMPORT_BENCH_MB=50 go test -run '^$' -bench ImportMemory -benchtime 1x ./sqlitestore
func BenchmarkImportMemory(b *testing.B) {
	mb := 500
	if v := os.Getenv("AGILEPLUS_IMPORT_BENCH_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("AGILEPLUS_IMPORT_BENCH_MB=%q is not a positive number", v)
		}
		mb = n
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "plan.jsonl")
	wps, size := writeMemoryPlan(b, path, int64(mb)<<20)
	ctx := agileplus.WithActor(context.Background(), "bench")
	for b.Loop() {
		b.StopTimer()
		s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(b.TempDir(), "a.db")})
		if err != nil {
			b.Fatal(err)
		}
		svc := agileplus.NewService(s)
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		rss0 := resetPeakRSS(b)
		b.StartTimer()
		res, err := svc.BulkImport(ctx, f, agileplus.ImportOptions{})
		b.StopTimer()
		peak := procStatus(b, "VmHWM")
		f.Close()
		if err != nil || res.Created[agileplus.RecWP] != wps {
			b.Fatalf("got %+v, %v; want %d WPs created", res, err, wps)
		}
		s.Close()
		b.ReportMetric(float64(size)/1e6, "file-MB")
		b.ReportMetric(float64(peak-rss0)/1e6, "rss-growth-MB")
		b.Logf("file %d bytes, %d WPs: RSS %d MB before, peak %d MB (growth %d MB)", size, wps, rss0>>20, peak>>20, (peak-rss0)>>20)
		b.StartTimer()
	}
}

// writeMemoryPlan writes a bulk file of at least size bytes: 10 projects,
// 20 features each, WPs with 2 KB descriptions, each depending on up to
// two WPs before it in its project, and a commit reference on every tenth
// WP. It returns the WPs written and the file's size.
func writeMemoryPlan(b *testing.B, path string, size int64) (int, int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cw := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	enc := json.NewEncoder(cw)
	put := func(r agileplus.Record) {
		if err := enc.Encode(&r); err != nil {
			b.Fatal(err)
		}
	}
	const projects, features = 10, 20
	for p := range projects {
		key := fmt.Sprintf("P%d", p)
		put(agileplus.Record{Type: agileplus.RecProject, Key: key, Name: "Project " + key})
		for i := range features {
			put(agileplus.Record{Type: agileplus.RecFeature, Project: key, Slug: fmt.Sprintf("p%d-f%d", p, i), Title: fmt.Sprintf("Feature %d of %s", i, key)})
		}
	}
	desc := strings.Repeat("Describe the work in enough words to be useful. ", 40)
	wps := 0
	for n := 1; cw.n < size; n++ {
		for p := range projects {
			key := fmt.Sprintf("P%d-%d", p, n)
			est := float64(1 + n%8)
			put(agileplus.Record{Type: agileplus.RecWP, Key: key, Feature: fmt.Sprintf("p%d-f%d", p, n%features), Title: "Work package " + key,
				Description: desc, Estimate: &est})
			wps++
			for _, back := range []int{1, 7} {
				if n > back {
					put(agileplus.Record{Type: agileplus.RecDependency, From: key, To: fmt.Sprintf("P%d-%d", p, n-back), Kind: agileplus.DependsOn})
				}
			}
			if n%10 == 0 {
				put(agileplus.Record{Type: agileplus.RecReference, WP: key, Kind: "commit", Repo: "github.com/acme/p", SHA: fmt.Sprintf("%040x", wps)})
			}
		}
	}
	if err := cw.w.(*bufio.Writer).Flush(); err != nil {
		b.Fatal(err)
	}
	return wps, cw.n
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// resetPeakRSS sets the process's peak RSS (VmHWM) to its RSS now and
// returns that.
func resetPeakRSS(b *testing.B) int64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the peak RSS: %v", err)
	}
	return procStatus(b, "VmRSS")
}

// procStatus reads a size in bytes from /proc/self/status.
func procStatus(b *testing.B, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
