package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agileplus/agileplus"
)

var _ agileplus.SnapshotWriter = (*Tx)(nil)

// SnapshotHead returns the entity's latest snapshot at or before at,
// without its state, or nil.
func (t *Tx) SnapshotHead(ctx context.Context, entityID string, at agileplus.AsOf) (*agileplus.Snapshot, error) {
	var upto string
	if !at.Time.IsZero() {
		upto = fmtTime(at.Time)
	}
	s := &agileplus.Snapshot{EntityID: entityID}
	err := t.queryRow(ctx, `SELECT entity_kind, seq, gseq, time FROM snapshots
		WHERE entity_id = ? AND (? = 0 OR gseq <= ?) AND (? = '' OR time <= ?) ORDER BY seq DESC LIMIT 1`,
		entityID, at.Seq, at.Seq, upto, upto).Scan(&s.EntityKind, &s.Seq, &s.GlobalSeq, timeCol{&s.Time})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("snapshot head", err)
	}
	return s, nil
}

// Snapshot returns the entity's snapshot at its event seq, with its state.
func (t *Tx) Snapshot(ctx context.Context, entityID string, seq int64) (*agileplus.Snapshot, error) {
	s := &agileplus.Snapshot{EntityID: entityID, Seq: seq}
	var state []byte
	err := t.queryRow(ctx, `SELECT entity_kind, gseq, time, state FROM snapshots WHERE entity_id = ? AND seq = ?`,
		entityID, seq).Scan(&s.EntityKind, &s.GlobalSeq, timeCol{&s.Time}, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("snapshot", "snapshot", fmt.Sprintf("%s@%d", entityID, seq))
	} else if err != nil {
		return nil, wrap("snapshot", err)
	}
	s.State = state
	return s, nil
}

// SaveSnapshot stores a snapshot.
func (t *Tx) SaveSnapshot(ctx context.Context, s *agileplus.Snapshot) error {
	_, err := t.exec(ctx, `INSERT INTO snapshots (entity_id, seq, entity_kind, gseq, time, state) VALUES (?, ?, ?, ?, ?, ?)`,
		s.EntityID, s.Seq, s.EntityKind, s.GlobalSeq, fmtTime(s.Time), []byte(s.State))
	if isUnique(err) {
		return agileplus.Errorf(agileplus.ECONFLICT, "snapshot %d of %s already exists", s.Seq, s.EntityID)
	}
	return wrap("save snapshot", err)
}

// EntityEvents returns the entity's events after its seq afterSeq, up to
// the global sequence upTo (if not 0), by seq.
func (t *Tx) EntityEvents(ctx context.Context, entityID string, afterSeq, upTo int64, limit int) ([]*agileplus.Event, error) {
	// An entity's seqs have no gaps, so the next limit events are those up
	// to afterSeq+limit: the scan stops there even when upTo leaves most
	// of them out.
	rows, err := t.query(ctx, `SELECT `+eventCols+` FROM events WHERE entity_id = ? AND seq > ? AND seq <= ? AND (? = 0 OR +gseq <= ?) ORDER BY seq`,
		entityID, afterSeq, afterSeq+int64(limit), upTo, upTo)
	if err != nil {
		return nil, wrap("entity events", err)
	}
	return collect(rows, scanEvent)
}
