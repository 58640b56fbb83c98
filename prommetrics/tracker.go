package prommetrics

import (
	"context"
	"time"

	"github.com/agileplus/agileplus"
)

// Tracker times the graph queries of t, by query name
// (agileplus_graph_query_duration_seconds); everything else goes to t
// untimed (the HTTP metrics time it by route).
func Tracker(t agileplus.Tracker, m *Metrics) agileplus.Tracker {
	return &tracker{Tracker: t, m: m}
}

type tracker struct {
	agileplus.Tracker
	m *Metrics
}

func (t *tracker) observe(query string, start time.Time) {
	t.m.graphDuration.WithLabelValues(query).Observe(time.Since(start).Seconds())
}

func (t *tracker) Ready(ctx context.Context, projectRef, order string, p agileplus.Page) ([]*agileplus.WP, error) {
	defer t.observe("ready", time.Now())
	return t.Tracker.Ready(ctx, projectRef, order, p)
}

func (t *tracker) Layers(ctx context.Context, projectRef, order string) (*agileplus.GraphLayers, error) {
	defer t.observe("layers", time.Now())
	return t.Tracker.Layers(ctx, projectRef, order)
}

func (t *tracker) FeatureGraph(ctx context.Context, projectRef string) (*agileplus.GraphFeatures, error) {
	defer t.observe("feature_graph", time.Now())
	return t.Tracker.FeatureGraph(ctx, projectRef)
}

func (t *tracker) Blockers(ctx context.Context, wpRef string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	defer t.observe("blockers", time.Now())
	return t.Tracker.Blockers(ctx, wpRef, transitive, depth)
}

func (t *tracker) Dependents(ctx context.Context, wpRef string, transitive bool, depth int) (*agileplus.GraphReach, error) {
	defer t.observe("dependents", time.Now())
	return t.Tracker.Dependents(ctx, wpRef, transitive, depth)
}

func (t *tracker) Path(ctx context.Context, from, to string) ([]agileplus.GraphNode, error) {
	defer t.observe("path", time.Now())
	return t.Tracker.Path(ctx, from, to)
}

func (t *tracker) CriticalPath(ctx context.Context, projectRef, featureRef string, pg agileplus.Page) (*agileplus.GraphCriticalPath, error) {
	defer t.observe("critical_path", time.Now())
	return t.Tracker.CriticalPath(ctx, projectRef, featureRef, pg)
}

func (t *tracker) Impact(ctx context.Context, wpRef string, limit int) (*agileplus.GraphImpact, error) {
	defer t.observe("impact", time.Now())
	return t.Tracker.Impact(ctx, wpRef, limit)
}

func (t *tracker) FeatureBlockers(ctx context.Context, featureRef string, transitive bool, depth int) (*agileplus.GraphFeatureReach, error) {
	defer t.observe("feature_blockers", time.Now())
	return t.Tracker.FeatureBlockers(ctx, featureRef, transitive, depth)
}

func (t *tracker) FeatureDependents(ctx context.Context, featureRef string, transitive bool, depth int) (*agileplus.GraphFeatureReach, error) {
	defer t.observe("feature_dependents", time.Now())
	return t.Tracker.FeatureDependents(ctx, featureRef, transitive, depth)
}

func (t *tracker) FeatureImpact(ctx context.Context, featureRef string, limit int) (*agileplus.GraphFeatureImpact, error) {
	defer t.observe("feature_impact", time.Now())
	return t.Tracker.FeatureImpact(ctx, featureRef, limit)
}

func (t *tracker) FeaturePath(ctx context.Context, from, to string) ([]agileplus.GraphFeatureNode, error) {
	defer t.observe("feature_path", time.Now())
	return t.Tracker.FeaturePath(ctx, from, to)
}

func (t *tracker) Cycles(ctx context.Context, projectRef string) (*agileplus.GraphCycles, error) {
	defer t.observe("cycles", time.Now())
	return t.Tracker.Cycles(ctx, projectRef)
}

func (t *tracker) Export(ctx context.Context, projectRef, format string) ([]byte, error) {
	defer t.observe("export", time.Now())
	return t.Tracker.Export(ctx, projectRef, format)
}
