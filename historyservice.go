package agileplus

import (
	"context"
	"encoding/json"
	"fmt"
)

// snapshotAfter keeps a snapshot of e's WP or feature when one is due (see
// SnapshotEvery), in the transaction that appends e.
func (s *Service) snapshotAfter(ctx context.Context, tx Tx, e *Event) error {
	if e.EntityKind != KindWP && e.EntityKind != KindFeature {
		return nil
	}
	sw, ok := tx.(SnapshotWriter)
	if !ok {
		return nil
	}
	head, err := sw.SnapshotHead(ctx, e.EntityID, AsOf{})
	if err != nil {
		return err
	}
	base := head
	if base == nil {
		if e.Seq == 1 {
			return nil // the created event carries the whole entity
		}
		first, err := sw.EntityEvents(ctx, e.EntityID, 0, 0, 1)
		if err != nil {
			return err
		}
		if len(first) == 0 {
			return nil
		}
		base = &Snapshot{Seq: 0, Time: first[0].Time}
	}
	if e.Seq-base.Seq < SnapshotEvery && e.Time.Sub(base.Time) < SnapshotInterval {
		return nil
	}
	var state any
	if e.EntityKind == KindWP {
		w, err := tx.WP(ctx, e.EntityID)
		if ErrorCode(err) == ENOTFOUND {
			return nil // deleted: its history ends here
		} else if err != nil {
			return err
		}
		if w.References, err = tx.References(ctx, w.ID); err != nil {
			return err
		}
		state = w
	} else {
		f, err := tx.Feature(ctx, e.EntityID)
		if err != nil {
			return err
		}
		state = f
	}
	b, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return sw.SaveSnapshot(ctx, &Snapshot{EntityKind: e.EntityKind, EntityID: e.EntityID, Seq: e.Seq, GlobalSeq: e.GlobalSeq, Time: e.Time, State: b})
}

// WPAt returns a work package as it was at the moment: its lease shows if
// it was live then (at the time of the WP's last change up to a global
// sequence).
func (s *Service) WPAt(ctx context.Context, ref string, at AsOf) (*WP, error) {
	t, err := s.rebuild(ctx, KindWP, ref, at)
	if err != nil {
		return nil, err
	}
	st, err := t.state()
	if err != nil {
		return nil, err
	}
	w := st.(*WP)
	now := at.Time
	if now.IsZero() {
		now = t.at
	}
	if !w.Lease.Live(now) {
		w.Lease = nil
	}
	return w, nil
}

// FeatureAt returns a feature as it was at the moment.
func (s *Service) FeatureAt(ctx context.Context, ref string, at AsOf) (*Feature, error) {
	t, err := s.rebuild(ctx, KindFeature, ref, at)
	if err != nil {
		return nil, err
	}
	st, err := t.state()
	if err != nil {
		return nil, err
	}
	return st.(*Feature), nil
}

// rebuild replays the entity up to the moment, from its nearest snapshot.
func (s *Service) rebuild(ctx context.Context, kind, ref string, at AsOf) (t *timeline, err error) {
	if at.Seq < 0 || (at.Seq == 0 && at.Time.IsZero()) {
		return nil, FieldErrorf("at", "at must be a global sequence from 1 or an RFC 3339 time")
	}
	if !at.Time.IsZero() && at.Time.After(s.now()) {
		return nil, FieldErrorf("at", "at %s is in the future", at)
	}
	err = s.view(ctx, func(tx ReadTx) error {
		id, name, err := historyEntity(ctx, tx, kind, ref)
		if err != nil {
			return err
		}
		if at.Seq > 0 {
			es, err := tx.Events(ctx, EventFilter{After: at.Seq - 1, Limit: 1})
			if err != nil {
				return err
			}
			if len(es) == 0 {
				return FieldErrorf("at", "at %d is in the future: no event has that global sequence yet", at.Seq)
			}
		}
		if t, err = s.replay(ctx, tx, kind, id, at); err != nil {
			return err
		}
		switch {
		case !t.exists():
			return &Error{Code: ENOTFOUND, Field: "at", Message: fmt.Sprintf("%s %s did not exist yet at %s", kind, name, at)}
		case t.deleted:
			return &Error{Code: ENOTFOUND, Field: "at", Message: fmt.Sprintf("%s %s was deleted by %s", kind, name, at)}
		}
		return nil
	})
	return t, err
}

// historyEntity resolves a WP or feature ref the caller may read.
func historyEntity(ctx context.Context, tx ReadTx, kind, ref string) (id, name string, err error) {
	var project string
	if kind == KindWP {
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return "", "", err
		}
		id, name, project = w.ID, w.Key, w.ProjectKey
	} else {
		f, err := tx.Feature(ctx, ref)
		if err != nil {
			return "", "", err
		}
		id, name, project = f.ID, f.Slug, f.ProjectKey
	}
	return id, name, allow(limited(ctx), kind, project)
}

// replay rebuilds the entity's timeline up to the moment (the zero AsOf:
// up to now) from its nearest snapshot, if the store keeps them.
func (s *Service) replay(ctx context.Context, tx ReadTx, kind, id string, at AsOf) (*timeline, error) {
	t := &timeline{kind: kind}
	sr, ok := tx.(SnapshotReader)
	if !ok {
		sr = eventsOnly{tx}
	}
	head, err := sr.SnapshotHead(ctx, id, at)
	if err != nil {
		return nil, err
	}
	if head != nil {
		snap, err := s.snapshot(ctx, sr, kind, id, head.Seq)
		if err != nil {
			return nil, err
		}
		if err := t.load(snap); err != nil {
			return nil, err
		}
	}
	// The next snapshot is usually within SnapshotEvery events: read
	// about that many at a time, not a whole page of later history.
	for n := SnapshotEvery + 1; ; n = MaxPageLimit {
		es, err := sr.EntityEvents(ctx, id, t.seq, at.Seq, n)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if at.after(e) {
				return t, nil
			}
			if err := t.apply(e); err != nil {
				return nil, err
			}
		}
		if len(es) < n {
			return t, nil
		}
	}
}

// snapshot reads a snapshot from the cache, when there is one, or the
// store (and then keeps it in the cache). A cache that fails is passed by.
func (s *Service) snapshot(ctx context.Context, sr SnapshotReader, kind, id string, seq int64) (*Snapshot, error) {
	key := SnapshotCacheKey(kind, id, seq)
	if s.SnapshotCache != nil {
		if b, err := s.SnapshotCache.Get(ctx, key); err == nil {
			var snap Snapshot
			if json.Unmarshal(b, &snap) == nil && snap.Seq == seq && snap.EntityID == id {
				return &snap, nil
			}
		}
	}
	snap, err := sr.Snapshot(ctx, id, seq)
	if err != nil {
		return nil, err
	}
	if s.SnapshotCache != nil {
		if b, err := json.Marshal(snap); err == nil {
			_ = s.SnapshotCache.Set(ctx, key, b, SnapshotCacheTTL) // best effort: the store has it
		}
	}
	return snap, nil
}

// eventsOnly reads an entity's events from a store without snapshots.
type eventsOnly struct{ tx ReadTx }

func (eventsOnly) SnapshotHead(context.Context, string, AsOf) (*Snapshot, error) { return nil, nil }

func (eventsOnly) Snapshot(_ context.Context, id string, seq int64) (*Snapshot, error) {
	return nil, &Error{Code: ENOTFOUND, Field: "snapshot", Message: fmt.Sprintf("no snapshot %d of %s", seq, id)}
}

func (o eventsOnly) EntityEvents(ctx context.Context, id string, afterSeq, upTo int64, limit int) ([]*Event, error) {
	var out []*Event
	f := EventFilter{EntityID: id, Limit: MaxPageLimit}
	for len(out) < limit {
		es, err := o.tx.Events(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Seq > afterSeq && (upTo == 0 || e.GlobalSeq <= upTo) && len(out) < limit {
				out = append(out, e)
			}
		}
		if len(es) < f.Limit {
			break
		}
		f.After = es[len(es)-1].GlobalSeq
	}
	return out, nil
}

// History lists a WP's or a feature's changes after q.After (a global
// sequence), oldest first.
func (s *Service) History(ctx context.Context, kind, ref string, q HistoryQuery) (hs []*HistoryEntry, err error) {
	if kind != KindWP && kind != KindFeature {
		return nil, FieldErrorf("kind", "history is kept for a wp or a feature, not %s", QuoteRef(kind))
	}
	if q.After < 0 {
		return nil, FieldErrorf("after", "after must be 0 or a global sequence")
	}
	limit, err := ClampLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	hs = []*HistoryEntry{}
	err = s.view(ctx, func(tx ReadTx) error {
		id, _, err := historyEntity(ctx, tx, kind, ref)
		if err != nil {
			return err
		}
		t := &timeline{kind: kind}
		if q.After > 0 {
			if t, err = s.replay(ctx, tx, kind, id, AsOf{Seq: q.After}); err != nil {
				return err
			}
		}
		sr, ok := tx.(SnapshotReader)
		if !ok {
			sr = eventsOnly{tx}
		}
		es, err := sr.EntityEvents(ctx, id, t.seq, 0, limit)
		if err != nil {
			return err
		}
		for _, e := range es {
			st, err := t.state()
			if err != nil {
				return err
			}
			before, err := fieldsOf(st)
			if err != nil {
				return err
			}
			if err := t.apply(e); err != nil {
				return err
			}
			h := &HistoryEntry{Seq: e.Seq, GlobalSeq: e.GlobalSeq, EventID: e.ID, Type: e.Type, Time: e.Time, Actor: e.Actor}
			if h.Version, err = t.version(); err != nil {
				return err
			}
			if st, err = t.state(); err != nil {
				return err
			}
			var why struct {
				Reason string `json:"reason"`
				Forced bool   `json:"forced"`
			}
			if json.Unmarshal(e.Data, &why) == nil {
				h.Reason, h.Forced = why.Reason, why.Forced
			}
			if h.Changes, err = changesFrom(before, st); err != nil {
				return err
			}
			hs = append(hs, h)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hs, nil
}
