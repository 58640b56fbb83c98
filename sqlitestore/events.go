package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/agileplus/agileplus"
)

// eventCols selects an event as its data and every other field packed into
// one value (see packed); the actor, free text, ends it.
var eventCols = `data, ` + packed("gseq", "id", "type", "entity_kind", "entity_id", "project_key", "feature_id", "seq", "prev_hash", "hash", "time", "traceparent") +
	`||char(31)||actor`

func scanEvent(sc interface{ Scan(...any) error }) (*agileplus.Event, error) {
	var e agileplus.Event
	var data []byte
	var row string
	if err := sc.Scan(&data, &row); err != nil {
		return nil, err
	}
	u := unpacker{s: row}
	e.GlobalSeq, _ = u.int()
	e.ID, e.Type, e.EntityKind, e.EntityID, e.ProjectKey, e.FeatureID = u.str(), u.str(), u.str(), u.str(), u.str(), u.str()
	e.Seq, _ = u.int()
	e.PrevHash, e.Hash = u.str(), u.str()
	e.Time = u.time()
	e.TraceParent = u.str()
	e.Actor = u.rest()
	if err := u.done(); err != nil {
		return nil, err
	}
	e.Data = data
	return &e, nil
}

// EventHead returns the seq and hash of the entity's last event.
func (t *Tx) EventHead(ctx context.Context, entityID string) (int64, string, error) {
	return t.chainHead(ctx, eventHead(entityID), `SELECT seq, hash FROM events WHERE entity_id = ? ORDER BY seq DESC LIMIT 1`, entityID)
}

// chainHead returns the last link of a chain, from the writer's cache or
// the database (0, "" for an empty chain), and remembers it.
func (t *Tx) chainHead(ctx context.Context, key headKey, query, id string) (int64, string, error) {
	if h, ok := t.heads.get(key); ok {
		return h.seq, h.hash, nil
	}
	var h head
	err := t.queryRow(ctx, query, id).Scan(&h.seq, &h.hash)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return 0, "", wrap("chain head", err)
	}
	t.heads.put(key, h)
	return h.seq, h.hash, nil
}

// AppendEvent stores the event and assigns its GlobalSeq; being past the
// relay's mark, it is pending.
func (t *Tx) AppendEvent(ctx context.Context, e *agileplus.Event) error {
	res, err := t.exec(ctx, `INSERT INTO events (id, type, entity_kind, entity_id, project_key, feature_id, seq, prev_hash, hash, time, actor, data, traceparent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Type, e.EntityKind, e.EntityID, e.ProjectKey, e.FeatureID, e.Seq, e.PrevHash, e.Hash, fmtTime(e.Time), e.Actor, []byte(e.Data), e.TraceParent)
	if isUnique(err) {
		return agileplus.Errorf(agileplus.ECONFLICT, "event %d of %s was appended concurrently", e.Seq, e.EntityID)
	} else if err != nil {
		return wrap("append event", err)
	}
	// gseq is the rowid.
	if e.GlobalSeq, err = res.LastInsertId(); err != nil {
		return wrap("append event", err)
	}
	t.heads.put(eventHead(e.EntityID), head{e.Seq, e.Hash})
	return nil
}

// Events lists events by global sequence.
func (t *Tx) Events(ctx context.Context, f agileplus.EventFilter) ([]*agileplus.Event, error) {
	var rows *sql.Rows
	var err error
	if f.EntityID != "" {
		rows, err = t.query(ctx, `SELECT `+eventCols+` FROM events WHERE entity_id = ? AND gseq > ? ORDER BY seq LIMIT ?`, f.EntityID, f.After, f.Limit)
	} else {
		rows, err = t.query(ctx, `SELECT `+eventCols+` FROM events WHERE gseq > ? ORDER BY gseq LIMIT ?`, f.After, f.Limit)
	}
	if err != nil {
		return nil, wrap("events", err)
	}
	return collect(rows, scanEvent)
}

// ---- audit ----

// AuditHead returns the seq and hash of the feature's last audit entry.
func (t *Tx) AuditHead(ctx context.Context, featureID string) (int64, string, error) {
	return t.chainHead(ctx, auditHead(featureID), `SELECT seq, hash FROM audit WHERE feature_id = ? ORDER BY seq DESC LIMIT 1`, featureID)
}

// AppendAudit stores an audit entry.
func (t *Tx) AppendAudit(ctx context.Context, a *agileplus.AuditEntry) error {
	forced := 0
	if a.Forced {
		forced = 1
	}
	_, err := t.exec(ctx, `INSERT INTO audit (feature_id, seq, event_id, event_type, entity_id, time, actor, summary, forced, reason, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.FeatureID, a.Seq, a.EventID, a.EventType, a.EntityID, fmtTime(a.Time), a.Actor, a.Summary, forced, a.Reason, []byte(a.Detail), a.PrevHash, a.Hash)
	if isUnique(err) {
		return agileplus.Errorf(agileplus.ECONFLICT, "audit entry %d of feature %s was appended concurrently", a.Seq, a.FeatureID)
	} else if err != nil {
		return wrap("append audit", err)
	}
	t.heads.put(auditHead(a.FeatureID), head{a.Seq, a.Hash})
	return nil
}

// Audit returns a feature's audit entries after a seq.
func (t *Tx) Audit(ctx context.Context, featureID string, after int64, limit int) ([]*agileplus.AuditEntry, error) {
	rows, err := t.query(ctx, `SELECT feature_id, seq, event_id, event_type, entity_id, time, actor, summary, forced, reason, detail, prev_hash, hash
		FROM audit WHERE feature_id = ? AND seq > ? ORDER BY seq LIMIT ?`, featureID, after, limit)
	if err != nil {
		return nil, wrap("audit", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (*agileplus.AuditEntry, error) {
		var a agileplus.AuditEntry
		var detail []byte
		if err := sc.Scan(&a.FeatureID, &a.Seq, &a.EventID, &a.EventType, &a.EntityID, timeCol{&a.Time}, &a.Actor, &a.Summary, &a.Forced, &a.Reason, &detail, &a.PrevHash, &a.Hash); err != nil {
			return nil, err
		}
		if len(detail) > 0 {
			a.Detail = detail
		}
		return &a, nil
	})
}

// ---- outbox ----

// The outbox is a mark (migration 0006): the events after relay_mark.upto
// are pending, except those in published_early.

// PendingEvents returns unpublished events in commit order.
func (s *Store) PendingEvents(ctx context.Context, after int64, limit int) ([]*agileplus.Event, error) {
	var out []*agileplus.Event
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		t := rt.(*Tx)
		rows, err := t.query(ctx, `SELECT `+eventCols+` FROM events
			WHERE gseq > max(?, (SELECT upto FROM relay_mark)) AND gseq NOT IN (SELECT gseq FROM published_early)
			ORDER BY gseq LIMIT ?`, after, limit)
		if err != nil {
			return wrap("pending events", err)
		}
		out, err = collect(rows, scanEvent)
		return err
	})
	return out, err
}

// MarkPublished marks events published: it moves the mark past every
// event published in order and keeps the ones marked ahead of an older
// pending event in published_early.
func (s *Store) MarkPublished(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.Update(ctx, func(at agileplus.Tx) error {
		ctx := context.WithoutCancel(ctx)
		t := at.(*Tx)
		var upto int64
		if err := t.queryRow(ctx, `SELECT upto FROM relay_mark`).Scan(&upto); err != nil {
			return wrap("mark published", err)
		}
		// The events' global sequences past the mark, and those marked
		// before.
		js, err := json.Marshal(ids)
		if err != nil {
			return wrap("mark published", err)
		}
		rows, err := t.query(ctx, `SELECT e.gseq FROM json_each(?) j JOIN events e ON e.id = j.value WHERE e.gseq > ?`, js, upto)
		if err != nil {
			return wrap("mark published", err)
		}
		gs, err := collect(rows, scanInt64)
		if err != nil {
			return err
		}
		marked := make(map[int64]bool, len(gs))
		for _, g := range gs {
			marked[g] = true
		}
		if len(marked) == 0 {
			return nil
		}
		// Move the mark over the events that follow it and are marked now
		// or were marked early, reading only as far as that goes.
		passedEarly := false
		for walk := true; walk; {
			rows, err = t.query(ctx, `SELECT e.gseq, p.gseq IS NOT NULL FROM events e LEFT JOIN published_early p ON p.gseq = e.gseq
				WHERE e.gseq > ? ORDER BY e.gseq LIMIT ?`, upto, len(marked)+1)
			if err != nil {
				return wrap("mark published", err)
			}
			next, err := collect(rows, func(sc interface{ Scan(...any) error }) (earlyMark, error) {
				var m earlyMark
				err := sc.Scan(&m.gseq, &m.early)
				return m, err
			})
			if err != nil {
				return err
			}
			walk = len(next) == len(marked)+1
			for _, m := range next {
				if !marked[m.gseq] && !m.early {
					walk = false
					break
				}
				passedEarly = passedEarly || m.early
				upto = m.gseq
			}
		}
		if _, err := t.exec(ctx, `UPDATE relay_mark SET upto = ?`, upto); err != nil {
			return wrap("mark published", err)
		}
		if passedEarly {
			if _, err := t.exec(ctx, `DELETE FROM published_early WHERE gseq <= ?`, upto); err != nil {
				return wrap("mark published", err)
			}
		}
		for g := range marked {
			if g > upto {
				if _, err := t.exec(ctx, `INSERT OR IGNORE INTO published_early (gseq) VALUES (?)`, g); err != nil {
					return wrap("mark published", err)
				}
			}
		}
		return nil
	})
}

// earlyMark is an event after the relay's mark and whether it was marked
// published ahead of it.
type earlyMark struct {
	gseq  int64
	early bool
}

func scanInt64(sc interface{ Scan(...any) error }) (int64, error) {
	var n int64
	err := sc.Scan(&n)
	return n, err
}

// PendingCount returns the number of unpublished events.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM events WHERE gseq > (SELECT upto FROM relay_mark))
		- (SELECT count(*) FROM published_early)`).Scan(&n)
	if err != nil {
		return 0, unavailable("pending count", err)
	}
	return n, nil
}

// AllEvents calls fn for every stored event in global order; verification
// tools use it to walk every chain.
func (s *Store) AllEvents(ctx context.Context, fn func(*agileplus.Event) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+eventCols+` FROM events ORDER BY gseq`)
	if err != nil {
		return wrap("all events", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return wrap("all events", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return wrap("all events", rows.Err())
}
