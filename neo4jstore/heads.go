package neo4jstore

import (
	"context"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// Chains. An entity's events and a feature's audit entries form chains
// (seq, prev_hash); two transactions appending to one chain must run one
// after the other. In an Update, reading a chain's head first locks the
// node it belongs to (a project, feature or WP; a feature for its audit
// trail), so the head read is the latest and stays so until the commit.
// Entities of other kinds (keys, labels, comments, dependencies, artifacts)
// are written by commands that lock nothing else of theirs; two appends
// to one of their chains collide on the (entity_id, seq) uniqueness
// constraint instead, and the losing command runs again (flush, Update).
//
// Appended events and audit entries wait in the transaction and are
// created together by one statement (flush), before the commit or before
// any statement that reads events or audit entries.

// chainHead is the last link of a chain.
type chainHead struct {
	seq  int64
	hash string
}

// chainLabel is the label of the node whose lock guards the chain of id,
// or "" for a chain guarded by the uniqueness constraint alone.
func chainLabel(id string) string {
	switch {
	case strings.HasPrefix(id, agileplus.PrefixWP):
		return "WorkPackage"
	case strings.HasPrefix(id, agileplus.PrefixFeature):
		return "Feature"
	case strings.HasPrefix(id, agileplus.PrefixProject):
		return "Project"
	}
	return ""
}

// head returns a chain's last link: from this transaction's appends, or
// from the database (query), after locking its node in an Update.
func (t *Tx) head(ctx context.Context, events bool, id, op, query string) (int64, string, error) {
	m := t.audits
	if events {
		m = t.events
	}
	if c, ok := m[id]; ok {
		return c.seq, c.hash, nil
	}
	if label := chainLabel(id); t.write && label != "" && !t.locked[id] {
		if _, err := t.run(ctx, "lock chain", `MATCH (n:`+label+` {id: $id}) SET n._lock = true REMOVE n._lock`,
			map[string]any{"id": id}); err != nil {
			return 0, "", err
		}
		t.markLocked(id)
	}
	seq, hash, err := t.chainHead(ctx, op, query, id)
	if err == nil && t.write {
		t.setHead(events, id, chainHead{seq, hash})
	}
	return seq, hash, err
}

func (t *Tx) setHead(events bool, id string, c chainHead) {
	if events {
		if t.events == nil {
			t.events = map[string]chainHead{}
		}
		t.events[id] = c
	} else {
		if t.audits == nil {
			t.audits = map[string]chainHead{}
		}
		t.audits[id] = c
	}
}

// flush creates the events and audit entries appended since the last
// flush, in one statement. Events are created without a global sequence,
// with the labels Pending (the outbox) and Unsequenced, and the stamp and
// position that order them for the sequencer (sequence.go). Flushing
// happens with every lock the appends needed held, so the stamp comes
// after the commit of every event this one follows in its chain.
func (t *Tx) flush(ctx context.Context) error {
	if len(t.pendingEvents) == 0 && len(t.pendingAudits) == 0 {
		return nil
	}
	es, as := t.pendingEvents, t.pendingAudits
	t.pendingEvents, t.pendingAudits = nil, nil
	// The stamp is a hybrid clock: after every chain head this
	// transaction read, so an entity's events have rising stamps even
	// when the clocks of two processes disagree.
	t.stamp = max(time.Now().UnixNano(), t.stamp+1)
	_, err := t.run(ctx, "append events", `UNWIND $events AS r
		CREATE (e:Event:Pending:Unsequenced {id: r.id, type: r.type, entity_kind: r.entityKind,
			entity_id: r.entityID, project_key: r.projectKey, feature_id: r.featureID, seq: r.seq, prev_hash: r.prevHash, hash: r.hash,
			time: r.time, actor: r.actor, data: r.data, traceparent: r.traceparent, stamp: $stamp, ord: r.ord})
		WITH count(*) AS created
		UNWIND $audits AS r
		CREATE (:AuditEntry {feature_id: r.featureID, seq: r.seq, event_id: r.eventID, event_type: r.eventType, entity_id: r.entityID,
			time: r.time, actor: r.actor, summary: r.summary, forced: r.forced, reason: r.reason, detail: r.detail,
			prev_hash: r.prevHash, hash: r.hash})`,
		map[string]any{"events": es, "audits": as, "stamp": t.stamp})
	if err != nil && isConstraint(t.err) {
		return errChainCollision
	}
	return err
}

// errChainCollision: another transaction appended to one of the chains
// first; the command runs again on the new head.
var errChainCollision = agileplus.Errorf(agileplus.ECONFLICT, "an event or audit entry was appended concurrently")

func eventParams(e *agileplus.Event, ord int) map[string]any {
	return map[string]any{"ord": ord, "id": e.ID, "type": e.Type, "entityKind": e.EntityKind, "entityID": e.EntityID,
		"projectKey": e.ProjectKey, "featureID": e.FeatureID, "seq": e.Seq, "prevHash": e.PrevHash, "hash": e.Hash,
		"time": fmtTime(e.Time), "actor": e.Actor, "data": string(e.Data), "traceparent": e.TraceParent}
}

func auditParams(a *agileplus.AuditEntry) map[string]any {
	return map[string]any{"featureID": a.FeatureID, "seq": a.Seq, "eventID": a.EventID, "eventType": a.EventType, "entityID": a.EntityID,
		"time": fmtTime(a.Time), "actor": a.Actor, "summary": a.Summary, "forced": a.Forced, "reason": a.Reason,
		"detail": string(a.Detail), "prevHash": a.PrevHash, "hash": a.Hash}
}
