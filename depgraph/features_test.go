package depgraph

import (
	"fmt"
	"math/rand/v2"
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
