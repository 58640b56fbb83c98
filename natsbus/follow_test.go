package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/nats-io/nats-server/v2/server"
)

// follower runs Follow in the background and collects what it delivers.
type follower struct {
	events chan *agileplus.Event
	done   chan error
	cancel context.CancelFunc
}

func startFollow(t *testing.T, b *natsbus.Bus) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{events: make(chan *agileplus.Event, 10000), done: make(chan error, 1), cancel: cancel}
	before := consumerCount(t, b)
	go func() { f.done <- b.Follow(ctx, func(e *agileplus.Event) { f.events <- e }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(poll.Timeout):
			t.Errorf("Follow did not return within %s of its ctx ending", poll.Timeout)
		}
	})
	// Follow has fixed where it starts once its consumer exists.
	poll.Until(t, "the follow consumer", func() bool { return consumerCount(t, b) > before })
	return f
}

func consumerCount(t *testing.T, b *natsbus.Bus) int {
	t.Helper()
	s, err := b.JetStream().Stream(testContext(t), "AGILEPLUS")
	if err != nil {
		return -1
	}
	info, err := s.Info(testContext(t))
	if err != nil {
		return -1
	}
	return info.State.Consumers
}

// next returns the next n delivered events, failing after a timeout.
func (f *follower) next(t *testing.T, n int) []*agileplus.Event {
	t.Helper()
	out := make([]*agileplus.Event, 0, n)
	timeout := time.After(poll.Timeout)
	for len(out) < n {
		select {
		case e := <-f.events:
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d events within %s, want %d", len(out), poll.Timeout, n)
		}
	}
	return out
}

// quiet checks that nothing more is delivered: an event published now
// comes next, and Follow delivers in stream order, so anything extra
// would come before it.
func (f *follower) quiet(t *testing.T, b *natsbus.Bus) {
	t.Helper()
	last := testEvents("quiet", 1)
	if err := b.Publish(testContext(t), last); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if e := f.next(t, 1)[0]; e.ID != last[0].ID {
		t.Errorf("got an extra event %s (global seq %d), want none before %s", e.ID, e.GlobalSeq, last[0].ID)
	}
}

func TestFollowDeliversNewEventsInOrder(t *testing.T) {
	b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
	ctx := testContext(t)
	events := testEvents("f", 305)
	if err := b.Publish(ctx, events[:5]); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	f := startFollow(t, b)

	for i := 5; i < len(events); i += 50 {
		if err := b.Publish(ctx, events[i:min(i+50, len(events))]); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if i == 105 {
			// Not ours, not a CloudEvent: skipped, and the rest still flows.
			if _, err := b.JetStream().Publish(ctx, "agileplus.demo.wp.junk.created", []byte("not json")); err != nil {
				t.Fatalf("publish junk: %v", err)
			}
			if _, err := b.JetStream().Publish(ctx, "agileplus.demo.wp.junk.created", []byte(`{"hello":"world"}`)); err != nil {
				t.Fatalf("publish junk: %v", err)
			}
		}
	}
	// Published again within the de-duplication window: stored once, so
	// delivered once.
	if err := b.Publish(ctx, events[300:]); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := f.next(t, 300)
	checkEvents(t, got, events[5:])
	f.quiet(t, b)
}

func TestFollowStops(t *testing.T) {
	t.Run("ctx ends", func(t *testing.T) {
		b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
		f := startFollow(t, b)
		f.cancel()
		select {
		case err := <-f.done:
			f.done <- err // for the cleanup
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		case <-time.After(poll.Timeout):
			t.Fatalf("Follow did not return within %s of its ctx ending", poll.Timeout)
		}
	})
	t.Run("bus closes", func(t *testing.T) {
		b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
		f := startFollow(t, b)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-f.done:
			f.done <- err
			wantCode(t, err, agileplus.EUNAVAILABLE)
		case <-time.After(poll.Timeout):
			t.Fatalf("Follow did not return within %s of the bus closing", poll.Timeout)
		}
	})
}

// TestFollowSurvivesServerRestart stops the external NATS server while
// Follow runs and starts it again on the same port and store: Follow
// resumes after the last event it delivered, losing and repeating nothing.
func TestFollowSurvivesServerRestart(t *testing.T) {
	storeDir := t.TempDir()
	port := freePort(t)
	start := func() *server.Server {
		opts := &server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoSigs: true, NoLog: true}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("NewServer: %v", err)
		}
		srv.Start()
		if !srv.ReadyForConnections(poll.Timeout) {
			t.Fatal("NATS server not ready")
		}
		return srv
	}
	srv := start()
	b := openBus(t, natsbus.Config{URL: srv.ClientURL()})
	ctx := testContext(t)
	f := startFollow(t, b)
	events := testEvents("r", 40)

	if err := b.Publish(ctx, events[:20]); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	checkEvents(t, f.next(t, 20), events[:20])

	srv.Shutdown()
	srv.WaitForShutdown()
	srv = start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	// The client reconnects on its own; publish once it has.
	poll.Until(t, "reconnection", func() bool { return b.Ping(ctx) == nil })
	poll.Until(t, "publish after the restart", func() bool { return b.Publish(ctx, events[20:]) == nil })
	checkEvents(t, f.next(t, 20), events[20:])
	f.quiet(t, b)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(fmt.Errorf("port %q: %w", p, err))
	}
	return n
}
