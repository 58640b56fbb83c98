package prommetrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeStore is a Store; graphFake adds the optional graph ports.
type fakeStore struct{}

func (fakeStore) View(ctx context.Context, fn func(agileplus.ReadTx) error) error { return fn(nil) }
func (fakeStore) Update(ctx context.Context, fn func(agileplus.Tx) error) error   { return fn(nil) }
func (fakeStore) Close() error                                                    { return nil }

type readerFake struct{ fakeStore }

func (readerFake) ReadGraph(ctx context.Context, fn func(agileplus.GraphIndex) error) error {
	return fn(nil)
}

type traverserFake struct{ readerFake }

func (traverserFake) Blockers(context.Context, string, bool, int) (*agileplus.GraphReach, error) {
	return &agileplus.GraphReach{}, nil
}
func (traverserFake) Dependents(context.Context, string, bool, int) (*agileplus.GraphReach, error) {
	return nil, errors.New("down")
}
func (traverserFake) Path(context.Context, string, string) ([]agileplus.GraphNode, error) {
	return nil, nil
}
func (traverserFake) Impact(context.Context, string, int) (*agileplus.GraphImpact, error) {
	return nil, nil
}

func TestStoreKeepsTheOptionalPorts(t *testing.T) {
	for _, tt := range []struct {
		name              string
		s                 agileplus.Store
		reader, traverser bool
	}{
		{"plain", fakeStore{}, false, false},
		{"graph reader", readerFake{}, true, false},
		{"graph traverser", traverserFake{}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Store(tt.s, New("test"))
			if _, ok := s.(agileplus.GraphReader); ok != tt.reader {
				t.Errorf("got GraphReader %v, want %v", ok, tt.reader)
			}
			if _, ok := s.(agileplus.GraphTraverser); ok != tt.traverser {
				t.Errorf("got GraphTraverser %v, want %v", ok, tt.traverser)
			}
			if _, ok := s.(agileplus.Outbox); ok {
				t.Error("got an Outbox: the decorator only times what the Service uses")
			}
		})
	}
}

func TestStoreTimesOperations(t *testing.T) {
	m := New("test")
	s := Store(traverserFake{}, m)
	ctx := t.Context()
	want := errors.New("rule broken")
	if err := s.Update(ctx, func(agileplus.Tx) error { return want }); err != want {
		t.Errorf("Update: got %v, want the function's error", err)
	}
	s.View(ctx, func(agileplus.ReadTx) error { return nil })
	s.View(ctx, func(agileplus.ReadTx) error { return nil })
	s.(agileplus.GraphReader).ReadGraph(ctx, func(agileplus.GraphIndex) error { return nil })
	if _, err := s.(agileplus.GraphTraverser).Dependents(ctx, "X-1", true, 3); err == nil {
		t.Error("Dependents: got no error, want the store's")
	}
	for op, want := range map[string]int{"view": 2, "update": 1, "read_graph": 1, "dependents": 1, "blockers": 0} {
		if got := histogramCount(t, m, "agileplus_store_operation_duration_seconds", "op", op); got != want {
			t.Errorf("op %s: got %d observations, want %d", op, got, want)
		}
	}
}

// histogramCount is the sample count of the histogram name with the label.
func histogramCount(t *testing.T, m *Metrics, name, label, value string) int {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return int(mt.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return 0
}

func TestInstruments(t *testing.T) {
	m := New("v1.2.3")
	m.ObserveRequest("/v1/wps/{wp}", "GET", 200, time.Millisecond)
	m.ObserveRequest("/v1/wps/{wp}", "GET", 200, time.Millisecond)
	m.ObserveRequest("/v1/wps/{wp}", "GET", 404, time.Millisecond)
	m.ObservePublish(5, nil)
	m.ObservePublish(3, errors.New("bus down"))
	m.ObserveAttempt("webhook-whk_1", 1, nil)
	m.ObserveAttempt("webhook-whk_2", 2, errors.New("refused"))
	m.ObserveDelivery(agileplus.DeliveryDelivered, 20*time.Millisecond)
	m.ObserveDelivery(agileplus.DeliveryFailed, 0)
	m.ObserveClaim(false)
	m.ObserveClaim(true)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m.WatchOutbox(func(context.Context) (int64, time.Time, error) { return 7, at, nil }, func() time.Time { return at.Add(90 * time.Second) })
	m.WatchConsumers(func(context.Context) ([]ConsumerState, error) {
		return []ConsumerState{{Name: "webhook-whk_1", Pending: 3, AckPending: 1}, {Name: "webhook-whk_2", Pending: 10}}, nil
	})
	m.WatchDeadLetters(func(context.Context) (uint64, error) { return 2, nil })
	m.WatchStreams(func() int { return 4 })

	want := `
# HELP agileplus_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE agileplus_http_requests_total counter
agileplus_http_requests_total{code="200",method="GET",route="/v1/wps/{wp}"} 2
agileplus_http_requests_total{code="404",method="GET",route="/v1/wps/{wp}"} 1
# HELP agileplus_relay_published_events_total Events the relay published from the outbox to the bus (a batch published again after an error counts again).
# TYPE agileplus_relay_published_events_total counter
agileplus_relay_published_events_total 5
# HELP agileplus_relay_publish_errors_total Batches the bus did not take; the relay retries them.
# TYPE agileplus_relay_publish_errors_total counter
agileplus_relay_publish_errors_total 1
# HELP agileplus_consumer_attempts_total Attempts durable consumers of this process made at events, by kind of consumer and outcome (ok, error).
# TYPE agileplus_consumer_attempts_total counter
agileplus_consumer_attempts_total{consumer="webhook",outcome="error"} 1
agileplus_consumer_attempts_total{consumer="webhook",outcome="ok"} 1
# HELP agileplus_consumer_redeliveries_total Attempts beyond the first at one event, by kind of consumer.
# TYPE agileplus_consumer_redeliveries_total counter
agileplus_consumer_redeliveries_total{consumer="webhook"} 1
# HELP agileplus_webhook_deliveries_total Webhook delivery attempts, by outcome: delivered, failed (another attempt follows), dead_lettered (the last attempt failed), skipped (already delivered).
# TYPE agileplus_webhook_deliveries_total counter
agileplus_webhook_deliveries_total{outcome="delivered"} 1
agileplus_webhook_deliveries_total{outcome="failed"} 1
# HELP agileplus_claims_taken_total Claims (leases on WPs) taken through this process.
# TYPE agileplus_claims_taken_total counter
agileplus_claims_taken_total 2
# HELP agileplus_claims_expired_total Claims that took over a lease that had expired without release.
# TYPE agileplus_claims_expired_total counter
agileplus_claims_expired_total 1
# HELP agileplus_outbox_pending_events Events committed and not yet published to the bus.
# TYPE agileplus_outbox_pending_events gauge
agileplus_outbox_pending_events 7
# HELP agileplus_outbox_oldest_age_seconds Age of the oldest event waiting in the outbox; 0 when none waits.
# TYPE agileplus_outbox_oldest_age_seconds gauge
agileplus_outbox_oldest_age_seconds 90
# HELP agileplus_consumer_lag_events Events on the stream not yet given to the consumers of a kind, summed over them.
# TYPE agileplus_consumer_lag_events gauge
agileplus_consumer_lag_events{consumer="webhook"} 13
# HELP agileplus_consumer_max_lag_events The largest lag of one consumer of a kind: one stuck webhook shows here.
# TYPE agileplus_consumer_max_lag_events gauge
agileplus_consumer_max_lag_events{consumer="webhook"} 10
# HELP agileplus_consumers Durable consumers on the event stream, by kind.
# TYPE agileplus_consumers gauge
agileplus_consumers{consumer="webhook"} 2
# HELP agileplus_dead_letters Events consumers gave up on, held in the dead-letter stream until redriven or discarded.
# TYPE agileplus_dead_letters gauge
agileplus_dead_letters 2
# HELP agileplus_sse_clients Event streams (server-sent events) open now.
# TYPE agileplus_sse_clients gauge
agileplus_sse_clients 4
# HELP agileplus_build_info Always 1; the version label says which build runs.
# TYPE agileplus_build_info gauge
agileplus_build_info{version="v1.2.3"} 1
`
	names := []string{"agileplus_http_requests_total", "agileplus_relay_published_events_total", "agileplus_relay_publish_errors_total",
		"agileplus_consumer_attempts_total", "agileplus_consumer_redeliveries_total", "agileplus_webhook_deliveries_total",
		"agileplus_claims_taken_total", "agileplus_claims_expired_total", "agileplus_outbox_pending_events", "agileplus_outbox_oldest_age_seconds",
		"agileplus_consumer_lag_events", "agileplus_consumer_max_lag_events", "agileplus_consumers", "agileplus_dead_letters",
		"agileplus_sse_clients", "agileplus_build_info"}
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestFailingSourceLeavesTheRest(t *testing.T) {
	m := New("test")
	m.WatchOutbox(func(context.Context) (int64, time.Time, error) {
		return 0, time.Time{}, errors.New("store down")
	}, time.Now)
	m.WatchDeadLetters(func(context.Context) (uint64, error) { return 1, nil })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "agileplus_dead_letters 1") || strings.Contains(string(body), "agileplus_outbox_pending_events") {
		t.Errorf("got %d\n%s\nwant 200 with the dead letters and without the outbox", rec.Code, body)
	}
}

func TestConsumerKind(t *testing.T) {
	for name, want := range map[string]string{"webhook-whk_01": "webhook", "projections": "projections", "-x": "other"} {
		if got := ConsumerKind(name); got != want {
			t.Errorf("ConsumerKind(%q): got %q, want %q", name, got, want)
		}
	}
}

func TestTrackerTimesGraphQueries(t *testing.T) {
	m := New("test")
	tr := Tracker(nilTracker{}, m)
	tr.Blockers(t.Context(), "X-1", false, 0)
	tr.Cycles(t.Context(), "X")
	if got := histogramCount(t, m, "agileplus_graph_query_duration_seconds", "query", "blockers"); got != 1 {
		t.Errorf("got %d blockers observations, want 1", got)
	}
	if got := histogramCount(t, m, "agileplus_graph_query_duration_seconds", "query", "cycles"); got != 1 {
		t.Errorf("got %d cycles observations, want 1", got)
	}
}

// nilTracker answers the graph queries the test calls.
type nilTracker struct{ agileplus.Tracker }

func (nilTracker) Blockers(context.Context, string, bool, int) (*agileplus.GraphReach, error) {
	return nil, nil
}
func (nilTracker) Cycles(context.Context, string) (*agileplus.GraphCycles, error) { return nil, nil }
