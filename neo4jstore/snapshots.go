package neo4jstore

import (
	"context"
	"fmt"

	"github.com/agileplus/agileplus"
)

var _ agileplus.SnapshotWriter = (*Tx)(nil)

func decodeSnapshot(r *row) *agileplus.Snapshot {
	return &agileplus.Snapshot{EntityID: r.str("entity_id"), Seq: r.i64("seq"), EntityKind: r.str("entity_kind"),
		GlobalSeq: r.i64("gseq"), Time: r.time("time"), State: []byte(r.str("state"))}
}

// SnapshotHead returns the entity's latest snapshot at or before at,
// without its state, or nil.
func (t *Tx) SnapshotHead(ctx context.Context, entityID string, at agileplus.AsOf) (*agileplus.Snapshot, error) {
	var upto string
	if !at.Time.IsZero() {
		upto = fmtTime(at.Time)
	}
	// A snapshot is saved in the writing transaction, before its event
	// has a global sequence (sequence.go numbers events after the commit):
	// its global sequence is its event's, read here. An event not yet
	// numbered is not yet visible, nor is its snapshot.
	rows, err := t.runMaps(ctx, "snapshot head", `MATCH (s:Snapshot) USING INDEX s:Snapshot(entity_id, seq)
		WHERE s.entity_id = $id AND s.seq IS NOT NULL AND ($upto = '' OR s.time <= $upto)
		OPTIONAL MATCH (e:Event {entity_id: $id, seq: s.seq})
		WITH s, coalesce(e.gseq, s.gseq, 0) AS g WHERE g > 0 AND ($seq = 0 OR g <= $seq)
		WITH s, g ORDER BY s.seq DESC LIMIT 1 RETURN s {.entity_id, .seq, .entity_kind, gseq: g, .time}`, map[string]any{"id": entityID, "seq": at.Seq, "upto": upto})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	ss, err := decodeAll("snapshot head", rows, decodeSnapshot)
	if err != nil {
		return nil, err
	}
	ss[0].State = nil
	return ss[0], nil
}

// Snapshot returns the entity's snapshot at its event seq, with its state.
func (t *Tx) Snapshot(ctx context.Context, entityID string, seq int64) (*agileplus.Snapshot, error) {
	rows, err := t.runMaps(ctx, "snapshot", `MATCH (s:Snapshot {entity_id: $id, seq: $seq}) RETURN s {.*}`,
		map[string]any{"id": entityID, "seq": seq})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFound("snapshot", "snapshot", fmt.Sprintf("%s@%d", entityID, seq))
	}
	ss, err := decodeAll("snapshot", rows, decodeSnapshot)
	if err != nil {
		return nil, err
	}
	return ss[0], nil
}

// SaveSnapshot stores a snapshot.
func (t *Tx) SaveSnapshot(ctx context.Context, s *agileplus.Snapshot) error {
	_, err := t.run(ctx, "save snapshot", `CREATE (:Snapshot {entity_id: $id, seq: $seq, entity_kind: $kind, gseq: $gseq, time: $time, state: $state})`,
		map[string]any{"id": s.EntityID, "seq": s.Seq, "kind": s.EntityKind, "gseq": s.GlobalSeq, "time": fmtTime(s.Time), "state": string(s.State)})
	return conflict(err, t, "seq", fmt.Sprintf("snapshot %d of %s already exists", s.Seq, s.EntityID))
}

// EntityEvents returns the entity's events after its seq afterSeq, up to
// the global sequence upTo (if not 0), by seq.
func (t *Tx) EntityEvents(ctx context.Context, entityID string, afterSeq, upTo int64, limit int) ([]*agileplus.Event, error) {
	// Flush only when this entity has appends waiting: the snapshot check
	// of every write reads an entity's first event, and a flush per write
	// would cost a round trip more than the one at commit.
	if t.pendingFor(entityID) {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
	}
	// An entity's seqs have no gaps: the next limit events are those up
	// to afterSeq+limit, which bounds the index range.
	rows, err := t.runMaps(ctx, "entity events", `MATCH (e:Event) USING INDEX e:Event(entity_id, seq)
		WHERE e.entity_id = $entity AND e.seq > $after AND e.seq <= $last AND ($upto = 0 OR e.gseq <= $upto)
		WITH e ORDER BY e.seq LIMIT $limit RETURN `+eventMap, map[string]any{"entity": entityID, "after": afterSeq, "last": afterSeq + int64(limit), "upto": upTo, "limit": int64(limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("entity events", rows, decodeEvent)
}

// pendingFor reports whether an event of the entity waits for the next flush.
func (t *Tx) pendingFor(entityID string) bool {
	for _, p := range t.pendingEvents {
		if m, ok := p.(map[string]any); ok && m["entityID"] == entityID {
			return true
		}
	}
	return false
}
