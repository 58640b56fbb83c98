// Package ratelimit keeps rate limits working while the shared cache is
// down: Fallback asks the shared limiter and, while it cannot be reached,
// one in the process, and goes back to the shared one by itself.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
)

var _ agileplus.RateLimiter = (*Fallback)(nil)

// DefaultRetry is how long Fallback keeps to the local limiter after the
// shared one failed, before it asks the shared one again.
const DefaultRetry = time.Second

// Fallback is a RateLimiter over a shared limiter (Redis) with a local
// one for when the shared one fails. While it falls back, each process
// counts on its own, so a caller spread over n processes may get up to n
// times its quota; a request is never refused, nor fails, because the
// shared limiter cannot be reached.
type Fallback struct {
	Shared, Local agileplus.RateLimiter
	// Retry is how long after a failure the shared limiter is asked again
	// (default DefaultRetry); meanwhile no request waits for it.
	Retry time.Duration
	// OnChange, if set, is called when falling back starts (with the
	// shared limiter's error) and when it ends (nil).
	OnChange func(err error)
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu      sync.Mutex
	err     error     // the shared limiter's last error; nil while it works
	retryAt time.Time // when the shared limiter may be asked again
}

// Allow asks the shared limiter unless it failed less than Retry ago, and
// the local one when it did or does.
func (f *Fallback) Allow(ctx context.Context, key string, l agileplus.RateLimit) (agileplus.RateDecision, error) {
	if f.tryShared() {
		d, err := f.Shared.Allow(ctx, key, l)
		switch {
		case err == nil:
			f.set(nil)
			return d, nil
		case agileplus.ErrorCode(err) == agileplus.EINVALID, ctx.Err() != nil:
			// The request's fault, or the caller gone: not the limiter's.
			return d, err
		}
		f.set(err)
	}
	return f.Local.Allow(ctx, key, l)
}

// Err is the shared limiter's error while Fallback falls back, else nil.
func (f *Fallback) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// tryShared reports whether to ask the shared limiter now: always while it
// works; after a failure, once per Retry, so that one request finds out
// whether it is back while the others go on locally.
func (f *Fallback) tryShared() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		return true
	}
	now := f.now()
	if now.Before(f.retryAt) {
		return false
	}
	f.retryAt = now.Add(f.retry())
	return true
}

func (f *Fallback) set(err error) {
	f.mu.Lock()
	was := f.err
	f.err = err
	if err != nil {
		f.retryAt = f.now().Add(f.retry())
	}
	f.mu.Unlock()
	if f.OnChange != nil && (was == nil) != (err == nil) {
		f.OnChange(err)
	}
}

func (f *Fallback) retry() time.Duration {
	if f.Retry > 0 {
		return f.Retry
	}
	return DefaultRetry
}

func (f *Fallback) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
