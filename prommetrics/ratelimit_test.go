package prommetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRateLimitInstruments(t *testing.T) {
	m := New("v1")
	m.ObserveRateLimited("read")
	m.ObserveRateLimited("read")
	m.ObserveRateLimited("import")
	m.SetCacheDegraded(true)
	want := `
# HELP agileplus_http_rate_limited_total Requests refused with 429 for a rate limit, by route class (read, write, admin, import, stream).
# TYPE agileplus_http_rate_limited_total counter
agileplus_http_rate_limited_total{class="import"} 1
agileplus_http_rate_limited_total{class="read"} 2
# HELP agileplus_cache_degraded 1 while the shared cache cannot be reached and rate limits are counted in this process alone, else 0.
# TYPE agileplus_cache_degraded gauge
agileplus_cache_degraded 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "agileplus_http_rate_limited_total", "agileplus_cache_degraded"); err != nil {
		t.Error(err)
	}
	m.SetCacheDegraded(false)
	if got := testutil.ToFloat64(m.rate.degraded); got != 0 {
		t.Fatalf("degraded = %v after recovery, want 0", got)
	}
}
