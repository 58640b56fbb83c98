package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/redistest"
	"github.com/agileplus/agileplus/localcache"
	"github.com/agileplus/agileplus/ratelimit"
	"github.com/agileplus/agileplus/rediscache"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestFallsBackAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	shared, err := rediscache.Open(ctx, rediscache.Config{URL: srv.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	local, err := localcache.New(localcache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	clk := &clock{now: time.Unix(1_000_000, 0)}
	var (
		mu      sync.Mutex
		changes []error
	)
	f := &ratelimit.Fallback{Shared: shared, Local: local, Retry: time.Minute, Now: clk.Now, OnChange: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, err)
	}}
	l := agileplus.RateLimit{Quota: 2, Window: time.Hour}

	// While the server works, the bucket is the shared one.
	if d, err := f.Allow(ctx, "k", l); err != nil || !d.Allowed {
		t.Fatalf("Allow: %+v, %v", d, err)
	}
	if d, _ := shared.Allow(ctx, "k", l); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("the shared bucket after one request through Fallback: %+v; want 1 used", d)
	}
	if d, _ := f.Allow(ctx, "k", l); d.Allowed {
		t.Fatalf("Allow with the shared bucket spent: %+v; want refused", d)
	}
	_, err = f.Allow(ctx, "k", agileplus.RateLimit{Quota: -1})
	if agileplus.ErrorCode(err) != agileplus.EINVALID || f.Err() != nil {
		t.Fatalf("a bad limit: %v (Err %v); want EINVALID, and no fallback", err, f.Err())
	}

	// The server goes: requests go on, counted locally, with no error.
	srv.Kill()
	for i := range 2 {
		d, err := f.Allow(ctx, "k", l)
		if err != nil || !d.Allowed || d.Remaining != 1-i {
			t.Fatalf("request %d with the server down: %+v, %v; want allowed by the local bucket", i+1, d, err)
		}
	}
	if d, _ := f.Allow(ctx, "k", l); d.Allowed {
		t.Fatalf("the local bucket holds its limit too: %+v", d)
	}
	if agileplus.ErrorCode(f.Err()) != agileplus.EUNAVAILABLE {
		t.Fatalf("Err = %v; want the shared limiter's unavailable error", f.Err())
	}

	// Back, the server is asked again once Retry has passed.
	srv.Restart()
	poll.Until(t, "the client to reconnect", func() bool { return shared.Ping(ctx) == nil })
	f.Allow(ctx, "other", l)
	if f.Err() == nil {
		t.Fatalf("the shared limiter was asked again before Retry passed")
	}
	clk.Add(time.Minute)
	if d, err := f.Allow(ctx, "k", l); err != nil || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after recovery: %+v, %v; want the restarted server's fresh bucket", d, err)
	}
	if f.Err() != nil {
		t.Fatalf("Err = %v after recovery", f.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0] == nil || changes[1] != nil {
		t.Fatalf("OnChange got %v; want the error, then nil", changes)
	}
}
