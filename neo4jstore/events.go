package neo4jstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Events are (:Event) nodes with every field; Data is the JSON as a
// string. An event enters the outbox with the label Pending, in the
// transaction that appends it, and leaves it when MarkPublished removes the
// label: the outbox is the set of Pending nodes, counted by Neo4j's count
// store and indexed by global sequence.
//
// Queries that must stay index seeks however large the database grows name
// their index (USING INDEX): a plan made while it was small would
// otherwise scan.

func decodeEvent(r *row) *agileplus.Event {
	return &agileplus.Event{GlobalSeq: r.i64("gseq"), ID: r.str("id"), Type: r.str("type"), EntityKind: r.str("entity_kind"),
		EntityID: r.str("entity_id"), ProjectKey: r.str("project_key"), FeatureID: r.str("feature_id"), Seq: r.i64("seq"),
		PrevHash: r.str("prev_hash"), Hash: r.str("hash"), Time: r.time("time"), Actor: r.str("actor"),
		Data: []byte(r.str("data")), TraceParent: r.str("traceparent")}
}

// eventMap returns an event without its labels.
const eventMap = `e {.gseq, .id, .type, .entity_kind, .entity_id, .project_key, .feature_id, .seq, .prev_hash, .hash, .time, .actor, .data, .traceparent}`

// EventHead returns the seq and hash of the entity's last event.
func (t *Tx) EventHead(ctx context.Context, entityID string) (int64, string, error) {
	return t.head(ctx, true, entityID, "event head", `MATCH (e:Event) USING INDEX e:Event(entity_id, seq)
		WHERE e.entity_id = $id AND e.seq IS NOT NULL RETURN e.seq, e.hash, e.stamp ORDER BY e.seq DESC LIMIT 1`)
}

// chainHead returns the last link of a chain (0, "" for an empty chain).
func (t *Tx) chainHead(ctx context.Context, op, q, id string) (int64, string, error) {
	recs, err := t.run(ctx, op, q, map[string]any{"id": id})
	if err != nil || len(recs) == 0 {
		return 0, "", err
	}
	seq, _ := recs[0].Values[0].(int64)
	hash, _ := recs[0].Values[1].(string)
	if len(recs[0].Values) > 2 {
		stamp, _ := recs[0].Values[2].(int64)
		t.stamp = max(t.stamp, stamp)
	}
	return seq, hash, nil
}

// AppendEvent puts the event, in the outbox, among the appends the next
// flush creates. Its global sequence comes after the commit (sequence.go):
// Update sets GlobalSeq before it returns.
func (t *Tx) AppendEvent(ctx context.Context, e *agileplus.Event) error {
	if t.done {
		return errClosed
	}
	t.pendingEvents = append(t.pendingEvents, eventParams(e, len(t.appended)))
	t.appended = append(t.appended, e)
	t.setHead(true, e.EntityID, chainHead{e.Seq, e.Hash})
	return nil
}

// Events lists events by global sequence, or one entity's by its seq. The
// global listing reads the sequencer's watermark first and stops there, so
// it never returns an event while one before it may still appear
// (sequence.go).
func (t *Tx) Events(ctx context.Context, f agileplus.EventFilter) ([]*agileplus.Event, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	q := `MATCH (c:Counter {name: 'gseq'}) WITH coalesce(c.gseq, 0) AS w
		MATCH (e:Event) USING INDEX e:Event(gseq) WHERE e.gseq > $after AND e.gseq <= w
		WITH e ORDER BY e.gseq LIMIT $limit RETURN ` + eventMap
	if f.EntityID != "" {
		q = `MATCH (e:Event) USING INDEX e:Event(entity_id, seq) WHERE e.entity_id = $entity AND e.seq IS NOT NULL AND e.gseq > $after
			WITH e ORDER BY e.seq LIMIT $limit RETURN ` + eventMap
	}
	rows, err := t.runMaps(ctx, "events", q, map[string]any{"entity": f.EntityID, "after": f.After, "limit": limit(f.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("events", rows, decodeEvent)
}

// ---- audit ----

// AuditHead returns the seq and hash of the feature's last audit entry.
func (t *Tx) AuditHead(ctx context.Context, featureID string) (int64, string, error) {
	return t.head(ctx, false, featureID, "audit head", `MATCH (a:AuditEntry) USING INDEX a:AuditEntry(feature_id, seq)
		WHERE a.feature_id = $id AND a.seq IS NOT NULL RETURN a.seq, a.hash ORDER BY a.seq DESC LIMIT 1`)
}

// AppendAudit puts an audit entry among the appends the next flush
// creates.
func (t *Tx) AppendAudit(ctx context.Context, a *agileplus.AuditEntry) error {
	if t.done {
		return errClosed
	}
	t.pendingAudits = append(t.pendingAudits, auditParams(a))
	t.setHead(false, a.FeatureID, chainHead{a.Seq, a.Hash})
	return nil
}

// Audit returns a feature's audit entries after a seq.
func (t *Tx) Audit(ctx context.Context, featureID string, after int64, lim int) ([]*agileplus.AuditEntry, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := t.runMaps(ctx, "audit", `MATCH (a:AuditEntry) USING INDEX a:AuditEntry(feature_id, seq) WHERE a.feature_id = $feature AND a.seq > $after
		WITH a ORDER BY a.seq LIMIT $limit RETURN a {.*}`, map[string]any{"feature": featureID, "after": after, "limit": limit(lim)})
	if err != nil {
		return nil, err
	}
	return decodeAll("audit", rows, func(r *row) *agileplus.AuditEntry {
		a := &agileplus.AuditEntry{FeatureID: r.str("feature_id"), Seq: r.i64("seq"), EventID: r.str("event_id"), EventType: r.str("event_type"),
			EntityID: r.str("entity_id"), Time: r.time("time"), Actor: r.str("actor"), Summary: r.str("summary"), Forced: r.boolean("forced"),
			Reason: r.str("reason"), PrevHash: r.str("prev_hash"), Hash: r.str("hash")}
		if d := r.str("detail"); d != "" {
			a.Detail = []byte(d)
		}
		return a
	})
}

// ---- outbox ----

// PendingEvents returns unpublished events in global order, up to the
// sequencer's watermark. Read from the start (after 0), as the relay begins
// each round, it first gives a global sequence to events whose writer did
// not (it died after its commit).
func (s *Store) PendingEvents(ctx context.Context, after int64, lim int) ([]*agileplus.Event, error) {
	if after == 0 {
		if err := s.sequenceLeftovers(ctx); err != nil {
			return nil, err
		}
	}
	var out []*agileplus.Event
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		t := rt.(*Tx)
		rows, err := t.runMaps(ctx, "pending events", `MATCH (c:Counter {name: 'gseq'}) WITH coalesce(c.gseq, 0) AS w
			MATCH (e:Pending) USING INDEX e:Pending(gseq) WHERE e.gseq > $after AND e.gseq <= w
			WITH e ORDER BY e.gseq LIMIT $limit RETURN `+eventMap,
			map[string]any{"after": after, "limit": limit(lim)})
		if err != nil {
			return err
		}
		out, err = decodeAll("pending events", rows, decodeEvent)
		return err
	})
	return out, err
}

// markBatch bounds the ids one statement marks.
const markBatch = 1000

// MarkPublished takes the events out of the outbox. Removing a label that
// is gone already changes nothing, so relays of several replicas may mark
// the same events at once: one of them removes the label, the others
// find nothing to do. The ids are sorted so that two such transactions
// lock events in the same order; a deadlock between them is retried.
func (s *Store) MarkPublished(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var retry bool
		retry, err = s.markPublished(ctx, ids)
		if !retry || ctx.Err() != nil {
			return err
		}
		s.log.Debug("neo4jstore: retrying mark published", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff(attempt)):
		}
	}
	return err
}

func (s *Store) markPublished(ctx context.Context, ids []string) (retry bool, err error) {
	if s.closed.Load() {
		return false, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	ntx, err := s.begin(ctx, sess) // retries on its own
	if err != nil {
		return false, s.unavailable("begin mark published", err)
	}
	t := &Tx{ntx: ntx, s: s}
	defer ntx.Close(context.WithoutCancel(ctx))
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), markBatch)
		_, err := t.run(ctx, "mark published", `UNWIND $ids AS id
			MATCH (e:Event {id: id}) WHERE e:Pending
			REMOVE e:Pending`, map[string]any{"ids": rest[:n]})
		if err != nil {
			return isRetryable(t.err), err
		}
		rest = rest[n:]
	}
	if err := ntx.Commit(context.WithoutCancel(ctx)); err != nil {
		// Marking again is harmless, so an unknown outcome is retried too.
		var ce *neo4j.ConnectivityError
		return isRetryable(err) || errors.As(err, &ce), s.unavailable("commit mark published", err)
	}
	return false, nil
}

// PendingCount returns the number of unpublished events.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, "pending count", `MATCH (e:Pending) RETURN count(e)`, nil)
		if err != nil {
			return err
		}
		n, _ = recs[0].Values[0].(int64)
		return nil
	})
	return n, err
}

// AllEvents calls fn for every stored event in global order; verification
// tools use it to walk every chain.
func (s *Store) AllEvents(ctx context.Context, fn func(*agileplus.Event) error) error {
	const page = 1000
	for after := int64(0); ; {
		var es []*agileplus.Event
		err := s.View(ctx, func(rt agileplus.ReadTx) error {
			var err error
			es, err = rt.Events(ctx, agileplus.EventFilter{After: after, Limit: page})
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < page {
			return nil
		}
		after = es[len(es)-1].GlobalSeq
	}
}
