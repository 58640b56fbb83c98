package agileplus

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Relay moves committed events from the store's outbox to the bus. It is the
// only writer of "published" marks. A crash between publish and mark makes the
// relay publish those events again on restart; the bus de-duplicates them by
// event ID, so every event is stored on the bus exactly once.
type Relay struct {
	Outbox    Outbox
	Publisher Publisher
	Logger    *slog.Logger
	// BatchSize bounds one publish round (default 512).
	BatchSize int
	// Interval is how often the relay looks at the outbox when nobody
	// pokes it (default 250ms). Retries after a bus failure back off from
	// Interval up to MaxBackoff (default 5s).
	Interval   time.Duration
	MaxBackoff time.Duration

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
				continue // there may be more; do not wait
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

// Drain publishes one batch of pending events and marks them published. It
// returns how many events it moved.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	events, err := r.Outbox.PendingEvents(ctx, r.batchSize())
	if err != nil || len(events) == 0 {
		return 0, err
	}
	if err := r.Publisher.Publish(ctx, events); err != nil {
		return 0, err
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	if err := r.Outbox.MarkPublished(ctx, ids); err != nil {
		return 0, err
	}
	return len(events), nil
}

// batchSize is BatchSize, defaulted.
func (r *Relay) batchSize() int {
	if r.BatchSize <= 0 {
		return 512
	}
	return r.BatchSize
}
