package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// testSnapshotPort checks the store's snapshot port directly.
func testSnapshotPort(t *testing.T, f *fixture) {
	w := f.wp(t, f.feature(t, f.project(t, "SNAP").Key, "snap").Slug, "snapshotted")
	for i := range 4 {
		title := fmt.Sprintf("title %d", i)
		_, err := f.svc.UpdateWP(f.ctx, w.Key, agileplus.WPUpdate{Title: &title}, 0)
		mustOK(t, err)
	}
	var es []*agileplus.Event
	mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error {
		sw, ok := tx.(agileplus.SnapshotWriter)
		if !ok {
			t.Fatalf("the store's Tx (%T) does not implement agileplus.SnapshotWriter", tx)
		}
		var err error
		if es, err = sw.EntityEvents(f.ctx, w.ID, 1, 0, 2); err != nil {
			return err
		}
		for _, e := range es {
			if err := sw.SaveSnapshot(f.ctx, &agileplus.Snapshot{EntityKind: e.EntityKind, EntityID: e.EntityID, Seq: e.Seq, GlobalSeq: e.GlobalSeq,
				Time: e.Time, State: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, e.Seq))}); err != nil {
				return err
			}
		}
		return nil
	}))
	err := f.store.Update(f.ctx, func(tx agileplus.Tx) error {
		return tx.(agileplus.SnapshotWriter).SaveSnapshot(f.ctx, &agileplus.Snapshot{EntityKind: agileplus.KindWP, EntityID: w.ID,
			Seq: es[0].Seq, GlobalSeq: es[0].GlobalSeq, Time: es[0].Time, State: []byte(`{}`)})
	})
	mustCode(t, err, agileplus.ECONFLICT)
	mustEqual(t, "events after seq 1, two of them", len(es), 2)
	mustEqual(t, "first event after seq 1", es[0].Seq, int64(2))
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) error {
		sr := tx.(agileplus.SnapshotReader)
		for _, c := range []struct {
			name string
			at   agileplus.AsOf
			want int64 // 0: none
		}{
			{"latest", agileplus.AsOf{}, 3},
			{"at the last one's sequence", agileplus.AsOf{Seq: es[1].GlobalSeq}, 3},
			{"between", agileplus.AsOf{Seq: es[1].GlobalSeq - 1}, 2},
			{"before the first", agileplus.AsOf{Seq: es[0].GlobalSeq - 1}, 0},
			{"at the first one's time", agileplus.AsOf{Time: es[0].Time}, 3}, // the stopped clock gives both one time
			{"before the first time", agileplus.AsOf{Time: es[0].Time.Add(-time.Nanosecond)}, 0},
		} {
			h, err := sr.SnapshotHead(f.ctx, w.ID, c.at)
			mustOK(t, err)
			if c.want == 0 {
				if h != nil {
					t.Errorf("%s: got snapshot %d, want none", c.name, h.Seq)
				}
				continue
			}
			if h == nil {
				t.Fatalf("%s: got no snapshot, want %d", c.name, c.want)
			}
			mustEqual(t, c.name+": seq", h.Seq, c.want)
			mustEqual(t, c.name+": kind", h.EntityKind, agileplus.KindWP)
			if len(h.State) != 0 {
				t.Errorf("%s: a head carries no state, got %s", c.name, h.State)
			}
		}
		s, err := sr.Snapshot(f.ctx, w.ID, 3)
		mustOK(t, err)
		mustEqual(t, "state", string(s.State), `{"seq":3}`)
		mustEqual(t, "global seq", s.GlobalSeq, es[1].GlobalSeq)
		mustTime(t, "time", s.Time, es[1].Time)
		_, err = sr.Snapshot(f.ctx, w.ID, 4)
		mustField(t, err, agileplus.ENOTFOUND, "snapshot")
		all, err := sr.EntityEvents(f.ctx, w.ID, 0, 0, 100)
		mustOK(t, err)
		mustEqual(t, "all events", len(all), 5)
		upTo, err := sr.EntityEvents(f.ctx, w.ID, 1, es[1].GlobalSeq-1, 100)
		mustOK(t, err)
		mustEqual(t, "events up to the one before the third", len(upTo), 1)
		return nil
	}))
}

// moment is what a read returned right after a write.
type moment struct {
	gseq    int64
	time    time.Time
	wp      string
	feature string
}

// testTimeTravel plays a seeded random history on a WP and its feature and
// checks that the state rebuilt at every global sequence and at every
// instant is what a read returned right after that write, with snapshots
// taken along the way.
func testTimeTravel(t *testing.T, f *fixture) {
	rng := rand.New(rand.NewPCG(17, 2))
	p := f.project(t, "TT")
	before := f.clock.Advance(time.Second)
	f.clock.Advance(time.Second)
	fe := f.feature(t, p.Key, "travel")
	w := f.wp(t, fe.Slug, "time traveller")
	var moments []moment
	var lastG int64
	snap := func() {
		t.Helper()
		es, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: lastG, Limit: agileplus.MaxPageLimit})
		mustOK(t, err)
		if len(es) == 0 {
			return // the write changed nothing
		}
		lastG = es[len(es)-1].GlobalSeq
		gw, err := f.svc.WP(f.ctx, w.Key)
		mustOK(t, err)
		gf, err := f.svc.Feature(f.ctx, fe.Slug)
		mustOK(t, err)
		bw, _ := json.Marshal(gw)
		bf, _ := json.Marshal(gf)
		moments = append(moments, moment{gseq: lastG, time: f.clock.Now(), wp: string(bw), feature: string(bf)})
	}
	snap()
	var token int64
	leased := false
	archived := false
	featureState := 0
	prs := []string{}
	for i := range 260 {
		if rng.IntN(8) == 0 {
			f.clock.Advance(time.Duration(rng.IntN(200)) * time.Second)
		}
		cur, err := f.svc.WP(f.ctx, w.Key)
		mustOK(t, err)
		if leased && cur.Lease == nil {
			leased = false // expired
		}
		switch op := rng.IntN(11); {
		case op <= 2:
			u := agileplus.WPUpdate{}
			switch rng.IntN(5) {
			case 0:
				s := fmt.Sprintf("title %d", i)
				u.Title = &s
			case 1:
				e := float64(rng.IntN(40))
				u.Estimate = &e
			case 2:
				pr := []string{"urgent", "high", "normal", "low"}[rng.IntN(4)]
				u.Priority = &pr
			case 3:
				ls := slices.Sorted(slices.Values([]string{fmt.Sprintf("l%d", rng.IntN(5)), "x"}))
				ls = slices.Compact(ls)
				u.Labels = &ls
			default:
				o := fmt.Sprintf("owner%d", rng.IntN(3))
				u.Owner = &o
			}
			_, err = f.svc.UpdateWP(f.ctx, w.Key, u, 0)
		case op == 3:
			var next []string
			for _, s := range []string{agileplus.WPPlanned, agileplus.WPDoing, agileplus.WPReview, agileplus.WPBlocked} {
				if agileplus.WPTransitionCheck(w.Key, cur.State, s) == nil {
					next = append(next, s)
				}
			}
			tr := agileplus.Transition{To: next[rng.IntN(len(next))], Reason: fmt.Sprintf("step %d", i)}
			if leased {
				tr.Token = token
			}
			_, err = f.svc.TransitionWP(f.ctx, w.Key, tr, 0)
		case op == 4:
			var l *agileplus.Lease
			switch {
			case !leased:
				l, err = f.svc.Claim(f.ctx, w.Key, agileplus.ClaimRequest{Agent: "agent", TTLSeconds: 600})
				if err == nil {
					token, leased = l.Token, true
				}
			case rng.IntN(2) == 0:
				_, err = f.svc.Renew(f.ctx, w.Key, agileplus.ClaimRequest{Agent: "agent", Token: token, TTLSeconds: int64(300 + rng.IntN(600))})
			default:
				err = f.svc.Release(f.ctx, w.Key, agileplus.ClaimRequest{Agent: "agent", Token: token})
				leased = false
			}
		case op == 5:
			if len(prs) > 0 && rng.IntN(2) == 0 {
				_, err = f.svc.AddReference(f.ctx, w.Key, agileplus.ReferenceCreate{URL: prs[rng.IntN(len(prs))], State: []string{"open", "merged", "closed"}[rng.IntN(3)]})
			} else if rng.IntN(2) == 0 {
				u := fmt.Sprintf("https://example.com/acme/api/pull/%d", i)
				prs = append(prs, u)
				_, err = f.svc.AddReference(f.ctx, w.Key, agileplus.ReferenceCreate{URL: u})
			} else {
				_, err = f.svc.AddReference(f.ctx, w.Key, agileplus.ReferenceCreate{Repo: "github.com/acme/api", SHA: fmt.Sprintf("%07x", 0xabc0000+i)})
			}
		case op == 6:
			_, err = f.svc.AddComment(f.ctx, w.Key, agileplus.CommentCreate{Body: fmt.Sprintf("note %d", i)})
		case op == 7:
			if archived {
				_, err = f.svc.RestoreWP(f.ctx, w.Key)
			} else {
				_, err = f.svc.ArchiveWP(f.ctx, w.Key)
			}
			archived = !archived
		case op == 8:
			s := fmt.Sprintf("feature %d", i)
			_, err = f.svc.UpdateFeature(f.ctx, fe.Slug, agileplus.FeatureUpdate{Title: &s}, 0)
		case op == 9 && featureState < len(agileplus.FeatureStates)-1:
			featureState++
			_, err = f.svc.TransitionFeature(f.ctx, fe.Slug, agileplus.Transition{To: agileplus.FeatureStates[featureState], Reason: "onward"}, 0)
		default:
			_, err = f.svc.AddComment(f.ctx, fe.Slug, agileplus.CommentCreate{Body: "feature note"})
		}
		mustOK(t, err)
		snap()
	}
	var head *agileplus.Snapshot
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) error {
		var err error
		head, err = tx.(agileplus.SnapshotReader).SnapshotHead(f.ctx, w.ID, agileplus.AsOf{})
		return err
	}))
	if head == nil {
		t.Fatal("the WP has no snapshot after its history")
	}
	// The same Service over the store with its snapshots hidden replays
	// every event from the first.
	fromStart := &agileplus.Service{Store: noSnapshots{f.store}, Now: f.clock.Now, IDs: agileplus.NewIDGenerator(f.clock.Now)}
	for _, m := range moments {
		gw, err := f.svc.WPAt(f.ctx, w.Key, agileplus.AsOf{Seq: m.gseq})
		mustOK(t, err)
		if b, _ := json.Marshal(gw); string(b) != m.wp {
			t.Fatalf("wp at %d:\n got %s\nwant %s", m.gseq, b, m.wp)
		}
		rw, err := fromStart.WPAt(f.ctx, w.Key, agileplus.AsOf{Seq: m.gseq})
		mustOK(t, err)
		if b, _ := json.Marshal(rw); string(b) != m.wp {
			t.Fatalf("wp at %d replayed from its first event:\n got %s\nwant %s", m.gseq, b, m.wp)
		}
		gf, err := f.svc.FeatureAt(f.ctx, fe.Slug, agileplus.AsOf{Seq: m.gseq})
		mustOK(t, err)
		if b, _ := json.Marshal(gf); string(b) != m.feature {
			t.Fatalf("feature at %d:\n got %s\nwant %s", m.gseq, b, m.feature)
		}
	}
	// At an instant: the last write at or before it.
	for i, m := range moments {
		if i+1 < len(moments) && moments[i+1].time.Equal(m.time) {
			continue
		}
		gw, err := f.svc.WPAt(f.ctx, w.ID, agileplus.AsOf{Time: m.time})
		mustOK(t, err)
		if b, _ := json.Marshal(gw); string(b) != m.wp {
			t.Fatalf("wp at %s:\n got %s\nwant %s", m.time.Format(time.RFC3339Nano), b, m.wp)
		}
	}

	// The history: every change in order, paged.
	var all []*agileplus.HistoryEntry
	for after := int64(0); ; {
		page, err := f.svc.History(f.ctx, agileplus.KindWP, w.Key, agileplus.HistoryQuery{After: after, Limit: 37})
		mustOK(t, err)
		all = append(all, page...)
		if len(page) < 37 {
			break
		}
		after = page[len(page)-1].GlobalSeq
	}
	es, err := f.svc.Events(f.ctx, agileplus.EventQuery{Entity: w.ID, Limit: agileplus.MaxPageLimit})
	mustOK(t, err)
	mustEqual(t, "history entries", len(all), len(es))
	for i, h := range all {
		if i >= len(es) {
			break
		}
		mustEqual(t, "history seq", h.Seq, int64(i+1))
		mustEqual(t, "history type", h.Type, es[i].Type)
		mustEqual(t, "history actor", h.Actor, Actor)
		if h.Type == "wp.transitioned" && h.Reason == "" {
			t.Errorf("transition %d: no reason", h.Seq)
		}
		if h.Type == "wp.updated" && len(h.Changes) != 1 {
			t.Errorf("update %d: got changes %+v, want one", h.Seq, h.Changes)
		}
	}

	_, err = f.svc.WPAt(f.ctx, w.Key, agileplus.AsOf{Time: before})
	mustField(t, err, agileplus.ENOTFOUND, "at")
	_, err = f.svc.WPAt(f.ctx, w.Key, agileplus.AsOf{Seq: moments[0].gseq - 1})
	mustField(t, err, agileplus.ENOTFOUND, "at")
	_, err = f.svc.WPAt(f.ctx, w.Key, agileplus.AsOf{Seq: lastG + 1000})
	mustField(t, err, agileplus.EINVALID, "at")
	_, err = f.svc.FeatureAt(f.ctx, fe.Slug, agileplus.AsOf{Time: f.clock.Now().Add(time.Hour)})
	mustField(t, err, agileplus.EINVALID, "at")
	_, err = f.svc.History(f.ctx, agileplus.KindWP, "TT-999", agileplus.HistoryQuery{})
	mustCode(t, err, agileplus.ENOTFOUND)
}

// noSnapshots is a store whose read transactions keep no snapshots: the
// Service rebuilds from an entity's first event.
type noSnapshots struct{ agileplus.Store }

func (s noSnapshots) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	return s.Store.View(ctx, func(tx agileplus.ReadTx) error { return fn(struct{ agileplus.ReadTx }{tx}) })
}
