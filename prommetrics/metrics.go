// Package prommetrics exports the process's metrics to Prometheus with the
// official client library. It is the only package that imports it: the
// parts that know what to count (httpapi, relay, natsbus, webhook, the
// Service) report through small hooks of their own, which cmd/agileplus
// connects to the methods here, and the store and the graph queries are
// timed by decorators over the root's ports.
//
// Every label has a bounded set of values: a route's pattern, never the
// path asked for; a kind of consumer, never a webhook id; an outcome or a
// status code. Names follow Prometheus conventions: agileplus_ prefix,
// base units (_seconds), _total for counters.
package prommetrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "agileplus"

// scrapeTimeout bounds what one scrape asks the store and the bus.
const scrapeTimeout = 2 * time.Second

// Metrics is the registry of one process and its instruments. Its methods
// are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	storeDuration *prometheus.HistogramVec
	graphDuration *prometheus.HistogramVec
	published     prometheus.Counter
	publishErrors prometheus.Counter
	attempts      *prometheus.CounterVec
	redeliveries  *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	deliveryTime  prometheus.Histogram
	claims        prometheus.Counter
	claimsExpired prometheus.Counter
	rate          rateMetrics
}

// New returns the metrics of a process running version, with the Go
// runtime and process collectors registered.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Always 1; the version label says which build runs.", ConstLabels: prometheus.Labels{"version": version}},
		func() float64 { return 1 }))

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern, method and status code (an event stream counts while it is open).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}, []string{"route", "method", "code"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "store", Name: "operation_duration_seconds",
		Help:    "Time of a store operation: a read transaction (view), a write transaction (update, the command's rules included), a read of the graph index (read_graph) or a graph traversal in the store.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"op"})
	m.graphDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "graph", Name: "query_duration_seconds",
		Help: "Time of a graph query, by query.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"query"})
	m.published = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "relay", Name: "published_events_total",
		Help: "Events the relay published from the outbox to the bus (a batch published again after an error counts again)."})
	m.publishErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "relay", Name: "publish_errors_total",
		Help: "Batches the bus did not take; the relay retries them."})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "consumer", Name: "attempts_total",
		Help: "Attempts durable consumers of this process made at events, by kind of consumer and outcome (ok, error)."}, []string{"consumer", "outcome"})
	m.redeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "consumer", Name: "redeliveries_total",
		Help: "Attempts beyond the first at one event, by kind of consumer."}, []string{"consumer"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "webhook", Name: "deliveries_total",
		Help: "Webhook delivery attempts, by outcome: delivered, failed (another attempt follows), dead_lettered (the last attempt failed), skipped (already delivered)."}, []string{"outcome"})
	m.deliveryTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "webhook", Name: "delivery_duration_seconds",
		Help: "Time of a webhook POST.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})
	m.claims = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "claims", Name: "taken_total",
		Help: "Claims (leases on WPs) taken through this process."})
	m.claimsExpired = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "claims", Name: "expired_total",
		Help: "Claims that took over a lease that had expired without release."})
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.storeDuration, m.graphDuration, m.published, m.publishErrors,
		m.attempts, m.redeliveries, m.deliveries, m.deliveryTime, m.claims, m.claimsExpired} {
		f(c)
	}
	m.rate = newRateMetrics(f)
	return m
}

// Handler serves the exposition. A source that fails during a scrape
// leaves its metrics out; the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the registry the metrics are in, for tests and for the
// instruments still to come (cache, rate limits).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts an HTTP request (httpapi.RequestObserver).
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	code := strconv.Itoa(status)
	m.httpRequests.WithLabelValues(route, method, code).Inc()
	m.httpDuration.WithLabelValues(route, method, code).Observe(took.Seconds())
}

// ObservePublish counts a batch the relay published (relay.Relay.OnPublish).
func (m *Metrics) ObservePublish(events int, err error) {
	if err != nil {
		m.publishErrors.Inc()
		return
	}
	m.published.Add(float64(events))
}

// ObserveAttempt counts a durable consumer's attempt at an event, by the
// kind of the consumer named (see ConsumerKind).
func (m *Metrics) ObserveAttempt(consumer string, attempt int, err error) {
	kind := ConsumerKind(consumer)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.attempts.WithLabelValues(kind, outcome).Inc()
	if attempt > 1 {
		m.redeliveries.WithLabelValues(kind).Inc()
	}
}

// ObserveDelivery counts a webhook delivery attempt (webhook.Config.OnDelivery).
func (m *Metrics) ObserveDelivery(outcome string, took time.Duration) {
	m.deliveries.WithLabelValues(outcome).Inc()
	if took > 0 {
		m.deliveryTime.Observe(took.Seconds())
	}
}

// ObserveClaim counts a claim taken (agileplus.Service.OnClaim).
func (m *Metrics) ObserveClaim(tookOver bool) {
	m.claims.Inc()
	if tookOver {
		m.claimsExpired.Inc()
	}
}

// ConsumerKind is the label of a durable consumer: its name up to the
// first '-' ("webhook" for "webhook-whk_..."), since names carry ids.
func ConsumerKind(name string) string {
	kind, _, _ := strings.Cut(name, "-")
	if kind == "" {
		return "other"
	}
	return kind
}

// Backlog reports the events waiting in the outbox and the time the oldest
// was recorded (zero when none waits); relay.Relay.Backlog is one.
type Backlog func(ctx context.Context) (pending int64, oldest time.Time, err error)

// WatchOutbox exports the outbox's depth and the age of its oldest event,
// read at each scrape.
func (m *Metrics) WatchOutbox(backlog Backlog, now func() time.Time) {
	m.reg.MustRegister(&outboxCollector{backlog: backlog, now: now})
}

// ConsumerState is one durable consumer's state on the bus.
type ConsumerState struct {
	Name       string
	Pending    uint64 // events not yet given to it: its lag
	AckPending int    // events given, not yet acknowledged
}

// WatchConsumers exports the lag of the durable consumers on the bus, by
// kind of consumer (ConsumerKind), read at each scrape.
func (m *Metrics) WatchConsumers(list func(ctx context.Context) ([]ConsumerState, error)) {
	m.reg.MustRegister(&consumerCollector{list: list})
}

// WatchDeadLetters exports the number of dead letters held, read at each
// scrape.
func (m *Metrics) WatchDeadLetters(count func(ctx context.Context) (uint64, error)) {
	m.reg.MustRegister(&funcCollector{
		desc: prometheus.NewDesc(namespace+"_dead_letters", "Events consumers gave up on, held in the dead-letter stream until redriven or discarded.", nil, nil),
		read: func(ctx context.Context) (float64, error) {
			n, err := count(ctx)
			return float64(n), err
		},
	})
}

// WatchStreams exports the number of open event streams (SSE clients).
func (m *Metrics) WatchStreams(open func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "sse", Name: "clients",
		Help: "Event streams (server-sent events) open now."}, func() float64 { return float64(open()) }))
}

type outboxCollector struct {
	backlog Backlog
	now     func() time.Time
}

var (
	outboxPendingDesc = prometheus.NewDesc(namespace+"_outbox_pending_events", "Events committed and not yet published to the bus.", nil, nil)
	outboxAgeDesc     = prometheus.NewDesc(namespace+"_outbox_oldest_age_seconds", "Age of the oldest event waiting in the outbox; 0 when none waits.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPendingDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, oldest, err := c.backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPendingDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, c.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}

type consumerCollector struct {
	list func(ctx context.Context) ([]ConsumerState, error)
}

var (
	consumersDesc  = prometheus.NewDesc(namespace+"_consumers", "Durable consumers on the event stream, by kind.", []string{"consumer"}, nil)
	lagDesc        = prometheus.NewDesc(namespace+"_consumer_lag_events", "Events on the stream not yet given to the consumers of a kind, summed over them.", []string{"consumer"}, nil)
	maxLagDesc     = prometheus.NewDesc(namespace+"_consumer_max_lag_events", "The largest lag of one consumer of a kind: one stuck webhook shows here.", []string{"consumer"}, nil)
	ackPendingDesc = prometheus.NewDesc(namespace+"_consumer_ack_pending_events", "Events given to the consumers of a kind and not yet acknowledged.", []string{"consumer"}, nil)
)

func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{consumersDesc, lagDesc, maxLagDesc, ackPendingDesc} {
		ch <- d
	}
}

func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	cs, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lagDesc, err)
		return
	}
	type sums struct {
		n, lag, maxLag, ackPending float64
	}
	by := map[string]*sums{}
	for _, s := range cs {
		k := ConsumerKind(s.Name)
		if by[k] == nil {
			by[k] = &sums{}
		}
		b := by[k]
		b.n++
		b.lag += float64(s.Pending)
		b.maxLag = max(b.maxLag, float64(s.Pending))
		b.ackPending += float64(s.AckPending)
	}
	for k, b := range by {
		ch <- prometheus.MustNewConstMetric(consumersDesc, prometheus.GaugeValue, b.n, k)
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, b.lag, k)
		ch <- prometheus.MustNewConstMetric(maxLagDesc, prometheus.GaugeValue, b.maxLag, k)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, b.ackPending, k)
	}
}

// funcCollector is one gauge read by a function that may fail.
type funcCollector struct {
	desc *prometheus.Desc
	read func(ctx context.Context) (float64, error)
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	v, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
}
