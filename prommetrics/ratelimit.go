package prommetrics

import "github.com/prometheus/client_golang/prometheus"

// rateMetrics are the rate limiter's and the cache's instruments.
type rateMetrics struct {
	limited  *prometheus.CounterVec
	degraded prometheus.Gauge
}

func newRateMetrics(register func(prometheus.Collector)) rateMetrics {
	r := rateMetrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "rate_limited_total",
			Help: "Requests refused with 429 for a rate limit, by route class (read, write, admin, import, stream)."}, []string{"class"}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "cache", Name: "degraded",
			Help: "1 while the shared cache cannot be reached and rate limits are counted in this process alone, else 0."}),
	}
	register(r.limited)
	register(r.degraded)
	return r
}

// ObserveRateLimited counts a request refused for a rate limit
// (httpapi.RateLimitObserver).
func (m *Metrics) ObserveRateLimited(class string) { m.rate.limited.WithLabelValues(class).Inc() }

// SetCacheDegraded says whether the shared cache is out of reach now.
func (m *Metrics) SetCacheDegraded(degraded bool) {
	v := 0.0
	if degraded {
		v = 1
	}
	m.rate.degraded.Set(v)
}
