// Package relay moves committed events from a store's outbox to the event bus:
// the second half of the write path (see agileplus.Outbox and
// agileplus.Publisher). It is an engine, neither domain nor adapter, so it
// imports only the root package and works with any store and bus.
package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
)

// Relay moves committed events from the store's outbox to the bus. It is the
// only writer of "published" marks. A crash between publish and mark makes the
// relay publish those events again on restart; the bus de-duplicates them by
// event ID, so every event is stored on the bus exactly once.
type Relay struct {
	Outbox    agileplus.Outbox
	Publisher agileplus.Publisher
	Logger    *slog.Logger
	// BatchSize bounds one publish round (default 2048).
	BatchSize int
	// Interval is how often the relay looks at the outbox when nobody
	// pokes it (default 250ms). Retries after a bus failure back off from
	// Interval up to MaxBackoff (default 5s).
	Interval   time.Duration
	MaxBackoff time.Duration
	// PublishTimeout bounds one publish of a batch (default 10s).
	PublishTimeout time.Duration
	// OnPublish, if set, is told about each publish of a batch to the bus:
	// how many events it held and the error, nil when the bus took them.
	OnPublish func(events int, err error)
	// Tracer, if set, records a span for each event's publish (until the
	// bus acknowledged it), a child of the event's trace.
	Tracer agileplus.Tracer

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	lastErr error
}

// Open starts the relay goroutine. Close stops it.
func (r *Relay) Open() {
	if r.Interval <= 0 {
		r.Interval = 250 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 5 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	r.wake = make(chan struct{}, 1)
	r.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.loop(ctx)
}

// Close stops the relay after the round in flight, if any.
func (r *Relay) Close() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	<-r.done
	return nil
}

// Poke tells the relay new events were committed. It never blocks.
func (r *Relay) Poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// LastError is the error of the most recent round, nil when it succeeded.
func (r *Relay) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

func (r *Relay) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

func (r *Relay) loop(ctx context.Context) {
	defer close(r.done)
	backoff := r.Interval
	for {
		n, err := r.Drain(ctx)
		r.setErr(err)
		wait := r.Interval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Logger.Warn("relay: publish failed; will retry", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, r.MaxBackoff)
		} else {
			backoff = r.Interval
			if n > 0 && ctx.Err() == nil {
				continue // more may have come meanwhile; do not wait
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Drain publishes pending events in commit order until the outbox is empty
// and returns how many it moved (published and marked). It overlaps the
// store's work with the bus's: while one batch is being published, the
// next is read and the previous one marked. Batches are published one
// after the other, so the bus receives events in order even when a publish
// fails halfway; after an error the next Drain starts again from the oldest
// unmarked event. Each publish is bounded by PublishTimeout, so an ack lost
// in a leader change costs a retry, not a stall.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	size := r.batchSize()
	batch, err := r.Outbox.PendingEvents(ctx, 0, size)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	moved := 0
	var marking chan error // the previous batch's mark, in flight
	var marked int
	waitMark := func() error {
		if marking == nil {
			return nil
		}
		err := <-marking
		marking = nil
		if err == nil {
			moved += marked
		}
		return err
	}
	type read struct {
		events []*agileplus.Event
		err    error
	}
	for len(batch) > 0 {
		next := make(chan read, 1)
		if len(batch) < size {
			next <- read{} // the outbox had no more
		} else {
			after := batch[len(batch)-1].GlobalSeq
			go func() {
				es, err := r.Outbox.PendingEvents(ctx, after, size)
				next <- read{es, err}
			}()
		}
		pctx, cancel := context.WithTimeout(ctx, r.publishTimeout())
		spans := r.startSpans(batch)
		err := r.Publisher.Publish(pctx, batch)
		for _, s := range spans {
			s.End(err)
		}
		cancel()
		if r.OnPublish != nil {
			r.OnPublish(len(batch), err)
		}
		if err != nil {
			<-next
			return moved, errors.Join(err, waitMark())
		}
		if err := waitMark(); err != nil {
			<-next
			return moved, err
		}
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		marking, marked = make(chan error, 1), len(batch)
		go func() { marking <- r.Outbox.MarkPublished(ctx, ids) }()
		nr := <-next
		if nr.err != nil {
			return moved, errors.Join(nr.err, waitMark())
		}
		batch = nr.events
	}
	return moved, waitMark()
}

// Backlog reports how many events wait in the outbox and when the oldest
// of them was recorded (zero when none waits): what a scrape of the
// metrics reads, two small queries.
func (r *Relay) Backlog(ctx context.Context) (pending int64, oldest time.Time, err error) {
	pending, err = r.Outbox.PendingCount(ctx)
	if err != nil || pending == 0 {
		return pending, time.Time{}, err
	}
	es, err := r.Outbox.PendingEvents(ctx, 0, 1)
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(es) > 0 {
		oldest = es[0].Time
	}
	return pending, oldest, nil
}

// startSpans starts the publish span of every event of batch that carries
// a trace.
func (r *Relay) startSpans(batch []*agileplus.Event) []agileplus.Span {
	if r.Tracer == nil {
		return nil
	}
	var spans []agileplus.Span
	for _, e := range batch {
		if !agileplus.ValidTraceParent(e.TraceParent) {
			continue
		}
		_, s := r.Tracer.Start(agileplus.WithTraceParent(context.Background(), e.TraceParent), "publish "+e.Type, agileplus.SpanProducer)
		s.SetAttributes("event.id", e.ID, "event.type", e.Type, "messaging.system", "nats")
		spans = append(spans, s)
	}
	return spans
}

// publishTimeout is PublishTimeout, defaulted.
func (r *Relay) publishTimeout() time.Duration {
	if r.PublishTimeout <= 0 {
		return 10 * time.Second
	}
	return r.PublishTimeout
}

// batchSize is BatchSize, defaulted.
func (r *Relay) batchSize() int {
	if r.BatchSize <= 0 {
		return 2048
	}
	return r.BatchSize
}
