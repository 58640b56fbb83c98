package agileplus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Graph queries. The service resolves project and feature refs in the store
// and answers from the store's in-memory graph index, except for the
// queries that start from one WP (blockers, dependents, path, impact) when
// the store is a GraphTraverser: those it asks the store.

// graph runs fn on the store's graph index.
func (s *Service) graph(ctx context.Context, fn func(GraphIndex) error) error {
	gr, ok := s.Store.(GraphReader)
	if !ok {
		return Errorf(EUNAVAILABLE, "this store keeps no graph index")
	}
	return gr.ReadGraph(ctx, fn)
}

// projectID resolves a project ref named by field.
func (s *Service) projectID(ctx context.Context, field, ref string) (string, error) {
	if ref == "" {
		return "", FieldErrorf(field, "%s is required", field)
	}
	var id string
	err := s.view(ctx, func(tx ReadTx) error {
		p, err := tx.Project(ctx, ref)
		if err != nil {
			return refNotFound(err, field, ref, "project")
		}
		id = p.ID
		return nil
	})
	return id, err
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

// Layers returns the project's open WPs by layer: layer 0 can start now,
// layer 1 once layer 0 is done, and so on.
func (s *Service) Layers(ctx context.Context, projectRef string) (*GraphLayers, error) {
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	var res *GraphLayers
	err = s.graph(ctx, func(g GraphIndex) error { res = g.Layers(pid); return nil })
	return res, err
}

func checkDepth(transitive bool, depth int) (int, error) {
	switch {
	case !transitive && depth > 1:
		return 0, FieldErrorf("depth", "depth needs transitive=true")
	case !transitive:
		return 1, nil
	case depth == 0:
		return MaxGraphDepth, nil
	case depth < 1 || depth > MaxGraphDepth:
		return 0, FieldErrorf("depth", "depth must be between 1 and %d", MaxGraphDepth)
	}
	return depth, nil
}

// Blockers returns what ref depends on: direct, or transitive up to depth.
func (s *Service) Blockers(ctx context.Context, ref string, transitive bool, depth int) (*GraphReach, error) {
	return s.reach(ctx, ref, transitive, depth, GraphTraverser.Blockers, GraphIndex.Blockers)
}

// Dependents returns what depends on ref: direct, or transitive up to depth.
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
	if t, ok := s.Store.(GraphTraverser); ok {
		res, err := tq(t, ctx, ref, transitive, depth)
		return res, renameField(err, "wp")
	}
	var res *GraphReach
	err = s.graph(ctx, func(g GraphIndex) error {
		var err error
		res, err = gq(g, ref, transitive, depth)
		return renameField(err, "wp")
	})
	return res, err
}

// Path returns the shortest blocking chain from depends_on ... to, or
// ENOTFOUND when there is none.
func (s *Service) Path(ctx context.Context, from, to string) ([]GraphNode, error) {
	if err := wpRef("from", from); err != nil {
		return nil, err
	}
	if err := wpRef("to", to); err != nil {
		return nil, err
	}
	if t, ok := s.Store.(GraphTraverser); ok {
		return t.Path(ctx, from, to)
	}
	var res []GraphNode
	err := s.graph(ctx, func(g GraphIndex) error {
		var err error
		res, err = g.Path(from, to)
		return err
	})
	return res, err
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
// estimate that slips with it.
func (s *Service) Impact(ctx context.Context, ref string, limit int) (*GraphImpact, error) {
	if err := wpRef("wp", ref); err != nil {
		return nil, err
	}
	limit, err := ClampLimit(limit)
	if err != nil {
		return nil, err
	}
	if t, ok := s.Store.(GraphTraverser); ok {
		res, err := t.Impact(ctx, ref, limit)
		return res, renameField(err, "wp")
	}
	var res *GraphImpact
	err = s.graph(ctx, func(g GraphIndex) error {
		var err error
		res, err = g.Impact(ref, limit)
		return renameField(err, "wp")
	})
	return res, err
}

// GraphCycles is the cycle report of a project.
type GraphCycles struct {
	ProjectID string     `json:"project_id"`
	Cycles    [][]string `json:"cycles"` // each a list of keys, the first repeated at the end
}

// Cycles reports the dependency cycles among a project's WPs.
func (s *Service) Cycles(ctx context.Context, projectRef string) (*GraphCycles, error) {
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	res := &GraphCycles{ProjectID: pid}
	err = s.graph(ctx, func(g GraphIndex) error { res.Cycles = g.Cycles(pid); return nil })
	if res.Cycles == nil {
		res.Cycles = [][]string{}
	}
	return res, err
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
	var out []byte
	err = s.graph(ctx, func(g GraphIndex) error {
		var err error
		out, err = g.Export(pid, format)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", projectRef, err)
	}
	return out, nil
}

// FeatureGraph rolls a project's WPs up to its features: per feature the
// WPs, the open ones and their hours, and the features it waits on through
// its WPs' dependencies and through feature-level depends_on edges.
func (s *Service) FeatureGraph(ctx context.Context, projectRef string) (*GraphFeatures, error) {
	pid, err := s.projectID(ctx, "project", projectRef)
	if err != nil {
		return nil, err
	}
	var res *GraphFeatures
	if err := s.graph(ctx, func(g GraphIndex) error { res = g.FeatureRollup(pid); return nil }); err != nil {
		return nil, err
	}
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
			for j := range f.DependsOn {
				d := &f.DependsOn[j]
				if d.Slug == "" {
					if s, ok := slugs[d.FeatureID]; ok {
						d.Slug = s
					} else if other, err := tx.Feature(ctx, d.FeatureID); err == nil {
						d.Slug = other.Slug // a feature of another project
					}
				}
			}
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
