package natsbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/natstest"
	"github.com/agileplus/agileplus/natsbus"
)

// TestClusterPublishThroughLeaderKill runs the bus against a three-node
// cluster with an R3 stream and publishes batches without pause while the
// stream leader is killed with SIGKILL and restarted, twice. Publish may
// fail while the stream elects a new leader; every failure must be
// EUNAVAILABLE and the batch is retried, as the relay does. In the end
// every event is in the stream exactly once.
func TestClusterPublishThroughLeaderKill(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var logs lockedBuffer
	defer func() {
		if t.Failed() {
			t.Logf("bus log:\n%s", logs.String())
		}
	}()
	bus, err := natsbus.Open(ctx, natsbus.Config{
		URL:      c.URLs(),
		Replicas: 3,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	info, err := bus.JetStream().Stream(ctx, "AGILEPLUS")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.Replicas; got != 3 {
		t.Fatalf("stream has %d replicas, want 3", got)
	}
	if err := c.WaitStreamHealthy(ctx, "AGILEPLUS", 3); err != nil {
		t.Fatal(err)
	}

	p := &retryingPublisher{bus: bus, done: make(chan struct{})}
	loadCtx, stopLoad := context.WithCancel(ctx)
	go p.run(loadCtx)
	stop := sync.OnceValue(func() error {
		stopLoad()
		<-p.done
		return p.err
	})
	defer stop() // before bus.Close, also when the test fails early

	const rounds = 2
	for round := 1; round <= rounds; round++ {
		p.waitBatches(t, ctx, p.batches()+10)
		leader, err := c.StreamLeader(ctx, "AGILEPLUS")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d batches acknowledged; SIGKILL stream leader %s", round, p.batches(), c.Servers[leader].Name())
		c.Kill(leader)
		time.Sleep(2 * time.Second)
		c.Restart(leader)
		t.Logf("round %d: %s restarted after %d batches", round, c.Servers[leader].Name(), p.batches())
		if err := c.WaitStreamHealthy(ctx, "AGILEPLUS", 3); err != nil {
			t.Fatal(err)
		}
		p.waitBatches(t, ctx, p.batches()+10)
	}
	if err := stop(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	published, retries := p.result()
	t.Logf("%d events in %d batches acknowledged, slowest Publish %s, %d failed attempts retried: %s",
		len(published), p.batches(), p.slowestCall().Round(time.Millisecond), retries, p.errorSummary())

	if err := c.WaitStreamHealthy(ctx, "AGILEPLUS", 3); err != nil {
		t.Fatal(err)
	}
	msgs, err := bus.StreamMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range msgs {
		count[m.MsgID]++
		if m.Event == nil || m.Event.ID != m.MsgID {
			t.Errorf("message %d: Nats-Msg-Id %s does not match its event %+v", m.Seq, m.MsgID, m.Event)
		}
	}
	for _, id := range published {
		if n := count[id]; n != 1 {
			t.Errorf("event %s is in the stream %d times, want 1", id, n)
		}
	}
	if len(msgs) != len(published) || len(count) != len(published) {
		t.Errorf("stream holds %d messages with %d distinct ids, want %d", len(msgs), len(count), len(published))
	}
}

// retryingPublisher publishes batches of fresh events one after another,
// retrying a failed batch with backoff until it is acknowledged, as the
// relay does. Only EUNAVAILABLE failures are expected.
type retryingPublisher struct {
	bus  *natsbus.Bus
	done chan struct{} // closed when run returns
	err  error         // why run gave up; read after done

	mu        sync.Mutex
	published []string // ids of acknowledged events, in order
	nBatches  int
	retries   int
	errs      map[string]int // failure messages, shortened, by count
	slowest   time.Duration  // longest Publish call
}

func (p *retryingPublisher) took(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowest = max(p.slowest, d)
}

const clusterBatchSize = 25

func (p *retryingPublisher) run(ctx context.Context) {
	defer close(p.done)
	p.err = p.publish(ctx)
}

func (p *retryingPublisher) publish(ctx context.Context) error {
	for batch := 0; ctx.Err() == nil; batch++ {
		events := clusterEvents(batch, clusterBatchSize)
		backoff := 50 * time.Millisecond
		for {
			// A bound per attempt, so an ack lost with a killed leader
			// costs a retry rather than the bus's whole ack timeout; the
			// relay's default.
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			start := time.Now()
			err := p.bus.Publish(actx, events)
			cancel()
			p.took(time.Since(start))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				// Stopped mid-batch: the batch may or may not be in the
				// stream, so finish it without a stop signal.
				fctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := p.finish(fctx, events)
				cancel()
				if err != nil {
					return err
				}
				return nil
			}
			if code := agileplus.ErrorCode(err); code != agileplus.EUNAVAILABLE {
				return fmt.Errorf("batch %d: got a %s error, want only %s: %w", batch, code, agileplus.EUNAVAILABLE, err)
			}
			p.failed(err)
			time.Sleep(backoff)
			backoff = min(2*backoff, 2*time.Second)
		}
		p.acked(events)
	}
	return nil
}

// finish publishes a batch until it is acknowledged or ctx ends.
func (p *retryingPublisher) finish(ctx context.Context, events []*agileplus.Event) error {
	for {
		err := p.bus.Publish(ctx, events)
		if err == nil {
			p.acked(events)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("last batch never acknowledged: %w", err)
		}
		p.failed(err)
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *retryingPublisher) acked(events []*agileplus.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		p.published = append(p.published, e.ID)
	}
	p.nBatches++
}

func (p *retryingPublisher) failed(err error) {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries++
	if p.errs == nil {
		p.errs = map[string]int{}
	}
	p.errs[msg]++
}

func (p *retryingPublisher) slowestCall() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slowest
}

func (p *retryingPublisher) batches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nBatches
}

func (p *retryingPublisher) result() (published []string, retries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.published...), p.retries
}

func (p *retryingPublisher) errorSummary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) == 0 {
		return "no failures"
	}
	var lines []string
	for msg, n := range p.errs {
		lines = append(lines, fmt.Sprintf("%dx %s", n, msg))
	}
	sort.Strings(lines)
	return "\n  " + strings.Join(lines, "\n  ")
}

// waitBatches waits until at least n batches are acknowledged, failing
// the test if the publisher gives up.
func (p *retryingPublisher) waitBatches(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for p.batches() < n {
		select {
		case <-p.done:
			t.Fatalf("publisher stopped after %d batches: %v", p.batches(), p.err)
		case <-ctx.Done():
			t.Fatalf("only %d of %d batches acknowledged: %v", p.batches(), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// clusterEvents returns batch number b: n events, each a new entity's
// first event, so the batches need no chain bookkeeping.
func clusterEvents(b, n int) []*agileplus.Event {
	events := make([]*agileplus.Event, n)
	now := time.Now().UTC()
	for i := range events {
		e := &agileplus.Event{
			ID:         fmt.Sprintf("cl-%05d-%03d", b, i),
			Type:       "wp.created",
			EntityKind: agileplus.KindWP,
			EntityID:   fmt.Sprintf("wp_cl%05d%03d", b, i),
			ProjectKey: "CLUSTER",
			FeatureID:  "fea_cluster",
			Seq:        1,
			Time:       now,
			Actor:      "cluster-test",
			Data:       json.RawMessage(`{"title":"failover"}`),
		}
		e.Hash = e.ComputeHash()
		events[i] = e
	}
	return events
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
