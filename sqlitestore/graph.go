package sqlitestore

import (
	"context"
	"fmt"
	"sync"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/depgraph"
)

// graphIndex is the in-memory dependency graph of every WP, built at Open and
// kept in step by the writer goroutine: a command's changes are applied when
// the command succeeds, so graph answers may include the changes of the
// batch being committed, a few milliseconds ahead of its commit. If that
// commit fails, the index is rebuilt from the database.
type graphIndex struct {
	mu sync.RWMutex
	g  *depgraph.Graph
}

var _ agileplus.GraphReader = (*Store)(nil)

// graphOp is one change to the index made by a command.
type graphOp struct {
	node       *agileplus.GraphNode // put this WP, or:
	from, to   string               // add or remove this depends_on edge
	removeEdge bool
	removeNode string // or remove this WP, which has no edges left
}

// buildGraph loads every WP, then every depends_on edge between WPs.
func (s *Store) buildGraph(ctx context.Context) error {
	g := depgraph.New()
	rows, err := s.writer.QueryContext(ctx, `SELECT id, key, project_id, feature_id, state, estimate, priority FROM wps`)
	if err != nil {
		return fmt.Errorf("sqlitestore: load graph: %w", err)
	}
	for rows.Next() {
		var n agileplus.GraphNode
		var prio int
		if err := rows.Scan(&n.ID, &n.Key, &n.ProjectID, &n.FeatureID, &n.State, &n.Estimate, &prio); err != nil {
			rows.Close()
			return fmt.Errorf("sqlitestore: load graph: %w", err)
		}
		n.Priority = agileplus.PriorityOfRank(prio)
		if err := g.PutNode(n); err != nil {
			rows.Close()
			return fmt.Errorf("sqlitestore: load graph: wp %s: %w", n.Key, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitestore: load graph: %w", err)
	}
	rows, err = s.writer.QueryContext(ctx, `SELECT from_id, to_id FROM dependencies WHERE kind = 'depends_on' AND entity_kind = 'wp'`)
	if err != nil {
		return fmt.Errorf("sqlitestore: load graph: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return fmt.Errorf("sqlitestore: load graph: %w", err)
		}
		if err := g.AddEdge(from, to); err != nil {
			return fmt.Errorf("sqlitestore: load graph: edge %s -> %s: %w", from, to, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitestore: load graph: %w", err)
	}
	g.Compact()
	s.graph.mu.Lock()
	s.graph.g = g
	s.graph.mu.Unlock()
	return nil
}

// applyGraph applies a succeeded command's changes. The database already
// holds them, so a refusal here means the index and the database disagree:
// the caller rebuilds the index.
func (s *Store) applyGraph(ops []graphOp) error {
	if len(ops) == 0 {
		return nil
	}
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	for _, op := range ops {
		var err error
		switch {
		case op.node != nil:
			err = s.graph.g.PutNode(*op.node)
		case op.removeNode != "":
			err = s.graph.g.RemoveNode(op.removeNode)
		case op.removeEdge:
			err = s.graph.g.RemoveEdge(op.from, op.to)
		default:
			err = s.graph.g.AddEdge(op.from, op.to)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadGraph runs fn on the dependency graph of every WP under a read lock;
// fn must not keep the graph after it returns.
func (s *Store) ReadGraph(ctx context.Context, fn func(agileplus.GraphIndex) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.graphErr.Load(); err != nil {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store: graph index out of step with the database: %v", *err)
	}
	s.graph.mu.RLock()
	defer s.graph.mu.RUnlock()
	return fn(s.graph.g)
}

func graphNode(w *agileplus.WP) *agileplus.GraphNode {
	return &agileplus.GraphNode{ID: w.ID, Key: w.Key, ProjectID: w.ProjectID, FeatureID: w.FeatureID, State: w.State, Estimate: w.Estimate, Priority: w.Priority}
}

// graphPath answers DependsOnPath between two WPs from the index.
func (s *Store) graphPath(ctx context.Context, from, to string) ([]string, error) {
	var keys []string
	err := s.ReadGraph(ctx, func(g agileplus.GraphIndex) error {
		path, err := g.Path(from, to)
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		for _, n := range path {
			keys = append(keys, n.Key)
		}
		return nil
	})
	return keys, err
}
