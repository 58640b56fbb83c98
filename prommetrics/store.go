package prommetrics

import (
	"context"
	"time"

	"github.com/agileplus/agileplus"
)

// Store times the transactions of s (op "view", "update") and, when s has
// them, its graph index reads ("read_graph") and traversals ("blockers",
// "dependents", "path", "impact"). The store it returns implements the
// optional ports s implements among GraphReader and GraphTraverser, the
// ones the Service looks for, and no others.
func Store(s agileplus.Store, m *Metrics) agileplus.Store {
	base := &store{s: s, m: m}
	gr, isReader := s.(agileplus.GraphReader)
	gt, isTraverser := s.(agileplus.GraphTraverser)
	switch {
	case isReader && isTraverser:
		return &traverserStore{graphStore{base, gr}, traverser{base, gt}}
	case isReader:
		return &graphStore{base, gr}
	case isTraverser:
		return &traverserOnlyStore{base, traverser{base, gt}}
	}
	return base
}

type store struct {
	s agileplus.Store
	m *Metrics
}

func (s *store) observe(op string, start time.Time) {
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (s *store) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	defer s.observe("view", time.Now())
	return s.s.View(ctx, fn)
}

func (s *store) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	defer s.observe("update", time.Now())
	return s.s.Update(ctx, fn)
}

func (s *store) Close() error { return s.s.Close() }

type graphStore struct {
	*store
	gr agileplus.GraphReader
}

func (s *graphStore) ReadGraph(ctx context.Context, fn func(agileplus.GraphIndex) error) error {
	defer s.observe("read_graph", time.Now())
	return s.gr.ReadGraph(ctx, fn)
}

// traverser times a GraphTraverser.
type traverser struct {
	s  *store
	gt agileplus.GraphTraverser
}

func (t traverser) Blockers(ctx context.Context, ref string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	defer t.s.observe("blockers", time.Now())
	return t.gt.Blockers(ctx, ref, transitive, depth)
}

func (t traverser) Dependents(ctx context.Context, ref string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	defer t.s.observe("dependents", time.Now())
	return t.gt.Dependents(ctx, ref, transitive, depth)
}

func (t traverser) Path(ctx context.Context, from, to string) ([]agileplus.GraphNode, error) {
	defer t.s.observe("path", time.Now())
	return t.gt.Path(ctx, from, to)
}

func (t traverser) Impact(ctx context.Context, ref string, limit int) (*agileplus.GraphImpact, error) {
	defer t.s.observe("impact", time.Now())
	return t.gt.Impact(ctx, ref, limit)
}

type traverserStore struct {
	graphStore
	traverser
}

type traverserOnlyStore struct {
	*store
	traverser
}

var (
	_ agileplus.GraphReader    = (*graphStore)(nil)
	_ agileplus.GraphTraverser = (*traverserStore)(nil)
	_ agileplus.GraphTraverser = (*traverserOnlyStore)(nil)
)
