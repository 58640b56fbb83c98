package relay

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestRelayOnPublish(t *testing.T) {
	type call struct {
		events int
		failed bool
	}
	var got []call
	o, p := newMemOutbox(5), &flakyPublisher{failFirst: 1}
	r := &Relay{Outbox: o, Publisher: p, BatchSize: 2, OnPublish: func(n int, err error) {
		got = append(got, call{n, err != nil})
	}}
	if _, err := r.Drain(t.Context()); !errors.Is(err, errBusDown) {
		t.Fatalf("first drain: got %v, want %v", err, errBusDown)
	}
	if n, err := r.Drain(t.Context()); err != nil || n != 5 {
		t.Fatalf("second drain: got %d, %v, want 5, nil", n, err)
	}
	want := []call{{2, true}, {2, false}, {2, false}, {1, false}}
	if !slices.Equal(got, want) {
		t.Errorf("got publishes %v, want %v", got, want)
	}
}

func TestRelayBacklog(t *testing.T) {
	ctx := t.Context()
	o := newMemOutbox(0)
	r := &Relay{Outbox: o, Publisher: &flakyPublisher{}}
	n, oldest, err := r.Backlog(ctx)
	if err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: got %d, %v, %v, want 0, zero time, nil", n, oldest, err)
	}
	o.add(3)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	o.events[0].Time = at
	o.events[1].Time = at.Add(time.Minute)
	n, oldest, err = r.Backlog(ctx)
	if err != nil || n != 3 || !oldest.Equal(at) {
		t.Fatalf("got %d, %v, %v, want 3, %v, nil", n, oldest, err, at)
	}
	if _, err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err = r.Backlog(ctx); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("drained: got %d, %v, %v, want 0, zero time, nil", n, oldest, err)
	}
	o.readErr = errStoreDown
	o.add(1)
	if _, _, err := r.Backlog(ctx); !errors.Is(err, errStoreDown) {
		t.Errorf("store down: got %v, want %v", err, errStoreDown)
	}
}
