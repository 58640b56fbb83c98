package httpapi_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// memFollower is an in-memory bus for the live feed: events sent on
// publish reach the follower running at the time, if any.
type memFollower struct {
	last    uint64
	publish chan *agileplus.Event

	mu        sync.Mutex
	lastSeqs  int      // LastSeq calls
	starts    []uint64 // FollowFrom's start, per call
	following int      // FollowFrom calls running
}

func (m *memFollower) LastSeq(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastSeqs++
	return m.last, nil
}

func (m *memFollower) FollowFrom(ctx context.Context, start uint64, fn func(*agileplus.Event)) error {
	m.mu.Lock()
	m.starts = append(m.starts, start)
	m.following++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.following--
		m.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-m.publish:
			fn(e)
		}
	}
}

func (m *memFollower) state() (lastSeqs int, starts []uint64, following int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastSeqs, append([]uint64(nil), m.starts...), m.following
}

// TestLiveFeedIdleStop runs the live feed on synctest's fake clock: no
// follower before the first stream; the first one starts it after the
// bus's last position; it runs as long as a stream is open, stops within
// IdleStop of the last stream closing (two checks, every half of it, found
// none open), and the next stream starts it again. cmd/agileplus runs the
// feed on the real bus.
func TestLiveFeedIdleStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 10 * time.Second
		bus := &memFollower{last: 41, publish: make(chan *agileplus.Event)}
		hub := httpapi.NewHub()
		feed := &httpapi.LiveFeed{Bus: bus, Hub: hub, Logger: slog.New(slog.DiscardHandler), IdleStop: idle,
			Confirm: func(_ context.Context, e *agileplus.Event) bool { hub.Broadcast(e); return true }}
		feed.Open()
		defer feed.Close()

		time.Sleep(time.Hour)
		synctest.Wait()
		if n, _, following := bus.state(); n != 0 || following != 0 {
			t.Fatalf("got %d position reads and %d followers with no stream open, want none", n, following)
		}

		sub := hub.Subscribe(4)
		synctest.Wait()
		if n, starts, following := bus.state(); n != 1 || following != 1 || len(starts) != 1 || starts[0] != 42 {
			t.Fatalf("got %d position reads, followers started at %v, %d running; want 1, [42], 1", n, starts, following)
		}
		bus.publish <- &agileplus.Event{ID: "evt_42", GlobalSeq: 42}
		if e, _ := recv(t, sub); e.ID != "evt_42" {
			t.Fatalf("got %s, want evt_42", e.ID)
		}

		// An open stream keeps the follower however long it is quiet.
		time.Sleep(10 * idle)
		synctest.Wait()
		if _, _, following := bus.state(); following != 1 {
			t.Fatalf("got %d followers with a stream open, want 1", following)
		}

		// Close between two checks (they come every idle/2 from Open),
		// so that no check falls at the same instant as a step below.
		time.Sleep(idle / 4)
		sub.Close()
		time.Sleep(idle / 2)
		synctest.Wait()
		if _, _, following := bus.state(); following != 1 {
			t.Fatalf("got %d followers half an IdleStop after the last stream closed, want 1: one check found none open", following)
		}
		time.Sleep(idle / 2)
		synctest.Wait()
		if _, _, following := bus.state(); following != 0 {
			t.Fatalf("got %d followers IdleStop after the last stream closed, want 0", following)
		}

		bus.last = 50
		sub = hub.Subscribe(4)
		defer sub.Close()
		synctest.Wait()
		if n, starts, following := bus.state(); n != 2 || following != 1 || len(starts) != 2 || starts[1] != 51 {
			t.Fatalf("got %d position reads, followers started at %v, %d running; want 2, [42 51], 1", n, starts, following)
		}

		if err := feed.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, following := bus.state(); following != 0 {
			t.Fatalf("got %d followers after Close, want 0", following)
		}
	})
}
