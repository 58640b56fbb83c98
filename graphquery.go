package agileplus

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Graph queries. The service resolves project and feature refs in the store
// and answers from the store's in-memory graph index, except for the
// queries that start from one WP (blockers, dependents, path, impact) when
// the store is a GraphTraverser: those it asks the store.
//
// For a key limited to projects (see scope.go) the refs a query starts
// from must lie in those projects, and WPs of other projects, which
// dependencies across projects can reach, never show: lists leave them
// out, and an answer that cannot leave them out and stay true (a path, a
// cycle, an export drawn whole) is refused.

// graph runs fn on the store's graph index.
func (s *Service) graph(ctx context.Context, fn func(GraphIndex) error) error {
	gr, ok := s.Store.(GraphReader)
	if !ok {
		return Errorf(EUNAVAILABLE, "this store keeps no graph index")
	}
	return gr.ReadGraph(ctx, fn)
}

// projectID resolves a project ref named by field, one the caller may use.
func (s *Service) projectID(ctx context.Context, field, ref string) (string, error) {
	if ref == "" {
		return "", FieldErrorf(field, "%s is required", field)
	}
	lim := limited(ctx)
	var id string
	err := s.view(ctx, func(tx ReadTx) error {
		p, err := tx.Project(ctx, ref)
		if err != nil {
			return refNotFound(err, field, ref, "project")
		}
		id = p.ID
		return allow(lim, field, p.Key)
	})
	return id, err
}

// hidden is the error for an answer that would show a WP of a project the
// principal may not use and cannot leave it out.
func hidden(p *Principal, field, what, key string) error {
	return &Error{Code: EFORBIDDEN, Field: field, Message: fmt.Sprintf("%s passes through %s of project %s, which key %s (limited to projects %s) cannot see",
		what, key, wpKeyProject(key), p.Name, strings.Join(p.Projects, ", "))}
}

// visibleHops leaves out the hops in projects p may not use.
func visibleHops(p *Principal, hs []GraphHop) []GraphHop {
	kept := make([]GraphHop, 0, len(hs))
	for _, h := range hs {
		if p.AllowsProject(wpKeyProject(h.Key)) {
			kept = append(kept, h)
		}
	}
	return kept
}

// wpRef checks that ref names a work package, for the error messages.
func wpRef(field, ref string) error {
	if ref == "" {
		return FieldErrorf(field, "%s is required", field)
	}
	if !IsWPRef(ref) {
		return FieldErrorf(field, "%s %q is not a work package id or key such as CORE-12", field, ref)
	}
	return nil
}

// renameField gives a graph error the caller's field name.
func renameField(err error, field string) error {
	if e, ok := err.(*Error); ok && e.Field != "" && e.Field != field {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// Layers returns the project's open WPs by layer: layer 0 waits on
// nothing open (WPs in progress and claimed ones too: Ready is what can
// start now), layer 1 only on layer 0, and so on. Each layer is in key order, or
// with order OrderPriority by priority, then key order.
func (s *Service) Layers(ctx context.Context, projectRef, order string) (*GraphLayers, error) {
	if err := checkOrder(order); err != nil {
		return nil, err
	}
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	var res *GraphLayers
	err = s.graph(ctx, func(g GraphIndex) error { res = g.Layers(pid); return nil })
	if err == nil && order == OrderPriority {
		for _, l := range res.Layers {
			// Stable: key order within a priority.
			slices.SortStableFunc(l, func(a, b GraphNode) int { return PriorityRank(a.Priority) - PriorityRank(b.Priority) })
		}
	}
	return res, err
}

// checkOrder checks the order of the ready set or the layers.
func checkOrder(order string) error {
	if order != "" && order != OrderKey && order != OrderPriority {
		return FieldErrorf("order", "order must be %s or %s, not %s", OrderKey, OrderPriority, QuoteRef(order))
	}
	return nil
}

func checkDepth(transitive bool, depth int) (int, error) {
	switch {
	case !transitive:
		// Direct edges only: how far a transitive walk goes does not apply.
		return 1, nil
	case depth == 0:
		return MaxGraphDepth, nil
	case depth < 1 || depth > MaxGraphDepth:
		return 0, FieldErrorf("depth", "depth must be between 1 and %d", MaxGraphDepth)
	}
	return depth, nil
}

// Blockers returns what ref depends on: direct, or transitive up to depth.
// For a key limited to projects, WPs of other projects are left out (those
// of its projects reached through them stay, at their depth).
func (s *Service) Blockers(ctx context.Context, ref string, transitive bool, depth int) (*GraphReach, error) {
	return s.reach(ctx, ref, transitive, depth, GraphTraverser.Blockers, GraphIndex.Blockers)
}

// Dependents returns what depends on ref: direct, or transitive up to
// depth; WPs of other projects are left out as for Blockers.
func (s *Service) Dependents(ctx context.Context, ref string, transitive bool, depth int) (*GraphReach, error) {
	return s.reach(ctx, ref, transitive, depth, GraphTraverser.Dependents, GraphIndex.Dependents)
}

func (s *Service) reach(ctx context.Context, ref string, transitive bool, depth int,
	tq func(GraphTraverser, context.Context, string, bool, int) (*GraphReach, error),
	gq func(GraphIndex, string, bool, int) (*GraphReach, error)) (*GraphReach, error) {
	if err := wpRef("wp", ref); err != nil {
		return nil, err
	}
	depth, err := checkDepth(transitive, depth)
	if err != nil {
		return nil, err
	}
	lim := limited(ctx)
	if lim != nil {
		if err := s.checkWPs(ctx, lim, "wp", ref); err != nil {
			return nil, err
		}
	}
	var res *GraphReach
	if t, ok := s.Store.(GraphTraverser); ok {
		res, err = tq(t, ctx, ref, transitive, depth)
		err = renameField(err, "wp")
	} else {
		err = s.graph(ctx, func(g GraphIndex) error {
			var err error
			res, err = gq(g, ref, transitive, depth)
			return renameField(err, "wp")
		})
	}
	if err != nil {
		return nil, err
	}
	if lim != nil {
		res.WPs = visibleHops(lim, res.WPs)
	}
	return res, nil
}

// Path returns the shortest blocking chain from depends_on ... to, or
// ENOTFOUND when there is none. For a key limited to projects, a chain
// through a WP of another project is refused (EFORBIDDEN, field "to"):
// without that WP it would not be a chain.
func (s *Service) Path(ctx context.Context, from, to string) ([]GraphNode, error) {
	if err := wpRef("from", from); err != nil {
		return nil, err
	}
	if err := wpRef("to", to); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	if lim != nil {
		if err := s.checkWPs(ctx, lim, "from", from, "to", to); err != nil {
			return nil, err
		}
	}
	var res []GraphNode
	var err error
	if t, ok := s.Store.(GraphTraverser); ok {
		res, err = t.Path(ctx, from, to)
	} else {
		err = s.graph(ctx, func(g GraphIndex) error {
			var err error
			res, err = g.Path(from, to)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	for _, n := range res {
		if lim != nil && !lim.AllowsProject(wpKeyProject(n.Key)) {
			return nil, hidden(lim, "to", fmt.Sprintf("the blocking path from %s to %s", from, to), n.Key)
		}
	}
	return res, nil
}

// CriticalPath schedules the open WPs of a project or of a feature (exactly
// one of the two refs) by their estimates. The answer holds the whole path
// and one page of the schedule in key order: pg.After is the last WP key
// of the previous page (the answer's Next), pg.Limit is clamped by
// ClampLimit.
func (s *Service) CriticalPath(ctx context.Context, projectRef, featureRef string, pg Page) (*GraphCriticalPath, error) {
	limit, err := ClampLimit(pg.Limit)
	if err != nil {
		return nil, err
	}
	var filter func(GraphNode) bool
	switch {
	case projectRef != "" && featureRef != "":
		return nil, FieldErrorf("feature", "pass a project or a feature, not both")
	case projectRef != "":
		pid, err := s.projectID(ctx, "project", projectRef)
		if err != nil {
			return nil, err
		}
		filter = InProject(pid)
	case featureRef != "":
		f, err := s.Feature(ctx, featureRef)
		if err != nil {
			return nil, refNotFound(err, "feature", featureRef, "feature")
		}
		filter = InFeature(f.ID)
	default:
		return nil, FieldErrorf("project", "project or feature is required")
	}
	var res *GraphCriticalPath
	err = s.graph(ctx, func(g GraphIndex) error {
		var err error
		res, err = g.CriticalPath(filter, pg.After, limit)
		return err
	})
	return res, err
}

// MaxImpactList bounds the WPs an impact answer lists; counts and the
// estimate always cover all of them.
const MaxImpactList = 1000

// Impact returns everything that transitively waits on ref and the total
// estimate that slips with it. For a key limited to projects, WPs of other
// projects are left out of the list and of the figures.
func (s *Service) Impact(ctx context.Context, ref string, limit int) (*GraphImpact, error) {
	if err := wpRef("wp", ref); err != nil {
		return nil, err
	}
	limit, err := ClampLimit(limit)
	if err != nil {
		return nil, err
	}
	lim := limited(ctx)
	q := limit
	if lim != nil {
		if err := s.checkWPs(ctx, lim, "wp", ref); err != nil {
			return nil, err
		}
		q = 0 // every WP, for figures without the hidden ones
	}
	var res *GraphImpact
	if t, ok := s.Store.(GraphTraverser); ok {
		res, err = t.Impact(ctx, ref, q)
		err = renameField(err, "wp")
	} else {
		err = s.graph(ctx, func(g GraphIndex) error {
			var err error
			res, err = g.Impact(ref, q)
			return renameField(err, "wp")
		})
	}
	if err != nil {
		return nil, err
	}
	if lim != nil {
		visibleImpact(lim, res, limit)
	}
	return res, nil
}

// visibleImpact leaves the WPs of projects p may not use out of a whole
// impact answer, figures included, and keeps the first limit.
func visibleImpact(p *Principal, res *GraphImpact, limit int) {
	hs := visibleHops(p, res.WPs)
	// The hours are added up in key order, as the index does.
	byKey := slices.Clone(hs)
	slices.SortFunc(byKey, func(a, b GraphHop) int { return compareWPKeys(a.Key, b.Key) })
	res.Count, res.Open, res.Estimate = len(hs), 0, 0
	for _, h := range byKey {
		if h.State != WPDone {
			res.Open++
			res.Estimate += h.Estimate
		}
	}
	res.WPs, res.Truncated = hs[:min(len(hs), limit)], len(hs) > limit
}

// GraphCycles is the cycle report of a project.
type GraphCycles struct {
	ProjectID string     `json:"project_id"`
	Cycles    [][]string `json:"cycles"` // each a list of keys, the first repeated at the end
}

// Cycles reports the dependency cycles among a project's WPs. For a key
// limited to projects, a cycle through a WP of another project is refused
// (EFORBIDDEN, field "project"): left out, the project would look free of
// it.
func (s *Service) Cycles(ctx context.Context, projectRef string) (*GraphCycles, error) {
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	res := &GraphCycles{ProjectID: pid}
	err = s.graph(ctx, func(g GraphIndex) error { res.Cycles = g.Cycles(pid); return nil })
	if err != nil {
		return nil, err
	}
	if res.Cycles == nil {
		res.Cycles = [][]string{}
	}
	if lim := limited(ctx); lim != nil {
		for _, c := range res.Cycles {
			for _, k := range c {
				if !lim.AllowsProject(wpKeyProject(k)) {
					return nil, hidden(lim, "project", "a dependency cycle of project "+projectRef, k)
				}
			}
		}
	}
	return res, nil
}

// Export writes a project's graph as json, dot, mermaid or compact.
func (s *Service) Export(ctx context.Context, projectRef, format string) ([]byte, error) {
	switch format {
	case ExportJSON, ExportDOT, ExportMermaid, ExportCompact:
	case "":
		return nil, FieldErrorf("format", "format is required: json, dot, mermaid or compact")
	default:
		return nil, FieldErrorf("format", "unknown format %q: json, dot, mermaid or compact", format)
	}
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	lim := limited(ctx)
	var out []byte
	err = s.graph(ctx, func(g GraphIndex) error {
		if lim != nil {
			var err error
			if out, err = visibleExport(lim, g, pid, format); out != nil || err != nil {
				return err
			}
		}
		var err error
		out, err = g.Export(pid, format)
		return err
	})
	if err != nil {
		if ErrorCode(err) == EFORBIDDEN {
			return nil, err
		}
		return nil, fmt.Errorf("export %s: %w", projectRef, err)
	}
	return out, nil
}

// visibleExport is the export for p when the project's WPs depend on WPs of
// projects p may not use: json without them, and EFORBIDDEN (field
// "format") for the formats the index draws whole. It returns nil, nil
// when nothing is hidden.
func visibleExport(p *Principal, g GraphIndex, pid, format string) ([]byte, error) {
	b, err := g.Export(pid, ExportJSON)
	if err != nil {
		return nil, err
	}
	var x GraphExport
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("decode json export: %w", err)
	}
	var hide string
	for _, n := range x.WPs {
		if !p.AllowsProject(wpKeyProject(n.Key)) {
			hide = n.Key
			break
		}
	}
	switch {
	case hide == "":
		return nil, nil
	case format != ExportJSON:
		return nil, &Error{Code: EFORBIDDEN, Field: "format", Message: fmt.Sprintf("the %s export of the project shows %s of project %s, which key %s cannot see; format json leaves such WPs out",
			format, hide, wpKeyProject(hide), p.Name)}
	}
	wps := x.WPs[:0]
	for _, n := range x.WPs {
		if p.AllowsProject(wpKeyProject(n.Key)) {
			wps = append(wps, n)
		}
	}
	edges := []GraphEdge{}
	for _, e := range x.Edges {
		if p.AllowsProject(wpKeyProject(e.ToKey)) {
			edges = append(edges, e)
		}
	}
	x.WPs, x.Edges = wps, edges
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		return nil, fmt.Errorf("encode json export: %w", err)
	}
	return buf.Bytes(), nil
}

// FeatureGraph rolls a project's WPs up to its features: per feature the
// WPs, the open ones and their hours, and the features it waits on through
// its WPs' dependencies and through feature-level depends_on edges. For a
// key limited to projects, features of other projects are left out of
// DependsOn (the layers only ever order the project's own features).
func (s *Service) FeatureGraph(ctx context.Context, projectRef string) (*GraphFeatures, error) {
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	var res *GraphFeatures
	if err := s.graph(ctx, func(g GraphIndex) error { res = g.FeatureRollup(pid); return nil }); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		slugs := map[string]string{}
		byID := map[string]int{}
		for i, f := range res.Features {
			byID[f.FeatureID] = i
		}
		// Every feature of the project, with or without WPs.
		for pg := (Page{Limit: MaxPageLimit}); ; {
			fs, err := tx.Features(ctx, pid, pg)
			if err != nil {
				return err
			}
			for _, f := range fs {
				slugs[f.ID] = f.Slug
				if _, ok := byID[f.ID]; !ok {
					byID[f.ID] = len(res.Features)
					res.Features = append(res.Features, GraphFeature{FeatureID: f.ID, ProjectID: pid, DependsOn: []GraphFeatureEdge{}})
				}
			}
			if len(fs) < pg.Limit {
				break
			}
			pg.After = fs[len(fs)-1].ID
		}
		for i := range res.Features {
			f := &res.Features[i]
			edges, err := tx.Edges(ctx, f.FeatureID)
			if err != nil {
				return err
			}
			for _, e := range edges {
				if e.Direction == DependsOn {
					f.DependsOn = append(f.DependsOn, GraphFeatureEdge{FeatureID: e.Other, Slug: e.OtherKey, Explicit: true})
				}
			}
			f.Slug = slugs[f.FeatureID]
			kept := f.DependsOn[:0]
			for _, d := range f.DependsOn {
				if _, own := slugs[d.FeatureID]; !own && (d.Slug == "" || lim != nil) {
					// A feature of another project.
					other, err := tx.Feature(ctx, d.FeatureID)
					if err == nil {
						d.Slug = other.Slug
					}
					if lim != nil && (err != nil || !lim.AllowsProject(other.ProjectKey)) {
						continue
					}
				} else if d.Slug == "" {
					d.Slug = slugs[d.FeatureID]
				}
				kept = append(kept, d)
			}
			f.DependsOn = kept
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(res.Features, func(a, b GraphFeature) int { return cmp.Compare(a.Slug, b.Slug) })
	res.FeatureLayers()
	return res, nil
}

// FeatureLayers fills Layers and Cyclic: feature F waits on feature G of the
// same project when an edge from F to G is open (a WP edge to a WP not done,
// or a feature-level edge) and G has open WPs.
func (fg *GraphFeatures) FeatureLayers() {
	open := map[string]bool{}
	slug := map[string]string{}
	for _, f := range fg.Features {
		slug[f.FeatureID] = f.Slug
		if f.Open > 0 {
			open[f.FeatureID] = true
		}
	}
	waits := map[string]map[string]bool{}
	pending := map[string]int{}
	for _, f := range fg.Features {
		if !open[f.FeatureID] {
			continue
		}
		pending[f.FeatureID] += 0
		for _, d := range f.DependsOn {
			if !open[d.FeatureID] || d.FeatureID == f.FeatureID || (!d.Explicit && d.Open == 0) {
				continue
			}
			if waits[d.FeatureID] == nil {
				waits[d.FeatureID] = map[string]bool{}
			}
			if !waits[d.FeatureID][f.FeatureID] {
				waits[d.FeatureID][f.FeatureID] = true
				pending[f.FeatureID]++
			}
		}
	}
	fg.Layers = [][]string{}
	var layer []string
	for id, n := range pending {
		if n == 0 {
			layer = append(layer, id)
		}
	}
	done := 0
	for len(layer) > 0 {
		slices.SortFunc(layer, func(a, b string) int { return strings.Compare(slug[a], slug[b]) })
		names := make([]string, len(layer))
		var next []string
		for i, id := range layer {
			names[i] = slug[id]
			for w := range waits[id] {
				if pending[w]--; pending[w] == 0 {
					next = append(next, w)
				}
			}
		}
		fg.Layers = append(fg.Layers, names)
		done += len(layer)
		layer = next
	}
	if done < len(pending) {
		for id, n := range pending {
			if n > 0 {
				fg.Cyclic = append(fg.Cyclic, slug[id])
			}
		}
		slices.Sort(fg.Cyclic)
	}
}
