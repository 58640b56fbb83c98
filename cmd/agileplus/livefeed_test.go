package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
)

// watchedFollower is a Follower that counts the LastSeq calls made and the
// FollowFrom calls running.
type watchedFollower struct {
	agileplus.Follower
	lastSeqs  atomic.Int64
	following atomic.Int64
}

func (w *watchedFollower) LastSeq(ctx context.Context) (uint64, error) {
	w.lastSeqs.Add(1)
	return w.Follower.LastSeq(ctx)
}

func (w *watchedFollower) FollowFrom(ctx context.Context, start uint64, fn func(*agileplus.Event)) error {
	w.following.Add(1)
	defer w.following.Add(-1)
	return w.Follower.FollowFrom(ctx, start, fn)
}

// TestLiveFeedFollowsOnlyWhileStreamsAreOpen: no follower before the first
// subscriber; the first one starts it at the bus's end, so it gets what is
// published after it subscribed and nothing from before; the follower stops
// once nobody has been subscribed for a while, and the next subscriber
// starts it again. It runs on the real bus, which httpapi may not import.
func TestLiveFeedFollowsOnlyWhileStreamsAreOpen(t *testing.T) {
	ctx := t.Context()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	hub := httpapi.NewHub()
	follower := &watchedFollower{Follower: bus}
	feed := &httpapi.LiveFeed{Bus: follower, Hub: hub, Logger: slog.New(slog.DiscardHandler), IdleStop: 200 * time.Millisecond,
		Confirm: func(_ context.Context, e *agileplus.Event) bool { hub.Broadcast(e); return true }}
	feed.Open()
	defer feed.Close()

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
	// waitFollowing waits until the follower runs (want) or has returned.
	waitFollowing := func(want bool) {
		t.Helper()
		poll.Until(t, fmt.Sprintf("following = %v", want), func() bool { return (follower.following.Load() > 0) == want })
	}
	expect := func(sub *httpapi.HubSubscription, want *agileplus.Event) {
		t.Helper()
		select {
		case got := <-sub.Events():
			if got.ID != want.ID {
				t.Fatalf("got event %s, want %s", got.ID, want.ID)
			}
		case <-time.After(poll.Timeout):
			t.Fatalf("event %s never arrived", want.ID)
		}
	}

	publish()
	time.Sleep(50 * time.Millisecond)
	if follower.following.Load() > 0 || follower.lastSeqs.Load() > 0 {
		t.Fatal("following before any stream opened")
	}
	sub := hub.Subscribe(16)
	if got := follower.lastSeqs.Load(); got != 1 {
		t.Fatalf("got %d reads of the bus position when Subscribe returned, want 1: the first stream fixes the feed's start", got)
	}
	waitFollowing(true)
	expect(sub, publish()) // the event from before is not delivered: this one comes first
	sub.Close()
	waitFollowing(false)
	publish()
	sub = hub.Subscribe(16)
	defer sub.Close()
	if got := follower.lastSeqs.Load(); got != 2 {
		t.Fatalf("got %d reads of the bus position, want 2: the next stream starts the feed again", got)
	}
	waitFollowing(true)
	expect(sub, publish())
	if err := feed.Close(); err != nil {
		t.Fatal(err)
	}
	if n := follower.following.Load(); n != 0 {
		t.Fatalf("%d followers still run after Close", n)
	}
}
