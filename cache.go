package agileplus

import (
	"context"
	"fmt"
	"time"
)

// Cache holds values and hashes under string keys, each with a time to
// live, for what may be lost and rebuilt: sessions, rate-limit state,
// cached answers. Adapters: memcache (in the process, bounded) and
// rediscache (a Redis-protocol server shared by many processes).
//
// Contract:
//   - Every write takes a TTL > 0; a key is gone once its TTL has passed,
//     and a bounded adapter may drop a key before that to make room.
//   - Get and Hash return an ENOTFOUND *Error for a missing or expired key
//     (and Get for a hash key, Hash for a value key).
//   - SetHash replaces the whole hash and its TTL in one step: a reader
//     sees the old hash or the new one, never a mix. Empty fields are
//     refused with EINVALID.
//   - Expire sets a new TTL on a present key (ENOTFOUND when missing);
//     Delete removes keys and is idempotent.
//   - Values are copied in and out: the caller may reuse its slices and
//     maps.
//   - A server that cannot be reached gives EUNAVAILABLE errors; Ping
//     says whether it can be reached now. Close releases the connection
//     or memory; the Cache is not used after it.
type Cache interface {
	Pinger
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
	SetHash(ctx context.Context, key string, fields map[string]string, ttl time.Duration) error
	Hash(ctx context.Context, key string) (map[string]string, error)
	Expire(ctx context.Context, key string, ttl time.Duration) error
	Close() error
}

// CheckCacheKey returns the EINVALID *Error a Cache gives for an empty
// key.
func CheckCacheKey(key string) error {
	if key == "" {
		return FieldErrorf("key", "the cache key is empty")
	}
	return nil
}

// CheckCacheWrite returns the EINVALID *Error a Cache gives for a write
// with an empty key or a TTL not more than 0.
func CheckCacheWrite(key string, ttl time.Duration) error {
	if err := CheckCacheKey(key); err != nil {
		return err
	}
	if ttl <= 0 {
		return FieldErrorf("ttl", "the TTL of %s is %s; it must be more than 0", QuoteRef(key), ttl)
	}
	return nil
}

// RateLimit is a quota of Quota requests per Window, refilled steadily
// (one every Window/Quota): a caller with nothing used may send Quota at
// once, then one per Window/Quota. The zero RateLimit means no limit.
type RateLimit struct {
	Quota  int
	Window time.Duration
}

// Off reports whether l limits nothing.
func (l RateLimit) Off() bool { return l.Quota == 0 }

// Interval is the time one request's share of the quota takes to refill.
func (l RateLimit) Interval() time.Duration { return l.Window / time.Duration(l.Quota) }

// MinRateInterval bounds how fast a quota may refill: the Redis adapter
// counts in microseconds.
const MinRateInterval = time.Microsecond

// Check returns an EINVALID *Error naming field when l is not a limit:
// negative, a quota without a window, or a refill faster than
// MinRateInterval.
func (l RateLimit) Check(field string) error {
	switch {
	case l.Quota < 0:
		return FieldErrorf(field, "the quota is %d; it must be 0 (no limit) or more", l.Quota)
	case l.Off():
		return nil
	case l.Window <= 0:
		return FieldErrorf(field, "the window is %s; it must be more than 0", l.Window)
	case l.Interval() < MinRateInterval:
		return FieldErrorf(field, "%d per %s refills faster than one per %s", l.Quota, l.Window, MinRateInterval)
	}
	return nil
}

func (l RateLimit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", l.Quota, l.Window)
}

// RateDecision is a limiter's answer to one request.
type RateDecision struct {
	Allowed bool
	// Remaining is how many more requests the quota allows now.
	Remaining int
	// RetryAfter, when refused, is how long until one request is allowed.
	RetryAfter time.Duration
	// Reset is how long until the whole quota is back.
	Reset time.Duration
}

// RateLimiter counts requests against limits, one bucket per key, by the
// generic cell rate algorithm (GCRA).
//
// Contract: Allow takes one request from key's bucket under l, or refuses
// it, in one atomic step: n concurrent calls on a fresh bucket allow
// exactly min(n, l.Quota), on one process or many sharing the limiter. A
// refused request takes nothing. A bucket is forgotten once full again.
// A limiter that cannot reach its server returns an EUNAVAILABLE error and
// no decision.
type RateLimiter interface {
	Allow(ctx context.Context, key string, l RateLimit) (RateDecision, error)
}
