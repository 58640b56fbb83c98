package depgraph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// TestGraphFeatureRollup checks the rollup against counts taken directly
// from the nodes and edges put into a random graph.
func TestGraphFeatureRollup(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	g := New()
	const n, features = 600, 12
	type wp struct {
		feature string
		done    bool
		est     float64
	}
	wps := make([]wp, n+1)
	for i := 1; i <= n; i++ {
		w := wp{feature: fmt.Sprintf("fea_%02d", rng.IntN(features)), done: rng.IntN(3) == 0, est: float64(1 + rng.IntN(8))}
		wps[i] = w
		state := agileplus.WPPlanned
		if w.done {
			state = agileplus.WPDone
		}
		if err := g.PutNode(agileplus.GraphNode{ID: fmt.Sprintf("wp_%03d", i), Key: fmt.Sprintf("RU-%d", i), ProjectID: "prj_ru", FeatureID: w.feature, State: state, Estimate: w.est}); err != nil {
			t.Fatal(err)
		}
	}
	type pair struct{ from, to string }
	wantEdges, wantOpen := map[pair]int{}, map[pair]int{}
	seen := map[[2]int]bool{}
	for len(seen) < 1500 {
		a := 2 + rng.IntN(n-1)
		b := 1 + rng.IntN(a-1)
		if seen[[2]int{a, b}] {
			continue
		}
		seen[[2]int{a, b}] = true
		if err := g.AddEdge(fmt.Sprintf("wp_%03d", a), fmt.Sprintf("wp_%03d", b)); err != nil {
			t.Fatal(err)
		}
		if fa, fb := wps[a].feature, wps[b].feature; fa != fb {
			wantEdges[pair{fa, fb}]++
			if !wps[b].done {
				wantOpen[pair{fa, fb}]++
			}
		}
	}
	res := g.FeatureRollup("prj_ru")
	if len(res.Features) != features {
		t.Fatalf("got %d features, want %d", len(res.Features), features)
	}
	gotEdges := 0
	for _, f := range res.Features {
		var count, open int
		var est float64
		for _, w := range wps[1:] {
			if w.feature == f.FeatureID {
				count++
				if !w.done {
					open++
					est += w.est
				}
			}
		}
		if f.WPs != count || f.Open != open || f.OpenEstimate != est {
			t.Errorf("feature %s: got %d WPs, %d open, %gh; want %d, %d, %gh", f.FeatureID, f.WPs, f.Open, f.OpenEstimate, count, open, est)
		}
		for _, d := range f.DependsOn {
			gotEdges++
			p := pair{f.FeatureID, d.FeatureID}
			if d.WPEdges != wantEdges[p] || d.Open != wantOpen[p] {
				t.Errorf("edge %s -> %s: got %d edges, %d open; want %d, %d", p.from, p.to, d.WPEdges, d.Open, wantEdges[p], wantOpen[p])
			}
		}
	}
	if gotEdges != len(wantEdges) {
		t.Errorf("got %d feature edges, want %d", gotEdges, len(wantEdges))
	}
	if got := g.FeatureRollup("prj_none"); len(got.Features) != 0 {
		t.Errorf("got %d features for an unknown project, want 0", len(got.Features))
	}
}

// TestGraphFeatureIndex checks the feature digraph of a small graph, and
// that an index stays as built while the graph changes.
func TestGraphFeatureIndex(t *testing.T) {
	g := New()
	for _, n := range []agileplus.GraphNode{
		{ID: "wp_1", Key: "A-1", ProjectID: "prj_a", FeatureID: "fea_a", State: agileplus.WPPlanned, Estimate: 2},
		{ID: "wp_2", Key: "A-2", ProjectID: "prj_a", FeatureID: "fea_a", State: agileplus.WPDone, Estimate: 3},
		{ID: "wp_3", Key: "A-3", ProjectID: "prj_a", FeatureID: "fea_b", State: agileplus.WPDoing, Estimate: 1},
		{ID: "wp_4", Key: "A-4", ProjectID: "prj_a", FeatureID: "fea_c", State: agileplus.WPPlanned, Estimate: 4},
		{ID: "wp_5", Key: "A-5", ProjectID: "prj_a", State: agileplus.WPPlanned, Estimate: 1}, // no feature
	} {
		if err := g.PutNode(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range [][2]string{{"A-1", "A-3"}, {"A-2", "A-3"}, {"A-3", "A-4"}, {"A-1", "A-2"}, {"A-4", "A-5"}} {
		if err := g.AddEdge(e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	fi := g.FeatureIndex()
	if fi.Len() != 3 || fi.WPEdges() != 5 {
		t.Fatalf("got %d features and %d WP edges, want 3 and 5", fi.Len(), fi.WPEdges())
	}
	opens := []struct {
		feature string
		open    int
		est     float64
	}{{"fea_a", 1, 2}, {"fea_b", 1, 1}, {"fea_c", 1, 4}, {"fea_x", 0, 0}, {"", 0, 0}}
	for _, o := range opens {
		if open, est := fi.Open(o.feature); open != o.open || est != o.est {
			t.Errorf("open of %q: got %d, %gh; want %d, %gh", o.feature, open, est, o.open, o.est)
		}
	}
	neighbors := func(fi agileplus.FeatureIndex) string {
		var s []string
		for _, f := range []string{"fea_a", "fea_b", "fea_c", "fea_x"} {
			s = append(s, fmt.Sprintf("%s waits on %v, waited by %v", f, slices.Collect(fi.WaitsOn(f)), slices.Collect(fi.WaitedBy(f))))
		}
		return strings.Join(s, "; ")
	}
	want := "fea_a waits on [fea_b], waited by []; fea_b waits on [fea_c], waited by [fea_a]; " +
		"fea_c waits on [], waited by [fea_b]; fea_x waits on [], waited by []"
	if got := neighbors(fi); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	for range fi.WaitsOn("fea_a") {
		break // the iterator stops when asked
	}
	if g.FeatureIndex() != fi {
		t.Error("the index was built again without a write")
	}
	if err := g.AddEdge("A-4", "A-1"); err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(g.FeatureIndex().WaitsOn("fea_c")); !slices.Equal(got, []string{"fea_a"}) {
		t.Errorf("after a write: fea_c waits on %v, want [fea_a]", got)
	}
	if got := neighbors(fi); got != want {
		t.Errorf("an index built before a write changed: got %s", got)
	}
}
