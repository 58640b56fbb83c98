package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/natsbus"
)

// liveFeed follows the bus for the server's live event streams (SSE) only
// while one is open: a follower reading every event costs a busy server
// about 120 MB of memory at 100,000 writes, for nobody when no stream is
// open. The first stream starts it (Hub.OnSubscribe), and it fixes its
// start at the stream's last sequence before the stream replays from the
// store, so an event committed later arrives live and an earlier one is in
// the replay. It stops after idleStop with no stream open.
type liveFeed struct {
	ctx     context.Context
	bus     *natsbus.Bus
	hub     *httpapi.Hub
	confirm func(context.Context, *agileplus.Event) bool
	log     *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc // nil while not following
	done   chan struct{}
}

// idleStop is how long the follower runs with no stream open (a variable
// for tests).
var idleStop = 30 * time.Second

// ensure starts the follower unless it runs.
func (f *liveFeed) ensure() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancel != nil || f.ctx.Err() != nil {
		return
	}
	var start uint64
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	last, err := f.bus.LastSeq(ctx)
	cancel()
	if err == nil {
		start = last + 1
	} else {
		// The follower fixes its start itself once the bus answers; a
		// stream sees what it misses meanwhile at its next live event.
		f.log.Warn("live event feed: reading the stream position", "err", err)
	}
	fctx, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	f.cancel, f.done = stop, done
	go func() {
		defer close(done)
		confirm := func(e *agileplus.Event) { f.confirm(fctx, e) }
		if err := f.bus.FollowFrom(fctx, start, confirm); fctx.Err() == nil {
			f.log.Error("live event feed stopped", "err", err)
		}
	}()
}

// run stops the follower once no stream has been open for idleStop, until
// ctx ends; then it stops the follower and returns.
func (f *liveFeed) run() {
	t := time.NewTicker(idleStop / 2)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-f.ctx.Done():
			f.stop()
			return
		case <-t.C:
		}
		if f.hub.Subscribers() > 0 {
			idle = 0
			continue
		}
		if idle++; idle >= 2 {
			f.mu.Lock()
			if f.hub.Subscribers() == 0 {
				f.stopLocked()
			}
			f.mu.Unlock()
		}
	}
}

func (f *liveFeed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopLocked()
}

func (f *liveFeed) stopLocked() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	<-f.done
	f.cancel, f.done = nil, nil
}
