package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
)

// LiveFeed feeds a Hub from the bus, and follows the bus only while an
// event stream is open: a follower reading every event costs a busy server
// memory and a store read per event, for nobody when no stream is open.
// The first stream starts it (Open sets Hub.OnSubscribe), and it fixes its
// start at the bus's last position before the stream replays from the
// store, so an event committed later arrives live and an earlier one is in
// the replay. It stops following after IdleStop with no stream open.
type LiveFeed struct {
	Bus agileplus.Follower
	Hub *Hub
	// Confirm hands an event from the bus on to the hub, or drops it:
	// ConfirmedFeed.Confirm, so that only events the store holds reach the
	// streams.
	Confirm func(context.Context, *agileplus.Event) bool
	Logger  *slog.Logger // nil: slog.Default()
	// IdleStop is how long the follower runs with no stream open (default
	// 30s).
	IdleStop time.Duration

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	ran    chan struct{} // closed when run returns

	mu     sync.Mutex
	stop   context.CancelFunc // nil while not following
	follow chan struct{}      // closed when the follower returns
}

// Open makes the hub start the follower on its first subscriber, and
// starts the goroutine that stops it when no stream is open. Close stops
// both.
func (f *LiveFeed) Open() {
	if f.IdleStop <= 0 {
		f.IdleStop = 30 * time.Second
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.ran = make(chan struct{})
	f.Hub.OnSubscribe = f.ensure
	go func() {
		defer close(f.ran)
		f.run()
	}()
}

// Close stops following the bus. The hub stays usable; its subscribers
// get no more events.
func (f *LiveFeed) Close() error {
	if f.cancel == nil {
		return nil
	}
	f.cancel()
	<-f.ran
	return nil
}

// ensure starts the follower unless it runs.
func (f *LiveFeed) ensure() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil || f.ctx.Err() != nil {
		return
	}
	var start uint64
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	last, err := f.Bus.LastSeq(ctx)
	cancel()
	if err == nil {
		start = last + 1
	} else {
		// The follower fixes its start itself once the bus answers; a
		// stream sees what it misses meanwhile at its next live event.
		f.Logger.Warn("live event feed: reading the stream position", "err", err)
	}
	fctx, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	f.stop, f.follow = stop, done
	go func() {
		defer close(done)
		confirm := func(e *agileplus.Event) { f.Confirm(fctx, e) }
		if err := f.Bus.FollowFrom(fctx, start, confirm); fctx.Err() == nil {
			f.Logger.Error("live event feed stopped", "err", err)
		}
	}()
}

// run stops the follower once no stream has been open for IdleStop, until
// Close; then it stops the follower and returns.
func (f *LiveFeed) run() {
	t := time.NewTicker(f.IdleStop / 2)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-f.ctx.Done():
			f.mu.Lock()
			f.stopLocked()
			f.mu.Unlock()
			return
		case <-t.C:
		}
		if f.Hub.Subscribers() > 0 {
			idle = 0
			continue
		}
		if idle++; idle >= 2 {
			f.mu.Lock()
			if f.Hub.Subscribers() == 0 {
				f.stopLocked()
			}
			f.mu.Unlock()
		}
	}
}

func (f *LiveFeed) stopLocked() {
	if f.stop == nil {
		return
	}
	f.stop()
	<-f.follow
	f.stop, f.follow = nil, nil
}
