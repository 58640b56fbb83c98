package neo4jstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
)

// Graph queries in Cypher. The queries that start from one WP (blockers,
// dependents, path, impact) run in the database: Neo4j walks only the part
// of the graph they reach, and the answer needs no copy of the whole graph
// in this process, so it is fresh even while other replicas write. They
// give exactly the answers of depgraph.Graph: the same depths, the same
// order (depth, then key order: project key, then key number, then key),
// the same shortest chain among equally short ones, the same float sums.
//
// The whole-graph queries (layers, critical path, cycles, exports, feature
// roll-ups) stay on ReadGraph's fetched graph (graph.go). Their core is a
// pass over a topological order with a value per WP carried along every
// edge (Kahn's algorithm, then the critical path's backward pass, Tarjan's
// components), which Cypher has no way to express but as path enumeration:
// the longest chain to a WP over all of its variable-length paths is
// exponential in the graph's depth, where the passes over an in-memory
// graph are O(WPs + edges).

var _ agileplus.GraphTraverser = (*Store)(nil)

// wpFields are the fields of a GraphNode of the WP bound to v, as a list
// graphNode decodes.
func wpFields(v string) string {
	return "[" + v + ".id, " + v + ".key, " + v + ".project_id, " + v + ".feature_id, " + v + ".state, " + v + ".estimate, " + v + ".priority]"
}

// keyOrder orders WPs bound to v in key order, as depgraph.Graph does.
func keyOrder(v string) string {
	return v + ".project_key, " + v + ".num, " + v + ".key"
}

// refProp is the WorkPackage property a ref names: an id or a key.
func refProp(ref string) string {
	if strings.HasPrefix(ref, agileplus.PrefixWP) {
		return "id"
	}
	return "key"
}

// noWP is depgraph.Graph's error for a ref that names no WP.
func noWP(field, ref string) error {
	if ref == "" {
		return agileplus.FieldErrorf(field, "%s is required", field)
	}
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s: no work package %q", field, ref)}
}

// Blockers returns the WPs that ref depends on, direct or transitive to
// depth edges, as depgraph.Graph.Blockers does.
func (s *Store) Blockers(ctx context.Context, ref string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	return s.reach(ctx, ref, "blockers", "-[:DEPENDS_ON*1..%d]->", transitive, depth)
}

// Dependents returns the WPs that depend on ref, direct or transitive to
// depth edges, as depgraph.Graph.Dependents does.
func (s *Store) Dependents(ctx context.Context, ref string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	return s.reach(ctx, ref, "dependents", "<-[:DEPENDS_ON*1..%d]-", transitive, depth)
}

// reach finds every WP within depth+1 edges of ref at its shortest
// distance: min(length(p)) over a variable-length pattern that Neo4j plans
// as a pruning breadth-first expansion (each WP expanded once, not every
// path enumerated). Those within depth are the answer; one at depth+1
// means the answer is truncated.
func (s *Store) reach(ctx context.Context, ref, direction, pattern string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	if !transitive {
		depth = 1
	} else if depth < 1 || depth > agileplus.MaxGraphDepth {
		return nil, agileplus.FieldErrorf("depth", "depth must be between 1 and %d", agileplus.MaxGraphDepth)
	}
	if ref == "" {
		return nil, noWP("wp", ref)
	}
	q := `MATCH (s:WorkPackage {` + refProp(ref) + `: $ref})
		OPTIONAL MATCH p = (s)` + fmt.Sprintf(pattern, depth+1) + `(w:WorkPackage) WHERE w <> s
		WITH s, w, min(length(p)) AS depth
		ORDER BY depth, ` + keyOrder("w") + `
		RETURN ` + wpFields("s") + `, collect(CASE WHEN depth <= $depth THEN ` + wpFields("w") + ` + [depth] END),
			coalesce(max(depth), 0) > $depth`
	var res *agileplus.GraphReach
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, direction, q, map[string]any{"ref": ref, "depth": int64(depth)})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return noWP("wp", ref)
		}
		n, err := graphNode(recs[0].Values[0])
		if err != nil {
			return err
		}
		hops, err := graphHops(recs[0].Values[1])
		if err != nil {
			return err
		}
		truncated, _ := recs[0].Values[2].(bool)
		res = &agileplus.GraphReach{WP: n, Direction: direction, Depth: depth, WPs: hops, Truncated: truncated}
		return nil
	})
	return res, err
}

// graphHops decodes a list of a WP's fields followed by its depth.
func graphHops(v any) ([]agileplus.GraphHop, error) {
	list, _ := v.([]any)
	hops := make([]agileplus.GraphHop, len(list))
	for i, item := range list {
		f, ok := item.([]any)
		if !ok || len(f) != 8 {
			return nil, fmt.Errorf("neo4jstore: graph query: got %v, want a work package's fields and depth", item)
		}
		n, err := graphNode(f[:7])
		if err != nil {
			return nil, err
		}
		d, _ := f[7].(int64)
		hops[i] = agileplus.GraphHop{GraphNode: n, Depth: int(d)}
	}
	return hops, nil
}

// Impact returns what transitively waits on ref, as depgraph.Graph.Impact
// does: every dependent at its shortest distance (a pruning breadth-first
// expansion), counted, the estimates of the open ones added up in key
// order, and the first limit of them by depth, then key order.
func (s *Store) Impact(ctx context.Context, ref string, limit int) (*agileplus.GraphImpact, error) {
	if ref == "" {
		return nil, noWP("wp", ref)
	}
	if limit <= 0 {
		limit = -1
	}
	// Two passes over the same expansion: the counts and the estimate (in
	// key order), then the first limit by depth. Carrying the list of every
	// dependent into the second (a COLLECT over it, or an UNWIND of it)
	// makes Neo4j account the whole list to every row: over a 2 GB
	// transaction memory at 40,000 dependents.
	q := `MATCH (s:WorkPackage {` + refProp(ref) + `: $ref})
		CALL {
			WITH s
			OPTIONAL MATCH (s)<-[:DEPENDS_ON*1..]-(w:WorkPackage) WHERE w <> s
			WITH DISTINCT w ORDER BY ` + keyOrder("w") + `
			RETURN count(w) AS n, collect(CASE WHEN w.state <> 'done' THEN w.estimate END) AS open
		}
		CALL {
			WITH s
			OPTIONAL MATCH p = (s)<-[:DEPENDS_ON*1..]-(w:WorkPackage) WHERE w <> s
			WITH w, min(length(p)) AS depth
			ORDER BY depth, ` + keyOrder("w") + `
			LIMIT $limit
			RETURN collect(CASE WHEN w IS NOT NULL THEN ` + wpFields("w") + ` + [depth] END) AS listed
		}
		RETURN ` + wpFields("s") + `, n, size(open), reduce(sum = 0.0, e IN open | sum + e), listed`
	var res *agileplus.GraphImpact
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, "impact", q, map[string]any{"ref": ref, "limit": limitParam(limit)})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return noWP("wp", ref)
		}
		v := recs[0].Values
		n, err := graphNode(v[0])
		if err != nil {
			return err
		}
		hops, err := graphHops(v[4])
		if err != nil {
			return err
		}
		count, _ := v[1].(int64)
		open, _ := v[2].(int64)
		est, _ := v[3].(float64)
		res = &agileplus.GraphImpact{WP: n, Count: int(count), Open: int(open), Estimate: est, WPs: hops, Truncated: int(count) > len(hops)}
		return nil
	})
	return res, err
}

// limitParam is a LIMIT for Cypher: negative means none.
func limitParam(n int) int64 { return limit(n) }

// Path returns the shortest depends_on chain from -> ... -> to, as
// depgraph.Graph.Path does: shortestPath finds its length, then a walk
// from from takes at every step the first dependency in key order that is
// one step less far from to (a bounded shortestPath per candidate), which
// is the chain depgraph.Graph picks among equally short ones.
func (s *Store) Path(ctx context.Context, from, to string) ([]agileplus.GraphNode, error) {
	if from == "" {
		return nil, noWP("from", from)
	}
	if to == "" {
		return nil, noWP("to", to)
	}
	var path []agileplus.GraphNode
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		t := rt.(*Tx)
		recs, err := t.run(ctx, "path", `OPTIONAL MATCH (a:WorkPackage {`+refProp(from)+`: $from})
			OPTIONAL MATCH (b:WorkPackage {`+refProp(to)+`: $to})
			RETURN `+wpFields("a")+`, `+wpFields("b")+`,
				CASE WHEN a IS NULL OR b IS NULL OR a = b THEN null
				ELSE length(shortestPath((a)-[:DEPENDS_ON*]->(b))) END`,
			map[string]any{"from": from, "to": to})
		if err != nil {
			return err
		}
		v := recs[0].Values
		if f, _ := v[0].([]any); len(f) == 0 || f[0] == nil {
			return noWP("from", from)
		}
		if f, _ := v[1].([]any); len(f) == 0 || f[0] == nil {
			return noWP("to", to)
		}
		a, err := graphNode(v[0])
		if err != nil {
			return err
		}
		b, err := graphNode(v[1])
		if err != nil {
			return err
		}
		if a.ID == b.ID {
			path = []agileplus.GraphNode{a}
			return nil
		}
		d, ok := v[2].(int64)
		if !ok {
			return agileplus.Errorf(agileplus.ENOTFOUND, "no blocking path from %s to %s", a.Key, b.Key)
		}
		path = append(make([]agileplus.GraphNode, 0, d+1), a)
		for u, left := a, d; left > 1; left-- {
			// The first dependency in key order from which to is left-1
			// edges away; it is never nearer, or u would be nearer too.
			recs, err := t.run(ctx, "path step", `MATCH (u:WorkPackage {id: $u})-[:DEPENDS_ON]->(w:WorkPackage), (b:WorkPackage {id: $b})
				WHERE w <> b
				CALL (w, b) {
					MATCH p = shortestPath((w)-[:DEPENDS_ON*..`+strconv.FormatInt(left-1, 10)+`]->(b))
					RETURN length(p) AS len
				}
				WITH DISTINCT w ORDER BY `+keyOrder("w")+` LIMIT 1
				RETURN `+wpFields("w"), map[string]any{"u": u.ID, "b": b.ID})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				// A write between two statements of this read; the next
				// read will see it.
				return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: path from %s to %s: the graph changed while it was read; retry", a.Key, b.Key)
			}
			if u, err = graphNode(recs[0].Values[0]); err != nil {
				return err
			}
			path = append(path, u)
		}
		path = append(path, b)
		return nil
	})
	return path, err
}
