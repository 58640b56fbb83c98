package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/relay"
	"github.com/agileplus/agileplus/sqlitestore"
)

// targetRelayShare is the relay's throughput goal as a share of raw
// JetStream async publishing on the same server.
const targetRelayShare = 0.5

// relayDrain fills an outbox with n events while no relay runs, then times
// the relay draining it into an embedded JetStream server, next to raw
// async publishing of as many messages of the same size on the same server
// and connection.
func (b *bench) relayDrain(ctx context.Context) error {
	n := b.sz.outboxEvents
	dir, err := b.dir("relay")
	if err != nil {
		return err
	}
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		return err
	}
	defer store.Close()
	svc := agileplus.NewService(store)
	b.logf("relay: committing %s events with no relay running", fmtInt(n))
	if err := fillOutbox(ctx, svc, n); err != nil {
		return err
	}
	pending, err := store.PendingCount(ctx)
	if err != nil {
		return err
	}

	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		return err
	}
	defer bus.Close()
	rel := &relay.Relay{Outbox: store, Publisher: bus}
	t0 := time.Now()
	moved := 0
	for {
		k, err := rel.Drain(ctx)
		if err != nil {
			return fmt.Errorf("relay drain after %d events: %w", moved, err)
		}
		if k == 0 {
			break
		}
		moved += k
	}
	relayTook := time.Since(t0)
	info, err := bus.StreamInfo(ctx)
	if err != nil {
		return err
	}
	if int64(info.Messages) != pending || int64(moved) != pending {
		return fmt.Errorf("relay moved %d events, stream holds %d, outbox had %d", moved, info.Messages, pending)
	}
	es, err := store.PendingEvents(ctx, 0, 1)
	if err != nil || len(es) != 0 {
		return fmt.Errorf("outbox not empty after the drain: %d (%v)", len(es), err)
	}

	// The same size of message, as the relay sends them.
	sample, err := svc.Events(ctx, agileplus.EventQuery{After: pending / 2, Limit: 1})
	if err != nil || len(sample) == 0 {
		return fmt.Errorf("sample event: %v", err)
	}
	payload, err := json.Marshal(sample[0].CloudEvent())
	if err != nil {
		return err
	}
	raw, err := rawPublishConn(ctx, bus.Conn(), int(pending), payload)
	if err != nil {
		return fmt.Errorf("raw publish: %w", err)
	}
	relayRate := float64(pending) / relayTook.Seconds()
	b.logf("relay: drained %s events in %s (%s); raw async publish %s", fmtInt(int(pending)), fmtDur(relayTook), fmtRate(relayRate), fmtRate(raw.rate()))

	s := b.rep.section(fmt.Sprintf("Relay: draining a %s-event outbox into embedded JetStream", fmtInt(int(pending))),
		"publisher", "events", "took", "events/s", "share of raw")
	s.row("relay (read outbox, publish, await acks, mark published)", fmtInt(int(pending)), fmtDur(relayTook), fmtRate(relayRate), fmt.Sprintf("%.0f%%", 100*relayRate/raw.rate()))
	s.row("raw JetStream async publish, same server and connection", fmtInt(raw.msgs), fmtDur(raw.elapsed), fmtRate(raw.rate()), "100%")
	s.note("Messages of %d bytes (a real CloudEvent) with the relay's headers; every ack awaited; file storage.", raw.size)
	b.rep.atLeast("relay drain vs raw JetStream publish", relayRate/raw.rate(), targetRelayShare, func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) })
	return nil
}

// fillOutbox commits about n events: WPs created and moved back and forth
// by a few writers in parallel, so the writer batches as it does under load.
func fillOutbox(ctx context.Context, svc *agileplus.Service, n int) error {
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "RELAY", Name: "Relay benchmark"}); err != nil {
		return err
	}
	f, err := svc.CreateFeature(ctx, "RELAY", agileplus.FeatureCreate{Slug: "relay-bench", Title: "Relay benchmark"})
	if err != nil {
		return err
	}
	const workers = 8
	per := (n - 2) / workers
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cur *agileplus.WP
			for i := range per {
				var err error
				if i%4 == 0 {
					cur, err = svc.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "relay " + strconv.Itoa(w) + "-" + strconv.Itoa(i)})
				} else {
					to := agileplus.WPBlocked
					if cur.State == agileplus.WPBlocked {
						to = agileplus.WPPlanned
					}
					cur, err = svc.TransitionWP(ctx, cur.ID, agileplus.Transition{To: to}, 0)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
