package neo4jstore

import (
	"context"
	"slices"
)

// Locks. A write transaction locks what it changes and what its checks
// read, and nothing else: WP and feature reads in an Update lock the node
// (lockThen), guarded writes compare the version under the lock
// (lockGuard), an entity's event chain is locked with the entity and a
// feature's audit chain with the feature (heads.go), and a new dependency
// locks both ends and everything its cycle check reads (lockReach). Two
// transactions that lock the same nodes in different orders deadlock;
// Neo4j detects it and fails one with a transient error, and Update runs
// that one again (update.go), so locks are taken in id order where one
// statement takes several, which keeps such retries rare.

// markLocked records that a write transaction holds the lock of id.
func (t *Tx) markLocked(id string) {
	if !t.write {
		return
	}
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	t.locked[id] = true
}

// lockNodes locks the nodes of label with the ids, in id order.
func (t *Tx) lockNodes(ctx context.Context, label string, ids ...string) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := t.run(ctx, "lock", `UNWIND $ids AS id MATCH (n:`+label+` {id: id}) SET n._lock = true REMOVE n._lock`,
		map[string]any{"ids": ids})
	if err == nil {
		for _, id := range ids {
			t.markLocked(id)
		}
	}
	return err
}

// lockReach locks the two ends of a depends_on edge about to be checked
// and added (to -> ... -> from would close a cycle), then every node that
// from reaches by depends_on edges, until the set it reads under its locks
// is the set it holds. Why that is enough: an edge out of a node is only
// added by a transaction that locks that node (its from end), so while
// this transaction holds the whole reachable set, no one can extend it,
// and the cycle check's answer stays true until the commit. Two
// transactions adding the two halves of a cycle both need a node of the
// cycle's other half: one waits for the other's commit and then sees its
// edge.
func (t *Tx) lockReach(ctx context.Context, label, from, to string) error {
	if err := t.lockNodes(ctx, label, from, to); err != nil {
		return err
	}
	held := map[string]bool{from: true, to: true}
	for {
		recs, err := t.run(ctx, "lock reach", `MATCH (a:`+label+` {id: $from})-[:DEPENDS_ON*]->(n:`+label+`)
			RETURN DISTINCT n.id`, map[string]any{"from": from})
		if err != nil {
			return err
		}
		var more []string
		for _, r := range recs {
			id, _ := r.Values[0].(string)
			if !held[id] {
				held[id] = true
				more = append(more, id)
			}
		}
		if len(more) == 0 {
			return nil
		}
		if err := t.lockNodes(ctx, label, more...); err != nil {
			return err
		}
	}
}
