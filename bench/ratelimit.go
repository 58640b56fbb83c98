package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/redistest"
	"github.com/agileplus/agileplus/localcache"
	"github.com/agileplus/agileplus/ratelimit"
	"github.com/agileplus/agileplus/rediscache"
)

// rateLimitCost measures what the rate limiter adds to a request: the
// HTTP handler in process (GET /v1/whoami, which reaches no store, so the
// limiter's share shows) without a limiter, with the in-process one, and
// with a real redis-server's (behind the fallback, as serve wires it),
// one client after another and then many at once.
func (b *bench) rateLimitCost(ctx context.Context) error {
	dir, err := b.dir("ratelimit")
	if err != nil {
		return err
	}
	srv, err := redistest.Launch(dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	shared, err := rediscache.Open(ctx, rediscache.Config{URL: srv.URL(0)})
	if err != nil {
		return err
	}
	defer shared.Close()
	local, err := localcache.New(localcache.Config{})
	if err != nil {
		return err
	}
	defer local.Close()

	// A quota no run spends: every request is counted and allowed.
	limit := agileplus.RateLimit{Quota: 1_000_000, Window: time.Hour}
	variants := []struct {
		name    string
		limiter agileplus.RateLimiter
	}{
		{"no limiter", nil},
		{"in-process (otter)", local},
		{"redis-server (GCRA script)", &ratelimit.Fallback{Shared: shared, Local: local}},
	}
	calls := b.sz.readCalls * 10
	s := b.rep.section(fmt.Sprintf("Rate-limit cost: GET /v1/whoami through the HTTP handler in process, %s calls per row", fmtInt(calls)),
		"limiter", "clients", "mean", "p50", "p99", "added (mean)", "calls/s")
	for _, workers := range []int{1, b.sz.workers} {
		var base time.Duration
		for _, v := range variants {
			api := httpapi.NewServer(nil, nil, nil, "bench")
			api.Limiter = v.limiter
			api.RateLimits = httpapi.RateLimits{Read: limit}
			callHandler(api, calls/10, workers) // warm up: connections, scripts, caches
			lat, elapsed := callHandler(api, calls, workers)
			mean := elapsed * time.Duration(workers) / time.Duration(len(lat))
			if v.limiter == nil {
				base = mean
			}
			s.row(v.name, fmt.Sprint(workers), fmtDur(mean), fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 99)), fmtDur(mean-base), fmtRate(float64(len(lat))/elapsed.Seconds()))
			b.logf("ratelimit: %s, %d clients: mean %s", v.name, workers, fmtDur(mean))
		}
	}
	if shared.Ping(ctx) != nil {
		return fmt.Errorf("the redis-server went away during the run")
	}
	if d, err := shared.Allow(ctx, "ratelimit:read:addr:127.0.0.1", limit); err != nil || d.Remaining == limit.Quota-1 {
		return fmt.Errorf("the requests were not counted on the redis-server: %+v, %v", d, err)
	}
	s.note("mean is wall time per call per client; with %d clients the calls overlap, and the Redis client pipelines theirs on one connection", b.sz.workers)
	return nil
}

// callHandler serves calls requests (rounded down to a multiple of
// workers) to h from workers goroutines, and returns each call's latency,
// sorted, and the wall time of all.
func callHandler(h *httpapi.Server, calls, workers int) ([]time.Duration, time.Duration) {
	limited := h.Limiter != nil
	lat := make([]time.Duration, calls)
	var wg sync.WaitGroup
	start := time.Now()
	per := calls / workers
	for w := range workers {
		wg.Go(func() {
			req := httptest.NewRequest("GET", "/v1/whoami", nil)
			req.RemoteAddr = fmt.Sprintf("127.0.0.%d:1234", w+1)
			for i := w * per; i < (w+1)*per; i++ {
				rec := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(rec, req)
				lat[i] = time.Since(t0)
				if rec.Code != http.StatusOK {
					panic(fmt.Sprintf("GET /v1/whoami: %d %s", rec.Code, rec.Body))
				}
				if limited && rec.Header().Get("RateLimit") == "" {
					panic("GET /v1/whoami was not counted: the limiter failed")
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	lat = lat[:per*workers]
	slices.Sort(lat)
	return lat, elapsed
}
