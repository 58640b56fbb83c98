package agileplus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// featModel is the plan as written, for a naive feature-level answer.
type featModel struct {
	projectOf map[string]string  // feature slug -> project key
	featureOf map[string]string  // WP key -> feature slug
	done      map[string]bool    // WP key -> done
	est       map[string]float64 // WP key -> estimate
	wpEdges   [][2]string        // WP depends_on edges (from, to), with repeats
	featEdges [][2]string        // feature-level depends_on edges (from, to)
	slugs     []string
}

// waits returns the naive waits-on relation: slug -> slugs it waits on.
func (m *featModel) waits() map[string]map[string]bool {
	w := map[string]map[string]bool{}
	add := func(a, b string) {
		if a == b {
			return
		}
		if w[a] == nil {
			w[a] = map[string]bool{}
		}
		w[a][b] = true
	}
	for _, e := range m.wpEdges {
		add(m.featureOf[e[0]], m.featureOf[e[1]])
	}
	for _, e := range m.featEdges {
		add(e[0], e[1])
	}
	return w
}

func reverse(w map[string]map[string]bool) map[string]map[string]bool {
	r := map[string]map[string]bool{}
	for a, bs := range w {
		for b := range bs {
			if r[b] == nil {
				r[b] = map[string]bool{}
			}
			r[b][a] = true
		}
	}
	return r
}

// dists is a plain breadth-first search: slug -> distance from src.
func dists(adj map[string]map[string]bool, src string) map[string]int {
	d := map[string]int{src: 0}
	q := []string{src}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		for v := range adj[u] {
			if _, ok := d[v]; !ok {
				d[v] = d[u] + 1
				q = append(q, v)
			}
		}
	}
	return d
}

// wantHops lists the features at distance 1..maxDepth by depth, then slug,
// as "slug@depth", and whether any lies further.
func wantHops(d map[string]int, maxDepth int) ([]string, bool) {
	type hop struct {
		slug  string
		depth int
	}
	var hs []hop
	more := false
	for s, n := range d {
		switch {
		case n == 0:
		case maxDepth > 0 && n > maxDepth:
			more = true
		default:
			hs = append(hs, hop{s, n})
		}
	}
	slices.SortFunc(hs, func(a, b hop) int {
		if a.depth != b.depth {
			return a.depth - b.depth
		}
		return strings.Compare(a.slug, b.slug)
	})
	out := []string{}
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s@%d", h.slug, h.depth))
	}
	return out, more
}

func gotHops(hs []agileplus.GraphFeatureHop) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s@%d", h.Slug, h.Depth))
	}
	return out
}

// openOf returns a feature's open WPs and their hours, added up in key
// order (the graph's order).
func (m *featModel) openOf(slug string) (int, float64) {
	var keys []string
	for k, f := range m.featureOf {
		if f == slug && !m.done[k] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		pa, na, _ := strings.Cut(a, "-")
		pb, nb, _ := strings.Cut(b, "-")
		if pa != pb {
			return strings.Compare(pa, pb)
		}
		var x, y int
		fmt.Sscan(na, &x)
		fmt.Sscan(nb, &y)
		return x - y
	})
	h := 0.0
	for _, k := range keys {
		h += m.est[k]
	}
	return len(keys), h
}

func nearly(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a)) }

// newFeatureGraphPlan imports a random plan: 40 features over 3 projects
// (4 without WPs), 320 WPs, WP depends_on edges mostly between nearby
// features and across projects, feature-level depends_on edges, and
// relates_to edges of both kinds that must not count.
func newFeatureGraphPlan(t *testing.T, s *agileplus.Service, rng *rand.Rand) *featModel {
	ctx := context.Background()
	m := &featModel{projectOf: map[string]string{}, featureOf: map[string]string{}, done: map[string]bool{}, est: map[string]float64{}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	rec := func(r agileplus.Record) {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	projects := []string{"ALPHA", "BETA", "GAMMA"}
	for _, p := range projects {
		rec(agileplus.Record{Type: agileplus.RecProject, Key: p, Name: p})
	}
	words := []string{"zeta", "apple", "mango", "kiwi", "delta", "omega", "berry", "lemon"}
	const nf = 40
	for i := range nf {
		// Slug order is not creation order.
		slug := fmt.Sprintf("%s-%02d", words[(i*5)%len(words)], nf-i)
		p := projects[rng.IntN(len(projects))]
		m.slugs = append(m.slugs, slug)
		m.projectOf[slug] = p
		rec(agileplus.Record{Type: agileplus.RecFeature, Project: p, Slug: slug, Title: slug})
	}
	next := map[string]int{}
	var wps []string
	wpFeat := []int{}
	for range 320 {
		f := rng.IntN(nf - 4)
		slug := m.slugs[f]
		p := m.projectOf[slug]
		next[p]++
		key := fmt.Sprintf("%s-%d", p, next[p])
		est := float64(rng.IntN(9)) + 0.25*float64(rng.IntN(4))
		state := agileplus.WPPlanned
		if rng.IntN(3) == 0 {
			state = agileplus.WPDone
		}
		m.featureOf[key], m.done[key], m.est[key] = slug, state == agileplus.WPDone, est
		wps = append(wps, key)
		wpFeat = append(wpFeat, f)
		rec(agileplus.Record{Type: agileplus.RecWP, Key: key, Feature: slug, Title: key, State: state, Estimate: &est})
	}
	// WPs of a feature, to pick edges between nearby features.
	byFeat := make([][]string, nf)
	for i, k := range wps {
		byFeat[wpFeat[i]] = append(byFeat[wpFeat[i]], k)
	}
	pick := func(f int) string {
		for {
			if ks := byFeat[((f%(nf-4))+(nf-4))%(nf-4)]; len(ks) > 0 {
				return ks[rng.IntN(len(ks))]
			}
			f++
		}
	}
	seen := map[[2]string]bool{}
	for len(m.wpEdges) < 380 {
		a := wps[rng.IntN(len(wps))]
		var b string
		switch r := rng.IntN(10); {
		case r < 4: // same feature: never a feature edge
			b = pick(slices.Index(m.slugs, m.featureOf[a]))
		case r < 9: // a nearby feature, either way round
			b = pick(slices.Index(m.slugs, m.featureOf[a]) + rng.IntN(7) - 3)
		default:
			b = wps[rng.IntN(len(wps))]
		}
		if a == b || seen[[2]string{a, b}] {
			continue
		}
		seen[[2]string{a, b}] = true
		m.wpEdges = append(m.wpEdges, [2]string{a, b})
		rec(agileplus.Record{Type: agileplus.RecDependency, From: a, To: b, Kind: agileplus.DependsOn})
	}
	for i := 0; i < 60; i++ {
		a, b := wps[rng.IntN(len(wps))], wps[rng.IntN(len(wps))]
		if a != b && !seen[[2]string{a, b}] && !seen[[2]string{b, a}] {
			seen[[2]string{a, b}] = true
			rec(agileplus.Record{Type: agileplus.RecDependency, From: a, To: b, Kind: agileplus.RelatesTo})
		}
	}
	for i := 0; i < 30; i++ {
		a, b := m.slugs[rng.IntN(nf)], m.slugs[rng.IntN(nf)]
		if a == b || seen[[2]string{a, b}] || seen[[2]string{b, a}] {
			continue
		}
		seen[[2]string{a, b}] = true
		if i%3 == 0 {
			rec(agileplus.Record{Type: agileplus.RecDependency, From: a, To: b, Kind: agileplus.RelatesTo})
			continue
		}
		m.featEdges = append(m.featEdges, [2]string{a, b})
		rec(agileplus.Record{Type: agileplus.RecDependency, From: a, To: b, Kind: agileplus.DependsOn})
	}
	if _, err := s.BulkImport(ctx, &buf, agileplus.ImportOptions{AllowCycles: true}); err != nil {
		t.Fatalf("import: %v", err)
	}
	return m
}

// checkFeatureAnswers compares every feature query with the naive model.
// Every stride-th feature is asked about (they are slow under -race).
func checkFeatureAnswers(t *testing.T, s *agileplus.Service, m *featModel, rng *rand.Rand, stride int) {
	t.Helper()
	ctx := context.Background()
	w := m.waits()
	r := reverse(w)
	pathsFound, truncs := 0, 0
	for i, slug := range m.slugs {
		if i%stride != 0 {
			continue
		}
		open, est := m.openOf(slug)
		checkNode := func(what string, n agileplus.GraphFeatureNode) {
			if n.Slug != slug || n.ProjectID == "" || n.Open != open || !nearly(n.OpenEstimate, est) {
				t.Errorf("%s %s: feature %+v, want open %d, %gh", what, slug, n, open, est)
			}
		}
		for _, q := range []struct {
			name string
			adj  map[string]map[string]bool
			fn   func(context.Context, string, bool, int) (*agileplus.GraphFeatureReach, error)
		}{{"blockers", w, s.FeatureBlockers}, {"dependents", r, s.FeatureDependents}} {
			d := dists(q.adj, slug)
			for _, depth := range []int{0, 2, agileplus.MaxGraphDepth} {
				transitive := depth != 0
				res, err := q.fn(ctx, slug, transitive, depth)
				if err != nil {
					t.Fatalf("%s %s depth %d: %v", q.name, slug, depth, err)
				}
				maxD := max(depth, 1)
				want, more := wantHops(d, maxD)
				if got := gotHops(res.Features); !slices.Equal(got, want) {
					t.Errorf("%s %s depth %d:\n got %v\nwant %v", q.name, slug, depth, got, want)
				}
				if res.Truncated != more || res.Depth != maxD || res.Direction != q.name {
					t.Errorf("%s %s depth %d: truncated %v depth %d direction %q, want %v %d %q", q.name, slug, depth, res.Truncated, res.Depth, res.Direction, more, maxD, q.name)
				}
				if more {
					truncs++
				}
				checkNode(q.name, res.Feature)
				for _, h := range res.Features {
					o, e := m.openOf(h.Slug)
					if h.Open != o || !nearly(h.OpenEstimate, e) || h.ProjectID == "" || h.FeatureID == "" {
						t.Errorf("%s %s: hop %+v, want open %d, %gh", q.name, slug, h, o, e)
					}
				}
			}
		}
		// Impact: everything that waits on slug.
		d := dists(r, slug)
		want, _ := wantHops(d, 0)
		limit := 1 + rng.IntN(12)
		im, err := s.FeatureImpact(ctx, slug, limit)
		if err != nil {
			t.Fatalf("impact %s: %v", slug, err)
		}
		var wOpen int
		var wEst float64
		others := slices.Sorted(func(yield func(string) bool) {
			for o, n := range d {
				if n > 0 && !yield(o) {
					return
				}
			}
		})
		for _, o := range others {
			if n, e := m.openOf(o); n > 0 {
				wOpen++
				wEst += e
			}
		}
		if im.Count != len(want) || im.Open != wOpen || !nearly(im.Estimate, wEst) ||
			!slices.Equal(gotHops(im.Features), want[:min(limit, len(want))]) || im.Truncated != (len(want) > limit) {
			t.Errorf("impact %s limit %d: count %d open %d est %g list %v truncated %v; want %d %d %g %v",
				slug, limit, im.Count, im.Open, im.Estimate, gotHops(im.Features), im.Truncated, len(want), wOpen, wEst, want[:min(limit, len(want))])
		}
		checkNode("impact", im.Feature)

		// Paths from slug to a few others.
		fwd := dists(w, slug)
		for range 3 {
			to := m.slugs[rng.IntN(len(m.slugs))]
			if to == slug {
				continue
			}
			p, err := s.FeaturePath(ctx, slug, to)
			n, ok := fwd[to]
			if !ok {
				if agileplus.ErrorCode(err) != agileplus.ENOTFOUND || !strings.Contains(fmt.Sprint(err), "no blocking path") {
					t.Errorf("path %s -> %s: got %v, %v; want no blocking path", slug, to, p, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("path %s -> %s: %v", slug, to, err)
			}
			pathsFound++
			// The naive answer: the first slug one step closer at each step.
			toT := dists(r, to)
			wantPath := []string{slug}
			for u := slug; u != to; {
				var cands []string
				for v := range w[u] {
					if dv, ok := toT[v]; ok && dv == toT[u]-1 {
						cands = append(cands, v)
					}
				}
				slices.Sort(cands)
				u = cands[0]
				wantPath = append(wantPath, u)
			}
			var got []string
			for _, f := range p {
				got = append(got, f.Slug)
			}
			if len(p) != n+1 || !slices.Equal(got, wantPath) {
				t.Errorf("path %s -> %s: got %v, want %v (%d hops)", slug, to, got, wantPath, n)
			}
		}
	}
	if pathsFound < 20/stride || truncs < 10/stride {
		t.Errorf("weak data: %d paths found, %d truncated answers", pathsFound, truncs)
	}
}

// TestFeatureGraphRandom checks the feature-level queries, through the
// Service on a real SQLite store, against a naive computation on the plan
// as written, before and after edits that change the graph.
func TestFeatureGraphRandom(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := agileplus.NewService(store)
	rng := rand.New(rand.NewPCG(11, 17))
	m := newFeatureGraphPlan(t, s, rng)
	checkFeatureAnswers(t, s, m, rng, 1)
	if t.Failed() {
		return
	}

	// Edits: feature edges given as blocks, WP edges added and removed, a
	// WP finished. The cached feature index must follow them.
	added := 0
	for i := 0; added < 6 && i < 100; i++ {
		a, b := m.slugs[rng.IntN(len(m.slugs))], m.slugs[rng.IntN(len(m.slugs))]
		if _, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: a, To: b, Kind: agileplus.Blocks}); err == nil {
			m.featEdges = append(m.featEdges, [2]string{b, a}) // a blocks b: b waits on a
			added++
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m.featureOf {
			if !yield(k) {
				return
			}
		}
	})
	for i, n := 0, 0; n < 15 && i < 300; i++ {
		a, b := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
		if _, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: a, To: b}); err == nil {
			m.wpEdges = append(m.wpEdges, [2]string{a, b})
			n++
		}
	}
	for range 15 {
		e := m.wpEdges[rng.IntN(len(m.wpEdges))]
		es, err := s.Dependencies(ctx, e[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range es {
			if x.Kind == agileplus.DependsOn && x.Direction == agileplus.DependsOn && x.OtherKey == e[1] {
				if err := s.RemoveDependency(ctx, x.ID); err != nil {
					t.Fatal(err)
				}
				m.wpEdges = slices.DeleteFunc(m.wpEdges, func(y [2]string) bool { return y == e })
				break
			}
		}
	}
	for _, k := range keys {
		if !m.done[k] {
			if _, err := s.TransitionWP(ctx, k, agileplus.Transition{To: agileplus.WPDone, Force: true, Reason: "test"}, 0); err == nil {
				m.done[k] = true
				break
			}
		}
	}
	checkFeatureAnswers(t, s, m, rng, 3)
}

// TestFeatureGraphErrors checks the refusals of the feature queries.
func TestFeatureGraphErrors(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := agileplus.NewService(store)
	if _, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	for _, slug := range []string{"api", "ui"} {
		if _, err := s.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: slug, Title: slug}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateWP(ctx, "api", agileplus.WPCreate{Title: "x"}); err != nil {
		t.Fatal(err)
	}
	check := func(name string, err error, code, field, msg string) {
		t.Helper()
		e, ok := err.(*agileplus.Error)
		if !ok || e.Code != code || e.Field != field || !strings.Contains(e.Message, msg) {
			t.Errorf("%s: got %v (%#v), want %s field %q with %q", name, err, err, code, field, msg)
		}
	}
	_, err = s.FeatureBlockers(ctx, "nope", false, 0)
	check("unknown", err, agileplus.ENOTFOUND, "feature", "nope")
	_, err = s.FeatureDependents(ctx, "", false, 0)
	check("empty", err, agileplus.EINVALID, "feature", "required")
	_, err = s.FeatureBlockers(ctx, "CORE-1", false, 0)
	check("a wp", err, agileplus.EINVALID, "feature", "work package")
	_, err = s.FeatureBlockers(ctx, "api", true, agileplus.MaxGraphDepth+1)
	check("too deep", err, agileplus.EINVALID, "depth", "between 1 and")
	_, err = s.FeatureDependents(ctx, "api", true, -1)
	check("negative depth", err, agileplus.EINVALID, "depth", "between 1 and")
	// Without transitive, depth does not apply: the direct edges, as depth 1.
	direct, err := s.FeatureDependents(ctx, "api", false, 3)
	if want, err2 := s.FeatureDependents(ctx, "api", false, 0); err != nil || err2 != nil || !reflect.DeepEqual(direct, want) {
		t.Errorf("depth without transitive: %+v, %v; want %+v, %v", direct, err, want, err2)
	}
	_, err = s.FeatureImpact(ctx, "api", 5000)
	check("impact limit", err, agileplus.EINVALID, "limit", "limit")
	_, err = s.FeatureImpact(ctx, "nope", 0)
	check("impact unknown", err, agileplus.ENOTFOUND, "feature", "nope")
	// From a feature to itself: the feature alone, no hop.
	if self, err := s.FeaturePath(ctx, "api", "api"); err != nil || len(self) != 1 || self[0].Slug != "api" {
		t.Errorf("path to itself: got %+v, %v, want [api]", self, err)
	}
	_, err = s.FeaturePath(ctx, "nope", "api")
	check("path from unknown", err, agileplus.ENOTFOUND, "from", "nope")
	_, err = s.FeaturePath(ctx, "api", "nope")
	check("path to unknown", err, agileplus.ENOTFOUND, "to", "nope")
	_, err = s.FeaturePath(ctx, "api", "ui")
	check("no path", err, agileplus.ENOTFOUND, "", "no blocking path from feature api to feature ui")
	if _, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: "api", To: "ui", Kind: agileplus.RelatesTo}); err != nil {
		t.Fatal(err)
	}
	_, err = s.FeaturePath(ctx, "api", "ui")
	check("relates_to is no path", err, agileplus.ENOTFOUND, "", "no blocking path")
	if _, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: "api", To: "ui"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.FeaturePath(ctx, "api", "ui")
	if err != nil || len(p) != 2 || p[0].Slug != "api" || p[1].Slug != "ui" || p[0].Open != 1 {
		t.Errorf("path api -> ui: got %+v, %v", p, err)
	}
}
