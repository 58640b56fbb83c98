package rediscache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/redistest"
)

// BenchmarkAllow is one limiter step on a real redis-server, on 1,000
// callers' buckets; with -cpu above 1 the calls are pipelined.
func BenchmarkAllow(b *testing.B) {
	srv := redistest.Start(b)
	c := open(b, srv.URL(0))
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "ratelimit:read:key:key_" + strconv.Itoa(i)
	}
	l := agileplus.RateLimit{Quota: 1_000_000, Window: time.Hour}
	ctx := context.Background()
	b.SetParallelism(16)
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
