package httpapi

import (
	"sync"

	"github.com/agileplus/agileplus"
)

// Hub fans live events out to subscribers inside one process: the server
// feeds it from the bus and every open event stream (SSE) subscribes.
//
// Broadcast never blocks: a subscriber whose buffer is full is dropped and
// marked lagged, and its channel is closed. A dropped subscriber has missed
// events; it catches up from the store (events carry their GlobalSeq) and
// subscribes again. So one slow client costs the others nothing.
type Hub struct {
	mu   sync.Mutex
	subs map[*HubSubscription]struct{}
	// OnSubscribe, if set before the hub is used, runs in Subscribe before
	// it returns (for instance to make sure a feed is running).
	OnSubscribe func()
}

// NewHub returns a hub without subscribers.
func NewHub() *Hub {
	return &Hub{subs: map[*HubSubscription]struct{}{}}
}

// HubSubscription receives the events broadcast after Subscribe, in
// broadcast order, until it is closed or dropped.
type HubSubscription struct {
	hub    *Hub
	c      chan *agileplus.Event
	lagged bool // guarded by hub.mu
	closed bool // guarded by hub.mu
}

// Subscribe returns a subscription that buffers up to buffer events (at
// least 1). The caller closes it.
func (h *Hub) Subscribe(buffer int) *HubSubscription {
	s := &HubSubscription{hub: h, c: make(chan *agileplus.Event, max(buffer, 1))}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	if h.OnSubscribe != nil {
		h.OnSubscribe()
	}
	return s
}

// Broadcast hands e to every subscriber without waiting for any of them.
// Subscribers share e and must not modify it.
func (h *Hub) Broadcast(e *agileplus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			s.lagged = true
			s.closeLocked()
		}
	}
}

// Subscribers returns how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Events is the channel of broadcast events. It is closed when the
// subscription is closed or dropped for lagging (see Lagged); events
// buffered before that can still be read.
func (s *HubSubscription) Events() <-chan *agileplus.Event { return s.c }

// Lagged reports whether the hub dropped the subscription because its
// buffer was full: events broadcast since then were not delivered.
func (s *HubSubscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// Close ends the subscription. It is safe to call more than once and after
// the hub dropped it.
func (s *HubSubscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.closeLocked()
}

func (s *HubSubscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.hub.subs, s)
	close(s.c)
}
