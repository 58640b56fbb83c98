package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/natsbus"
)

// TestLiveFeedFollowsOnlyWhileStreamsAreOpen: no follower before the first
// subscriber; the first one starts it at the bus's end, so it gets what is
// published after it subscribed and nothing from before; the follower stops
// once nobody has been subscribed for a while, and the next subscriber
// starts it again.
func TestLiveFeedFollowsOnlyWhileStreamsAreOpen(t *testing.T) {
	defer func(d time.Duration) { idleStop = d }(idleStop)
	idleStop = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	hub := httpapi.NewHub()
	feed := &liveFeed{ctx: ctx, bus: bus, hub: hub, log: slog.New(slog.DiscardHandler),
		confirm: func(_ context.Context, e *agileplus.Event) bool { hub.Broadcast(e); return true }}
	hub.OnSubscribe = feed.ensure
	ran := make(chan struct{})
	go func() { defer close(ran); feed.run() }()
	defer func() { cancel(); <-ran }()

	seq := int64(0)
	publish := func() *agileplus.Event {
		t.Helper()
		seq++
		e := &agileplus.Event{ID: fmt.Sprintf("ev-%d", seq), GlobalSeq: seq, Type: "wp.created", EntityKind: agileplus.KindWP,
			EntityID: fmt.Sprintf("wp-%d", seq), ProjectKey: "demo", Seq: 1, Time: time.Now().UTC(), Actor: "test", Data: []byte(`{}`)}
		e.Hash = e.ComputeHash()
		if err := bus.Publish(ctx, []*agileplus.Event{e}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	following := func() bool {
		feed.mu.Lock()
		defer feed.mu.Unlock()
		return feed.cancel != nil
	}
	expect := func(sub *httpapi.HubSubscription, want *agileplus.Event) {
		t.Helper()
		select {
		case got := <-sub.Events():
			if got.ID != want.ID {
				t.Fatalf("got event %s, want %s", got.ID, want.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %s never arrived", want.ID)
		}
	}

	publish()
	if following() {
		t.Fatal("following before any stream opened")
	}
	sub := hub.Subscribe(16)
	if !following() {
		t.Fatal("not following once a stream opened")
	}
	expect(sub, publish()) // the event from before is not delivered: this one comes first
	sub.Close()
	deadline := time.Now().Add(10 * time.Second)
	for following() {
		if time.Now().After(deadline) {
			t.Fatal("still following with no stream open")
		}
		time.Sleep(50 * time.Millisecond)
	}
	publish()
	sub = hub.Subscribe(16)
	defer sub.Close()
	expect(sub, publish())
}
