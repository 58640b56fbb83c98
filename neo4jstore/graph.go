package neo4jstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/depgraph"
)

// The dependency graph index. Other processes write to the same database,
// so a graph kept in step with this process's commits would miss theirs.
// Instead ReadGraph asks the database for its write count (the gseq
// counter's writes, which the sequencer increments after every write
// transaction that appended an event or changed the graph, before the
// write returns, see sequence.go; and the counter's element id, which
// changes if the database is emptied and set up again) and reuses the graph it built last if nothing was written since;
// otherwise it loads every WP and every depends_on edge between WPs again.
//
// Cost: one small query per ReadGraph while nothing is written; after a
// write, the next ReadGraph reads the whole graph, O(WPs + edges). Built
// graphs are never changed, so any number of readers share one without
// locking.

type graphCache struct {
	mu      sync.Mutex // guards g and version; held while loading, so one load at a time
	g       *depgraph.Graph
	version graphVersion // what g holds at least
}

type graphVersion struct {
	counter string // element id of the counter node
	writes  int64
}

// ReadGraph runs fn on a graph of every committed WP and depends_on edge
// between WPs; fn must not keep the graph after it returns.
func (s *Store) ReadGraph(ctx context.Context, fn func(agileplus.GraphIndex) error) error {
	g, err := s.currentGraph(ctx)
	if err != nil {
		return err
	}
	return fn(g)
}

func (s *Store) currentGraph(ctx context.Context) (*depgraph.Graph, error) {
	if s.closed.Load() {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
	}
	var g *depgraph.Graph
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		t := rt.(*Tx)
		v, err := t.graphVersion(ctx)
		if err != nil {
			return err
		}
		s.graph.mu.Lock()
		defer s.graph.mu.Unlock()
		if c := s.graph.version; s.graph.g != nil && c.counter == v.counter && c.writes >= v.writes {
			g = s.graph.g
			return nil
		}
		// The version is read before the graph, so the graph holds at
		// least what the version stands for; a write in between makes
		// the next call load again.
		if g, err = t.loadGraph(ctx); err != nil {
			return err
		}
		s.graph.g, s.graph.version = g, v
		return nil
	})
	return g, err
}

func (t *Tx) graphVersion(ctx context.Context) (graphVersion, error) {
	recs, err := t.run(ctx, "graph version", `MATCH (c:Counter {name: 'gseq'}) RETURN elementId(c), c.writes`, nil)
	if err != nil {
		return graphVersion{}, err
	}
	if len(recs) == 0 {
		return graphVersion{}, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: the database at %s has no gseq counter", t.s.url)
	}
	id, _ := recs[0].Values[0].(string)
	n, _ := recs[0].Values[1].(int64)
	return graphVersion{id, n}, nil
}

// loadGraph reads every WP with its depends_on targets in one statement.
// Each target comes with its own fields, so a WP created while the
// statement runs still arrives whole with the edge that names it.
func (t *Tx) loadGraph(ctx context.Context) (*depgraph.Graph, error) {
	recs, err := t.run(ctx, "load graph", `MATCH (w:WorkPackage)
		RETURN `+wpFields("w")+`, [(w)-[:DEPENDS_ON]->(d:WorkPackage) | `+wpFields("d")+`]`, nil)
	if err != nil {
		return nil, err
	}
	g := depgraph.New()
	for _, rec := range recs {
		n, err := graphNode(rec.Values[0])
		if err != nil {
			return nil, err
		}
		if err := g.PutNode(n); err != nil {
			return nil, fmt.Errorf("neo4jstore: load graph: wp %s: %w", n.Key, err)
		}
	}
	for _, rec := range recs {
		from, _ := rec.Values[0].([]any)
		targets, _ := rec.Values[1].([]any)
		for _, tv := range targets {
			to, err := graphNode(tv)
			if err != nil {
				return nil, err
			}
			if _, ok := g.Node(to.ID); !ok {
				if err := g.PutNode(to); err != nil {
					return nil, fmt.Errorf("neo4jstore: load graph: wp %s: %w", to.Key, err)
				}
			}
			id, _ := from[0].(string)
			if err := g.AddEdge(id, to.ID); err != nil {
				return nil, fmt.Errorf("neo4jstore: load graph: edge %s -> %s: %w", id, to.ID, err)
			}
		}
	}
	g.Compact()
	return g, nil
}

// graphNode decodes [id, key, project_id, feature_id, state, estimate, priority].
func graphNode(v any) (agileplus.GraphNode, error) {
	f, ok := v.([]any)
	if !ok || len(f) != 7 {
		return agileplus.GraphNode{}, fmt.Errorf("neo4jstore: load graph: got %v, want a work package's fields", v)
	}
	r := row{m: map[string]any{"id": f[0], "key": f[1], "project_id": f[2], "feature_id": f[3], "state": f[4], "estimate": f[5], "priority": f[6]}}
	n := agileplus.GraphNode{ID: r.str("id"), Key: r.str("key"), ProjectID: r.str("project_id"), FeatureID: r.str("feature_id"),
		State: r.str("state"), Estimate: r.f64("estimate"), Priority: r.priority("priority")}
	return n, r.check("load graph")
}
