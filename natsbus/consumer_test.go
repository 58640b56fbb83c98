package natsbus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
)

// fastPolicy keeps consumer tests short: retries come after 50ms. The ack
// wait is long, so that no event is delivered again because a busy machine
// was slow to ack it: the tests count deliveries.
func fastPolicy() agileplus.ConsumerPolicy {
	return agileplus.ConsumerPolicy{MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond}, AckWait: poll.Timeout}
}

// seen records what a handler saw, safely.
type seen struct {
	mu       sync.Mutex
	attempts map[string][]agileplus.Delivery
	applied  map[string]int
}

func newSeen() *seen {
	return &seen{attempts: map[string][]agileplus.Delivery{}, applied: map[string]int{}}
}

func (s *seen) add(e *agileplus.Event, d agileplus.Delivery, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[e.ID] = append(s.attempts[e.ID], d)
	if ok {
		s.applied[e.ID]++
	}
}

func (s *seen) appliedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.applied)
}

func TestConsumerRetriesAndDeadLetters(t *testing.T) {
	ctx := testContext(t)
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), Consumer: fastPolicy()})
	s := newSeen()
	failing := map[string]bool{}
	var mu sync.Mutex
	c, err := b.Consume(ctx, agileplus.ConsumerSpec{
		Name:     "test-consumer",
		Selector: agileplus.EventSelector{Types: []string{"wp.transitioned"}},
		Handle: func(_ context.Context, e *agileplus.Event, d agileplus.Delivery) error {
			mu.Lock()
			fail := failing[e.ID]
			mu.Unlock()
			s.add(e, d, !fail)
			if fail {
				return errors.New("handler refuses " + e.ID)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	events := testEvents("c", 6)
	mu.Lock()
	failing[events[2].ID] = true
	mu.Unlock()
	if err := b.Publish(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Redeliveries go before new events, so on a slow machine the failing
	// event can run out of attempts before the last events are applied.
	poll.Until(t, "a dead letter and the other events applied", func() bool {
		ds, err := b.DeadLetters(ctx, "test-consumer", 0, 0)
		return err == nil && len(ds) == 1 && s.appliedCount() == 5
	})
	if n := s.appliedCount(); n != 5 {
		t.Errorf("applied %d events, want the 5 that did not fail", n)
	}
	s.mu.Lock()
	att := s.attempts[events[2].ID]
	s.mu.Unlock()
	if len(att) != 3 {
		t.Fatalf("failing event had %d attempts, want MaxDeliver 3", len(att))
	}
	for i, d := range att {
		if d.Attempt != i+1 || d.MaxAttempts != 3 || d.Consumer != "test-consumer" || d.Redrive {
			t.Errorf("attempt %d: %+v", i+1, d)
		}
		if last := i == 2; d.Last() != last || (d.RetryIn == 0) != last {
			t.Errorf("attempt %d: Last %v RetryIn %s", i+1, d.Last(), d.RetryIn)
		}
	}
	ds, err := b.DeadLetters(ctx, "", 0, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DeadLetters: %v %v", ds, err)
	}
	dl := ds[0]
	if dl.Event == nil || dl.Event.ID != events[2].ID || dl.Deliveries != 3 || dl.Consumer != "test-consumer" || dl.Reason != "max_deliveries" {
		t.Fatalf("dead letter %+v", dl)
	}
	if other, _ := b.DeadLetters(ctx, "another", 0, 0); len(other) != 0 {
		t.Errorf("another consumer's dead letters: %v", other)
	}
	if after, _ := b.DeadLetters(ctx, "", dl.Seq, 0); len(after) != 0 {
		t.Errorf("dead letters after the last one: %v", after)
	}

	// A redrive that fails again leaves it; one that succeeds removes it.
	res, err := b.Redrive(ctx, dl.Seq)
	if err != nil || res.Delivered || !strings.Contains(res.Error, "handler refuses") {
		t.Fatalf("failing redrive: %+v %v", res, err)
	}
	mu.Lock()
	failing[events[2].ID] = false
	mu.Unlock()
	res, err = b.Redrive(ctx, dl.Seq)
	if err != nil || !res.Delivered || res.EventID != events[2].ID {
		t.Fatalf("redrive: %+v %v", res, err)
	}
	s.mu.Lock()
	last := s.attempts[events[2].ID][len(s.attempts[events[2].ID])-1]
	s.mu.Unlock()
	if !last.Redrive || last.Attempt != 4 {
		t.Errorf("redrive delivery %+v, want Redrive and attempt 4 (the dead letter's 3 deliveries + 1)", last)
	}
	if ds, _ := b.DeadLetters(ctx, "", 0, 0); len(ds) != 0 {
		t.Errorf("dead letters after redrive: %v", ds)
	}
	if _, err := b.Redrive(ctx, dl.Seq); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("redrive again: %v", err)
	}
}

func TestConsumerTerminatesGarbage(t *testing.T) {
	ctx := testContext(t)
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), Consumer: fastPolicy()})
	called := make(chan struct{}, 1)
	c, err := b.Consume(ctx, agileplus.ConsumerSpec{Name: "strict", Handle: func(context.Context, *agileplus.Event, agileplus.Delivery) error {
		called <- struct{}{}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := b.Conn().Publish("agileplus.P.wp.x.created", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "a dead letter", func() bool {
		ds, _ := b.DeadLetters(ctx, "strict", 0, 0)
		return len(ds) == 1 && strings.HasPrefix(ds[0].Reason, "terminated")
	})
	select {
	case <-called:
		t.Error("the handler saw a message that is not a CloudEvent")
	default:
	}
	ds, _ := b.DeadLetters(ctx, "strict", 0, 0)
	if res, err := b.Redrive(ctx, ds[0].Seq); err != nil || res.Delivered || !strings.Contains(res.Error, "not a CloudEvent") {
		t.Errorf("redrive of garbage: %+v %v", res, err)
	}
	if err := b.DiscardDeadLetter(ctx, ds[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := b.DiscardDeadLetter(ctx, ds[0].Seq); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("discard twice: %v", err)
	}
}

func TestConsumerSharedAcrossProcessesAndResumes(t *testing.T) {
	ctx := testContext(t)
	b1 := openBus(t, natsbus.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Consumer: fastPolicy()})
	b2 := openBus(t, natsbus.Config{URL: b1.ClientURL(), Consumer: fastPolicy()})
	s := newSeen()
	var mu sync.Mutex
	by := map[string]int{}
	spec := func(n int) agileplus.ConsumerSpec {
		return agileplus.ConsumerSpec{Name: "shared", Handle: func(_ context.Context, e *agileplus.Event, d agileplus.Delivery) error {
			s.add(e, d, true)
			mu.Lock()
			by[e.ID] = n
			mu.Unlock()
			return nil
		}}
	}
	c1, err := b1.Consume(ctx, spec(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b1.Consume(ctx, spec(1)); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
		t.Errorf("second Consume of one name in one process: %v", err)
	}
	if _, err := b1.Consume(ctx, agileplus.ConsumerSpec{Name: "bad.name", Handle: spec(1).Handle}); agileplus.ErrorCode(err) != agileplus.EINVALID {
		t.Errorf("Consume with a bad name: %v", err)
	}
	c2, err := b2.Consume(ctx, spec(2))
	if err != nil {
		t.Fatal(err)
	}
	events := testEvents("s", 400)
	for i := 0; i < len(events); i += 50 {
		if err := b1.Publish(ctx, events[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "every event applied", func() bool { return s.appliedCount() == len(events) })
	s.mu.Lock()
	for id, n := range s.applied {
		if n != 1 {
			t.Errorf("event %s applied %d times across the two processes", id, n)
		}
	}
	s.mu.Unlock()
	c1.Stop()
	c2.Stop()

	// Stopped: events published now wait for the next start.
	more := testEvents("t", 20)
	if err := b1.Publish(ctx, more); err != nil {
		t.Fatal(err)
	}
	c3, err := b2.Consume(ctx, spec(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Stop()
	poll.Until(t, "the events published while stopped", func() bool { return s.appliedCount() == len(events)+len(more) })

	if err := b2.DeleteConsumer(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if err := b2.DeleteConsumer(ctx, "shared"); err != nil {
		t.Errorf("deleting a deleted consumer: %v", err)
	}
}

func TestRedriveWithoutConsumer(t *testing.T) {
	ctx := testContext(t)
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), Consumer: agileplus.ConsumerPolicy{MaxDeliver: 1, AckWait: poll.Timeout}})
	c, err := b.Consume(ctx, agileplus.ConsumerSpec{Name: "gone", Handle: func(context.Context, *agileplus.Event, agileplus.Delivery) error {
		return errors.New("no")
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, testEvents("g", 1)); err != nil {
		t.Fatal(err)
	}
	var ds []*agileplus.DeadLetter
	poll.Until(t, "a dead letter", func() bool {
		ds, _ = b.DeadLetters(ctx, "gone", 0, 0)
		return len(ds) == 1
	})
	c.Stop()
	res, err := b.Redrive(ctx, ds[0].Seq)
	if err != nil || res.Delivered || !strings.Contains(res.Error, "does not run on this server") {
		t.Errorf("redrive to a stopped consumer: %+v %v", res, err)
	}
}

// TestConsumerGracefulStopHandsOver stops a consumer in one process while it
// holds an event and while it has a pull request open on the server, and
// checks that the same consumer in another process gets every event long
// before the ack wait, which is what a crash would cost.
func TestConsumerGracefulStopHandsOver(t *testing.T) {
	const ackWait = 2 * time.Minute
	policy := agileplus.ConsumerPolicy{MaxDeliver: 5, Backoff: []time.Duration{50 * time.Millisecond}, AckWait: ackWait}
	ctx, cancel := context.WithTimeout(t.Context(), 3*ackWait)
	defer cancel()
	b1 := openBus(t, natsbus.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Consumer: policy})
	b2 := openBus(t, natsbus.Config{URL: b1.ClientURL(), Consumer: policy})
	s := newSeen()
	record := func(_ context.Context, e *agileplus.Event, d agileplus.Delivery) error {
		s.add(e, d, true)
		return nil
	}
	// Within half the ack wait, nothing can have come back by expiry.
	bound := ackWait / 2

	t.Run("idle with a pull request open", func(t *testing.T) {
		c1, err := b2.Consume(ctx, agileplus.ConsumerSpec{Name: "handover", Handle: record})
		if err != nil {
			t.Fatal(err)
		}
		first := testEvents("a", 1)
		if err := b1.Publish(ctx, first); err != nil {
			t.Fatal(err)
		}
		poll.Within(t, bound, "the first event", func() bool { return s.appliedCount() == 1 })
		// c1 pulls again at once; stop it while that request waits on the
		// server, and publish before anyone else pulls.
		c1.Stop()
		more := testEvents("b", 20)
		if err := b1.Publish(ctx, more); err != nil {
			t.Fatal(err)
		}
		c2, err := b1.Consume(ctx, agileplus.ConsumerSpec{Name: "handover", Handle: record})
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Stop()
		start := time.Now()
		poll.Within(t, bound, "the events published after the stop", func() bool { return s.appliedCount() == 21 })
		t.Logf("handed over in %s (ack wait %s)", time.Since(start).Round(time.Millisecond), ackWait)
	})

	t.Run("holding an event", func(t *testing.T) {
		held := make(chan string, 1)
		c1, err := b2.Consume(ctx, agileplus.ConsumerSpec{Name: "holder", Handle: func(hctx context.Context, e *agileplus.Event, _ agileplus.Delivery) error {
			select {
			case held <- e.ID:
			default:
			}
			<-hctx.Done() // an attempt that outlives the process's stop
			return hctx.Err()
		}})
		if err != nil {
			t.Fatal(err)
		}
		events := testEvents("c", 21)
		if err := b1.Publish(ctx, events[:1]); err != nil {
			t.Fatal(err)
		}
		select {
		case <-held:
		case <-ctx.Done():
			t.Fatal("the first process never got the event")
		}
		if err := b1.Publish(ctx, events[1:]); err != nil {
			t.Fatal(err)
		}
		c1.Stop()
		got := newSeen()
		c2, err := b1.Consume(ctx, agileplus.ConsumerSpec{Name: "holder", Handle: func(_ context.Context, e *agileplus.Event, d agileplus.Delivery) error {
			got.add(e, d, true)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Stop()
		start := time.Now()
		poll.Within(t, bound, "the held event and the ones behind it", func() bool { return got.appliedCount() == len(events) })
		t.Logf("handed over in %s (ack wait %s)", time.Since(start).Round(time.Millisecond), ackWait)
		got.mu.Lock()
		defer got.mu.Unlock()
		if a := got.attempts[events[0].ID]; len(a) != 1 || a[0].Attempt != 2 {
			t.Errorf("held event: got attempts %+v, want one, the second delivery", a)
		}
	})
}
