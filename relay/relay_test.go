package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agileplus/agileplus"
)

// memOutbox is an in-memory Outbox.
type memOutbox struct {
	mu        sync.Mutex
	events    []*agileplus.Event
	published map[string]bool
	reads     int   // PendingEvents calls
	readErr   error // returned by PendingEvents when set
	markErr   error // returned by MarkPublished when set
	marks     int   // MarkPublished calls
	failMark  int   // MarkPublished call number that fails with errStoreDown (0: none)
}

var errStoreDown = agileplus.Errorf(agileplus.EUNAVAILABLE, "store down")

func newMemOutbox(n int) *memOutbox {
	o := &memOutbox{published: map[string]bool{}}
	o.add(n)
	return o
}

// add commits n more events.
func (o *memOutbox) add(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for range n {
		gs := int64(len(o.events) + 1)
		o.events = append(o.events, &agileplus.Event{ID: fmt.Sprintf("evt_%04d", gs), GlobalSeq: gs, Type: "wp.updated"})
	}
}

func (o *memOutbox) PendingEvents(ctx context.Context, after int64, limit int) ([]*agileplus.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reads++
	if o.readErr != nil {
		return nil, o.readErr
	}
	var out []*agileplus.Event
	for _, e := range o.events {
		if len(out) >= limit {
			break
		}
		if !o.published[e.ID] && e.GlobalSeq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

func (o *memOutbox) MarkPublished(ctx context.Context, ids []string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	o.marks++
	if o.marks == o.failMark {
		return errStoreDown
	}
	for _, id := range ids {
		o.published[id] = true
	}
	return nil
}

func (o *memOutbox) PendingCount(ctx context.Context) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return int64(len(o.events) - len(o.published)), nil
}

func (o *memOutbox) readCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reads
}

func (o *memOutbox) pending(t *testing.T) int64 {
	t.Helper()
	n, err := o.PendingCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// flakyPublisher fails its first failFirst calls (all of them if
// failFirst < 0), then records what it is given, de-duplicating by event
// id the way the bus does.
type flakyPublisher struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	at        []time.Time // when each call came
	batches   [][]string
	accepted  []string // in publish order, each id once
	seen      map[string]bool
}

var errBusDown = agileplus.Errorf(agileplus.EUNAVAILABLE, "bus down")

func (p *flakyPublisher) Publish(ctx context.Context, events []*agileplus.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.at = append(p.at, time.Now())
	if p.failFirst < 0 || p.calls <= p.failFirst {
		return errBusDown
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	var batch []string
	for _, e := range events {
		batch = append(batch, e.ID)
		if !p.seen[e.ID] {
			p.seen[e.ID] = true
			p.accepted = append(p.accepted, e.ID)
		}
	}
	p.batches = append(p.batches, batch)
	return nil
}

func (p *flakyPublisher) state() (calls int, accepted []string, batches [][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, slices.Clone(p.accepted), slices.Clone(p.batches)
}

func eventIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("evt_%04d", i))
	}
	return ids
}

func TestRelayDrain(t *testing.T) {
	ctx := t.Context()
	o, p := newMemOutbox(5), &flakyPublisher{}
	r := &Relay{Outbox: o, Publisher: p, BatchSize: 2}
	for i, want := range []int{5, 0, 0} {
		n, err := r.Drain(ctx)
		if err != nil || n != want {
			t.Fatalf("drain %d: got %d, %v, want %d, nil", i+1, n, err, want)
		}
	}
	_, accepted, batches := p.state()
	if want := eventIDs(1, 5); !slices.Equal(accepted, want) {
		t.Errorf("got published %v, want %v", accepted, want)
	}
	if got, want := len(batches), 3; got != want {
		t.Errorf("got %d publish calls, want %d (empty rounds publish nothing)", got, want)
	}
	if got := o.pending(t); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
}

func TestRelayDrainDefaultBatch(t *testing.T) {
	// A Relay that was never opened still drains with the default batch size.
	o, p := newMemOutbox(3), &flakyPublisher{}
	r := &Relay{Outbox: o, Publisher: p}
	n, err := r.Drain(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("got %d, %v, want 3, nil", n, err)
	}
}

func TestRelayDrainErrors(t *testing.T) {
	ctx := t.Context()
	t.Run("publish", func(t *testing.T) {
		o, p := newMemOutbox(3), &flakyPublisher{failFirst: 1}
		r := &Relay{Outbox: o, Publisher: p, BatchSize: 10}
		n, err := r.Drain(ctx)
		if !errors.Is(err, errBusDown) || n != 0 {
			t.Fatalf("got %d, %v, want 0, %v", n, err, errBusDown)
		}
		if got := o.pending(t); got != 3 {
			t.Fatalf("got %d pending after a failed publish, want 3", got)
		}
		if n, err := r.Drain(ctx); err != nil || n != 3 {
			t.Fatalf("retry: got %d, %v, want 3, nil", n, err)
		}
	})
	t.Run("read", func(t *testing.T) {
		o, p := newMemOutbox(3), &flakyPublisher{}
		o.readErr = agileplus.Errorf(agileplus.EUNAVAILABLE, "store down")
		r := &Relay{Outbox: o, Publisher: p, BatchSize: 10}
		if n, err := r.Drain(ctx); !errors.Is(err, o.readErr) || n != 0 {
			t.Fatalf("got %d, %v, want 0, %v", n, err, o.readErr)
		}
		if calls, _, _ := p.state(); calls != 0 {
			t.Fatalf("got %d publish calls, want 0", calls)
		}
	})
	t.Run("mark", func(t *testing.T) {
		// Published but not marked: the events stay pending and are
		// published again; the bus de-duplicates them.
		o, p := newMemOutbox(3), &flakyPublisher{}
		o.markErr = agileplus.Errorf(agileplus.EUNAVAILABLE, "store down")
		r := &Relay{Outbox: o, Publisher: p, BatchSize: 10}
		if n, err := r.Drain(ctx); !errors.Is(err, o.markErr) || n != 0 {
			t.Fatalf("got %d, %v, want 0, %v", n, err, o.markErr)
		}
		if got := o.pending(t); got != 3 {
			t.Fatalf("got %d pending, want 3", got)
		}
		o.mu.Lock()
		o.markErr = nil
		o.mu.Unlock()
		if n, err := r.Drain(ctx); err != nil || n != 3 {
			t.Fatalf("retry: got %d, %v, want 3, nil", n, err)
		}
		_, accepted, batches := p.state()
		if want := eventIDs(1, 3); !slices.Equal(accepted, want) {
			t.Errorf("got accepted %v, want %v", accepted, want)
		}
		if got := len(batches); got != 2 {
			t.Errorf("got %d publish calls, want 2", got)
		}
	})
}

// The tests that run the relay's goroutine run in a synctest bubble: its
// timers run on the bubble's fake clock, which moves only once every
// goroutine in the bubble waits, so retries, intervals and backoff happen
// at exact times however busy the machine is.

func TestRelayRetriesUntilDrained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, p := newMemOutbox(7), &flakyPublisher{failFirst: 3}
		r := &Relay{Outbox: o, Publisher: p, BatchSize: 3, Interval: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
		r.Open()
		defer r.Close()

		// Three failures, retried after 1, 2 and 4ms: drained at 7ms.
		time.Sleep(time.Second)
		synctest.Wait()
		if got := o.pending(t); got != 0 {
			t.Fatalf("got %d pending, want the outbox drained", got)
		}
		calls, accepted, batches := p.state()
		if want := eventIDs(1, 7); !slices.Equal(accepted, want) {
			t.Errorf("got published %v, want %v", accepted, want)
		}
		if got, want := calls, 3+3; got != want {
			t.Errorf("got %d publish calls, want %d (3 failures, then batches of 3, 3, 1)", got, want)
		}
		var flat []string
		for _, b := range batches {
			if len(b) > 3 {
				t.Errorf("got a batch of %d, want at most BatchSize 3", len(b))
			}
			flat = append(flat, b...)
		}
		if want := eventIDs(1, 7); !slices.Equal(flat, want) {
			t.Errorf("got each event published %v, want exactly once in order %v", flat, want)
		}
		if err := r.LastError(); err != nil {
			t.Errorf("got LastError %v after the outbox drained, want nil", err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("close: got %v, want nil", err)
		}
	})
}

func TestRelayPoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, p := newMemOutbox(2), &flakyPublisher{}
		r := &Relay{Outbox: o, Publisher: p, Interval: time.Hour}
		r.Open()
		defer r.Close()

		// The first rounds run at once: one moves both events, the next
		// finds none, then the relay waits.
		synctest.Wait()
		if got, reads := o.pending(t), o.readCount(); got != 0 || reads < 2 {
			t.Fatalf("got %d pending after %d outbox reads, want the initial events published", got, reads)
		}
		reads := o.readCount()

		o.add(3)
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if got := o.pending(t); got != 3 {
			t.Fatalf("got %d pending before the poke, want 3 (the interval is an hour)", got)
		}
		if got := o.readCount(); got != reads {
			t.Fatalf("got %d outbox reads while idle, want %d", got, reads)
		}
		r.Poke()
		r.Poke() // never blocks, even with a wake-up pending
		synctest.Wait()
		if got := o.pending(t); got != 0 {
			t.Fatalf("got %d pending after the poke, want 0", got)
		}
		if _, accepted, _ := p.state(); !slices.Equal(accepted, eventIDs(1, 5)) {
			t.Errorf("got published %v, want %v", accepted, eventIDs(1, 5))
		}
	})
}

func TestRelayCloseStopsTheGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, p := newMemOutbox(1), &flakyPublisher{}
		r := &Relay{Outbox: o, Publisher: p, Interval: time.Millisecond}
		r.Open()
		synctest.Wait()
		if got := o.pending(t); got != 0 {
			t.Fatalf("got %d pending, want the first event published", got)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("close: got %v, want nil", err)
		}
		reads := o.readCount()
		o.add(2)
		r.Poke()
		time.Sleep(time.Second) // a thousand intervals
		synctest.Wait()
		if got := o.readCount(); got != reads {
			t.Errorf("got %d outbox reads after Close, want %d: the relay goroutine still runs", got, reads)
		}
		if got := o.pending(t); got != 2 {
			t.Errorf("got %d pending after Close, want 2", got)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second close: got %v, want nil", err)
		}
	})
}

func TestRelayCloseDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, p := newMemOutbox(1), &flakyPublisher{failFirst: -1}
		r := &Relay{Outbox: o, Publisher: p, Interval: time.Millisecond, MaxBackoff: time.Hour}
		r.Open()
		// Failed rounds at 0, 1, 3, 7, ... 32767ms; the next is due at
		// 65535ms.
		time.Sleep(time.Minute)
		synctest.Wait()
		if calls, _, _ := p.state(); calls != 16 {
			t.Errorf("got %d failed rounds in a minute, want 16", calls)
		}
		if err := r.LastError(); !errors.Is(err, errBusDown) {
			t.Errorf("got LastError %v, want %v", err, errBusDown)
		}
		done := make(chan struct{})
		go func() { r.Close(); close(done) }()
		synctest.Wait() // no time passes: Close must not wait out the backoff
		select {
		case <-done:
		default:
			t.Fatal("Close did not return while the relay was backing off")
		}
		if got := o.pending(t); got != 1 {
			t.Errorf("got %d pending, want 1", got)
		}
	})
}

func TestRelayBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, p := newMemOutbox(1), &flakyPublisher{failFirst: -1}
		r := &Relay{Outbox: o, Publisher: p, Interval: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
		start := time.Now()
		r.Open()
		time.Sleep(200 * time.Millisecond)
		r.Close()
		// Without backoff there would be a call every 5ms.
		p.mu.Lock()
		defer p.mu.Unlock()
		var got []time.Duration
		for _, at := range p.at {
			got = append(got, at.Sub(start))
		}
		ms := time.Millisecond
		if want := []time.Duration{0, 5 * ms, 15 * ms, 35 * ms, 75 * ms, 115 * ms, 155 * ms, 195 * ms}; !slices.Equal(got, want) {
			t.Errorf("got publish calls at %v, want at %v: waits of 5, 10, 20, then 40ms", got, want)
		}
	})
}

func TestRelayCloseWithoutOpen(t *testing.T) {
	r := &Relay{}
	r.Poke() // must not block
	if err := r.Close(); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
}

func TestRelayDrainPipelined(t *testing.T) {
	ctx := t.Context()
	o, p := newMemOutbox(100), &flakyPublisher{}
	o.failMark = 3 // the third batch's mark fails
	r := &Relay{Outbox: o, Publisher: p, BatchSize: 7}
	n, err := r.Drain(ctx)
	if !errors.Is(err, errStoreDown) || n != 14 {
		t.Fatalf("got %d, %v, want the 14 events of the two batches marked before the failure, and %v", n, err, errStoreDown)
	}
	if got := o.pending(t); got != 100-14-7 && got != 100-14 {
		// The fourth batch may have been published and marked while the
		// third batch's mark was failing, but never more.
		t.Fatalf("got %d pending, want 79 or 86", got)
	}
	n2, err := r.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.pending(t); got != 0 {
		t.Fatalf("got %d pending after the retry, want 0 (%d moved)", got, n2)
	}
	_, accepted, batches := p.state()
	if want := eventIDs(1, 100); !slices.Equal(accepted, want) {
		t.Errorf("bus accepted %v, want every event once, in order", accepted)
	}
	// Published in order: every batch starts after the previous one or
	// goes back to the oldest unmarked event after the failure.
	for _, b := range batches {
		if len(b) > 7 {
			t.Errorf("batch of %d, want at most 7", len(b))
		}
	}
}
