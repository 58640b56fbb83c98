package httpapi_test

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

func hubEvent(seq int64) *agileplus.Event {
	return &agileplus.Event{GlobalSeq: seq, Type: "wp.created", EntityKind: agileplus.KindWP, ProjectKey: "CORE"}
}

// The hub is in memory: its tests run in a synctest bubble, where
// synctest.Wait returns once every other goroutine of the test is blocked,
// so "it has happened by now" holds however busy the machine is.

// recv reads the next event, failing if none is there once everything
// else in the bubble has run.
func recv(t *testing.T, s *httpapi.HubSubscription) (*agileplus.Event, bool) {
	t.Helper()
	synctest.Wait()
	select {
	case e, ok := <-s.Events():
		return e, ok
	default:
		t.Fatal("no event")
		return nil, false
	}
}

func TestHubDeliversInOrderToEverySubscriber(t *testing.T) {
	h := httpapi.NewHub()
	const n = 500
	subs := []*httpapi.HubSubscription{h.Subscribe(n), h.Subscribe(n), h.Subscribe(n)}
	var wg sync.WaitGroup
	got := make([][]int64, len(subs))
	for i, s := range subs {
		wg.Go(func() {
			for e := range s.Events() {
				got[i] = append(got[i], e.GlobalSeq)
				if len(got[i]) == n {
					return
				}
			}
		})
	}
	for seq := int64(1); seq <= n; seq++ {
		h.Broadcast(hubEvent(seq))
	}
	wg.Wait()
	for i, seqs := range got {
		if len(seqs) != n {
			t.Fatalf("subscriber %d: got %d events, want %d", i, len(seqs), n)
		}
		for j, seq := range seqs {
			if seq != int64(j+1) {
				t.Fatalf("subscriber %d: event %d has seq %d, want %d", i, j, seq, j+1)
			}
		}
		if subs[i].Lagged() {
			t.Errorf("subscriber %d: got lagged, want not", i)
		}
	}
}

func TestHubSubscriberSeesOnlyLaterEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := httpapi.NewHub()
		h.Broadcast(hubEvent(1))
		s := h.Subscribe(4)
		defer s.Close()
		h.Broadcast(hubEvent(2))
		if e, _ := recv(t, s); e.GlobalSeq != 2 {
			t.Errorf("got seq %d, want 2", e.GlobalSeq)
		}
	})
}

func TestHubDropsSubscriberThatLags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := httpapi.NewHub()
		slow := h.Subscribe(2)
		fast := h.Subscribe(10)
		defer fast.Close()

		done := make(chan struct{})
		go func() {
			// Broadcast must not wait for the slow subscriber.
			for seq := int64(1); seq <= 5; seq++ {
				h.Broadcast(hubEvent(seq))
			}
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Broadcast blocked on a full subscriber")
		}

		if !slow.Lagged() {
			t.Error("got slow subscriber not lagged, want lagged")
		}
		// What was buffered before the drop is still readable, then the
		// channel is closed.
		for want := int64(1); want <= 2; want++ {
			e, ok := recv(t, slow)
			if !ok || e.GlobalSeq != want {
				t.Fatalf("got %v (open %v), want seq %d", e, ok, want)
			}
		}
		if _, ok := recv(t, slow); ok {
			t.Error("got the lagged subscription open, want its channel closed")
		}
		if got := h.Subscribers(); got != 1 {
			t.Errorf("got %d subscribers, want 1 (the slow one dropped)", got)
		}
		slow.Close() // after a drop: no panic

		for want := int64(1); want <= 5; want++ {
			if e, _ := recv(t, fast); e.GlobalSeq != want {
				t.Fatalf("fast subscriber: got seq %d, want %d", e.GlobalSeq, want)
			}
		}
		if fast.Lagged() {
			t.Error("got fast subscriber lagged, want not")
		}

		// A new subscription after the drop works: that is how a client catches up.
		again := h.Subscribe(2)
		defer again.Close()
		h.Broadcast(hubEvent(6))
		if e, _ := recv(t, again); e.GlobalSeq != 6 {
			t.Errorf("resubscribed: got seq %d, want 6", e.GlobalSeq)
		}
	})
}

func TestHubClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := httpapi.NewHub()
		s := h.Subscribe(1)
		s.Close()
		s.Close()
		if _, ok := recv(t, s); ok {
			t.Error("got an open channel after Close, want it closed")
		}
		if s.Lagged() {
			t.Error("got a closed subscription lagged, want not")
		}
		if got := h.Subscribers(); got != 0 {
			t.Errorf("got %d subscribers after Close, want 0", got)
		}
		h.Broadcast(hubEvent(1)) // no send on the closed channel

		// Close racing Broadcast: the race detector and the absence of a
		// "send on closed channel" panic are the check.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					s := h.Subscribe(1)
					s.Close()
				}
			})
		}
		wg.Go(func() {
			for seq := int64(2); seq < 1000; seq++ {
				h.Broadcast(hubEvent(seq))
			}
		})
		wg.Wait()
	})
}
