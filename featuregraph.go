package agileplus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Feature-level graph queries: blockers, dependents, impact and paths over
// features, rolled up from their WPs, across features and projects.
//
// Feature F waits on feature G (G != F) when some WP of F depends_on some
// WP of G, in any state, or when there is a feature-level depends_on edge
// from F to G (explicit). relates_to never counts. The WP part comes from
// the store's graph index (GraphIndex.FeatureIndex); the explicit edges
// from the store: for a search that may go far, all of them at once when
// paging through every dependency costs less than a lookup per feature,
// and otherwise for each feature it visits.
//
// For a key limited to projects, the features a query starts from must lie
// in those projects; features of other projects are left out of reaches
// and impacts (those of its projects reached through them stay, at their
// depth), and a path through one is refused.

// GraphFeatureNode is a feature as the feature queries see it.
type GraphFeatureNode struct {
	FeatureID string `json:"feature_id"`
	Slug      string `json:"slug"`
	ProjectID string `json:"project_id"`
	// Open counts its WPs not done, OpenEstimate their hours.
	Open         int     `json:"open"`
	OpenEstimate float64 `json:"open_estimate"`
}

// GraphFeatureHop is a feature found by a search, with its distance in
// waits-on steps.
type GraphFeatureHop struct {
	GraphFeatureNode
	Depth int `json:"depth"`
}

// GraphFeatureReach is the answer of FeatureBlockers and FeatureDependents.
type GraphFeatureReach struct {
	Feature GraphFeatureNode `json:"feature"`
	// Direction is "blockers" (what Feature waits on) or "dependents"
	// (what waits on Feature).
	Direction string `json:"direction"`
	// Depth is the depth searched: 1 for direct ones.
	Depth int `json:"depth"`
	// Features are by depth, then slug, each at its shortest distance.
	Features []GraphFeatureHop `json:"features"`
	// Truncated says that more features lie beyond Depth.
	Truncated bool `json:"truncated"`
}

// GraphFeatureImpact is what slips if a feature slips.
type GraphFeatureImpact struct {
	Feature GraphFeatureNode `json:"feature"`
	// Count is the number of features that wait on Feature, directly or
	// not; Open is how many of them have open WPs and Estimate the hours
	// of those open WPs (added up in slug order).
	Count    int     `json:"count"`
	Open     int     `json:"open"`
	Estimate float64 `json:"estimate"`
	// Features are the first of them by depth, then slug; Truncated says
	// that there are more than listed.
	Features  []GraphFeatureHop `json:"features"`
	Truncated bool              `json:"truncated"`
}

// Directions of a feature search.
const (
	waitsOn  = 0 // the features a feature waits on
	waitedBy = 1 // the features that wait on it
)

// featureWalk searches the feature digraph: WP-implied edges from the index
// and explicit ones from the store, both read lazily and cached.
type featureWalk struct {
	ctx   context.Context
	tx    ReadTx
	fi    FeatureIndex
	nodes map[string]*GraphFeatureNode
	adj   [2]map[string][]string
	// explicit holds every feature-level depends_on edge when loaded:
	// [waitsOn][F] lists what F depends on, [waitedBy][G] what depends on G.
	explicit *[2]map[string][]string
	// lim is the caller when limited to projects, allowed the ids of its
	// projects.
	lim     *Principal
	allowed map[string]bool
}

// featureWalk runs fn with a walk over the store's current graph. A walk
// that may go far (far true) loads the explicit feature edges up front when
// that is the cheaper way.
func (s *Service) featureWalk(ctx context.Context, far bool, fn func(w *featureWalk) error) error {
	var fi FeatureIndex
	if err := s.graph(ctx, func(g GraphIndex) error { fi = g.FeatureIndex(); return nil }); err != nil {
		return err
	}
	return s.view(ctx, func(tx ReadTx) error {
		w := &featureWalk{ctx: ctx, tx: tx, fi: fi, nodes: map[string]*GraphFeatureNode{},
			adj: [2]map[string][]string{{}, {}}, lim: limited(ctx)}
		if w.lim != nil {
			var err error
			if w.allowed, err = allowedProjectIDs(ctx, tx, w.lim); err != nil {
				return err
			}
		}
		// Preloading decodes every dependency row; the other way costs a
		// query per feature reached, worth about 16 rows. Preload when the
		// rows are few next to the features.
		if far && fi.WPEdges() <= 16*fi.Len() {
			if err := w.loadExplicit(); err != nil {
				return err
			}
		}
		return fn(w)
	})
}

// loadExplicit reads every feature-level depends_on edge.
func (w *featureWalk) loadExplicit() error {
	x := &[2]map[string][]string{{}, {}}
	for pg := (Page{Limit: MaxPageLimit}); ; {
		ds, err := w.tx.AllDependencies(w.ctx, pg)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.EntityKind == KindFeature && d.Kind == DependsOn {
				x[waitsOn][d.From] = append(x[waitsOn][d.From], d.To)
				x[waitedBy][d.To] = append(x[waitedBy][d.To], d.From)
			}
		}
		if len(ds) < pg.Limit {
			break
		}
		pg.After = ds[len(ds)-1].ID
	}
	w.explicit = x
	return nil
}

// resolve finds a feature by id or slug; field names the input in errors.
func (w *featureWalk) resolve(field, ref string) (*GraphFeatureNode, error) {
	if ref == "" {
		return nil, FieldErrorf(field, "%s is required", field)
	}
	if IsWPRef(ref) {
		return nil, FieldErrorf(field, "%s %q is a work package, not a feature id or slug", field, ref)
	}
	f, err := w.tx.Feature(w.ctx, ref)
	if err != nil {
		return nil, refNotFound(err, field, ref, "feature")
	}
	if err := allow(w.lim, field, f.ProjectKey); err != nil {
		return nil, err
	}
	return w.remember(f), nil
}

// visible reports whether the caller may see the feature with the id.
func (w *featureWalk) visible(id string) bool {
	return w.lim == nil || w.allowed[w.nodes[id].ProjectID]
}

// visibleLevels leaves the features the caller may not see out of levels
// that reach found; the levels keep their depths.
func (w *featureWalk) visibleLevels(levels [][]string) [][]string {
	if w.lim == nil {
		return levels
	}
	out := make([][]string, len(levels))
	for d, level := range levels {
		out[d] = []string{}
		for _, id := range level {
			if w.visible(id) {
				out[d] = append(out[d], id)
			}
		}
	}
	return out
}

func (w *featureWalk) remember(f *Feature) *GraphFeatureNode {
	if n, ok := w.nodes[f.ID]; ok {
		return n
	}
	n := &GraphFeatureNode{FeatureID: f.ID, Slug: f.Slug, ProjectID: f.ProjectID}
	n.Open, n.OpenEstimate = w.fi.Open(f.ID)
	w.nodes[f.ID] = n
	return n
}

// node returns the feature with the id.
func (w *featureWalk) node(id string) (*GraphFeatureNode, error) {
	if n, ok := w.nodes[id]; ok {
		return n, nil
	}
	f, err := w.tx.Feature(w.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("feature %s: %w", id, err)
	}
	return w.remember(f), nil
}

// neighbors returns the distinct features other than id that id waits on
// (dir waitsOn) or that wait on id (dir waitedBy).
func (w *featureWalk) neighbors(id string, dir int) ([]string, error) {
	if ns, ok := w.adj[dir][id]; ok {
		return ns, nil
	}
	var ns []string
	seen := map[string]bool{id: true}
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			ns = append(ns, o)
		}
	}
	seq := w.fi.WaitsOn
	if dir == waitedBy {
		seq = w.fi.WaitedBy
	}
	for o := range seq(id) {
		add(o)
	}
	if w.explicit != nil {
		for _, o := range w.explicit[dir][id] {
			add(o)
		}
		w.adj[dir][id] = ns
		return ns, nil
	}
	edges, err := w.tx.Edges(w.ctx, id)
	if err != nil {
		return nil, err
	}
	want := DependsOn // this one waits on Other
	if dir == waitedBy {
		want = Blocks // Other waits on this one
	}
	for _, e := range edges {
		if e.Kind == DependsOn && e.Direction == want {
			add(e.Other)
		}
	}
	w.adj[dir][id] = ns
	return ns, nil
}

// bySlug sorts feature ids by slug.
func (w *featureWalk) bySlug(ids []string) error {
	for _, id := range ids {
		if _, err := w.node(id); err != nil {
			return err
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(w.nodes[a].Slug, w.nodes[b].Slug) })
	return nil
}

// reach is a breadth-first search from src in direction dir to maxDepth
// steps (no limit if 0), src excluded: the features by depth, each level
// in slug order, and whether more lie beyond maxDepth.
func (w *featureWalk) reach(src string, dir, maxDepth int) (levels [][]string, truncated bool, err error) {
	seen := map[string]bool{src: true}
	level := []string{src}
	for d := 1; len(level) > 0 && (maxDepth == 0 || d <= maxDepth); d++ {
		var next []string
		for _, u := range level {
			ns, err := w.neighbors(u, dir)
			if err != nil {
				return nil, false, err
			}
			for _, v := range ns {
				if !seen[v] {
					seen[v] = true
					next = append(next, v)
				}
			}
		}
		if err := w.bySlug(next); err != nil {
			return nil, false, err
		}
		if len(next) > 0 {
			levels = append(levels, next)
		}
		level = next
	}
	// Stopped at maxDepth with a frontier left: is there more?
	for _, u := range level {
		ns, err := w.neighbors(u, dir)
		if err != nil {
			return nil, false, err
		}
		for _, v := range ns {
			if !seen[v] {
				return levels, true, nil
			}
		}
	}
	return levels, false, nil
}

// hops lists the first limit features of levels (all if limit <= 0).
func (w *featureWalk) hops(levels [][]string, limit int) []GraphFeatureHop {
	hs := []GraphFeatureHop{}
	for d, level := range levels {
		for _, id := range level {
			if limit > 0 && len(hs) == limit {
				return hs
			}
			hs = append(hs, GraphFeatureHop{GraphFeatureNode: *w.nodes[id], Depth: d + 1})
		}
	}
	return hs
}

// FeatureBlockers returns the features that ref (an id or slug) waits on:
// direct ones, or transitive ones up to depth (1 to MaxGraphDepth, 0 for
// the most). Errors: EINVALID or ENOTFOUND (field "feature"), EINVALID
// (field "depth").
func (s *Service) FeatureBlockers(ctx context.Context, ref string, transitive bool, depth int) (*GraphFeatureReach, error) {
	return s.featureReach(ctx, ref, "blockers", waitsOn, transitive, depth)
}

// FeatureDependents returns the features that wait on ref, the other way
// round from FeatureBlockers and with the same rules.
func (s *Service) FeatureDependents(ctx context.Context, ref string, transitive bool, depth int) (*GraphFeatureReach, error) {
	return s.featureReach(ctx, ref, "dependents", waitedBy, transitive, depth)
}

func (s *Service) featureReach(ctx context.Context, ref, direction string, dir int, transitive bool, depth int) (*GraphFeatureReach, error) {
	if ref == "" {
		return nil, FieldErrorf("feature", "feature is required")
	}
	depth, err := checkDepth(transitive, depth)
	if err != nil {
		return nil, err
	}
	var res *GraphFeatureReach
	err = s.featureWalk(ctx, depth > 1, func(w *featureWalk) error {
		src, err := w.resolve("feature", ref)
		if err != nil {
			return err
		}
		levels, truncated, err := w.reach(src.FeatureID, dir, depth)
		if err != nil {
			return err
		}
		levels = w.visibleLevels(levels)
		res = &GraphFeatureReach{Feature: *src, Direction: direction, Depth: depth, Features: w.hops(levels, 0), Truncated: truncated}
		return nil
	})
	return res, err
}

// FeatureImpact returns the features that transitively wait on ref (an id
// or slug), ref excluded: their number, how many have open WPs and those
// WPs' hours, and the first limit of them by depth, then slug (limit 0 for
// DefaultPageLimit, at most MaxImpactList).
func (s *Service) FeatureImpact(ctx context.Context, ref string, limit int) (*GraphFeatureImpact, error) {
	if ref == "" {
		return nil, FieldErrorf("feature", "feature is required")
	}
	limit, err := ClampLimit(limit)
	if err != nil {
		return nil, err
	}
	var res *GraphFeatureImpact
	err = s.featureWalk(ctx, true, func(w *featureWalk) error {
		src, err := w.resolve("feature", ref)
		if err != nil {
			return err
		}
		levels, _, err := w.reach(src.FeatureID, waitedBy, 0)
		if err != nil {
			return err
		}
		levels = w.visibleLevels(levels)
		res = &GraphFeatureImpact{Feature: *src, Features: w.hops(levels, limit)}
		all := slices.Concat(levels...)
		if err := w.bySlug(all); err != nil {
			return err
		}
		for _, id := range all {
			n := w.nodes[id]
			res.Count++
			if n.Open > 0 {
				res.Open++
				res.Estimate += n.OpenEstimate
			}
		}
		res.Truncated = res.Count > len(res.Features)
		return nil
	})
	return res, err
}

// FeaturePath returns a shortest chain of features from waits on X1 waits
// on ... waits on to, both ends included; among equally short chains the
// one that takes the first feature in slug order at every step. Errors:
// ENOTFOUND (field "from" or "to") for an unknown feature, ENOTFOUND "no
// blocking path" when from does not wait on to. From a feature to itself
// the chain is that feature alone.
func (s *Service) FeaturePath(ctx context.Context, from, to string) ([]GraphFeatureNode, error) {
	if from == "" {
		return nil, FieldErrorf("from", "from is required")
	}
	if to == "" {
		return nil, FieldErrorf("to", "to is required")
	}
	var path []GraphFeatureNode
	err := s.featureWalk(ctx, true, func(w *featureWalk) error {
		a, err := w.resolve("from", from)
		if err != nil {
			return err
		}
		b, err := w.resolve("to", to)
		if err != nil {
			return err
		}
		if a.FeatureID == b.FeatureID {
			// The shortest chain from a feature to itself: the feature alone.
			path = []GraphFeatureNode{*a}
			return nil
		}
		// Distances to b, backward from it, until a is reached: then every
		// feature closer to b than a has its final distance.
		dist := map[string]int{b.FeatureID: 0}
		level := []string{b.FeatureID}
		for d := 1; len(level) > 0; d++ {
			var next []string
			for _, u := range level {
				ns, err := w.neighbors(u, waitedBy)
				if err != nil {
					return err
				}
				for _, v := range ns {
					if _, ok := dist[v]; !ok {
						dist[v] = d
						next = append(next, v)
					}
				}
			}
			if _, ok := dist[a.FeatureID]; ok {
				break
			}
			level = next
		}
		if _, ok := dist[a.FeatureID]; !ok {
			return Errorf(ENOTFOUND, "no blocking path from feature %s to feature %s: %s does not wait on %s, directly or through other features",
				a.Slug, b.Slug, a.Slug, b.Slug)
		}
		// Walk from a, taking at every step the first feature in slug
		// order one step closer to b.
		path = append(path, *a)
		for u := a.FeatureID; u != b.FeatureID; {
			ns, err := w.neighbors(u, waitsOn)
			if err != nil {
				return err
			}
			var cands []string
			for _, v := range ns {
				if d, ok := dist[v]; ok && d == dist[u]-1 {
					cands = append(cands, v)
				}
			}
			if err := w.bySlug(cands); err != nil {
				return err
			}
			if len(cands) == 0 { // the store changed under the index
				return Errorf(ECONFLICT, "the graph changed during the query: retry")
			}
			u = cands[0]
			if !w.visible(u) {
				pk := u
				if f, err := w.tx.Feature(w.ctx, u); err == nil {
					pk = f.ProjectKey
				}
				return &Error{Code: EFORBIDDEN, Field: "to", Message: fmt.Sprintf("the blocking path from feature %s to feature %s passes through feature %s of project %s, which key %s (limited to projects %s) cannot see",
					a.Slug, b.Slug, w.nodes[u].Slug, pk, w.lim.Name, strings.Join(w.lim.Projects, ", "))}
			}
			path = append(path, *w.nodes[u])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return path, nil
}
