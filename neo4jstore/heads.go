package neo4jstore

import (
	"context"
	"sync"

	"github.com/agileplus/agileplus"
)

// Fewer round trips per command. Each statement is a round trip to the
// server, and a command holds the write lock of every process while it
// runs, so the statements a command needs bound the write rate of the
// whole deployment. Two things save most of them:
//
//   - Appended events and audit entries wait in the transaction and are
//     created together by one statement (flush), before the commit or
//     before any statement that reads events or audit entries.
//   - The heads of the chains (an entity's last event, a feature's last
//     audit entry) and the last global sequence are remembered across
//     transactions with the value of the write counter that the process's
//     last commit left. The lock statement returns the counter: if it is
//     that value plus one, nobody else has written since (every committed
//     write increments it exactly once, and a rolled-back one leaves it
//     alone), so what is remembered is still true. Otherwise it is
//     forgotten and read again. The counter node carries a random epoch,
//     so a database emptied and set up again does not pass for the same
//     one.

// chainHead is the last link of a chain.
type chainHead struct {
	seq  int64
	hash string
}

// maxRemembered bounds each map of remembered heads; past it, the map
// starts again empty.
const maxRemembered = 50_000

// heads is what a Store remembers between its write transactions.
type heads struct {
	mu     sync.Mutex
	epoch  string
	writes int64 // the counter as this process's last commit left it; 0: nothing known
	gseq   int64
	events map[string]chainHead
	audits map[string]chainHead
	// gen counts the times the maps were dropped: a transaction that
	// began on them adds to them at its commit only if they are still
	// the same.
	gen uint64
}

// begin gives a transaction that took the lock, and saw the counter at
// writes with epoch, what it may rely on.
func (h *heads) begin(t *Tx, epoch string, writes int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.writes == 0 || writes != h.writes+1 || epoch != h.epoch {
		h.drop()
		return
	}
	t.gseq, t.gseqRead = h.gseq, true
	t.known, t.knownGen = h, h.gen
}

func (h *heads) drop() {
	h.writes, h.events, h.audits = 0, nil, nil
	h.gen++
}

// commit records what a committed transaction leaves: the counter it set
// and the heads it appended or read. Commits of one process may get here
// out of order (the next writer's lock returns as soon as the server has
// committed): an older one than what is recorded changes nothing. A
// transaction that did not begin on the maps as they are replaces them
// with its own heads.
func (h *heads) commit(t *Tx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.writes != 0 && t.epoch == h.epoch && t.writes <= h.writes {
		return
	}
	if t.known != h || t.knownGen != h.gen {
		h.events, h.audits = nil, nil
		h.gen++
	}
	h.epoch, h.writes = t.epoch, t.writes
	if t.gseqRead {
		h.gseq = t.gseq
	} else {
		h.drop() // no event appended and the sequence never read
		return
	}
	h.events = merge(h.events, t.events)
	h.audits = merge(h.audits, t.audits)
}

// forget drops everything: a commit whose outcome is unknown.
func (h *heads) forget() {
	h.mu.Lock()
	h.drop()
	h.mu.Unlock()
}

func (h *heads) lookup(events bool, id string) (chainHead, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.audits
	if events {
		m = h.events
	}
	c, ok := m[id]
	return c, ok
}

func merge(dst, src map[string]chainHead) map[string]chainHead {
	if len(dst)+len(src) > maxRemembered {
		dst = nil
	}
	if dst == nil {
		dst = make(map[string]chainHead, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// head returns a chain's last link: from this transaction's appends, from
// what the store remembers, or from the database (query).
func (t *Tx) head(ctx context.Context, events bool, id, op, query string) (int64, string, error) {
	m := t.audits
	if events {
		m = t.events
	}
	if c, ok := m[id]; ok {
		return c.seq, c.hash, nil
	}
	if t.known != nil {
		if c, ok := t.known.lookup(events, id); ok {
			return c.seq, c.hash, nil
		}
	}
	seq, hash, err := t.chainHead(ctx, op, query, id)
	if err == nil && t.writes != 0 {
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
// flush, in one statement.
func (t *Tx) flush(ctx context.Context) error {
	if len(t.pendingEvents) == 0 && len(t.pendingAudits) == 0 {
		return nil
	}
	es, as := t.pendingEvents, t.pendingAudits
	t.pendingEvents, t.pendingAudits = nil, nil
	_, err := t.run(ctx, "append events", `UNWIND $events AS r
		CREATE (e:Event:Pending {gseq: r.gseq, id: r.id, type: r.type, entity_kind: r.entityKind,
			entity_id: r.entityID, project_key: r.projectKey, feature_id: r.featureID, seq: r.seq, prev_hash: r.prevHash, hash: r.hash,
			time: r.time, actor: r.actor, data: r.data, traceparent: r.traceparent})
		WITH count(*) AS created
		UNWIND $audits AS r
		CREATE (:AuditEntry {feature_id: r.featureID, seq: r.seq, event_id: r.eventID, event_type: r.eventType, entity_id: r.entityID,
			time: r.time, actor: r.actor, summary: r.summary, forced: r.forced, reason: r.reason, detail: r.detail,
			prev_hash: r.prevHash, hash: r.hash})`,
		map[string]any{"events": es, "audits": as})
	if err != nil && isConstraint(t.err) {
		return agileplus.Errorf(agileplus.ECONFLICT, "an event or audit entry was appended concurrently: %v", t.err)
	}
	return err
}

func eventParams(e *agileplus.Event, gseq int64) map[string]any {
	return map[string]any{"gseq": gseq, "id": e.ID, "type": e.Type, "entityKind": e.EntityKind, "entityID": e.EntityID,
		"projectKey": e.ProjectKey, "featureID": e.FeatureID, "seq": e.Seq, "prevHash": e.PrevHash, "hash": e.Hash,
		"time": fmtTime(e.Time), "actor": e.Actor, "data": string(e.Data), "traceparent": e.TraceParent}
}

func auditParams(a *agileplus.AuditEntry) map[string]any {
	return map[string]any{"featureID": a.FeatureID, "seq": a.Seq, "eventID": a.EventID, "eventType": a.EventType, "entityID": a.EntityID,
		"time": fmtTime(a.Time), "actor": a.Actor, "summary": a.Summary, "forced": a.Forced, "reason": a.Reason,
		"detail": string(a.Detail), "prevHash": a.PrevHash, "hash": a.Hash}
}
