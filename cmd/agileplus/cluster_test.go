package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/natstest"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterLeaderKillUnderLoad is the event backbone's acceptance test.
// The server publishes to an R3 stream on a three-node NATS cluster while
// clients write through the HTTP API and a durable pull consumer with
// explicit acks follows the stream. Mid-load the stream leader is killed
// with SIGKILL and restarted a few seconds later. Then:
//   - no write was refused with a 5xx (the bus is not on the write path);
//   - every acknowledged write has its event in the store, and the store's
//     events and the stream's messages are the same set, each message
//     exactly once;
//   - the consumer, applying each event id once however often it is
//     delivered, applied exactly the stream's set.
func TestClusterLeaderKillUnderLoad(t *testing.T) {
	const stream = "AGILEPLUS"
	c := natstest.StartCluster(t, 3)
	url := startTestServerIn(t, t.TempDir(), "--nats-url", c.URLs(), "--stream-replicas", "3")
	// Bounds for a stuck cluster, not a timing requirement: on a loaded
	// machine the kill, the restart and the catch-up take minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := c.WaitStreamHealthy(ctx, stream, 3); err != nil {
		t.Fatal(err)
	}

	api := httpapi.NewClient(url, httpapi.WithActor("cluster-test"))
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: "CLU", Name: "Cluster"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateFeature(ctx, "CLU", agileplus.FeatureCreate{Slug: "failover", Title: "Failover"}); err != nil {
		t.Fatal(err)
	}

	consumer := startApplier(t, ctx, c.URLs(), stream)

	relayWatch := watchRelay(t, api)
	load := &writeLoad{url: url, http: &http.Client{Timeout: poll.Timeout}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load.run(loadCtx, g)
		}()
	}
	defer func() { // also when the test fails early
		stopLoad()
		wg.Wait()
	}()
	phase := func(name string, d time.Duration) {
		time.Sleep(d)
		t.Logf("%s: %d writes acknowledged", name, load.ackedCount())
	}

	phase("before the kill", 3*time.Second)
	leader, err := c.StreamLeader(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL stream leader %s", c.Servers[leader].Name())
	c.Kill(leader)
	phase("leader down", 3*time.Second)
	c.Restart(leader)
	phase(c.Servers[leader].Name()+" restarted", 3*time.Second)
	stopLoad()
	wg.Wait()

	// Everything acknowledged reaches the stream and the consumer.
	drainStart := time.Now()
	if err := c.WaitStreamHealthy(ctx, stream, 3); err != nil {
		t.Fatal(err)
	}
	waitOutboxEmpty(t, api)
	t.Logf("outbox drained %s after the load stopped; %s", time.Since(drainStart).Round(time.Millisecond), relayWatch())
	storeIDs := storeEventIDs(t, ctx, api)
	consumer.waitCaughtUp(t, ctx, len(storeIDs))

	bus, err := natsbus.Open(ctx, natsbus.Config{URL: c.URLs(), Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	msgs, err := bus.StreamMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// 1. No write failed, and none with a 5xx in particular.
	statuses, failures := load.report()
	t.Logf("write statuses: %v", statuses)
	for status, n := range statuses {
		if status >= 500 {
			t.Errorf("%d writes answered %d", n, status)
		} else if status >= 300 {
			t.Errorf("%d writes answered %d, want only 2xx", n, status)
		}
	}
	for _, f := range failures {
		t.Error(f)
	}

	// 2. Every acknowledged write has exactly one event in the store.
	events := storeEvents(t, ctx, api)
	byWrite := map[string]int{} // "<type> <entity id>"
	for _, e := range events {
		byWrite[e.Type+" "+e.EntityID]++
	}
	acked := load.ackedWrites()
	for _, w := range acked {
		if n := byWrite[w]; n != 1 {
			t.Errorf("acknowledged write %q has %d events in the store, want 1", w, n)
		}
	}

	// 3. The store's events are the stream's messages, each exactly once.
	inStream := map[string]int{}
	for _, m := range msgs {
		inStream[m.MsgID]++
	}
	for id := range storeIDs {
		if n := inStream[id]; n != 1 {
			t.Errorf("event %s is in the stream %d times, want 1", id, n)
		}
	}
	for id := range inStream {
		if !storeIDs[id] {
			t.Errorf("stream message %s is not an event of the store", id)
		}
	}
	if len(msgs) != len(storeIDs) {
		t.Errorf("stream holds %d messages, store %d events", len(msgs), len(storeIDs))
	}

	// 4. The durable consumer applied each event once, and all of them.
	applied, deliveries := consumer.result()
	redelivered := 0
	for id, n := range deliveries {
		if n > 1 {
			redelivered++
		}
		if !storeIDs[id] {
			t.Errorf("consumer got %s, which is not an event of the store", id)
		}
	}
	for id := range storeIDs {
		if n := applied[id]; n != 1 {
			t.Errorf("consumer applied event %s %d times, want 1", id, n)
		}
	}
	if len(applied) != len(storeIDs) {
		t.Errorf("consumer applied %d events, stream holds %d", len(applied), len(storeIDs))
	}
	t.Logf("%d acknowledged writes, %d events in store and stream, %d applied by the consumer (%d delivered more than once)",
		len(acked), len(storeIDs), len(applied), redelivered)
	if len(acked) == 0 {
		t.Error("the load acknowledged no writes")
	}
}

// writeLoad creates WPs and moves every other one to doing, through plain
// HTTP so that every status is seen, and remembers each acknowledged write
// as "<event type> <wp id>".
type writeLoad struct {
	url  string
	http *http.Client

	mu       sync.Mutex
	statuses map[int]int
	acked    []string
	failures []string
}

func (l *writeLoad) run(ctx context.Context, g int) {
	for i := 0; ctx.Err() == nil; i++ {
		var wp struct {
			ID string `json:"id"`
		}
		if !l.write(ctx, "/v1/features/failover/wps", map[string]any{"title": fmt.Sprintf("g%d #%d", g, i)}, &wp) {
			continue
		}
		l.ack("wp.created " + wp.ID)
		if i%2 == 0 && ctx.Err() == nil {
			if l.write(ctx, "/v1/wps/"+wp.ID+"/transition", map[string]any{"to": agileplus.WPDoing}, nil) {
				l.ack("wp.transitioned " + wp.ID)
			}
		}
		// Leave the two cores some room for the three NATS servers.
		time.Sleep(5 * time.Millisecond)
	}
}

// write POSTs body and reports whether the server acknowledged it (2xx).
// A request the load's own stop cancelled is not counted.
func (l *writeLoad) write(ctx context.Context, path string, body, out any) bool {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", l.url+path, bytes.NewReader(b))
	if err != nil {
		l.fail(fmt.Sprintf("POST %s: %v", path, err))
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.ActorHeader, "cluster-test")
	resp, err := l.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.fail(fmt.Sprintf("POST %s: %v", path, err))
		}
		return false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil && ctx.Err() != nil {
		// Cancelled while reading: the write may or may not have
		// committed, and that is the stop's doing, not the server's.
		return false
	}
	l.mu.Lock()
	if l.statuses == nil {
		l.statuses = map[int]int{}
	}
	l.statuses[resp.StatusCode]++
	l.mu.Unlock()
	if err != nil {
		l.fail(fmt.Sprintf("POST %s: reading the %s answer: %v", path, resp.Status, err))
		return false
	}
	if resp.StatusCode/100 != 2 {
		l.fail(fmt.Sprintf("POST %s: %s %s", path, resp.Status, bytes.TrimSpace(raw)))
		return false
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			l.fail(fmt.Sprintf("POST %s: decode %s answer: %v", path, resp.Status, err))
			return false
		}
	}
	return true
}

func (l *writeLoad) ack(w string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = append(l.acked, w)
}

func (l *writeLoad) fail(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, msg)
	}
}

func (l *writeLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *writeLoad) ackedWrites() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

func (l *writeLoad) report() (map[int]int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	statuses := map[int]int{}
	for s, n := range l.statuses {
		statuses[s] = n
	}
	return statuses, append([]string(nil), l.failures...)
}

// storeEvents pages through the store's whole event log via the API.
func storeEvents(t *testing.T, ctx context.Context, api *httpapi.Client) []*agileplus.Event {
	t.Helper()
	var all []*agileplus.Event
	var after int64
	for {
		page, err := api.Events(ctx, agileplus.EventQuery{After: after, Limit: agileplus.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].GlobalSeq
	}
}

func storeEventIDs(t *testing.T, ctx context.Context, api *httpapi.Client) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, e := range storeEvents(t, ctx, api) {
		if ids[e.ID] {
			t.Errorf("the store lists event %s twice", e.ID)
		}
		ids[e.ID] = true
	}
	return ids
}

// applier is an idempotent consumer of the stream: a durable pull consumer
// with explicit acks that applies each event id at most once, however often
// JetStream delivers it, and acks every delivery.
type applier struct {
	cons jetstream.Consumer
	done chan struct{}

	mu         sync.Mutex
	applied    map[string]int // how often each event was applied (want 1)
	deliveries map[string]int
	lastErr    error
}

func startApplier(t *testing.T, ctx context.Context, urls, stream string) *applier {
	t.Helper()
	nc, err := nats.Connect(urls, nats.Name("cluster-test-consumer"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       "cluster-test",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       2 * time.Second,
		MaxAckPending: 1000,
	})
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	a := &applier{cons: cons, done: make(chan struct{}), applied: map[string]int{}, deliveries: map[string]int{}}
	runCtx, stop := context.WithCancel(context.Background())
	go a.run(runCtx)
	t.Cleanup(func() {
		stop()
		<-a.done
		nc.Close()
	})
	return a
}

func (a *applier) run(ctx context.Context) {
	defer close(a.done)
	for ctx.Err() == nil {
		batch, err := a.cons.Fetch(200, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			a.setErr(err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for m := range batch.Messages() {
			a.apply(m.Headers().Get(jetstream.MsgIDHeader))
			// A lost ack means a redelivery, which apply absorbs.
			_ = m.Ack()
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			a.setErr(err)
		}
	}
}

func (a *applier) apply(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deliveries[id]++
	if a.deliveries[id] == 1 {
		a.applied[id]++
	}
}

func (a *applier) setErr(err error) {
	a.mu.Lock()
	a.lastErr = err
	a.mu.Unlock()
}

func (a *applier) result() (applied, deliveries map[string]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	applied, deliveries = map[string]int{}, map[string]int{}
	for k, v := range a.applied {
		applied[k] = v
	}
	for k, v := range a.deliveries {
		deliveries[k] = v
	}
	return applied, deliveries
}

// waitCaughtUp waits until want events are applied and the consumer has
// nothing pending and nothing unacknowledged.
func (a *applier) waitCaughtUp(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 3*poll.Timeout)
	defer cancel()
	var last string
	for {
		a.mu.Lock()
		n, lastErr := len(a.applied), a.lastErr
		a.mu.Unlock()
		ictx, icancel := context.WithTimeout(wctx, 2*time.Second)
		info, err := a.cons.Info(ictx)
		icancel()
		if err == nil && n >= want && info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if err != nil {
			last = fmt.Sprintf("applied %d of %d; consumer info: %v; last fetch error: %v", n, want, err, lastErr)
		} else {
			last = fmt.Sprintf("applied %d of %d; pending %d, unacked %d; last fetch error: %v", n, want, info.NumPending, info.NumAckPending, lastErr)
		}
		select {
		case <-wctx.Done():
			t.Fatalf("consumer did not catch up: %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchRelay samples /ready until the test ends and returns a summary of
// what the relay went through: the largest outbox backlog and the distinct
// relay errors seen.
func watchRelay(t *testing.T, api *httpapi.Client) func() string {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var mu sync.Mutex
	maxPending := 0.0
	errs := map[string]int{}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if r, err := api.Readiness(ctx); err == nil {
				d := r.Checks["bus"].Detail
				mu.Lock()
				if n, ok := d["outbox_pending"].(float64); ok && n > maxPending {
					maxPending = n
				}
				if e, ok := d["relay_error"].(string); ok {
					errs[e]++
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("largest outbox backlog %.0f, relay errors seen %v", maxPending, errs)
	}
}
