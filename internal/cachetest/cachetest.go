// Package cachetest is the contract suite of agileplus.Cache and
// agileplus.RateLimiter, run by every adapter on its real engine:
// localcache in the process, rediscache on a real redis-server.
package cachetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
)

// Adapter is what the suite tests: a cache that is also a rate limiter.
type Adapter interface {
	agileplus.Cache
	agileplus.RateLimiter
}

// Run runs the suite. open returns the adapter under test; the suite
// closes nothing, and uses keys of its own, so one adapter may serve
// every subtest.
func Run(t *testing.T, open func(t *testing.T) Adapter) {
	t.Run("Values", func(t *testing.T) { testValues(t, open(t)) })
	t.Run("Hashes", func(t *testing.T) { testHashes(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open(t)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, open(t)) })
	t.Run("LimiterExactUnderConcurrency", func(t *testing.T) { testLimiterExact(t, open(t)) })
	t.Run("LimiterDecisions", func(t *testing.T) { testLimiterDecisions(t, open(t)) })
	t.Run("LimiterRefills", func(t *testing.T) { testLimiterRefills(t, open(t)) })
}

// Key is a key no other test uses.
func Key(t testing.TB, what string) string {
	var b [6]byte
	rand.Read(b[:])
	return "cachetest:" + t.Name() + ":" + what + ":" + hex.EncodeToString(b[:])
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := agileplus.ErrorCode(err); got != code || err == nil {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

func testValues(t *testing.T, c Adapter) {
	ctx := context.Background()
	k := Key(t, "v")
	_, err := c.Get(ctx, k)
	wantCode(t, "Get of a missing key", err, agileplus.ENOTFOUND)

	v := []byte("hello")
	if err := c.Set(ctx, k, v, time.Hour); err != nil {
		t.Fatal(err)
	}
	v[0] = 'j' // the cache keeps its own copy
	got, err := c.Get(ctx, k)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Get = %q, %v; want hello", got, err)
	}
	got[0] = 'y'
	if again, _ := c.Get(ctx, k); string(again) != "hello" {
		t.Fatalf("Get after changing an answer = %q; want hello", again)
	}
	if err := c.Set(ctx, k, []byte{0, 255, '\r', '\n'}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, k); string(got) != "\x00\xff\r\n" {
		t.Fatalf("Get of binary value = %q", got)
	}
	empty := Key(t, "empty")
	if err := c.Set(ctx, empty, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, empty); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get of an empty value = %q (nil %v), %v; want empty, not nil", got, got == nil, err)
	}
	if err := c.Delete(ctx, k, empty, Key(t, "never")); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, k); err != nil {
		t.Fatalf("Delete twice: %v", err)
	}
	_, err = c.Get(ctx, k)
	wantCode(t, "Get after Delete", err, agileplus.ENOTFOUND)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testHashes(t *testing.T, c Adapter) {
	ctx := context.Background()
	k := Key(t, "h")
	_, err := c.Hash(ctx, k)
	wantCode(t, "Hash of a missing key", err, agileplus.ENOTFOUND)
	fields := map[string]string{"user": "ada", "scope": "read", "empty": ""}
	if err := c.SetHash(ctx, k, fields, time.Hour); err != nil {
		t.Fatal(err)
	}
	fields["user"] = "changed"
	got, err := c.Hash(ctx, k)
	want := map[string]string{"user": "ada", "scope": "read", "empty": ""}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("Hash = %v, %v; want %v", got, err, want)
	}
	if err := c.SetHash(ctx, k, map[string]string{"user": "bob"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Hash(ctx, k); !maps.Equal(got, map[string]string{"user": "bob"}) {
		t.Fatalf("Hash after replacing = %v; want only user=bob", got)
	}
	_, err = c.Get(ctx, k)
	wantCode(t, "Get of a hash key", err, agileplus.ENOTFOUND)
	v := Key(t, "v")
	if err := c.Set(ctx, v, []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err = c.Hash(ctx, v)
	wantCode(t, "Hash of a value key", err, agileplus.ENOTFOUND)
	wantCode(t, "SetHash without fields", c.SetHash(ctx, Key(t, "none"), nil, time.Hour), agileplus.EINVALID)
	if err := c.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	_, err = c.Hash(ctx, k)
	wantCode(t, "Hash after Delete", err, agileplus.ENOTFOUND)
}

func testExpiry(t *testing.T, c Adapter) {
	ctx := context.Background()
	v, h := Key(t, "v"), Key(t, "h")
	if err := c.Set(ctx, v, []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.SetHash(ctx, h, map[string]string{"a": "b"}, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a value past its TTL to go", func() bool {
		_, err := c.Get(ctx, v)
		return agileplus.ErrorCode(err) == agileplus.ENOTFOUND
	})
	poll.Until(t, "a hash past its TTL to go", func() bool {
		_, err := c.Hash(ctx, h)
		return agileplus.ErrorCode(err) == agileplus.ENOTFOUND
	})

	wantCode(t, "Expire of a missing key", c.Expire(ctx, Key(t, "missing"), time.Hour), agileplus.ENOTFOUND)
	// Renewed before it would go, a key stays: its TTL is an hour long
	// at first, then a new short one takes it away.
	k := Key(t, "renew")
	if err := c.SetHash(ctx, k, map[string]string{"a": "b"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Expire(ctx, k, time.Hour); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if got, err := c.Hash(ctx, k); err != nil || got["a"] != "b" {
		t.Fatalf("Hash after Expire = %v, %v", got, err)
	}
	if err := c.Expire(ctx, k, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a key whose TTL was shortened to go", func() bool {
		_, err := c.Hash(ctx, k)
		return agileplus.ErrorCode(err) == agileplus.ENOTFOUND
	})
}

func testBadInput(t *testing.T, c Adapter) {
	ctx := context.Background()
	k := Key(t, "k")
	wantCode(t, "Set with TTL 0", c.Set(ctx, k, []byte("x"), 0), agileplus.EINVALID)
	wantCode(t, "Set with a negative TTL", c.Set(ctx, k, []byte("x"), -time.Second), agileplus.EINVALID)
	wantCode(t, "Set with an empty key", c.Set(ctx, "", []byte("x"), time.Hour), agileplus.EINVALID)
	wantCode(t, "SetHash with TTL 0", c.SetHash(ctx, k, map[string]string{"a": "b"}, 0), agileplus.EINVALID)
	wantCode(t, "Expire with TTL 0", c.Expire(ctx, k, 0), agileplus.EINVALID)
	_, err := c.Get(ctx, k)
	wantCode(t, "Get after refused writes", err, agileplus.ENOTFOUND)
	_, err = c.Allow(ctx, k, agileplus.RateLimit{Quota: -1, Window: time.Second})
	wantCode(t, "Allow with a negative quota", err, agileplus.EINVALID)
	_, err = c.Allow(ctx, k, agileplus.RateLimit{Quota: 1})
	wantCode(t, "Allow without a window", err, agileplus.EINVALID)
	_, err = c.Allow(ctx, "", agileplus.RateLimit{Quota: 1, Window: time.Second})
	wantCode(t, "Allow with an empty key", err, agileplus.EINVALID)
}

// LimiterExact sends n requests at once against a fresh bucket of quota
// q per hour spread over the limiters, and fails unless exactly min(n, q)
// are allowed. An hour is long enough that nothing refills meanwhile.
func LimiterExact(t *testing.T, limiters []agileplus.RateLimiter, q, n int) {
	t.Helper()
	ctx := context.Background()
	k := Key(t, "bucket")
	l := agileplus.RateLimit{Quota: q, Window: time.Hour}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		seen    = map[int]bool{} // Remaining values of allowed requests
		errs    []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := limiters[i%len(limiters)].Allow(ctx, k, l)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case d.Allowed:
				allowed++
				seen[d.Remaining] = true
			case d.RetryAfter <= 0:
				errs = append(errs, errRetry(d))
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Allow failed %d times; first: %v", len(errs), errs[0])
	}
	if want := min(n, q); allowed != want {
		t.Fatalf("%d concurrent requests on a quota of %d: %d allowed, want %d", n, q, allowed, want)
	}
	// Each allowed request saw its own place in the quota.
	for r := q - allowed; r < q; r++ {
		if !seen[r] {
			t.Fatalf("no allowed request saw Remaining=%d; saw %v", r, seen)
		}
	}
}

type errRetry agileplus.RateDecision

func (e errRetry) Error() string { return "a refused request without RetryAfter" }

func testLimiterExact(t *testing.T, c Adapter) {
	LimiterExact(t, []agileplus.RateLimiter{c}, 25, 100)
	LimiterExact(t, []agileplus.RateLimiter{c}, 100, 100)
	LimiterExact(t, []agileplus.RateLimiter{c}, 1, 40)
}

func testLimiterDecisions(t *testing.T, c Adapter) {
	ctx := context.Background()
	k, other := Key(t, "a"), Key(t, "b")
	l := agileplus.RateLimit{Quota: 3, Window: time.Hour}
	for i := range 3 {
		d, err := c.Allow(ctx, k, l)
		if err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v, %v; want allowed with %d remaining", i+1, d, err, 2-i)
		}
		// The whole quota is back once every request's share refilled.
		if want := time.Duration(i+1) * 20 * time.Minute; d.Reset > want || d.Reset < want-time.Minute {
			t.Fatalf("request %d: Reset %s, want about %s", i+1, d.Reset, want)
		}
	}
	d, err := c.Allow(ctx, k, l)
	if err != nil || d.Allowed || d.Remaining != 0 {
		t.Fatalf("request 4: %+v, %v; want refused", d, err)
	}
	// One share refills in 20 minutes, less the moments gone by.
	if d.RetryAfter > 20*time.Minute || d.RetryAfter < 19*time.Minute {
		t.Fatalf("RetryAfter %s; want about 20m", d.RetryAfter)
	}
	if again, _ := c.Allow(ctx, k, l); again.RetryAfter < d.RetryAfter-time.Minute {
		t.Fatalf("a refused request took from the quota: RetryAfter %s then %s", d.RetryAfter, again.RetryAfter)
	}
	if d, err := c.Allow(ctx, other, l); err != nil || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("another key: %+v, %v; want its own full bucket", d, err)
	}
	for range 10 {
		if d, err := c.Allow(ctx, k, agileplus.RateLimit{}); err != nil || !d.Allowed {
			t.Fatalf("no limit: %+v, %v; want allowed", d, err)
		}
	}
}

func testLimiterRefills(t *testing.T, c Adapter) {
	ctx := context.Background()
	k := Key(t, "k")
	l := agileplus.RateLimit{Quota: 2, Window: 100 * time.Millisecond}
	for {
		d, err := c.Allow(ctx, k, l)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed {
			break
		}
	}
	poll.Until(t, "the bucket to refill", func() bool {
		d, err := c.Allow(ctx, k, l)
		return err == nil && d.Allowed
	})
}
