package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/soak"
)

// TestSoak drives the server for two minutes with 32 clients with keys
// doing mixed reads and writes, while 200 idle event streams and 50
// slow-header connections hold connections open. Every request must
// succeed, /health must answer all along, every stream must stay open,
// memory must not climb, and once the load stops the server must be back
// to the goroutines it had. Latencies are logged: `go run ./bench -only
// soak` measures them over ten minutes.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a two-minute soak; make test runs it")
	}
	dir := t.TempDir()
	url := startTestServerIn(t, dir)
	local, err := readTokenFile(filepath.Join(dir, LocalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin := httpapi.NewClient(url, httpapi.WithToken(local))
	if _, err := admin.CreateProject(ctx, agileplus.ProjectCreate{Key: "SOAK", Name: "Soak"}); err != nil {
		t.Fatal(err)
	}
	var writers, readers []string
	for i := range 4 {
		w, err := admin.CreateKey(ctx, agileplus.KeyCreate{Name: fmt.Sprintf("writer-%d", i), Scope: agileplus.ScopeWrite, Projects: []string{"SOAK"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := admin.CreateKey(ctx, agileplus.KeyCreate{Name: fmt.Sprintf("reader-%d", i), Scope: agileplus.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		writers, readers = append(writers, w.Token), append(readers, r.Token)
	}
	before := runtime.NumGoroutine()

	rep, err := soak.Run(ctx, soak.Config{
		Base: url, WriteTokens: writers, StreamTokens: readers, Project: "SOAK",
		Clients: 32, Streams: 200, SlowHeaders: 50, Duration: 2 * time.Minute, Window: 20 * time.Second,
		Memory: liveHeap, Logf: t.Logf,
		OnStall: func(waited time.Duration) {
			// A request waiting this long is a stall: keep what every
			// goroutine was doing for the failure's log.
			buf := make([]byte, 16<<20)
			buf = buf[:runtime.Stack(buf, true)]
			path := filepath.Join(os.TempDir(), fmt.Sprintf("agileplus-soak-stall-%d.txt", time.Now().UnixNano()))
			if err := os.WriteFile(path, buf, 0o644); err != nil {
				t.Logf("a request has waited %s; the goroutine dump could not be written: %v", waited, err)
				return
			}
			t.Logf("a request has waited %s; goroutines dumped to %s", waited, path)
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	var requests, errs int
	for i, w := range rep.Windows {
		requests += w.Requests
		errs += w.Errors
		if w.Requests == 0 {
			t.Errorf("window %d (to %s): no request completed", i, w.End)
		}
		if w.HealthFail > 0 {
			t.Errorf("window %d (to %s): /health failed %d times", i, w.End, w.HealthFail)
		}
	}
	if errs > 0 {
		t.Errorf("%d of %d requests failed; first: %s", errs, requests, strings.Join(rep.FirstErrors, "; "))
	}
	if rep.StreamsOpen != 200 || rep.StreamsRefused != 0 {
		t.Errorf("event streams: as few as %d open, %d refused; want 200 open all along, none refused", rep.StreamsOpen, rep.StreamsRefused)
	}
	if rep.SlowHeaderConns < 50 {
		t.Errorf("%d slow-header connections made, want at least 50", rep.SlowHeaderConns)
	}
	// Memory: past the first windows the data hardly grows (the clients
	// update the WPs they made), so memory that keeps climbing is a leak.
	if n := len(rep.Windows); n >= 3 {
		first, last := rep.Windows[1].Memory, rep.Windows[n-1].Memory
		if last-first > 64<<20 {
			t.Errorf("the live heap climbed from %d MiB to %d MiB during the soak", first>>20, last>>20)
		}
	}
	// Everything the load held is let go once it stops.
	poll.Until(t, fmt.Sprintf("goroutines back to about %d (the streams and connections ended)", before), func() bool {
		return runtime.NumGoroutine() <= before+20
	})
}

// liveHeap is the heap this process still uses after a collection: the
// server's and the test's, without the race detector's shadow memory,
// which the resident set would count.
func liveHeap() (int64, error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc), nil
}
