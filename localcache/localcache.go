// Package localcache is the in-process adapter of agileplus.Cache and
// agileplus.RateLimiter: bounded, with a TTL per key, on otter. It is the
// zero-setup default, and the rate limiter every process falls back to
// while a shared cache cannot be reached.
package localcache

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/maypok86/otter/v2"
)

var (
	_ agileplus.Cache       = (*Cache)(nil)
	_ agileplus.RateLimiter = (*Cache)(nil)
)

// Defaults of Config.
const (
	DefaultMaxEntries = 100_000
	DefaultMaxBuckets = 100_000
)

// Config bounds the cache.
type Config struct {
	// MaxEntries bounds the values and hashes kept (default
	// DefaultMaxEntries); the least useful go first.
	MaxEntries int
	// MaxBuckets bounds the rate-limit buckets kept (default
	// DefaultMaxBuckets). A bucket dropped early starts full again, so
	// the bound errs on the side of letting a request through.
	MaxBuckets int
	// Now is the limiter's clock (default time.Now).
	Now func() time.Time
}

// Cache is an in-process agileplus.Cache and agileplus.RateLimiter.
type Cache struct {
	entries *otter.Cache[string, entry]
	buckets *otter.Cache[string, int64] // GCRA theoretical arrival time, Unix ns
	now     func() time.Time
}

// entry is a value or a hash, never both, with the TTL it was written with.
type entry struct {
	value []byte
	hash  map[string]string
	ttl   time.Duration
}

// New makes an empty cache.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxEntries < 0 || cfg.MaxBuckets < 0 {
		return nil, agileplus.Errorf(agileplus.EINVALID, "localcache: negative bound (entries %d, buckets %d)", cfg.MaxEntries, cfg.MaxBuckets)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	entries, err := otter.New(&otter.Options[string, entry]{
		MaximumSize:      cmpOr(cfg.MaxEntries, DefaultMaxEntries),
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration { return e.Value.ttl }),
	})
	if err != nil {
		return nil, err
	}
	c := &Cache{entries: entries, now: cfg.Now}
	c.buckets, err = otter.New(&otter.Options[string, int64]{
		MaximumSize: cmpOr(cfg.MaxBuckets, DefaultMaxBuckets),
		// A bucket lives until it is full again: its arrival time.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, int64]) time.Duration {
			return time.Duration(e.Value - c.now().UnixNano())
		}),
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func cmpOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// Ping always succeeds: the cache is in the process.
func (c *Cache) Ping(context.Context) error { return nil }

// Close drops every entry and stops the cache's clean-up goroutines.
func (c *Cache) Close() error {
	c.entries.InvalidateAll()
	c.buckets.InvalidateAll()
	c.entries.StopAllGoroutines()
	c.buckets.StopAllGoroutines()
	return nil
}

func notFound(key string) error {
	return agileplus.Errorf(agileplus.ENOTFOUND, "no cache entry %s", agileplus.QuoteRef(key))
}

// Get returns a copy of key's value.
func (c *Cache) Get(_ context.Context, key string) ([]byte, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return nil, err
	}
	e, ok := c.entries.GetIfPresent(key)
	if !ok || e.hash != nil {
		return nil, notFound(key)
	}
	return slices.Clone(e.value), nil
}

// Set stores a copy of value under key for ttl.
func (c *Cache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	v := slices.Clone(value)
	if v == nil {
		v = []byte{}
	}
	c.entries.Set(key, entry{value: v, ttl: ttl})
	return nil
}

// Delete removes keys.
func (c *Cache) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		c.entries.Invalidate(k)
	}
	return nil
}

// SetHash replaces key's hash with a copy of fields for ttl.
func (c *Cache) SetHash(_ context.Context, key string, fields map[string]string, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	if len(fields) == 0 {
		return agileplus.FieldErrorf("fields", "the hash %s has no fields", agileplus.QuoteRef(key))
	}
	c.entries.Set(key, entry{hash: maps.Clone(fields), ttl: ttl})
	return nil
}

// Hash returns a copy of key's hash.
func (c *Cache) Hash(_ context.Context, key string) (map[string]string, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return nil, err
	}
	e, ok := c.entries.GetIfPresent(key)
	if !ok || e.hash == nil {
		return nil, notFound(key)
	}
	return maps.Clone(e.hash), nil
}

// Expire gives key a new TTL.
func (c *Cache) Expire(_ context.Context, key string, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	_, ok := c.entries.ComputeIfPresent(key, func(old entry) (entry, otter.ComputeOp) {
		old.ttl = ttl
		return old, otter.WriteOp
	})
	if !ok {
		return notFound(key)
	}
	return nil
}

// Allow takes one request from key's bucket under l (see
// agileplus.RateLimiter), by GCRA: the bucket is the time at which it
// would be full again, and a request moves it one interval later unless
// that is more than the window ahead.
func (c *Cache) Allow(_ context.Context, key string, l agileplus.RateLimit) (agileplus.RateDecision, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return agileplus.RateDecision{}, err
	}
	if err := l.Check("limit"); err != nil {
		return agileplus.RateDecision{}, err
	}
	if l.Off() {
		return agileplus.RateDecision{Allowed: true}, nil
	}
	var d agileplus.RateDecision
	// Compute holds the key's lock: concurrent requests take turns.
	c.buckets.Compute(key, func(tat int64, found bool) (int64, otter.ComputeOp) {
		var allowed bool
		d, tat, allowed = GCRA(c.now().UnixNano(), tat, found, l)
		if !allowed {
			return tat, otter.CancelOp
		}
		return tat, otter.WriteOp
	})
	return d, nil
}

// GCRA is one step of the generic cell rate algorithm at now (Unix ns) on
// a bucket whose theoretical arrival time is tat (found: whether the
// bucket exists): the decision and the new arrival time to keep when
// allowed. rediscache runs the same step as a script on the server.
func GCRA(now, tat int64, found bool, l agileplus.RateLimit) (d agileplus.RateDecision, newTAT int64, allowed bool) {
	interval := int64(l.Interval())
	window := interval * int64(l.Quota)
	if !found || tat < now {
		tat = now
	}
	newTAT = tat + interval
	allowAt := newTAT - window
	if now < allowAt {
		return agileplus.RateDecision{RetryAfter: time.Duration(allowAt - now), Reset: time.Duration(tat - now)}, tat, false
	}
	return agileplus.RateDecision{Allowed: true, Remaining: int((now - allowAt) / interval), Reset: time.Duration(newTAT - now)}, newTAT, true
}
