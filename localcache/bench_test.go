package localcache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/localcache"
)

// BenchmarkAllow is one limiter step, on 1,000 callers' buckets.
func BenchmarkAllow(b *testing.B) {
	c, err := localcache.New(localcache.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "ratelimit:read:key:key_" + strconv.Itoa(i)
	}
	l := agileplus.RateLimit{Quota: 1_000_000, Window: time.Hour}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Allow(ctx, keys[i%len(keys)], l); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
