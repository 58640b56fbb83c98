// Package depgraph is the dependency-graph engine: an in-memory index of
// every WP and the depends_on edges between them that answers the graph
// queries of agileplus.GraphIndex. The stores build one and keep it in step
// with their commits.
package depgraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/agileplus/agileplus"
)

var (
	_ agileplus.GraphIndex = (*Graph)(nil)
	_ agileplus.GraphCopy  = (*Graph)(nil)
)

// Graph is an in-memory index of WPs and the depends_on edges between them,
// across features and projects, for the graph queries: ready frontier and
// layers, blockers and dependents, blocking paths, critical path, impact,
// cycles and exports. relates_to edges never block, so they are not in it.
//
// The store keeps one Graph in step with what it commits (PutNode on every
// WP write, AddEdge and RemoveEdge on every depends_on edge). Graph does no
// locking of its own: callers hold a write lock around PutNode, AddEdge and
// RemoveEdge and a read lock around everything else. Queries under a read
// lock may run concurrently; their scratch space comes from a pool.
//
// Nodes are dense int32 indices. Every adjacency list, and each project's
// list of WPs, is kept sorted in key order (project key, then key number),
// so results do not depend on the order the index was loaded in.
//
// Memory per WP is the 64-byte node, its 8-byte open estimate, two
// adjacency slice headers, the id and key strings and two lookup map
// entries; per edge an int32 in each direction, plus the growth headroom
// of the lists and the room that lists grown since the last Compact left
// behind. BenchmarkGraphMemory measures it (bench/README.md has the
// figures). Each query running at a time also keeps pooled scratch: five
// arrays indexed by WP (three of int32, two of float64), four queues of
// WPs and two bitsets.
type Graph struct {
	nodes []gnode
	// openEst[v] is the estimate of WP v if it is not done, -1 if it is:
	// what impact adds up, 8 bytes a WP instead of a 64-byte gnode.
	openEst []float64
	// prio[v] is the priority rank of WP v: a byte beside the 64-byte
	// gnode rather than in it.
	prio   []uint8
	out    [][]int32 // depends_on targets, in key order
	in     [][]int32 // dependents, in key order
	byID   map[string]int32
	byKey  map[string]int32
	syms   []string         // interned project ids, feature ids and states
	symIdx map[string]int32 // inverse of syms
	// projects are in the order of their keys, members[project sym] in
	// key order: together they list every WP in key order.
	projects []gproject
	prefixOf map[int32]string // project sym -> project key
	members  map[int32][]int32
	done     int32 // sym of WPDone
	edges    int
	pool     sync.Pool // *graphScratch
	// gen counts the writes; feats caches the feature index of one gen
	// (see FeatureIndex), built by the first feature query after a write.
	gen   uint64
	feats atomic.Pointer[featureIndex]
	// compacted is the gen of the last compact.
	compacted uint64
}

// gproject is a project as the graph knows it: the key of its WP keys.
type gproject struct {
	sym    int32
	prefix string
}

// gnode is one WP of the index: 64 bytes.
type gnode struct {
	id, key string
	// rank is the key order as one number: the project's index in
	// Graph.projects << 40 | the number in the key (12 in "CORE-12").
	rank                    uint64
	est                     float64 // hours
	project, feature, state int32   // syms
	// open counts the depends_on edges to WPs not done: 0 for a ready WP.
	open int32
}

const rankShift = 40

// New returns an empty graph.
func New() *Graph {
	g := &Graph{
		byID:     make(map[string]int32),
		byKey:    make(map[string]int32),
		symIdx:   make(map[string]int32),
		prefixOf: make(map[int32]string),
		members:  make(map[int32][]int32),
	}
	g.done = g.intern(agileplus.WPDone)
	return g
}

func (g *Graph) intern(s string) int32 {
	if i, ok := g.symIdx[s]; ok {
		return i
	}
	i := int32(len(g.syms))
	g.syms = append(g.syms, s)
	g.symIdx[s] = i
	return i
}

// Len returns the number of WPs in the graph.
func (g *Graph) Len() int { return len(g.nodes) }

// EdgeCount returns the number of depends_on edges in the graph.
func (g *Graph) EdgeCount() int { return g.edges }

// parseWPKey splits "CORE-12" into "CORE" and 12.
func parseWPKey(key string) (prefix string, num uint64, ok bool) {
	i := strings.LastIndexByte(key, '-')
	if i <= 0 || i == len(key)-1 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(key[i+1:], 10, 64)
	if err != nil || n >= 1<<rankShift {
		return "", 0, false
	}
	return key[:i], n, true
}

// projectRank returns the index in g.projects of the project with the
// sym and key prefix, adding it if new. A project's WP keys all start with
// its key, and a key belongs to one project.
func (g *Graph) projectRank(project int32, prefix string) (uint64, error) {
	i, found := slices.BinarySearchFunc(g.projects, prefix, func(p gproject, k string) int { return strings.Compare(p.prefix, k) })
	if found {
		if g.projects[i].sym != project {
			return 0, &agileplus.Error{Code: agileplus.ECONFLICT, Field: "key", Message: fmt.Sprintf("keys %s-... belong to project %s", prefix, g.syms[g.projects[i].sym])}
		}
		return uint64(i), nil
	}
	if pre, ok := g.prefixOf[project]; ok {
		return 0, agileplus.FieldErrorf("key", "keys of project %s start with %s-, not %s-", g.syms[project], pre, prefix)
	}
	g.projects = slices.Insert(g.projects, i, gproject{project, prefix})
	g.prefixOf[project] = prefix
	for _, p := range g.projects[i+1:] {
		for _, v := range g.members[p.sym] {
			g.nodes[v].rank += 1 << rankShift
		}
	}
	return uint64(i), nil
}

// PutNode inserts a WP or updates the fields of one already there, keeping
// its edges. It returns EINVALID for a missing id, project or state, a key
// that is not "<PROJECT>-<n>" with the same PROJECT as the project's other
// WPs, an estimate that is not a number of hours >= 0 or an unknown
// priority ("" is the default); ECONFLICT when
// another WP holds the key or another project the PROJECT part. A refused
// call leaves the graph as it was.
func (g *Graph) PutNode(n agileplus.GraphNode) error {
	prefix, num, ok := parseWPKey(n.Key)
	switch {
	case n.ID == "":
		return agileplus.FieldErrorf("id", "id is required")
	case !ok:
		return agileplus.FieldErrorf("key", "key %q is not a work package key such as CORE-12", n.Key)
	case n.ProjectID == "":
		return agileplus.FieldErrorf("project_id", "project_id is required")
	case !slices.Contains(agileplus.WPStates, n.State):
		return agileplus.FieldErrorf("state", "unknown work package state %q; states are %v", n.State, agileplus.WPStates)
	case math.IsNaN(n.Estimate) || n.Estimate < 0 || math.IsInf(n.Estimate, 0):
		return agileplus.FieldErrorf("estimate", "estimate must be a number of hours >= 0")
	case n.Priority != "" && agileplus.PriorityRank(n.Priority) < 0:
		return agileplus.FieldErrorf("priority", "unknown priority %q; priorities are %v", n.Priority, agileplus.Priorities)
	}
	prio := uint8(agileplus.PriorityRank(agileplus.DefaultPriority))
	if n.Priority != "" {
		prio = uint8(agileplus.PriorityRank(n.Priority))
	}
	if i, ok := g.byKey[n.Key]; ok && g.nodes[i].id != n.ID {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "key", Message: fmt.Sprintf("key %s belongs to %s", n.Key, g.nodes[i].id)}
	}
	g.gen++
	project := g.intern(n.ProjectID)
	rank, err := g.projectRank(project, prefix)
	if err != nil {
		return err
	}
	gn := gnode{id: n.ID, key: n.Key, rank: rank<<rankShift | num, est: n.Estimate, project: project,
		feature: g.intern(n.FeatureID), state: g.intern(n.State)}

	v, ok := g.byID[n.ID]
	if !ok {
		v = int32(len(g.nodes))
		g.nodes = append(g.nodes, gn)
		g.openEst = append(g.openEst, g.openEstimate(gn))
		g.prio = append(g.prio, prio)
		g.out = append(g.out, nil)
		g.in = append(g.in, nil)
		g.byID[n.ID] = v
		g.byKey[n.Key] = v
		g.members[project] = g.insertSorted(g.members[project], v)
		return nil
	}
	old := g.nodes[v]
	gn.open = old.open
	if wasDone, isDone := old.state == g.done, gn.state == g.done; wasDone != isDone {
		delta := int32(1)
		if isDone {
			delta = -1
		}
		for _, u := range g.in[v] {
			if u == v {
				gn.open += delta
			} else {
				g.nodes[u].open += delta
			}
		}
	}
	if old.project != project {
		g.members[old.project] = slices.DeleteFunc(g.members[old.project], func(x int32) bool { return x == v })
	}
	g.nodes[v] = gn
	g.openEst[v] = g.openEstimate(gn)
	g.prio[v] = prio
	if old.key != gn.key {
		// Keys do not change in practice; if one does, every list holding
		// v is re-sorted.
		delete(g.byKey, old.key)
		g.byKey[gn.key] = v
		for _, t := range g.out[v] {
			slices.SortFunc(g.in[t], g.order)
		}
		for _, u := range g.in[v] {
			slices.SortFunc(g.out[u], g.order)
		}
		if old.project == project {
			slices.SortFunc(g.members[project], g.order)
		}
	}
	if old.project != project {
		g.members[project] = g.insertSorted(g.members[project], v)
	}
	return nil
}

func (g *Graph) openEstimate(n gnode) float64 {
	if n.state == g.done {
		return -1
	}
	return n.est
}

// order is the key order: project key, then key number.
func (g *Graph) order(a, b int32) int {
	x, y := &g.nodes[a], &g.nodes[b]
	switch {
	case x.rank < y.rank:
		return -1
	case x.rank > y.rank:
		return 1
	}
	return strings.Compare(x.key, y.key) // "CORE-07" and "CORE-7"
}

func (g *Graph) insertSorted(list []int32, v int32) []int32 {
	i, _ := slices.BinarySearchFunc(list, v, g.order)
	return slices.Insert(list, i, v)
}

// removeSorted removes one occurrence of v from a list in key order.
func (g *Graph) removeSorted(list []int32, v int32) ([]int32, bool) {
	i, found := slices.BinarySearchFunc(list, v, g.order)
	if !found {
		return list, false
	}
	return slices.Delete(list, i, i+1), true
}

func (g *Graph) lookup(ref string) (int32, bool) {
	if v, ok := g.byID[ref]; ok {
		return v, true
	}
	v, ok := g.byKey[ref]
	return v, ok
}

// resolve finds a WP by id or key; field names the input in errors.
func (g *Graph) resolve(field, ref string) (int32, error) {
	if ref == "" {
		return 0, agileplus.FieldErrorf(field, "%s is required", field)
	}
	v, ok := g.lookup(ref)
	if !ok {
		return 0, &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s: no work package %q", field, ref)}
	}
	return v, nil
}

// AddEdge records that from depends on to (ids or keys). A pair added twice
// is held twice, as the store would hold two rows, and needs two RemoveEdge
// calls; queries see parallel edges as one. It returns ENOTFOUND (field
// "from" or "to") when a WP is not in the graph.
func (g *Graph) AddEdge(from, to string) error {
	f, err := g.resolve("from", from)
	if err != nil {
		return err
	}
	t, err := g.resolve("to", to)
	if err != nil {
		return err
	}
	g.gen++
	g.out[f] = g.insertSorted(g.out[f], t)
	g.in[t] = g.insertSorted(g.in[t], f)
	if !g.isDone(t) {
		g.nodes[f].open++
	}
	g.edges++
	g.maybeCompact()
	return nil
}

// RemoveEdge removes one depends_on edge from -> to (ids or keys). It
// returns ENOTFOUND, leaving the graph alone, when a WP or the edge is not
// in the graph.
func (g *Graph) RemoveEdge(from, to string) error {
	f, err := g.resolve("from", from)
	if err != nil {
		return err
	}
	t, err := g.resolve("to", to)
	if err != nil {
		return err
	}
	out, ok := g.removeSorted(g.out[f], t)
	if !ok {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no depends_on edge from %s to %s", g.nodes[f].key, g.nodes[t].key)
	}
	g.gen++
	g.out[f] = out
	g.in[t], _ = g.removeSorted(g.in[t], f)
	if !g.isDone(t) {
		g.nodes[f].open--
	}
	g.edges--
	g.maybeCompact()
	return nil
}

// RemoveNode removes a WP (id or key) that no depends_on edge touches any
// more: the store deleted it after removing its edges. The last WP moves
// into its index; lists in key order stay in key order, since only the
// index of a WP changes. It returns ENOTFOUND (field "wp") for a WP not in
// the graph and ERULE while edges touch it, leaving the graph alone.
func (g *Graph) RemoveNode(ref string) error {
	v, err := g.resolve("wp", ref)
	if err != nil {
		return err
	}
	if len(g.out[v]) > 0 || len(g.in[v]) > 0 {
		return agileplus.Errorf(agileplus.ERULE, "wp %s still has depends_on edges", g.nodes[v].key)
	}
	g.gen++
	n := g.nodes[v]
	g.members[n.project], _ = g.removeSorted(g.members[n.project], v)
	delete(g.byID, n.id)
	delete(g.byKey, n.key)
	last := int32(len(g.nodes) - 1)
	if v != last {
		ln := g.nodes[last]
		replace := func(list []int32) {
			for i, x := range list {
				if x == last {
					list[i] = v
				}
			}
		}
		replace(g.members[ln.project])
		outs, ins := slices.Clone(g.out[last]), slices.Clone(g.in[last])
		for _, t := range outs {
			replace(g.in[t])
		}
		for _, u := range ins {
			replace(g.out[u])
		}
		g.nodes[v], g.openEst[v], g.prio[v], g.out[v], g.in[v] = ln, g.openEst[last], g.prio[last], g.out[last], g.in[last]
		g.byID[ln.id], g.byKey[ln.key] = v, v
	}
	g.nodes, g.openEst, g.prio = g.nodes[:last], g.openEst[:last], g.prio[:last]
	g.out, g.in = g.out[:last], g.in[:last]
	return nil
}

// Compact lays the adjacency lists out one after another in index order,
// in one array per direction: a search then reads them in the order it
// takes the WPs instead of wherever each list was last grown. Each list's
// capacity is its length, so a later insert moves that list out and leaves
// its neighbours alone. Stores call it after loading the graph; AddEdge
// and RemoveEdge call it once the writes since the last run add up to
// half the graph (amortized O(1) per write). The caller holds the write
// lock.
func (g *Graph) Compact() {
	for _, adj := range [][][]int32{g.out, g.in} {
		n := 0
		for _, l := range adj {
			n += len(l)
		}
		arena := make([]int32, 0, n)
		for i, l := range adj {
			start := len(arena)
			arena = append(arena, l...)
			adj[i] = arena[start:len(arena):len(arena)]
		}
	}
	g.compacted = g.gen
}

// maybeCompact compacts once the writes since the last compaction number
// half the WPs and edges.
func (g *Graph) maybeCompact() {
	if g.gen-g.compacted > uint64(len(g.nodes)+g.edges)/2+1024 {
		g.Compact()
	}
}

// Node returns the WP with the id or key ref.
func (g *Graph) Node(ref string) (agileplus.GraphNode, bool) {
	v, ok := g.lookup(ref)
	if !ok {
		return agileplus.GraphNode{}, false
	}
	return g.node(v), true
}

func (g *Graph) node(v int32) agileplus.GraphNode {
	n := &g.nodes[v]
	return agileplus.GraphNode{ID: n.id, Key: n.key, ProjectID: g.syms[n.project], FeatureID: g.syms[n.feature],
		State: g.syms[n.state], Estimate: n.est, Priority: agileplus.Priorities[g.prio[v]]}
}

func (g *Graph) nodeList(vs []int32) []agileplus.GraphNode {
	ns := make([]agileplus.GraphNode, len(vs))
	for i, v := range vs {
		ns[i] = g.node(v)
	}
	return ns
}

func (g *Graph) isDone(v int32) bool { return g.nodes[v].state == g.done }

// graphScratch is per-query working space indexed by node. The marks are
// bitsets: 12.5 KB for 100,000 WPs, cheap to clear and cache-resident.
type graphScratch struct {
	mark, mark2   bitset
	i1, i2, i3    []int32
	f1, f2        []float64
	q, q2, q3, q4 []int32
}

// scratch takes working space for the current size of the graph with the
// marks clear; put it back with g.pool.Put.
func (g *Graph) scratch() *graphScratch {
	s, _ := g.pool.Get().(*graphScratch)
	if s == nil {
		s = &graphScratch{}
	}
	if n := len(g.nodes); len(s.i1) < n {
		n += n / 4
		*s = graphScratch{mark: make(bitset, n/64+1), mark2: make(bitset, n/64+1),
			i1: make([]int32, n), i2: make([]int32, n), i3: make([]int32, n),
			f1: make([]float64, n), f2: make([]float64, n)}
	}
	clear(s.mark)
	clear(s.mark2)
	return s
}

type bitset []uint64

func (b bitset) has(v int32) bool { return b[v>>6]&(1<<(v&63)) != 0 }
func (b bitset) set(v int32)      { b[v>>6] |= 1 << (v & 63) }
func (b bitset) unset(v int32)    { b[v>>6] &^= 1 << (v & 63) }

// Ready returns the project's WPs that are not done and whose depends_on
// targets, in any project, are all done: layer 0 of Layers. They come in
// key order, the first limit (all if limit <= 0) with a key number above
// afterNum. It includes every state but done; claims are not in the graph,
// so callers filter claimed WPs out if they need to. It reads a counter
// kept by the writes: O(WPs scanned), not O(edges).
func (g *Graph) Ready(projectID string, afterNum int64, limit int) []agileplus.GraphNode {
	ready := []agileplus.GraphNode{}
	p, ok := g.symIdx[projectID]
	if !ok {
		return ready
	}
	members := g.members[p]
	i, _ := slices.BinarySearchFunc(members, afterNum, func(v int32, n int64) int {
		if num := int64(g.nodes[v].rank & (1<<rankShift - 1)); num <= n {
			return -1
		}
		return 1
	})
	for _, v := range members[i:] {
		if n := &g.nodes[v]; n.open == 0 && n.state != g.done {
			ready = append(ready, g.node(v))
			if len(ready) == limit {
				break
			}
		}
	}
	return ready
}

// Layers returns the project's open WPs (every state but done) by layer.
// Claims are not in the graph: callers filter claimed WPs out of layer 0 if
// they need to.
func (g *Graph) Layers(projectID string) *agileplus.GraphLayers {
	res := &agileplus.GraphLayers{ProjectID: projectID, Layers: [][]agileplus.GraphNode{}}
	p, ok := g.symIdx[projectID]
	if !ok {
		return res
	}
	s := g.scratch()
	defer g.pool.Put(s)
	mark, pending, depth := s.mark, s.i1, s.i2

	// The open WPs of the project and every open WP they wait on, in any
	// project, with the count of open targets each waits on.
	set := s.q[:0]
	for _, v := range g.members[p] {
		if !g.isDone(v) {
			mark.set(v)
			set = append(set, v)
		}
	}
	res.Open = len(set)
	for i := 0; i < len(set); i++ {
		v := set[i]
		pending[v], depth[v] = 0, 0
		for _, t := range g.out[v] {
			if g.isDone(t) {
				continue
			}
			pending[v]++
			if !mark.has(t) {
				mark.set(t)
				set = append(set, t)
			}
		}
	}
	// Kahn's algorithm, from the WPs that wait on nothing open; a WP's
	// depth is final when its last open target is taken.
	queue := s.q2[:0]
	for _, v := range set {
		if pending[v] == 0 {
			queue = append(queue, v)
		}
	}
	for i := 0; i < len(queue); i++ {
		t := queue[i]
		for _, u := range g.in[t] {
			if !mark.has(u) {
				continue // done, or not waited on by the project
			}
			depth[u] = max(depth[u], depth[t]+1)
			if pending[u]--; pending[u] == 0 {
				queue = append(queue, u)
			}
		}
	}
	var sizes []int // WPs of the project per layer
	for _, v := range g.members[p] {
		if mark.has(v) && pending[v] == 0 {
			for int(depth[v]) >= len(sizes) {
				sizes = append(sizes, 0)
			}
			sizes[depth[v]]++
		}
	}
	res.Layers = make([][]agileplus.GraphNode, len(sizes))
	all := make([]agileplus.GraphNode, 0, res.Open)
	for i, n := range sizes {
		res.Layers[i], all = all[:0:n], all[n:cap(all)]
	}
	for _, v := range g.members[p] {
		switch {
		case !mark.has(v):
		case pending[v] == 0:
			res.Layers[depth[v]] = append(res.Layers[depth[v]], g.node(v))
		default:
			res.Cyclic = append(res.Cyclic, g.node(v))
		}
	}
	s.q, s.q2 = set, queue
	return res
}

// Blockers returns the WPs that ref (an id or key) depends on, in every
// state, done ones included so callers see what is still open. Direct
// (transitive false) ones are the depends_on targets at depth 1 and
// maxDepth is ignored; transitive ones follow depends_on edges through WPs
// in any state, to maxDepth (1 to agileplus.MaxGraphDepth) edges. Errors:
// ENOTFOUND (field "wp"), EINVALID (field "depth").
func (g *Graph) Blockers(ref string, transitive bool, maxDepth int) (*agileplus.GraphReach, error) {
	return g.search(ref, "blockers", g.out, transitive, maxDepth)
}

// Dependents returns the WPs that depend on ref (an id or key), the other
// way round from Blockers and with the same rules.
func (g *Graph) Dependents(ref string, transitive bool, maxDepth int) (*agileplus.GraphReach, error) {
	return g.search(ref, "dependents", g.in, transitive, maxDepth)
}

func (g *Graph) search(ref, direction string, adj [][]int32, transitive bool, maxDepth int) (*agileplus.GraphReach, error) {
	if !transitive {
		maxDepth = 1
	} else if maxDepth < 1 || maxDepth > agileplus.MaxGraphDepth {
		return nil, agileplus.FieldErrorf("depth", "depth must be between 1 and %d", agileplus.MaxGraphDepth)
	}
	v, err := g.resolve("wp", ref)
	if err != nil {
		return nil, err
	}
	hops, truncated := g.reach(v, adj, maxDepth, 0, nil)
	return &agileplus.GraphReach{WP: g.node(v), Direction: direction, Depth: maxDepth, WPs: hops, Truncated: truncated}, nil
}

// reach is a breadth-first search from src along adj to maxDepth edges (no
// limit if 0), src excluded, listing the first limit WPs (all if limit <=
// 0) by depth, then key order. If imp is not nil, it gets the count of WPs
// reached and the open ones' number and estimate.
func (g *Graph) reach(src int32, adj [][]int32, maxDepth, limit int, imp *agileplus.GraphImpact) (hops []agileplus.GraphHop, truncated bool) {
	s := g.scratch()
	defer g.pool.Put(s)
	mark, depth := s.mark, s.i1
	q := append(s.q[:0], src)
	mark.set(src)
	ends := []int{1} // ends[d]: end in q of the WPs at depth d
	lo, hi := 0, 1
	for lo < hi && (maxDepth == 0 || len(ends) <= maxDepth) {
		for _, u := range q[lo:hi] {
			for _, w := range adj[u] {
				if !mark.has(w) {
					mark.set(w)
					q = append(q, w)
				}
			}
		}
		lo, hi = hi, len(q)
		ends = append(ends, hi)
		if hi-lo >= sortLevelMin {
			// Expanding a big level in index order reads the adjacency
			// lists in memory order instead of at random.
			sortByIndex(q[lo:hi], s.mark2)
		}
	}
	s.q = q
	if lo < hi {
	more:
		for _, u := range q[lo:hi] {
			for _, w := range adj[u] {
				if !mark.has(w) {
					truncated = true
					break more
				}
			}
		}
	}
	if imp != nil {
		// In key order, so that the sum does not depend on the search's
		// order and another implementation can add it up in the same
		// order.
		imp.Count = len(q) - 1
		count := func(v int32) {
			if e := g.openEst[v]; e >= 0 {
				imp.Open++
				imp.Estimate += e
			}
		}
		if len(q)-1 <= len(g.nodes)/16 {
			sorted := append(s.q2[:0], q[1:]...)
			slices.SortFunc(sorted, g.order)
			for _, v := range sorted {
				count(v)
			}
			s.q2 = sorted
		} else {
			mark.unset(src)
			for _, p := range g.projects {
				for _, v := range g.members[p.sym] {
					if mark.has(v) {
						count(v)
					}
				}
			}
			mark.set(src)
		}
	}
	n := len(q) - 1
	if limit > 0 && limit < n {
		n = limit
	}
	hops = make([]agileplus.GraphHop, n)
	if n <= len(g.nodes)/16 {
		// Few: sort the levels that are listed.
		for d := 1; d < len(ends) && ends[d-1]-1 < n; d++ {
			level := q[ends[d-1]:ends[d]]
			slices.SortFunc(level, g.order)
			for i, v := range level[:min(len(level), n-(ends[d-1]-1))] {
				hops[ends[d-1]-1+i] = agileplus.GraphHop{GraphNode: g.node(v), Depth: d}
			}
		}
		return hops, truncated
	}
	// Many: one pass over every WP in key order puts each at the next
	// place of its depth, cheaper than sorting.
	for d := 1; d < len(ends); d++ {
		for _, v := range q[ends[d-1]:ends[d]] {
			depth[v] = int32(d)
		}
	}
	next := make([]int, len(ends))
	for d := 1; d < len(ends); d++ {
		next[d] = ends[d-1] - 1
	}
	for _, p := range g.projects {
		for _, v := range g.members[p.sym] {
			if !mark.has(v) || v == src {
				continue
			}
			if d := depth[v]; next[d] < n {
				hops[next[d]] = agileplus.GraphHop{GraphNode: g.node(v), Depth: int(d)}
				next[d]++
			}
		}
	}
	return hops, truncated
}

// sortLevelMin is the smallest search level reach puts in index order.
const sortLevelMin = 256

// sortByIndex sorts distinct WPs in increasing index order through the
// bitset tmp, which must be clear and is left clear: O(len(vs) + the index
// range / 64).
func sortByIndex(vs []int32, tmp bitset) {
	lo, hi := vs[0], vs[0]
	for _, v := range vs {
		tmp.set(v)
		lo, hi = min(lo, v), max(hi, v)
	}
	i := 0
	for wi := lo >> 6; wi <= hi>>6; wi++ {
		for w := tmp[wi]; w != 0; w &= w - 1 {
			vs[i] = wi<<6 | int32(bits.TrailingZeros64(w))
			i++
		}
		tmp[wi] = 0
	}
}

// Path returns a shortest chain of depends_on edges between two WPs (ids or
// keys), counted in edges: from depends_on X1 depends_on ... depends_on to,
// both ends included. Among equally short chains it returns the one that
// takes the first WP in key order at every step (the least in key order,
// compared WP by WP), so the answer depends only on the graph's contents,
// and a store that answers in its own query language can give the same one.
// Errors: ENOTFOUND with field "from" or "to" for an unknown WP, ENOTFOUND
// "no blocking path from A to B" when to does not block from. From a WP to
// itself the chain is that WP alone, of no edge.
func (g *Graph) Path(from, to string) ([]agileplus.GraphNode, error) {
	a, err := g.resolve("from", from)
	if err != nil {
		return nil, err
	}
	b, err := g.resolve("to", to)
	if err != nil {
		return nil, err
	}
	if a == b {
		// The shortest chain from a WP to itself: no edge, the WP alone.
		return g.nodeList([]int32{a}), nil
	}
	s := g.scratch()
	defer g.pool.Put(s)
	// Bidirectional breadth-first search: forward from a along depends_on,
	// backward from b along dependents, a whole level of the smaller
	// frontier at a time, until a level reaches WPs the other side has
	// reached. Before that level no WP was reached from both sides, so
	// every WP it shares lies at the same distance m from a and at the
	// same distance from b: together they are the WPs at position m of
	// every shortest chain (meet).
	markF, markB, distF, distB, good := s.mark, s.mark2, s.i1, s.i2, s.i3
	markF.set(a)
	markB.set(b)
	distF[a], distB[b] = 0, 0
	qF, qB := append(s.q[:0], a), append(s.q2[:0], b) // every WP reached, by distance
	loF, loB := 0, 0                                  // where the frontiers begin
	meet := s.q3[:0]
	for len(meet) == 0 && loF < len(qF) && loB < len(qB) {
		if len(qF)-loF <= len(qB)-loB {
			hi := len(qF)
			for _, u := range qF[loF:hi] {
				for _, w := range g.out[u] {
					if !markF.has(w) {
						markF.set(w)
						distF[w] = distF[u] + 1
						qF = append(qF, w)
						if markB.has(w) {
							meet = append(meet, w)
						}
					}
				}
			}
			loF = hi
		} else {
			hi := len(qB)
			for _, u := range qB[loB:hi] {
				for _, w := range g.in[u] {
					if !markB.has(w) {
						markB.set(w)
						distB[w] = distB[u] + 1
						qB = append(qB, w)
						if markF.has(w) {
							meet = append(meet, w)
						}
					}
				}
			}
			loB = hi
		}
	}
	s.q, s.q2, s.q3 = qF, qB, meet
	if len(meet) == 0 {
		return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no blocking path from %s to %s", g.nodes[a].key, g.nodes[b].key)
	}
	// good marks the WPs before position m that lead to meet through WPs
	// one step further from a each: those on a shortest chain.
	m := distF[meet[0]]
	for _, v := range qF {
		good[v] = 0
	}
	for _, v := range meet {
		good[v] = 1
	}
	for i := len(qF) - 1; i >= 0; i-- {
		v := qF[i]
		if distF[v] >= m {
			continue
		}
		for _, w := range g.out[v] {
			if markF.has(w) && distF[w] == distF[v]+1 && good[w] == 1 {
				good[v] = 1
				break
			}
		}
	}
	// Walk from a, taking at every step the first WP in key order that
	// lies on a shortest chain: up to meet the good ones, after it those
	// one step closer to b.
	path := []int32{a}
	for u, pos := a, int32(0); u != b; pos++ {
		next := int32(-1)
		for _, w := range g.out[u] {
			if pos+1 <= m {
				if markF.has(w) && distF[w] == pos+1 && good[w] == 1 {
					next = w
					break
				}
			} else if markB.has(w) && distB[w] == distB[u]-1 {
				next = w
				break
			}
		}
		path = append(path, next)
		u = next
	}
	return g.nodeList(path), nil
}

// Impact returns the WPs that transitively depend on ref (an id or key),
// ref excluded, in any state: their number and the total estimate of those
// not done (added up in key order, so the float sum is the same whatever
// computes it in that order), and the first limit of them (all if limit <=
// 0). Errors:
// ENOTFOUND (field "wp").
func (g *Graph) Impact(ref string, limit int) (*agileplus.GraphImpact, error) {
	v, err := g.resolve("wp", ref)
	if err != nil {
		return nil, err
	}
	res := &agileplus.GraphImpact{WP: g.node(v)}
	res.WPs, _ = g.reach(v, g.in, 0, limit, res)
	res.Truncated = res.Count > len(res.WPs)
	return res, nil
}

// CriticalPath schedules the WPs that are not done and pass filter (every
// WP not done if filter is nil) over the depends_on edges among them; edges
// to other WPs are ignored. Each WP takes its estimate: earliest start ES =
// max EF of its dependencies (0 if none), EF = ES + estimate, Length = max
// EF, latest finish LF = min LS of its dependents (Length if none), LS = LF
// - estimate, slack = LS - ES. A slack within 1e-9 × max(1, Length) of zero
// is rounding and reported as 0. Of the zero-slack chains the path takes
// the first in key order at every step. It runs in O(V+E) over the whole
// graph (Kahn's algorithm, then a backward pass). A cycle among the
// considered WPs is ERULE, naming one.
//
// The schedule comes a page at a time, so that a large project's answer
// stays small: WPs holds the first limit considered WPs (all of them if
// limit <= 0) whose keys sort after the key after ("" for the first page;
// it need not be a WP of the graph). Length, Path and Total cover every
// considered WP whatever the page. An after that is not a WP key is
// EINVALID (field "after").
func (g *Graph) CriticalPath(filter func(agileplus.GraphNode) bool, after string, limit int) (*agileplus.GraphCriticalPath, error) {
	afterPrefix, afterNum, ok := parseWPKey(after)
	if after != "" && !ok {
		return nil, agileplus.FieldErrorf("after", "after must be the last WP key of the previous page, such as CORE-12")
	}
	s := g.scratch()
	defer g.pool.Put(s)
	mark, pending, es, lf := s.mark, s.i1, s.f1, s.f2

	set := s.q[:0] // in key order
	for _, p := range g.projects {
		for _, v := range g.members[p.sym] {
			if !g.isDone(v) && (filter == nil || filter(g.node(v))) {
				mark.set(v)
				set = append(set, v)
			}
		}
	}
	queue := s.q2[:0]
	for _, v := range set {
		pending[v], es[v] = 0, 0
		for _, t := range g.out[v] {
			if mark.has(t) {
				pending[v]++
			}
		}
		if pending[v] == 0 {
			queue = append(queue, v)
		}
	}
	// Forward pass in topological order (Kahn): a WP's ES is final when
	// its last dependency is taken.
	length := 0.0
	for i := 0; i < len(queue); i++ {
		t := queue[i]
		ef := es[t] + g.nodes[t].est
		length = max(length, ef)
		for _, u := range g.in[t] {
			if !mark.has(u) {
				continue
			}
			es[u] = max(es[u], ef)
			if pending[u]--; pending[u] == 0 {
				queue = append(queue, u)
			}
		}
	}
	s.q, s.q2 = set, queue
	if len(queue) < len(set) {
		// Every WP left waits on another one left: walk them to a cycle,
		// from the first in key order.
		for _, v := range set {
			if pending[v] > 0 {
				return nil, g.cycleFrom(s, v, func(w int32) bool { return mark.has(w) && pending[w] > 0 })
			}
		}
	}
	// Backward pass in reverse topological order.
	for _, v := range set {
		lf[v] = length
	}
	for i := len(queue) - 1; i >= 0; i-- {
		t := queue[i]
		ls := lf[t] - g.nodes[t].est
		for _, w := range g.out[t] {
			if mark.has(w) {
				lf[w] = min(lf[w], ls)
			}
		}
	}
	eps := 1e-9 * max(1, length)
	zero := func(x float64) bool { return math.Abs(x) <= eps }
	slack := func(v int32) float64 {
		sl := lf[v] - g.nodes[v].est - es[v]
		if zero(sl) {
			return 0
		}
		return sl
	}
	// Rows only for the page: a whole project's schedule is megabytes.
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(set, after, func(v int32, _ string) int {
			if g.sortsAfter(v, afterPrefix, afterNum, after) {
				return 1
			}
			return -1
		})
	}
	end := len(set)
	if limit > 0 && limit < end-start {
		end = start + limit
	}
	res := &agileplus.GraphCriticalPath{Length: length, Path: []agileplus.GraphNode{}, Total: len(set), WPs: make([]agileplus.GraphSchedule, 0, end-start)}
	for _, v := range set[start:end] {
		est := g.nodes[v].est
		res.WPs = append(res.WPs, agileplus.GraphSchedule{GraphNode: g.node(v), EarliestStart: es[v], EarliestFinish: es[v] + est,
			LatestStart: lf[v] - est, LatestFinish: lf[v], Slack: slack(v)})
	}
	if end < len(set) {
		res.Next = g.nodes[set[end-1]].key
	}
	// The path: from the first zero-slack WP that waits on nothing
	// considered, along tight edges (the dependent starts when the
	// dependency finishes) to zero-slack WPs, until one finishes at Length.
	// Such a step always exists: the dependent that sets a zero-slack WP's
	// LF below Length starts at its EF and has zero slack.
	v := int32(-1)
	for _, u := range set {
		if slack(u) == 0 && !mark.hasAny(g.out[u]) {
			v = u
			break
		}
	}
	for v >= 0 {
		res.Path = append(res.Path, g.node(v))
		ef := es[v] + g.nodes[v].est
		if zero(ef - length) {
			break
		}
		next := int32(-1)
		for _, u := range g.in[v] {
			if mark.has(u) && slack(u) == 0 && zero(es[u]-ef) {
				next = u
				break
			}
		}
		v = next
	}
	return res, nil
}

// sortsAfter reports whether WP v comes after the key prefix-num in key
// order (project key, then key number, then key); the key need not be in
// the graph.
func (g *Graph) sortsAfter(v int32, prefix string, num uint64, key string) bool {
	n := &g.nodes[v]
	if c := strings.Compare(g.projects[n.rank>>rankShift].prefix, prefix); c != 0 {
		return c > 0
	}
	if m := n.rank & (1<<rankShift - 1); m != num {
		return m > num
	}
	return n.key > key
}

func (b bitset) hasAny(vs []int32) bool {
	for _, v := range vs {
		if b.has(v) {
			return true
		}
	}
	return false
}

// cycleFrom walks depends_on edges from v through WPs that pass in, taking
// the first in key order at each step, until one repeats, and returns the
// cycle as an ERULE error. Every WP passing in must have an edge to another
// one. It uses s.mark2 and s.i3.
func (g *Graph) cycleFrom(s *graphScratch, v int32, in func(int32) bool) *agileplus.Error {
	pos := s.i3
	var walk []int32
	for !s.mark2.has(v) {
		s.mark2.set(v)
		pos[v] = int32(len(walk))
		walk = append(walk, v)
		for _, w := range g.out[v] {
			if in(w) {
				v = w
				break
			}
		}
	}
	keys := make([]string, 0, len(walk)-int(pos[v])+1)
	for _, w := range walk[pos[v]:] {
		keys = append(keys, g.nodes[w].key)
	}
	keys = append(keys, g.nodes[v].key)
	return agileplus.Errorf(agileplus.ERULE, "dependency cycle: %s", strings.Join(keys, " -> "))
}

// Cycles returns the depends_on cycles that pass through the project's
// WPs, in any state, one per strongly connected component (Tarjan's
// algorithm): the shortest cycle through the component's first WP of the
// project in key order, as keys with that WP first and last, e.g. [CORE-1,
// CORE-4, CORE-1]. The cycles are in key order of their first WP. A cycle
// can leave the project and come back.
func (g *Graph) Cycles(projectID string) [][]string {
	cycles := [][]string{}
	p, ok := g.symIdx[projectID]
	if !ok {
		return cycles
	}
	s := g.scratch()
	defer g.pool.Put(s)
	visited, onStack, index, low, comp := s.mark, s.mark2, s.i1, s.i2, s.i3
	stack, calls, pos := s.q[:0], s.q2[:0], s.q3[:0]
	var counter, ncomp int32
	var firsts []int32 // per non-trivial component: its first WP of the project
	push := func(v int32) {
		visited.set(v)
		onStack.set(v)
		index[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		calls, pos = append(calls, v), append(pos, 0)
	}
	for _, r := range g.members[p] {
		if visited.has(r) {
			continue
		}
		push(r)
		for len(calls) > 0 {
			top := len(calls) - 1
			v, i := calls[top], pos[top]
			if int(i) < len(g.out[v]) {
				pos[top]++
				w := g.out[v][i]
				if !visited.has(w) {
					push(w)
				} else if onStack.has(w) {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls, pos = calls[:top], pos[:top]
			if top > 0 {
				u := calls[top-1]
				low[u] = min(low[u], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			// v roots a component: pop it.
			first, size := int32(-1), 0
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack.unset(w)
				comp[w] = ncomp
				size++
				if g.nodes[w].project == p && (first < 0 || g.order(w, first) < 0) {
					first = w
				}
				if w == v {
					break
				}
			}
			if first >= 0 && (size > 1 || slices.Contains(g.out[v], v)) {
				firsts = append(firsts, first)
			}
			ncomp++
		}
	}
	s.q, s.q2, s.q3 = stack, calls, pos
	slices.SortFunc(firsts, g.order)
	for _, f := range firsts {
		cycles = append(cycles, g.shortestCycle(s, f, comp))
	}
	return cycles
}

// shortestCycle returns the keys of a shortest cycle through f within its
// strongly connected component, f first and last. It clears and uses
// s.mark, and uses s.i1 and s.q4.
func (g *Graph) shortestCycle(s *graphScratch, f int32, comp []int32) []string {
	clear(s.mark)
	parent, c := s.i1, comp[f]
	q := append(s.q4[:0], f)
	s.mark.set(f)
	last := int32(-1)
search:
	for i := 0; i < len(q); i++ {
		u := q[i]
		for _, w := range g.out[u] {
			if w == f {
				last = u
				break search
			}
			if comp[w] == c && !s.mark.has(w) {
				s.mark.set(w)
				parent[w] = u
				q = append(q, w)
			}
		}
	}
	s.q4 = q
	var keys []string
	for v := last; v != f; v = parent[v] {
		keys = append(keys, g.nodes[v].key)
	}
	keys = append(keys, g.nodes[f].key)
	slices.Reverse(keys)
	return append(keys, g.nodes[f].key)
}

// Export writes the project's graph (see agileplus.GraphExport) as "json",
// "dot" (Graphviz), "mermaid" (a flowchart) or "compact": one line per WP
// of the project, sized for an LLM, such as
//
//	CORE-7 [planned 2h] -> waits on: CORE-3, WEB-2 (done: CORE-1)
//
// In DOT and Mermaid arrows run from a prerequisite to the WP that waits on
// it, in execution order; WPs of other projects are dashed. The graph does
// not hold titles, so no format has them. An unknown format is EINVALID
// (field "format").
func (g *Graph) Export(projectID, format string) ([]byte, error) {
	switch format {
	case agileplus.ExportJSON, agileplus.ExportDOT, agileplus.ExportMermaid, agileplus.ExportCompact:
	default:
		return nil, agileplus.FieldErrorf("format", "unknown format %q; formats are json, dot, mermaid, compact", format)
	}
	var members []int32
	name := projectID // the project's key when the graph knows it
	p, ok := g.symIdx[projectID]
	if ok {
		members = g.members[p]
		if pre, known := g.prefixOf[p]; known {
			name = pre
		}
	}
	// The WPs of other projects that the project's WPs depend on.
	var others []int32
	if ok {
		s := g.scratch()
		for _, v := range members {
			for _, t := range g.out[v] {
				if g.nodes[t].project != p && !s.mark.has(t) {
					s.mark.set(t)
					others = append(others, t)
				}
			}
		}
		g.pool.Put(s)
		slices.SortFunc(others, g.order)
	}
	// targets calls fn for each distinct depends_on target of v.
	targets := func(v int32, fn func(t int32)) {
		for i, t := range g.out[v] {
			if i == 0 || g.out[v][i-1] != t {
				fn(t)
			}
		}
	}
	var b bytes.Buffer
	switch format {
	case agileplus.ExportJSON:
		x := agileplus.GraphExport{ProjectID: projectID, WPs: g.nodeList(slices.Concat(members, others)), Edges: []agileplus.GraphEdge{}}
		for _, v := range members {
			targets(v, func(t int32) {
				x.Edges = append(x.Edges, agileplus.GraphEdge{From: g.nodes[v].id, To: g.nodes[t].id, FromKey: g.nodes[v].key, ToKey: g.nodes[t].key})
			})
		}
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(x); err != nil {
			return nil, fmt.Errorf("graph: export json: %w", err)
		}
	case agileplus.ExportDOT:
		fmt.Fprintf(&b, "// Project %s. Arrows run from a prerequisite to the WP that waits on it.\n", name)
		fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box];\n", projectID)
		for _, v := range members {
			n := &g.nodes[v]
			fmt.Fprintf(&b, "  %q [label=\"%s\\n%s %s\"%s];\n", n.key, n.key, g.syms[n.state], hours(n.est), dotStyle(g.syms[n.state], false))
		}
		for _, v := range others {
			n := &g.nodes[v]
			fmt.Fprintf(&b, "  %q [label=\"%s\\n%s %s\"%s];\n", n.key, n.key, g.syms[n.state], hours(n.est), dotStyle(g.syms[n.state], true))
		}
		for _, v := range members {
			targets(v, func(t int32) { fmt.Fprintf(&b, "  %q -> %q;\n", g.nodes[t].key, g.nodes[v].key) })
		}
		b.WriteString("}\n")
	case agileplus.ExportMermaid:
		b.WriteString("flowchart LR\n")
		fmt.Fprintf(&b, "  %%%% Project %s. Arrows run from a prerequisite to the WP that waits on it.\n", name)
		b.WriteString("  classDef done fill:#d8f0d8,color:#555\n  classDef other stroke-dasharray:4 3\n")
		for i, v := range slices.Concat(members, others) {
			n := &g.nodes[v]
			class := ""
			if g.syms[n.state] == agileplus.WPDone {
				class = ":::done"
			} else if i >= len(members) {
				class = ":::other"
			}
			fmt.Fprintf(&b, "  %s[\"%s %s %s\"]%s\n", mermaidID(n.key), n.key, g.syms[n.state], hours(n.est), class)
		}
		for _, v := range members {
			targets(v, func(t int32) {
				fmt.Fprintf(&b, "  %s --> %s\n", mermaidID(g.nodes[t].key), mermaidID(g.nodes[v].key))
			})
		}
	case agileplus.ExportCompact:
		fmt.Fprintf(&b, "# project %s: %d WPs. KEY [state estimate] -> waits on: open dependencies (done: finished ones)\n", name, len(members))
		var done []int32
		for _, v := range members {
			n := &g.nodes[v]
			b.WriteString(n.key)
			b.WriteString(" [")
			b.WriteString(g.syms[n.state])
			b.WriteByte(' ')
			b.Write(strconv.AppendFloat(b.AvailableBuffer(), n.est, 'g', -1, 64))
			b.WriteString("h]")
			open := 0
			done = done[:0]
			targets(v, func(t int32) {
				if g.isDone(t) {
					done = append(done, t)
					return
				}
				if open == 0 {
					b.WriteString(" -> waits on: ")
				} else {
					b.WriteString(", ")
				}
				b.WriteString(g.nodes[t].key)
				open++
			})
			if len(done) > 0 {
				if open == 0 {
					b.WriteString(" -> waits on: nothing")
				}
				for i, t := range done {
					if i == 0 {
						b.WriteString(" (done: ")
					} else {
						b.WriteString(", ")
					}
					b.WriteString(g.nodes[t].key)
				}
				b.WriteByte(')')
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

func hours(h float64) string { return strconv.FormatFloat(h, 'g', -1, 64) + "h" }

func dotStyle(state string, other bool) string {
	var st []string
	if other {
		st = append(st, "dashed")
	}
	if state == agileplus.WPDone {
		st = append(st, "filled")
	}
	if len(st) == 0 {
		return ""
	}
	return fmt.Sprintf(", style=%q", strings.Join(st, ","))
}

// mermaidID makes a key a Mermaid node id: "CORE-12" -> "CORE_12". Project
// keys hold no underscore, so ids stay distinct.
func mermaidID(key string) string { return strings.ReplaceAll(key, "-", "_") }

// Clone returns a deep copy of the graph, for what-if checks such as an
// import's cycle check; the caller holds the read lock while cloning. The
// copy is the caller's: it may change it and keep it.
func (g *Graph) Clone() agileplus.GraphCopy { return g.clone() }

func (g *Graph) clone() *Graph {
	c := &Graph{
		nodes:    slices.Clone(g.nodes),
		openEst:  slices.Clone(g.openEst),
		prio:     slices.Clone(g.prio),
		out:      make([][]int32, len(g.out)),
		in:       make([][]int32, len(g.in)),
		byID:     make(map[string]int32, len(g.byID)),
		byKey:    make(map[string]int32, len(g.byKey)),
		syms:     slices.Clone(g.syms),
		symIdx:   make(map[string]int32, len(g.symIdx)),
		projects: slices.Clone(g.projects),
		prefixOf: make(map[int32]string, len(g.prefixOf)),
		members:  make(map[int32][]int32, len(g.members)),
		done:     g.done,
		edges:    g.edges,
		gen:      g.gen,
	}
	copy(c.out, g.out)
	copy(c.in, g.in)
	c.Compact() // copies every list into the clone's own arrays
	for k, v := range g.byID {
		c.byID[k] = v
	}
	for k, v := range g.byKey {
		c.byKey[k] = v
	}
	for k, v := range g.symIdx {
		c.symIdx[k] = v
	}
	for k, v := range g.prefixOf {
		c.prefixOf[k] = v
	}
	for k, v := range g.members {
		c.members[k] = slices.Clone(v)
	}
	return c
}
