package depgraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// testDAG is a random DAG of WPs with its own plain adjacency, so queries
// can be checked against computations that do not use Graph.
type testDAG struct {
	nodes  []agileplus.GraphNode
	rank   []int      // topological rank: edges go from a higher rank to a lower one
	edges  [][2]int32 // from depends on to
	out    [][]int32  // distinct depends_on targets
	in     [][]int32  // distinct dependents
	byKey  map[string]int32
	nprojs int
}

// newTestDAG makes n WPs in nprojs projects of nfeat features each, with m
// distinct depends_on edges, half between WPs close in topological order and
// half uniform, about a third of the WPs done and mixed estimates.
func newTestDAG(seed uint64, n, m, nprojs, nfeat int) *testDAG {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &testDAG{nodes: make([]agileplus.GraphNode, n), out: make([][]int32, n), in: make([][]int32, n),
		byKey: make(map[string]int32, n), nprojs: nprojs}
	ests := []float64{0, 0.1, 0.2, 0.3, 0.5, 1, 1, 1, 2, 3, 8, 13.7}
	for j := range n {
		p, num := j%nprojs, j/nprojs+1
		state := agileplus.WPStates[r.IntN(len(agileplus.WPStates))]
		if r.IntN(10) < 2 {
			state = agileplus.WPDone
		}
		d.nodes[j] = agileplus.GraphNode{
			ID:        fmt.Sprintf("wp_%026d", j),
			Key:       fmt.Sprintf("P%c-%d", 'A'+p, num),
			ProjectID: fmt.Sprintf("prj_%c", 'A'+p),
			FeatureID: fmt.Sprintf("fea_%c%d", 'A'+p, num%nfeat),
			State:     state,
			Estimate:  ests[r.IntN(len(ests))],
		}
		d.byKey[d.nodes[j].Key] = int32(j)
	}
	d.rank = r.Perm(n)
	byRank := make([]int32, n)
	for v, rk := range d.rank {
		byRank[rk] = int32(v)
	}
	seen := make(map[[2]int32]bool, m)
	for len(d.edges) < m {
		u := int32(r.IntN(n))
		rk := d.rank[u]
		if rk == 0 {
			continue
		}
		var v int32
		if r.IntN(2) == 0 {
			v = byRank[rk-1-r.IntN(min(30, rk))]
		} else {
			v = byRank[r.IntN(rk)]
		}
		if e := [2]int32{u, v}; !seen[e] {
			seen[e] = true
			d.edges = append(d.edges, e)
			d.out[u] = append(d.out[u], v)
			d.in[v] = append(d.in[v], u)
		}
	}
	return d
}

// build loads the DAG into a Graph, nodes and edges in an order shuffled
// by seed, each edge added dup+1 times.
func (d *testDAG) build(tb testing.TB, seed uint64, dup int) *Graph {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	g := New()
	for _, j := range r.Perm(len(d.nodes)) {
		if err := g.PutNode(d.nodes[j]); err != nil {
			tb.Fatal(err)
		}
	}
	for range dup + 1 {
		for _, i := range r.Perm(len(d.edges)) {
			e := d.edges[i]
			if err := g.AddEdge(d.nodes[e[0]].ID, d.nodes[e[1]].Key); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return g
}

func (d *testDAG) done(v int32) bool { return d.nodes[v].State == agileplus.WPDone }

// keyBefore is the key order, parsed from scratch: project key, then number.
func keyBefore(a, b string) bool {
	i, j := strings.LastIndexByte(a, '-'), strings.LastIndexByte(b, '-')
	if a[:i] != b[:j] {
		return a[:i] < b[:j]
	}
	x, _ := strconv.Atoi(a[i+1:])
	y, _ := strconv.Atoi(b[j+1:])
	return x < y
}

func (d *testDAG) sortedKeys(vs []int32) []string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = d.nodes[v].Key
	}
	sort.Slice(keys, func(i, j int) bool { return keyBefore(keys[i], keys[j]) })
	return keys
}

func nodeKeys(ns []agileplus.GraphNode) []string {
	keys := make([]string, len(ns))
	for i, n := range ns {
		keys[i] = n.Key
	}
	return keys
}

// bfs returns the distance in edges from src along adj to every node, -1
// when unreachable.
func bfs(adj [][]int32, src int32) []int {
	dist := make([]int, len(adj))
	for i := range dist {
		dist[i] = -1
	}
	dist[src] = 0
	q := []int32{src}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		for _, w := range adj[u] {
			if dist[w] < 0 {
				dist[w] = dist[u] + 1
				q = append(q, w)
			}
		}
	}
	return dist
}

// closure returns, for every node, the set of nodes it transitively depends
// on, as bitsets, by unions in topological order.
func (d *testDAG) closure() [][]uint64 {
	n := len(d.nodes)
	words := (n + 63) / 64
	deps := make([][]uint64, n)
	byRank := make([]int32, n)
	for v, rk := range d.rank {
		byRank[rk] = int32(v)
	}
	for _, v := range byRank {
		deps[v] = make([]uint64, words)
		for _, t := range d.out[v] {
			deps[v][t/64] |= 1 << (t % 64)
			for i, w := range deps[t] {
				deps[v][i] |= w
			}
		}
	}
	return deps
}

func has(set []uint64, v int32) bool { return set[v/64]&(1<<(v%64)) != 0 }

// peel assigns every open WP its layer by repeatedly removing the open WPs
// that wait on no open WP left.
func (d *testDAG) peel() []int {
	layer := make([]int, len(d.nodes))
	left := 0
	for v := range d.nodes {
		layer[v] = -1
		if !d.done(int32(v)) {
			left++
		}
	}
	for round := 0; left > 0; round++ {
		var peeled []int
		for v := range d.nodes {
			if d.done(int32(v)) || layer[v] >= 0 {
				continue
			}
			free := true
			for _, t := range d.out[v] {
				if !d.done(t) && (layer[t] < 0 || layer[t] == round) {
					free = false
					break
				}
			}
			if free {
				peeled = append(peeled, v)
			}
		}
		if len(peeled) == 0 {
			panic("peel: cycle")
		}
		for _, v := range peeled {
			layer[v] = round
		}
		left -= len(peeled)
	}
	return layer
}

// schedule computes ES and LF over the open WPs passing in by relaxing
// every edge until nothing changes.
func (d *testDAG) schedule(in func(agileplus.GraphNode) bool) (es, lf []float64, length float64, considered []bool) {
	n := len(d.nodes)
	considered = make([]bool, n)
	for v, nd := range d.nodes {
		considered[v] = nd.State != agileplus.WPDone && in(nd)
	}
	es, lf = make([]float64, n), make([]float64, n)
	for changed := true; changed; {
		changed = false
		for _, e := range d.edges {
			u, t := e[0], e[1]
			if considered[u] && considered[t] && es[t]+d.nodes[t].Estimate > es[u] {
				es[u], changed = es[t]+d.nodes[t].Estimate, true
			}
		}
	}
	for v := range n {
		if considered[v] {
			length = max(length, es[v]+d.nodes[v].Estimate)
		}
	}
	for v := range lf {
		lf[v] = length
	}
	for changed := true; changed; {
		changed = false
		for _, e := range d.edges {
			u, t := e[0], e[1]
			if considered[u] && considered[t] && lf[u]-d.nodes[u].Estimate < lf[t] {
				lf[t], changed = lf[u]-d.nodes[u].Estimate, true
			}
		}
	}
	return es, lf, length, considered
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-7*max(1, math.Abs(a), math.Abs(b)) }

func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := agileplus.ErrorCode(err); got != code {
		t.Fatalf("got code %q (err %v), want %q", got, err, code)
	}
	if got := agileplus.ErrorField(err); got != field {
		t.Fatalf("got field %q (err %v), want %q", got, err, field)
	}
}

func TestGraphRandomDAG(t *testing.T) {
	d := newTestDAG(7, 2000, 6000, 3, 8)
	g := d.build(t, 1, 0)
	if g.Len() != 2000 || g.EdgeCount() != 6000 {
		t.Fatalf("got %d WPs and %d edges, want 2000 and 6000", g.Len(), g.EdgeCount())
	}
	r := rand.New(rand.NewPCG(3, 3))

	t.Run("ready and layers", func(t *testing.T) {
		layer := d.peel()
		for p := range d.nprojs {
			pid := fmt.Sprintf("prj_%c", 'A'+p)
			var want [][]int32
			open := 0
			for v, nd := range d.nodes {
				if nd.ProjectID != pid || layer[v] < 0 {
					continue
				}
				open++
				for len(want) <= layer[v] {
					want = append(want, nil)
				}
				want[layer[v]] = append(want[layer[v]], int32(v))
			}
			got := g.Layers(pid)
			if got.Open != open || len(got.Cyclic) != 0 {
				t.Fatalf("%s: got open %d cyclic %d, want %d and 0", pid, got.Open, len(got.Cyclic), open)
			}
			if len(got.Layers) != len(want) {
				t.Fatalf("%s: got %d layers, want %d", pid, len(got.Layers), len(want))
			}
			for i := range want {
				if g, w := nodeKeys(got.Layers[i]), d.sortedKeys(want[i]); !slices.Equal(g, w) {
					t.Fatalf("%s layer %d: got %v, want %v", pid, i, g, w)
				}
			}
			if g, w := nodeKeys(g.Ready(pid, 0, 0)), d.sortedKeys(want[0]); !slices.Equal(g, w) {
				t.Fatalf("%s ready: got %v, want %v", pid, g, w)
			}
			var paged []string
			for after := int64(0); ; {
				page := nodeKeys(g.Ready(pid, after, 7))
				paged = append(paged, page...)
				if len(page) < 7 {
					break
				}
				after, _ = strconv.ParseInt(page[6][strings.IndexByte(page[6], '-')+1:], 10, 64)
			}
			if w := d.sortedKeys(want[0]); !slices.Equal(paged, w) {
				t.Fatalf("%s ready by pages of 7: got %v, want %v", pid, paged, w)
			}
		}
	})

	t.Run("shortest paths", func(t *testing.T) {
		checked, found := 0, 0
		for range 100 {
			a := int32(r.IntN(len(d.nodes)))
			dist := bfs(d.out, a)
			var reachable []int32
			for v, dv := range dist {
				if dv > 0 {
					reachable = append(reachable, int32(v))
				}
			}
			targets := []int32{}
			for range 5 {
				targets = append(targets, int32(r.IntN(len(d.nodes))))
			}
			for range min(10, len(reachable)) {
				targets = append(targets, reachable[r.IntN(len(reachable))])
			}
			for _, b := range targets {
				if a == b {
					continue
				}
				checked++
				path, err := g.Path(d.nodes[a].Key, d.nodes[b].ID)
				if dist[b] < 0 {
					wantCode(t, err, agileplus.ENOTFOUND, "")
					if want := fmt.Sprintf("no blocking path from %s to %s", d.nodes[a].Key, d.nodes[b].Key); agileplus.ErrorMessage(err) != want {
						t.Fatalf("got message %q, want %q", agileplus.ErrorMessage(err), want)
					}
					continue
				}
				found++
				if err != nil {
					t.Fatalf("path %s -> %s: %v", d.nodes[a].Key, d.nodes[b].Key, err)
				}
				if len(path)-1 != dist[b] {
					t.Fatalf("path %s -> %s: got %d hops, want %d", d.nodes[a].Key, d.nodes[b].Key, len(path)-1, dist[b])
				}
				if path[0].ID != d.nodes[a].ID || path[len(path)-1].ID != d.nodes[b].ID {
					t.Fatalf("path %v does not run from %s to %s", nodeKeys(path), d.nodes[a].Key, d.nodes[b].Key)
				}
				for i := 1; i < len(path); i++ {
					if !slices.Contains(d.out[d.byKey[path[i-1].Key]], d.byKey[path[i].Key]) {
						t.Fatalf("path %v: %s does not depend on %s", nodeKeys(path), path[i-1].Key, path[i].Key)
					}
				}
				// The first WP in key order at every step: walk from a to
				// the first target one step closer to b.
				toB := bfs(d.in, b)
				want := []string{d.nodes[a].Key}
				for u := a; u != b; {
					next := int32(-1)
					for _, w := range d.out[u] {
						if toB[w] == toB[u]-1 && (next < 0 || keyBefore(d.nodes[w].Key, d.nodes[next].Key)) {
							next = w
						}
					}
					want = append(want, d.nodes[next].Key)
					u = next
				}
				if got := nodeKeys(path); !slices.Equal(got, want) {
					t.Fatalf("path %s -> %s: got %v, want the first in key order %v", d.nodes[a].Key, d.nodes[b].Key, got, want)
				}
			}
		}
		if found < 500 || checked-found < 50 {
			t.Fatalf("checked %d pairs, %d with a path: too few of one kind", checked, found)
		}
	})

	t.Run("blockers and dependents", func(t *testing.T) {
		for range 200 {
			v := int32(r.IntN(len(d.nodes)))
			for _, depth := range []int{1, 2, 3, 5, 100} {
				for _, dir := range []string{"blockers", "dependents"} {
					adj, query := d.out, g.Blockers
					if dir == "dependents" {
						adj, query = d.in, g.Dependents
					}
					dist := bfs(adj, v)
					var want []string
					truncated := false
					for dd := 1; dd <= depth; dd++ {
						var level []int32
						for w, dw := range dist {
							if dw == dd {
								level = append(level, int32(w))
							}
						}
						for _, k := range d.sortedKeys(level) {
							want = append(want, fmt.Sprintf("%s@%d", k, dd))
						}
					}
					for _, dw := range dist {
						truncated = truncated || dw > depth
					}
					res, err := query(d.nodes[v].Key, true, depth)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, h := range res.WPs {
						got = append(got, fmt.Sprintf("%s@%d", h.Key, h.Depth))
					}
					if !slices.Equal(got, want) || res.Truncated != truncated || res.Direction != dir || res.Depth != depth {
						t.Fatalf("%s of %s depth %d: got %v truncated %v, want %v truncated %v",
							dir, d.nodes[v].Key, depth, got, res.Truncated, want, truncated)
					}
					if depth == 1 {
						direct, err := query(d.nodes[v].ID, false, 0)
						if err != nil {
							t.Fatal(err)
						}
						if !reflect.DeepEqual(direct, res) {
							t.Fatalf("%s of %s: direct %+v differs from depth 1 %+v", dir, d.nodes[v].Key, direct, res)
						}
					}
				}
			}
		}
	})

	t.Run("impact and transitive blockers", func(t *testing.T) {
		deps := d.closure()
		for x := range int32(len(d.nodes)) {
			var want, wantBlockers []int32
			open, est := 0, 0.0
			for v := range int32(len(d.nodes)) {
				if has(deps[v], x) {
					want = append(want, v)
					if !d.done(v) {
						open++
						est += d.nodes[v].Estimate
					}
				}
				if has(deps[x], v) {
					wantBlockers = append(wantBlockers, v)
				}
			}
			res, err := g.Impact(d.nodes[x].ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			first, err := g.Impact(d.nodes[x].Key, 5)
			if err != nil {
				t.Fatal(err)
			}
			if first.Count != res.Count || first.Estimate != res.Estimate || first.Truncated != (res.Count > 5) ||
				res.Truncated || !reflect.DeepEqual(first.WPs, res.WPs[:min(5, len(res.WPs))]) {
				t.Fatalf("impact of %s limited to 5: got %+v, want the first of %+v", d.nodes[x].Key, first, res)
			}
			got := []string{}
			for _, h := range res.WPs {
				got = append(got, h.Key)
			}
			slices.SortFunc(got, func(a, b string) int { return strings.Compare(a, b) })
			wantKeys := d.sortedKeys(want)
			slices.SortFunc(wantKeys, func(a, b string) int { return strings.Compare(a, b) })
			// Added up in key order, exactly.
			keyEst := 0.0
			for _, k := range d.sortedKeys(want) {
				if n := d.nodes[d.byKey[k]]; n.State != agileplus.WPDone {
					keyEst += n.Estimate
				}
			}
			if !slices.Equal(got, wantKeys) || res.Count != len(want) || res.Open != open || !near(res.Estimate, est) || res.Estimate != keyEst {
				t.Fatalf("impact of %s: got %d WPs (%d open, %gh), want %d (%d open, %gh)",
					d.nodes[x].Key, res.Count, res.Open, res.Estimate, len(want), open, est)
			}
			for i := 1; i < len(res.WPs); i++ {
				a, b := res.WPs[i-1], res.WPs[i]
				if a.Depth > b.Depth || a.Depth == b.Depth && !keyBefore(a.Key, b.Key) {
					t.Fatalf("impact of %s: %s@%d before %s@%d", d.nodes[x].Key, a.Key, a.Depth, b.Key, b.Depth)
				}
			}
			bl, err := g.Blockers(d.nodes[x].Key, true, agileplus.MaxGraphDepth)
			if err != nil {
				t.Fatal(err)
			}
			if len(bl.WPs) != len(wantBlockers) || bl.Truncated {
				t.Fatalf("transitive blockers of %s: got %d, want %d", d.nodes[x].Key, len(bl.WPs), len(wantBlockers))
			}
			for _, h := range bl.WPs {
				if !has(deps[x], d.byKey[h.Key]) {
					t.Fatalf("transitive blockers of %s: %s is not one", d.nodes[x].Key, h.Key)
				}
			}
		}
	})

	t.Run("critical path", func(t *testing.T) {
		filters := map[string]func(agileplus.GraphNode) bool{
			"all":       nil,
			"project A": agileplus.InProject("prj_A"),
			"project C": agileplus.InProject("prj_C"),
			"feature":   agileplus.InFeature("fea_B3"),
			"estimate":  func(n agileplus.GraphNode) bool { return n.Estimate >= 1 },
		}
		for name, filter := range filters {
			in := filter
			if in == nil {
				in = func(agileplus.GraphNode) bool { return true }
			}
			es, lf, length, considered := d.schedule(in)
			res, err := g.CriticalPath(filter, "", 0)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !near(res.Length, length) {
				t.Fatalf("%s: got length %g, want %g", name, res.Length, length)
			}
			var wantSet []int32
			for v, c := range considered {
				if c {
					wantSet = append(wantSet, int32(v))
				}
			}
			if g, w := len(res.WPs), len(wantSet); g != w || g == 0 {
				t.Fatalf("%s: got %d WPs, want %d (and some)", name, g, w)
			}
			for i, s := range res.WPs {
				v := d.byKey[s.Key]
				if !considered[v] || i > 0 && !keyBefore(res.WPs[i-1].Key, s.Key) {
					t.Fatalf("%s: %s is not considered or out of order", name, s.Key)
				}
				e := d.nodes[v].Estimate
				slack := lf[v] - e - es[v]
				if !near(s.EarliestStart, es[v]) || !near(s.EarliestFinish, es[v]+e) || !near(s.LatestFinish, lf[v]) ||
					!near(s.LatestStart, lf[v]-e) || !near(s.Slack, slack) || s.Slack < 0 {
					t.Fatalf("%s: %s got ES %g EF %g LS %g LF %g slack %g, want %g %g %g %g %g", name, s.Key,
						s.EarliestStart, s.EarliestFinish, s.LatestStart, s.LatestFinish, s.Slack,
						es[v], es[v]+e, lf[v]-e, lf[v], slack)
				}
			}
			slack := make(map[string]float64)
			for _, s := range res.WPs {
				slack[s.Key] = s.Slack
			}
			sum := 0.0
			for i, n := range res.Path {
				v := d.byKey[n.Key]
				sum += n.Estimate
				if slack[n.Key] != 0 || !considered[v] {
					t.Fatalf("%s: path WP %s has slack %g", name, n.Key, slack[n.Key])
				}
				if i == 0 {
					for _, w := range d.out[v] {
						if considered[w] {
							t.Fatalf("%s: path starts at %s, which waits on %s", name, n.Key, d.nodes[w].Key)
						}
					}
				} else if !slices.Contains(d.out[v], d.byKey[res.Path[i-1].Key]) {
					t.Fatalf("%s: path %v: %s does not depend on %s", name, nodeKeys(res.Path), n.Key, res.Path[i-1].Key)
				}
			}
			if len(res.Path) == 0 || !near(sum, length) {
				t.Fatalf("%s: path %v sums to %g, want %g", name, nodeKeys(res.Path), sum, length)
			}
		}
	})
}

// TestGraphDeterministic loads one DAG in different orders, once with every
// edge doubled, and wants the same answers.
func TestGraphDeterministic(t *testing.T) {
	d := newTestDAG(11, 600, 1800, 2, 4)
	graphs := []*Graph{d.build(t, 1, 0), d.build(t, 2, 0), d.build(t, 3, 1)}
	answers := func(g *Graph) []any {
		var out []any
		for _, p := range []string{"prj_A", "prj_B"} {
			out = append(out, g.Layers(p), g.Ready(p, 0, 0), g.Ready(p, 50, 10), g.Cycles(p))
			for _, f := range []string{agileplus.ExportJSON, agileplus.ExportDOT, agileplus.ExportMermaid, agileplus.ExportCompact} {
				b, err := g.Export(p, f)
				out = append(out, string(b), err)
			}
		}
		cp, err := g.CriticalPath(nil, "", 0)
		out = append(out, cp, err)
		cp, err = g.CriticalPath(agileplus.InProject("prj_B"), d.nodes[101].Key, 30)
		out = append(out, cp, err)
		for i := range 200 {
			a, b := d.nodes[i*3%600].Key, d.nodes[(i*7+5)%600].Key
			path, err := g.Path(a, b)
			imp, _ := g.Impact(a, 0)
			imp10, _ := g.Impact(b, 10)
			out = append(out, imp10)
			bl, _ := g.Blockers(a, true, 3)
			de, _ := g.Dependents(b, true, 2)
			out = append(out, path, err, imp, bl, de)
		}
		return out
	}
	want := answers(graphs[0])
	for i, g := range graphs[1:] {
		if got := answers(g); !reflect.DeepEqual(got, want) {
			for j := range got {
				if !reflect.DeepEqual(got[j], want[j]) {
					t.Fatalf("graph %d answer %d: got %+v, want %+v", i+1, j, got[j], want[j])
				}
			}
		}
	}
	if g := graphs[2]; g.EdgeCount() != 3600 {
		t.Fatalf("got %d edges, want 3600", g.EdgeCount())
	}
}

// put adds WPs given as "KEY state estimate" (feature f1 of the key's
// project) and edges given as "A>B" (A depends on B).
func put(t *testing.T, g *Graph, specs ...string) {
	t.Helper()
	for _, s := range specs {
		if from, to, ok := strings.Cut(s, ">"); ok {
			if err := g.AddEdge(from, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f := strings.Fields(s)
		est, _ := strconv.ParseFloat(f[2], 64)
		prj := f[0][:strings.IndexByte(f[0], '-')]
		err := g.PutNode(agileplus.GraphNode{ID: "wp_" + f[0], Key: f[0], ProjectID: "prj_" + prj, FeatureID: "fea_" + prj, State: f[1], Estimate: est})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestGraphEdgeCases(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		g := New()
		if l := g.Layers("prj_X"); l.Open != 0 || len(l.Layers) != 0 || l.Layers == nil {
			t.Fatalf("got %+v, want no layers", l)
		}
		if r := g.Ready("prj_X", 0, 0); r == nil || len(r) != 0 {
			t.Fatalf("got %v, want []", r)
		}
		if c := g.Cycles("prj_X"); c == nil || len(c) != 0 {
			t.Fatalf("got %v, want []", c)
		}
		cp, err := g.CriticalPath(nil, "", 0)
		if err != nil || cp.Length != 0 || len(cp.Path) != 0 || len(cp.WPs) != 0 {
			t.Fatalf("got %+v %v, want an empty critical path", cp, err)
		}
		b, err := g.Export("prj_X", agileplus.ExportJSON)
		if err != nil || !bytes.Contains(b, []byte(`"wps": []`)) || !bytes.Contains(b, []byte(`"edges": []`)) {
			t.Fatalf("got %s %v", b, err)
		}
	})
	t.Run("single", func(t *testing.T) {
		g := New()
		put(t, g, "CORE-1 planned 2.5")
		l := g.Layers("prj_CORE")
		if l.Open != 1 || len(l.Layers) != 1 || l.Layers[0][0].Key != "CORE-1" {
			t.Fatalf("got %+v", l)
		}
		cp, err := g.CriticalPath(agileplus.InProject("prj_CORE"), "", 0)
		if err != nil || cp.Length != 2.5 || len(cp.Path) != 1 || cp.WPs[0].Slack != 0 || cp.WPs[0].LatestFinish != 2.5 {
			t.Fatalf("got %+v %v", cp, err)
		}
		imp, err := g.Impact("CORE-1", 0)
		if err != nil || imp.Count != 0 || imp.WPs == nil {
			t.Fatalf("got %+v %v", imp, err)
		}
		put(t, g, "CORE-1 done 2.5")
		if l := g.Layers("prj_CORE"); l.Open != 0 || len(l.Layers) != 0 {
			t.Fatalf("got %+v, want nothing open", l)
		}
	})
	t.Run("errors", func(t *testing.T) {
		g := New()
		put(t, g, "CORE-1 planned 1", "CORE-2 planned 1", "CORE-2>CORE-1")
		tests := []struct {
			name        string
			err         error
			code, field string
		}{
			{"path no path", second(g.Path("CORE-1", "CORE-2")), agileplus.ENOTFOUND, ""},
			{"path unknown from", second(g.Path("CORE-9", "CORE-2")), agileplus.ENOTFOUND, "from"},
			{"path unknown to", second(g.Path("CORE-1", "wp_nope")), agileplus.ENOTFOUND, "to"},
			{"path empty from", second(g.Path("", "CORE-2")), agileplus.EINVALID, "from"},
			{"blockers depth 0", second(g.Blockers("CORE-2", true, 0)), agileplus.EINVALID, "depth"},
			{"blockers depth 101", second(g.Blockers("CORE-2", true, 101)), agileplus.EINVALID, "depth"},
			{"dependents depth -1", second(g.Dependents("CORE-2", true, -1)), agileplus.EINVALID, "depth"},
			{"blockers unknown", second(g.Blockers("CORE-3", false, 0)), agileplus.ENOTFOUND, "wp"},
			{"impact unknown", second(g.Impact("nope", 0)), agileplus.ENOTFOUND, "wp"},
			{"export format", second(g.Export("prj_CORE", "svg")), agileplus.EINVALID, "format"},
			{"add edge unknown", g.AddEdge("CORE-1", "CORE-7"), agileplus.ENOTFOUND, "to"},
			{"remove missing edge", g.RemoveEdge("CORE-1", "CORE-2"), agileplus.ENOTFOUND, ""},
			{"put no id", g.PutNode(agileplus.GraphNode{Key: "CORE-3", ProjectID: "p", State: agileplus.WPPlanned}), agileplus.EINVALID, "id"},
			{"put bad key", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE", ProjectID: "p", State: agileplus.WPPlanned}), agileplus.EINVALID, "key"},
			{"put bad state", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE-3", ProjectID: "p", State: "open"}), agileplus.EINVALID, "state"},
			{"put NaN", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE-3", ProjectID: "p", State: agileplus.WPPlanned, Estimate: math.NaN()}), agileplus.EINVALID, "estimate"},
			{"put bad priority", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE-3", ProjectID: "prj_CORE", State: agileplus.WPPlanned, Priority: "p1"}), agileplus.EINVALID, "priority"},
			{"put key taken", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE-1", ProjectID: "p", State: agileplus.WPPlanned}), agileplus.ECONFLICT, "key"},
			{"put key of another project", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "CORE-3", ProjectID: "p", State: agileplus.WPPlanned}), agileplus.ECONFLICT, "key"},
			{"put key not the project's", g.PutNode(agileplus.GraphNode{ID: "wp_3", Key: "WEB-3", ProjectID: "prj_CORE", State: agileplus.WPPlanned}), agileplus.EINVALID, "key"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err, tt.code, tt.field) })
		}
		// From a WP to itself, by key and by id: the WP alone, no hop.
		if p, err := g.Path("CORE-1", "wp_CORE-1"); err != nil || len(p) != 1 || p[0].Key != "CORE-1" {
			t.Errorf("path to itself: got %v, %v, want [CORE-1]", nodeKeys(p), err)
		}
		if _, err := g.Path("CORE-1", "CORE-2"); agileplus.ErrorMessage(err) != "no blocking path from CORE-1 to CORE-2" {
			t.Fatalf("got %q", agileplus.ErrorMessage(err))
		}
		if g.Len() != 2 || g.EdgeCount() != 1 {
			t.Fatalf("failed calls changed the graph: %d WPs, %d edges", g.Len(), g.EdgeCount())
		}
	})
	t.Run("direct blockers list done ones", func(t *testing.T) {
		g := New()
		put(t, g, "CORE-1 done 1", "CORE-2 planned 1", "CORE-3 doing 1", "CORE-4 done 1",
			"CORE-3>CORE-1", "CORE-3>CORE-2", "CORE-2>CORE-1", "CORE-2>CORE-4")
		res, err := g.Blockers("CORE-3", false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeKeys(hopNodes(res.WPs)); !slices.Equal(got, []string{"CORE-1", "CORE-2"}) || res.WPs[0].State != agileplus.WPDone || !res.Truncated {
			t.Fatalf("got %+v", res)
		}
		if got := nodeKeys(g.Ready("prj_CORE", 0, 0)); !slices.Equal(got, []string{"CORE-2"}) {
			t.Fatalf("ready: got %v, want [CORE-2]", got)
		}
	})
	t.Run("other projects block", func(t *testing.T) {
		g := New()
		put(t, g, "WEB-1 planned 1", "WEB-2 planned 1", "WEB-2>WEB-1", "CORE-1 planned 1", "CORE-2 review 1", "CORE-1>WEB-2")
		l := g.Layers("prj_CORE")
		want := [][]string{{"CORE-2"}, {}, {"CORE-1"}}
		if len(l.Layers) != 3 {
			t.Fatalf("got %+v", l)
		}
		for i := range want {
			if got := nodeKeys(l.Layers[i]); !slices.Equal(got, want[i]) {
				t.Fatalf("layer %d: got %v, want %v", i, got, want[i])
			}
		}
		// The critical path of CORE ignores the edge into WEB.
		cp, err := g.CriticalPath(agileplus.InProject("prj_CORE"), "", 0)
		if err != nil || cp.Length != 1 || nodeKeys(cp.Path)[0] != "CORE-1" {
			t.Fatalf("got %+v %v", cp, err)
		}
		path, err := g.Path("CORE-1", "WEB-1")
		if err != nil || !slices.Equal(nodeKeys(path), []string{"CORE-1", "WEB-2", "WEB-1"}) {
			t.Fatalf("got %v %v", nodeKeys(path), err)
		}
	})
	t.Run("critical path with zero estimates", func(t *testing.T) {
		g := New()
		put(t, g, "CORE-1 planned 0", "CORE-2 planned 3", "CORE-3 planned 0", "CORE-4 planned 1",
			"CORE-2>CORE-1", "CORE-3>CORE-2", "CORE-4>CORE-1")
		cp, err := g.CriticalPath(nil, "", 0)
		if err != nil || cp.Length != 3 || !slices.Equal(nodeKeys(cp.Path), []string{"CORE-1", "CORE-2"}) {
			t.Fatalf("got %+v %v", cp, err)
		}
		if s := cp.WPs[3]; s.Key != "CORE-4" || s.Slack != 2 || s.LatestStart != 2 {
			t.Fatalf("got %+v, want CORE-4 with slack 2", s)
		}
	})
}

// TestGraphCriticalPathPages pages through schedules and wants the pages to
// add up to the whole one, with the whole path on every page.
func TestGraphCriticalPathPages(t *testing.T) {
	d := newTestDAG(5, 900, 2400, 3, 6)
	g := d.build(t, 1, 0)
	filters := []struct {
		name   string
		filter func(agileplus.GraphNode) bool
	}{{"all", nil}, {"project B", agileplus.InProject("prj_B")}, {"feature", agileplus.InFeature("fea_C2")}, {"nothing", agileplus.InProject("prj_X")}}
	for _, f := range filters {
		whole, err := g.CriticalPath(f.filter, "", 0)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if whole.Total != len(whole.WPs) || whole.Next != "" || whole.WPs == nil {
			t.Fatalf("%s, whole: got total %d, %d WPs, next %q; want total = WPs, no next", f.name, whole.Total, len(whole.WPs), whole.Next)
		}
		for _, limit := range []int{1, 7, 100, whole.Total, whole.Total + 1} {
			if limit < 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s by %d", f.name, limit), func(t *testing.T) {
				var got []agileplus.GraphSchedule
				after, pages := "", 0
				for {
					cp, err := g.CriticalPath(f.filter, after, limit)
					if err != nil {
						t.Fatalf("page after %q: %v", after, err)
					}
					pages++
					if cp.Total != whole.Total || cp.Length != whole.Length || !reflect.DeepEqual(cp.Path, whole.Path) {
						t.Fatalf("page after %q: got total %d, length %g, path %v; want %d, %g, %v", after,
							cp.Total, cp.Length, nodeKeys(cp.Path), whole.Total, whole.Length, nodeKeys(whole.Path))
					}
					got = append(got, cp.WPs...)
					if cp.Next == "" {
						break
					}
					if len(cp.WPs) != limit || cp.Next != cp.WPs[limit-1].Key {
						t.Fatalf("page after %q: got %d WPs and next %q, want %d and the last key", after, len(cp.WPs), cp.Next, limit)
					}
					after = cp.Next
				}
				if want := max(1, (whole.Total+limit-1)/limit); pages != want {
					t.Errorf("got %d pages, want %d", pages, want)
				}
				if len(got) != len(whole.WPs) || len(got) > 0 && !reflect.DeepEqual(got, whole.WPs) {
					t.Errorf("pages hold %d WPs, want the %d of the whole schedule in order", len(got), len(whole.WPs))
				}
			})
		}
	}

	// Cursors that name no considered WP start at the first key after them.
	all, _ := g.CriticalPath(nil, "", 0)
	inB, _ := g.CriticalPath(agileplus.InProject("prj_B"), "", 0)
	var doneKey string
	for _, n := range d.nodes {
		if n.State == agileplus.WPDone && n.ProjectID == "prj_A" {
			doneKey = n.Key
			break
		}
	}
	keyAfter := func(k, after string) bool { // the key order, from scratch
		i, j := strings.LastIndexByte(k, '-'), strings.LastIndexByte(after, '-')
		if k[:i] != after[:j] {
			return k[:i] > after[:j]
		}
		x, _ := strconv.ParseUint(k[i+1:], 10, 64)
		y, _ := strconv.ParseUint(after[j+1:], 10, 64)
		if x != y {
			return x > y
		}
		return k > after
	}
	cursors := []struct {
		name, after string
		whole       *agileplus.GraphCriticalPath
		filter      func(agileplus.GraphNode) bool
		limit       int
	}{
		{"before every project", "P-5", all, nil, 5},
		{"before a project's first", "PB-0", all, nil, 5},
		{"between two projects", "PAA-3", all, nil, 5},
		{"past a project's last", "PA-100000", all, nil, 5},
		{"a done WP", doneKey, all, nil, 5},
		{"leading zeros", "PA-007", all, nil, 5},
		{"past everything", "ZZ-1", all, nil, 5},
		{"another project before", "PA-5", inB, agileplus.InProject("prj_B"), 0},
		{"another project after", "PC-1", inB, agileplus.InProject("prj_B"), 3},
		{"a WP of the page's own project", inB.WPs[3].Key, inB, agileplus.InProject("prj_B"), 4},
	}
	for _, tt := range cursors {
		t.Run("after "+tt.name, func(t *testing.T) {
			want := []agileplus.GraphSchedule{}
			for _, s := range tt.whole.WPs {
				if keyAfter(s.Key, tt.after) {
					want = append(want, s)
				}
			}
			wantNext := ""
			if tt.limit > 0 && len(want) > tt.limit {
				want = want[:tt.limit]
				wantNext = want[tt.limit-1].Key
			}
			cp, err := g.CriticalPath(tt.filter, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cp.WPs, want) || cp.Next != wantNext || cp.Total != tt.whole.Total {
				t.Fatalf("got %v next %q total %d, want %v next %q total %d", scheduleKeys(cp.WPs), cp.Next, cp.Total,
					scheduleKeys(want), wantNext, tt.whole.Total)
			}
		})
	}

	for _, after := range []string{"nope", "PA-", "-1", "PA-x", "PA-1.5", "wp_00000000000000000000000001", "PA-99999999999999"} {
		t.Run("bad after "+after, func(t *testing.T) {
			_, err := g.CriticalPath(nil, after, 10)
			wantCode(t, err, agileplus.EINVALID, "after")
		})
	}
}

func scheduleKeys(ss []agileplus.GraphSchedule) []string {
	keys := make([]string, len(ss))
	for i, s := range ss {
		keys[i] = s.Key
	}
	return keys
}

func second[T any](_ T, err error) error { return err }

func hopNodes(hs []agileplus.GraphHop) []agileplus.GraphNode {
	ns := make([]agileplus.GraphNode, len(hs))
	for i, h := range hs {
		ns[i] = h.GraphNode
	}
	return ns
}

func TestGraphCycles(t *testing.T) {
	g := New()
	put(t, g, "CORE-1 planned 1", "CORE-2 planned 1", "CORE-3 doing 1", "CORE-4 planned 1", "CORE-5 done 1",
		"CORE-6 planned 1", "CORE-7 planned 1", "WEB-1 planned 1", "WEB-2 planned 1",
		"CORE-2>CORE-1", "CORE-3>CORE-2", "CORE-1>CORE-3", "CORE-1>CORE-4", "CORE-4>CORE-2", // one component: 1 2 3 4
		"CORE-5>CORE-5",                               // a self-loop on a done WP
		"CORE-6>WEB-1", "WEB-1>WEB-2", "WEB-2>CORE-6", // through another project
		"CORE-7>CORE-6", // waits on a cycle
	)
	want := [][]string{
		{"CORE-1", "CORE-3", "CORE-2", "CORE-1"},
		{"CORE-5", "CORE-5"},
		{"CORE-6", "WEB-1", "WEB-2", "CORE-6"},
	}
	if got := g.Cycles("prj_CORE"); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := g.Cycles("prj_WEB"); !reflect.DeepEqual(got, [][]string{{"WEB-1", "WEB-2", "CORE-6", "WEB-1"}}) {
		t.Fatalf("got %v", got)
	}
	_, err := g.CriticalPath(agileplus.InProject("prj_CORE"), "", 0)
	wantCode(t, err, agileplus.ERULE, "")
	if got, want := agileplus.ErrorMessage(err), "dependency cycle: CORE-1 -> CORE-3 -> CORE-2 -> CORE-1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := g.CriticalPath(agileplus.InFeature("fea_WEB"), "", 0); err != nil {
		t.Fatalf("WEB alone has no cycle: %v", err)
	}
	l := g.Layers("prj_CORE")
	if got := nodeKeys(l.Cyclic); !slices.Equal(got, []string{"CORE-1", "CORE-2", "CORE-3", "CORE-4", "CORE-6", "CORE-7"}) || len(l.Layers) != 0 {
		t.Fatalf("got %+v", l)
	}
	if err := g.RemoveEdge("wp_CORE-1", "CORE-3"); err != nil {
		t.Fatal(err)
	}
	want[0] = []string{"CORE-1", "CORE-4", "CORE-2", "CORE-1"}
	if got := g.Cycles("prj_CORE"); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	t.Run("random", func(t *testing.T) {
		d := newTestDAG(5, 1500, 3000, 2, 4)
		r := rand.New(rand.NewPCG(9, 9))
		for range 12 { // back edges close cycles
			u, v := int32(r.IntN(1500)), int32(r.IntN(1500))
			if u != v && !slices.Contains(d.out[u], v) {
				d.edges = append(d.edges, [2]int32{u, v})
				d.out[u] = append(d.out[u], v)
				d.in[v] = append(d.in[v], u)
			}
		}
		g := d.build(t, 4, 0)
		// Components from mutual reachability.
		reach := make([][]int, len(d.nodes))
		for v := range d.nodes {
			reach[v] = bfs(d.out, int32(v))
		}
		for p := range 2 {
			pid := fmt.Sprintf("prj_%c", 'A'+p)
			var want []string // first WP of the project of each non-trivial component
			for v, nd := range d.nodes {
				if nd.ProjectID != pid {
					continue
				}
				first, big := true, false
				for w := range d.nodes {
					if w != v && reach[v][w] >= 0 && reach[w][v] >= 0 {
						big = true
						if d.nodes[w].ProjectID == pid && keyBefore(d.nodes[w].Key, nd.Key) {
							first = false
						}
					}
				}
				if big && first {
					want = append(want, nd.Key)
				}
			}
			sort.Slice(want, func(i, j int) bool { return keyBefore(want[i], want[j]) })
			got := g.Cycles(pid)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%s: got %d cycles, want %d (and some)", pid, len(got), len(want))
			}
			for i, c := range got {
				if c[0] != want[i] || c[len(c)-1] != c[0] {
					t.Fatalf("%s: cycle %v, want one through %s", pid, c, want[i])
				}
				f, shortest := d.byKey[c[0]], -1
				for _, w := range d.out[f] {
					if dw := reach[w][f]; dw >= 0 && (shortest < 0 || dw+1 < shortest) {
						shortest = dw + 1
					}
				}
				if len(c)-1 != shortest {
					t.Fatalf("%s: cycle %v is not a shortest one", pid, c)
				}
				for j := 1; j < len(c); j++ {
					if !slices.Contains(d.out[d.byKey[c[j-1]]], d.byKey[c[j]]) {
						t.Fatalf("%s: cycle %v: %s does not depend on %s", pid, c, c[j-1], c[j])
					}
				}
			}
			if _, err := g.CriticalPath(agileplus.InProject(pid), "", 0); (agileplus.ErrorCode(err) == agileplus.ERULE) != hasOpenCycle(d, pid) {
				t.Fatalf("%s: got %v, want a cycle error", pid, err)
			}
		}
	})
}

// TestGraphClone changes a clone and its original apart and wants each to
// see only its own changes.
func TestGraphClone(t *testing.T) {
	g := New()
	put(t, g, "CORE-1 planned 1", "CORE-2 planned 1", "CORE-2>CORE-1")
	c := g.Clone()
	if err := c.PutNode(agileplus.GraphNode{ID: "wp_CORE-3", Key: "CORE-3", ProjectID: "prj_CORE", State: agileplus.WPPlanned}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddEdge("CORE-1", "CORE-2"); err != nil {
		t.Fatal(err)
	}
	if err := g.RemoveEdge("CORE-2", "CORE-1"); err != nil {
		t.Fatal(err)
	}
	if g.Len() != 2 || g.EdgeCount() != 0 || len(g.Cycles("prj_CORE")) != 0 {
		t.Fatalf("original: got %d WPs, %d edges, cycles %v; want 2, 0, none", g.Len(), g.EdgeCount(), g.Cycles("prj_CORE"))
	}
	want := [][]string{{"CORE-1", "CORE-2", "CORE-1"}}
	if got := c.Cycles("prj_CORE"); c.Len() != 3 || c.EdgeCount() != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("clone: got %d WPs, %d edges, cycles %v; want 3, 2, %v", c.Len(), c.EdgeCount(), got, want)
	}
	if _, ok := g.Node("CORE-3"); ok {
		t.Fatal("a WP put into the clone is in the original")
	}
}

// hasOpenCycle reports whether the open WPs of a project hold a cycle, by
// peeling those that wait on no open WP of the project left.
func hasOpenCycle(d *testDAG, pid string) bool {
	in := func(v int32) bool { return d.nodes[v].ProjectID == pid && !d.done(v) }
	left := map[int32]bool{}
	for v := range int32(len(d.nodes)) {
		if in(v) {
			left[v] = true
		}
	}
	for {
		removed := false
		for v := range left {
			free := true
			for _, t := range d.out[v] {
				free = free && !left[t]
			}
			if free {
				delete(left, v)
				removed = true
			}
		}
		if !removed {
			return len(left) > 0
		}
	}
}

func TestGraphExport(t *testing.T) {
	g := New()
	put(t, g, "CORE-1 done 1", "CORE-2 planned 2", "CORE-10 doing 0.5", "WEB-3 planned 1",
		"CORE-10>CORE-2", "CORE-10>CORE-1", "CORE-10>WEB-3", "CORE-2>CORE-1", "WEB-3>CORE-2")
	tests := []struct {
		format string
		lines  []string
	}{
		{agileplus.ExportCompact, []string{
			"# project CORE: 3 WPs. KEY [state estimate] -> waits on: open dependencies (done: finished ones)",
			"CORE-1 [done 1h]",
			"CORE-2 [planned 2h] -> waits on: nothing (done: CORE-1)",
			"CORE-10 [doing 0.5h] -> waits on: CORE-2, WEB-3 (done: CORE-1)",
		}},
		{agileplus.ExportDOT, []string{
			`digraph "prj_CORE" {`,
			`  "CORE-1" [label="CORE-1\ndone 1h", style="filled"];`,
			`  "WEB-3" [label="WEB-3\nplanned 1h", style="dashed"];`,
			`  "CORE-2" -> "CORE-10";`,
			`  "WEB-3" -> "CORE-10";`,
			`  "CORE-1" -> "CORE-2";`,
			"}",
		}},
		{agileplus.ExportMermaid, []string{
			"flowchart LR",
			`  CORE_1["CORE-1 done 1h"]:::done`,
			`  CORE_10["CORE-10 doing 0.5h"]`,
			`  WEB_3["WEB-3 planned 1h"]:::other`,
			"  CORE_2 --> CORE_10",
			"  WEB_3 --> CORE_10",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			b, err := g.Export("prj_CORE", tt.format)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(b), "\n")
			for _, l := range tt.lines {
				if !slices.Contains(lines, l) {
					t.Errorf("no line %q in\n%s", l, b)
				}
			}
			if strings.Contains(string(b), "CORE-2 -> WEB-3") || strings.Contains(string(b), `"CORE-2" -> "WEB-3"`) {
				t.Errorf("edges out of other projects are not the project's:\n%s", b)
			}
		})
	}
	t.Run("compact has one line per WP", func(t *testing.T) {
		b, _ := g.Export("prj_CORE", agileplus.ExportCompact)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "# ") || !strings.HasPrefix(lines[3], "CORE-10 ") {
			t.Fatalf("got %q", lines)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := g.Export("prj_CORE", agileplus.ExportJSON)
		if err != nil {
			t.Fatal(err)
		}
		var x agileplus.GraphExport
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatal(err)
		}
		if got := nodeKeys(x.WPs); !slices.Equal(got, []string{"CORE-1", "CORE-2", "CORE-10", "WEB-3"}) {
			t.Fatalf("got %v", got)
		}
		want := agileplus.GraphEdge{From: "wp_CORE-10", To: "wp_WEB-3", FromKey: "CORE-10", ToKey: "WEB-3"}
		if len(x.Edges) != 4 || !slices.Contains(x.Edges, want) {
			t.Fatalf("got %+v", x.Edges)
		}
		if !bytes.Contains(b, []byte(`"id": "wp_CORE-1"`)) || !bytes.Contains(b, []byte(`"project_id": "prj_CORE"`)) {
			t.Fatalf("got %s", b)
		}
	})
}

// TestGraphIncremental applies random writes and checks the index against a
// model after each one.
func TestGraphIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	g := New()
	const n = 60
	model := map[[2]int]int{} // edge -> multiplicity
	state := map[int]string{}
	edges := 0
	for step := range 3000 {
		a, b := r.IntN(n), r.IntN(n)
		ida, idb := fmt.Sprintf("wp_%d", a), fmt.Sprintf("wp_%d", b)
		switch op := r.IntN(10); {
		case op < 3:
			st := agileplus.WPStates[r.IntN(len(agileplus.WPStates))]
			err := g.PutNode(agileplus.GraphNode{ID: ida, Key: fmt.Sprintf("P%c-%d", 'A'+a%2, a), ProjectID: fmt.Sprintf("prj_%d", a%2),
				FeatureID: fmt.Sprintf("fea_%d", r.IntN(3)), State: st, Estimate: float64(r.IntN(5))})
			if err != nil {
				t.Fatal(err)
			}
			state[a] = st
		case op < 7:
			err := g.AddEdge(ida, idb)
			if _, ok := state[a]; !ok {
				wantCode(t, err, agileplus.ENOTFOUND, "from")
				continue
			} else if _, ok := state[b]; !ok {
				wantCode(t, err, agileplus.ENOTFOUND, "to")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model[[2]int{a, b}]++
			edges++
		default:
			err := g.RemoveEdge(ida, idb)
			if model[[2]int{a, b}] == 0 {
				if err == nil {
					t.Fatalf("step %d: removed a missing edge", step)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model[[2]int{a, b}]--
			edges--
		}
		if step%97 == 0 {
			// Lists laid out one after another: later inserts and
			// removals must move or shrink one list, never its
			// neighbours.
			g.Compact()
		}
		// The index mirrors the model: out and in lists hold each edge as
		// often as it was added, sorted in key order.
		if g.EdgeCount() != edges || g.Len() != len(state) {
			t.Fatalf("step %d: got %d WPs %d edges, want %d and %d", step, g.Len(), g.EdgeCount(), len(state), edges)
		}
		for a := range state {
			na, _ := g.Node(fmt.Sprintf("wp_%d", a))
			if na.State != state[a] {
				t.Fatalf("step %d: %s state %s, want %s", step, na.Key, na.State, state[a])
			}
			va := g.byID[na.ID]
			var out, in []string
			open := 0
			for b := range state {
				if state[b] != agileplus.WPDone {
					open += model[[2]int{a, b}]
				}
				for range model[[2]int{a, b}] {
					out = append(out, fmt.Sprintf("wp_%d", b))
				}
				for range model[[2]int{b, a}] {
					in = append(in, fmt.Sprintf("wp_%d", b))
				}
			}
			ids := func(vs []int32) []string {
				var s []string
				for _, v := range vs {
					s = append(s, g.nodes[v].id)
				}
				return s
			}
			gotOut, gotIn := ids(g.out[va]), ids(g.in[va])
			if !slices.IsSortedFunc(g.out[va], g.order) || !slices.IsSortedFunc(g.in[va], g.order) {
				t.Fatalf("step %d: lists of %s out of key order", step, na.Key)
			}
			slices.Sort(gotOut)
			slices.Sort(gotIn)
			slices.Sort(out)
			slices.Sort(in)
			if int(g.nodes[va].open) != open {
				t.Fatalf("step %d: %s counts %d open dependencies, want %d", step, na.Key, g.nodes[va].open, open)
			}
			if !slices.Equal(gotOut, out) || !slices.Equal(gotIn, in) {
				t.Fatalf("step %d: %s out %v in %v, want %v and %v", step, na.Key, gotOut, gotIn, out, in)
			}
		}
	}
	// Project and key changes move a WP in every list that holds it.
	put(t, g, "ZZ-1 planned 1", "ZZ-1>wp_5", "wp_7>ZZ-1")
	if err := g.PutNode(agileplus.GraphNode{ID: "wp_ZZ-1", Key: "AA-1", ProjectID: "prj_AA", State: agileplus.WPDoing, Estimate: 2}); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Node("ZZ-1"); ok {
		t.Fatal("old key still resolves")
	}
	if nd, ok := g.Node("AA-1"); !ok || nd.ID != "wp_ZZ-1" || nd.State != agileplus.WPDoing || nd.FeatureID != "" {
		t.Fatalf("got %+v %v", nd, ok)
	}
	if aa, zz := g.Layers("prj_AA"), g.Layers("prj_ZZ"); aa.Open != 1 || zz.Open != 0 {
		t.Fatalf("WP did not move projects: AA has %d open, ZZ %d", aa.Open, zz.Open)
	}
	for v := range g.nodes {
		if !slices.IsSortedFunc(g.out[v], g.order) || !slices.IsSortedFunc(g.in[v], g.order) {
			t.Fatalf("lists of %s out of key order after a key change", g.nodes[v].key)
		}
	}
	// Projects then members list every WP once, in key order.
	var all []string
	for _, p := range g.projects {
		for _, v := range g.members[p.sym] {
			all = append(all, g.nodes[v].key)
		}
	}
	if len(all) != g.Len() || !sort.SliceIsSorted(all, func(i, j int) bool { return keyBefore(all[i], all[j]) }) {
		t.Fatalf("key order: got %v", all)
	}
}

// TestGraphConcurrentQueries runs queries in parallel, as readers under a
// read lock do, for the race detector.
func TestGraphConcurrentQueries(t *testing.T) {
	d := newTestDAG(13, 500, 1500, 2, 4)
	g := d.build(t, 1, 0)
	want, _ := g.CriticalPath(nil, "", 0)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				a, b := d.nodes[(w*50+i)%500].Key, d.nodes[(i*13)%500].Key
				g.Layers("prj_A")
				g.Path(a, b)
				g.Impact(a, 20)
				g.Blockers(b, true, 3)
				g.Cycles("prj_B")
				if got, _ := g.CriticalPath(nil, "", 0); !reflect.DeepEqual(got, want) {
					t.Error("critical path differs under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
}

// ---- benchmarks on 100,000 WPs and 300,000 edges ----

// benchDAG is one project of 100,000 WPs in 1,000 features, so project
// queries cover the whole graph.
var benchDAG = sync.OnceValues(func() (*testDAG, *Graph) {
	d := newTestDAG(42, 100_000, 300_000, 1, 1000)
	g := New()
	for _, n := range d.nodes {
		if err := g.PutNode(n); err != nil {
			panic(err)
		}
	}
	for _, e := range d.edges {
		if err := g.AddEdge(d.nodes[e[0]].ID, d.nodes[e[1]].ID); err != nil {
			panic(err)
		}
	}
	g.Compact() // as the stores do after loading
	return d, g
})

// benchQuery times fn per call and reports the 99th percentile as well as
// the mean.
func benchQuery(b *testing.B, fn func(i int)) {
	benchDAG()
	b.ReportAllocs()
	b.ResetTimer()
	times := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		fn(i)
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkGraphReady(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.Ready("prj_A", 0, 0) })
}

func BenchmarkGraphReadyPage(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.Ready("prj_A", int64(i*7919%100_000), 100) })
}

func BenchmarkGraphLayers(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.Layers("prj_A") })
}

func BenchmarkGraphBlockersDepth3(b *testing.B) {
	d, g := benchDAG()
	benchQuery(b, func(i int) { g.Blockers(d.nodes[i*7919%len(d.nodes)].ID, true, 3) })
}

func BenchmarkGraphDependentsDepth3(b *testing.B) {
	d, g := benchDAG()
	benchQuery(b, func(i int) { g.Dependents(d.nodes[i*7919%len(d.nodes)].ID, true, 3) })
}

func BenchmarkGraphPath(b *testing.B) {
	d, g := benchDAG()
	benchQuery(b, func(i int) {
		g.Path(d.nodes[i*7919%len(d.nodes)].ID, d.nodes[i*104729%len(d.nodes)].ID)
	})
}

func BenchmarkGraphImpact(b *testing.B) {
	d, g := benchDAG()
	benchQuery(b, func(i int) { g.Impact(d.nodes[i*7919%len(d.nodes)].ID, 0) })
}

func BenchmarkGraphImpactFirst100(b *testing.B) {
	d, g := benchDAG()
	benchQuery(b, func(i int) { g.Impact(d.nodes[i*7919%len(d.nodes)].ID, 100) })
}

func BenchmarkGraphCriticalPathProject(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.CriticalPath(agileplus.InProject("prj_A"), "", agileplus.DefaultPageLimit) })
}

func BenchmarkGraphCriticalPathFeature(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) {
		g.CriticalPath(agileplus.InFeature(fmt.Sprintf("fea_A%d", i%1000)), "", agileplus.DefaultPageLimit)
	})
}

func BenchmarkGraphCycles(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.Cycles("prj_A") })
}

func BenchmarkGraphExportCompact(b *testing.B) {
	_, g := benchDAG()
	benchQuery(b, func(i int) { g.Export("prj_A", agileplus.ExportCompact) })
}

// BenchmarkGraphMemory measures the heap the index holds per WP and per
// edge, strings included (bench/README.md and bench/graph.go use its
// figures).
func BenchmarkGraphMemory(b *testing.B) {
	const n, m = 100_000, 300_000
	d := newTestDAG(42, n, m, 10, 100)
	edges := make([][2]string, m)
	for i, e := range d.edges {
		edges[i] = [2]string{d.nodes[e[0]].ID, d.nodes[e[1]].ID}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		before := heap()
		g := New()
		for j := range n {
			nd := d.nodes[j]
			// Fresh strings, as the store would read them from a row.
			nd.ID, nd.Key = strings.Clone(nd.ID), strings.Clone(nd.Key)
			if err := g.PutNode(nd); err != nil {
				b.Fatal(err)
			}
		}
		withNodes := heap()
		for _, e := range edges {
			if err := g.AddEdge(e[0], e[1]); err != nil {
				b.Fatal(err)
			}
		}
		withEdges := heap()
		b.ReportMetric(float64(withNodes-before)/n, "B/WP")
		b.ReportMetric(float64(withEdges-withNodes)/m, "B/edge")
		b.ReportMetric(float64(withEdges-before)/1e6, "MB")
		runtime.KeepAlive(g)
	}
}

// A node keeps its priority through updates and clones; "" reads as the
// default.
func TestGraphNodePriority(t *testing.T) {
	g := New()
	for _, n := range []agileplus.GraphNode{
		{ID: "wp_1", Key: "CORE-1", ProjectID: "p", State: agileplus.WPPlanned, Priority: agileplus.PriorityUrgent},
		{ID: "wp_2", Key: "CORE-2", ProjectID: "p", State: agileplus.WPPlanned},
	} {
		if err := g.PutNode(n); err != nil {
			t.Fatal(err)
		}
	}
	prio := func(g agileplus.GraphIndex, ref string) string {
		n, _ := g.Node(ref)
		return n.Priority
	}
	if p1, p2 := prio(g, "CORE-1"), prio(g, "CORE-2"); p1 != agileplus.PriorityUrgent || p2 != agileplus.PriorityNormal {
		t.Fatalf("got %q and %q, want urgent and normal", p1, p2)
	}
	if err := g.PutNode(agileplus.GraphNode{ID: "wp_1", Key: "CORE-1", ProjectID: "p", State: agileplus.WPDoing, Priority: agileplus.PriorityLow}); err != nil {
		t.Fatal(err)
	}
	c := g.Clone()
	if p := prio(c, "CORE-1"); p != agileplus.PriorityLow {
		t.Errorf("clone: got %q, want low", p)
	}
	if l := g.Layers("p"); len(l.Layers) != 1 || l.Layers[0][0].Priority != agileplus.PriorityLow {
		t.Errorf("layers: %+v", l)
	}
}

// TestGraphRemoveNode removes WPs, the last of which moves into the freed
// index, and checks every answer against a graph built without them.
func TestGraphRemoveNode(t *testing.T) {
	type wp struct{ key, project, state string }
	wps := []wp{{"A-1", "a", "planned"}, {"A-2", "a", "done"}, {"A-3", "a", "planned"}, {"A-4", "a", "doing"},
		{"A-5", "a", "planned"}, {"B-1", "b", "planned"}, {"B-2", "b", "planned"}}
	edges := [][2]string{{"A-2", "A-1"}, {"A-3", "A-5"}, {"A-5", "A-4"}, {"B-1", "A-5"}, {"B-2", "B-2"}}
	build := func(skip map[string]bool) *Graph {
		g := New()
		for _, w := range wps {
			if skip[w.key] {
				continue
			}
			if err := g.PutNode(agileplus.GraphNode{ID: "wp_" + w.key, Key: w.key, ProjectID: "prj_" + w.project, FeatureID: "fea_1", State: w.state, Estimate: 1}); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range edges {
			if !skip[e[0]] && !skip[e[1]] {
				if err := g.AddEdge("wp_"+e[0], "wp_"+e[1]); err != nil {
					t.Fatal(err)
				}
			}
		}
		return g
	}
	same := func(what string, got, want *Graph) {
		t.Helper()
		if got.Len() != want.Len() || got.EdgeCount() != want.EdgeCount() {
			t.Fatalf("%s: %d WPs, %d edges; want %d, %d", what, got.Len(), got.EdgeCount(), want.Len(), want.EdgeCount())
		}
		for _, p := range []string{"prj_a", "prj_b"} {
			g, _ := got.Export(p, agileplus.ExportJSON)
			w, _ := want.Export(p, agileplus.ExportJSON)
			if !bytes.Equal(g, w) {
				t.Errorf("%s: export of %s:\n%s\nwant:\n%s", what, p, g, w)
			}
			if g, w := got.Layers(p), want.Layers(p); !reflect.DeepEqual(g, w) {
				t.Errorf("%s: layers of %s: %+v, want %+v", what, p, g, w)
			}
		}
		for _, w := range wps {
			gb, gerr := got.Dependents("wp_"+w.key, true, 0)
			wb, werr := want.Dependents("wp_"+w.key, true, 0)
			if !reflect.DeepEqual(gb, wb) || agileplus.ErrorCode(gerr) != agileplus.ErrorCode(werr) {
				t.Errorf("%s: dependents of %s: %+v %v, want %+v %v", what, w.key, gb, gerr, wb, werr)
			}
		}
	}

	g := build(nil)
	wantCode(t, g.RemoveNode("wp_A-1"), agileplus.ERULE, "")
	wantCode(t, g.RemoveNode("wp_B-2"), agileplus.ERULE, "") // its own edge
	wantCode(t, g.RemoveNode("A-9"), agileplus.ENOTFOUND, "wp")
	same("refused", g, build(nil))

	if err := g.RemoveEdge("wp_A-2", "wp_A-1"); err != nil {
		t.Fatal(err)
	}
	edges = edges[1:]
	if err := g.RemoveNode("A-1"); err != nil { // index 0: B-2 moves there
		t.Fatal(err)
	}
	same("A-1 removed", g, build(map[string]bool{"A-1": true}))
	if _, ok := g.Node("wp_A-1"); ok {
		t.Error("A-1 is still found")
	}
	if err := g.RemoveEdge("B-2", "B-2"); err != nil {
		t.Fatal(err)
	}
	edges = edges[:len(edges)-1]
	if err := g.RemoveNode("wp_B-2"); err != nil {
		t.Fatal(err)
	}
	same("B-2 removed", g, build(map[string]bool{"A-1": true, "B-2": true}))
	// The index takes new WPs and edges after removals.
	if err := g.PutNode(agileplus.GraphNode{ID: "wp_A-6", Key: "A-6", ProjectID: "prj_a", FeatureID: "fea_1", State: "planned", Estimate: 1}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddEdge("A-6", "A-3"); err != nil {
		t.Fatal(err)
	}
	wps, edges = append(wps, wp{"A-6", "a", "planned"}), append(edges, [2]string{"A-6", "A-3"})
	same("A-6 added", g, build(map[string]bool{"A-1": true, "B-2": true}))
}
