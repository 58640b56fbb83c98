package depgraph

import (
	"iter"
	"slices"

	"github.com/agileplus/agileplus"
)

// Feature roll-ups: the project's WPs counted per feature, and the
// feature-level digraph that the feature queries walk.

var _ agileplus.FeatureIndex = (*featureIndex)(nil)

// FeatureRollup rolls the project's WPs up to their features: counts, open
// hours, and the features each waits on through WP edges (in any project).
// Features without WPs do not appear; the service adds them.
func (g *Graph) FeatureRollup(projectID string) *agileplus.GraphFeatures {
	res := &agileplus.GraphFeatures{ProjectID: projectID, Features: []agileplus.GraphFeature{}}
	p, ok := g.symIdx[projectID]
	if !ok {
		return res
	}
	index := map[int32]int{} // feature sym -> position in res.Features
	edges := map[[2]int32]*agileplus.GraphFeatureEdge{}
	var order [][2]int32
	for _, v := range g.members[p] {
		n := &g.nodes[v]
		i, ok := index[n.feature]
		if !ok {
			i = len(res.Features)
			index[n.feature] = i
			res.Features = append(res.Features, agileplus.GraphFeature{FeatureID: g.syms[n.feature], ProjectID: projectID})
		}
		f := &res.Features[i]
		f.WPs++
		if n.state != g.done {
			f.Open++
			f.OpenEstimate += n.est
		}
		for _, t := range g.out[v] {
			tf := g.nodes[t].feature
			if tf == n.feature {
				continue
			}
			k := [2]int32{n.feature, tf}
			e := edges[k]
			if e == nil {
				e = &agileplus.GraphFeatureEdge{FeatureID: g.syms[tf]}
				edges[k] = e
				order = append(order, k)
			}
			e.WPEdges++
			if g.nodes[t].state != g.done {
				e.Open++
			}
		}
	}
	for _, k := range order {
		f := &res.Features[index[k[0]]]
		f.DependsOn = append(f.DependsOn, *edges[k])
	}
	for i := range res.Features {
		if res.Features[i].DependsOn == nil {
			res.Features[i].DependsOn = []agileplus.GraphFeatureEdge{}
		}
	}
	return res
}

// featureIndex is the feature-level digraph that the WP depends_on edges of
// one generation of a Graph imply: the features with WPs, their open WPs
// and hours, and for each the distinct other features it waits on (out) and
// that wait on it (in). It is immutable once built, so it may be used after
// the graph's read lock is released.
type featureIndex struct {
	gen     uint64
	wpEdges int              // depends_on edges between WPs
	num     map[string]int32 // feature id -> index
	ids     []string
	open    []int32
	est     []float64 // hours of open WPs, added up in key order
	out, in [][]int32
}

// FeatureIndex returns the feature index of the graph's current contents,
// building it (O(WPs + edges)) after a write. Callers hold the read lock;
// concurrent callers may both build it.
func (g *Graph) FeatureIndex() agileplus.FeatureIndex {
	if fi := g.feats.Load(); fi != nil && fi.gen == g.gen {
		return fi
	}
	fi := g.buildFeatureIndex()
	g.feats.Store(fi)
	return fi
}

func (g *Graph) buildFeatureIndex() *featureIndex {
	fi := &featureIndex{gen: g.gen, wpEdges: g.edges, num: map[string]int32{}}
	bySym := make([]int32, len(g.syms)) // feature sym -> index + 1
	fnum := make([]int32, len(g.nodes)) // WP -> feature index, -1 for none
	var count []int32
	for _, p := range g.projects {
		for _, v := range g.members[p.sym] {
			n := &g.nodes[v]
			id := g.syms[n.feature]
			if id == "" {
				fnum[v] = -1
				continue
			}
			f := bySym[n.feature] - 1
			if f < 0 {
				f = int32(len(fi.ids))
				bySym[n.feature] = f + 1
				fi.num[id] = f
				fi.ids = append(fi.ids, id)
				fi.open = append(fi.open, 0)
				fi.est = append(fi.est, 0)
				count = append(count, 0)
			}
			fnum[v] = f
			count[f]++
			if n.state != g.done {
				fi.open[f]++
				fi.est[f] += n.est
			}
		}
	}
	nf := len(fi.ids)
	// The WPs of each feature, grouped by a counting sort.
	start := make([]int32, nf+1)
	for f, c := range count {
		start[f+1] = start[f] + c
	}
	wps := make([]int32, len(g.nodes))
	pos := slices.Clone(start[:nf])
	for v, f := range fnum {
		if f >= 0 {
			wps[pos[f]] = int32(v)
			pos[f]++
		}
	}
	fi.out = make([][]int32, nf)
	fi.in = make([][]int32, nf)
	mark := make([]int32, nf) // last feature + 1 that listed this one
	indeg := make([]int32, nf)
	for f := range nf {
		for _, v := range wps[start[f]:start[f+1]] {
			for _, t := range g.out[v] {
				if tf := fnum[t]; tf >= 0 && tf != int32(f) && mark[tf] != int32(f)+1 {
					mark[tf] = int32(f) + 1
					fi.out[f] = append(fi.out[f], tf)
					indeg[tf]++
				}
			}
		}
	}
	for f := range nf {
		fi.in[f] = make([]int32, 0, indeg[f])
	}
	for f, ts := range fi.out {
		for _, t := range ts {
			fi.in[t] = append(fi.in[t], int32(f))
		}
	}
	return fi
}

// Len returns the number of features with WPs.
func (fi *featureIndex) Len() int { return len(fi.ids) }

// WPEdges returns the number of depends_on edges between WPs in the graph
// the index was built from.
func (fi *featureIndex) WPEdges() int { return fi.wpEdges }

// Open returns how many of the feature's WPs are not done and their hours.
func (fi *featureIndex) Open(featureID string) (open int, estimate float64) {
	i, ok := fi.num[featureID]
	if !ok {
		return 0, 0
	}
	return int(fi.open[i]), fi.est[i]
}

// WaitsOn yields the other features that the feature waits on.
func (fi *featureIndex) WaitsOn(featureID string) iter.Seq[string] {
	return fi.neighbors(featureID, fi.out)
}

// WaitedBy yields the other features that wait on the feature.
func (fi *featureIndex) WaitedBy(featureID string) iter.Seq[string] {
	return fi.neighbors(featureID, fi.in)
}

func (fi *featureIndex) neighbors(featureID string, adj [][]int32) iter.Seq[string] {
	return func(yield func(string) bool) {
		i, ok := fi.num[featureID]
		if !ok {
			return
		}
		for _, j := range adj[i] {
			if !yield(fi.ids[j]) {
				return
			}
		}
	}
}
