package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// Graph query targets.
const (
	targetGraphP99    = 5.0  // ms: ready, blockers, dependents, path, impact
	targetCriticalP99 = 50.0 // ms: the whole project's critical path, first page
	// beadsReady10k is the time beads publishes for its ready query on a
	// 10,000-issue database: "GetReadyWork (10K) | 30ms" in its
	// BENCHMARKS.md (BenchmarkGetReadyWork_Large, a Go benchmark of the
	// storage call).
	beadsReady10k    = 30.0 // ms
	targetBeadsRatio = 30.0 // times faster than beadsReady10k
	beadsWPs         = 10000

	graphProject = "GRAPH"
	beadsProject = "TENK"
	// The index's size as BenchmarkGraphMemory (package depgraph)
	// measures it, and the scratch a query keeps: five arrays indexed by
	// WP with a quarter's room, four queues and two bitsets.
	graphBytesPerWP   = 249.9
	graphBytesPerEdge = 13.2
	graphScratchPerWP = 55.0
)

// graphSpec is a generated project.
type graphSpec struct {
	project         string
	wps, edges, fts int
}

// graphPlan is what the generator decided before any command runs, so the
// seeded random choices do not depend on the order concurrent commands
// finish in. Index order is a topological order: WPs depend on earlier ones.
type graphPlan struct {
	graphSpec
	feature []int
	est     []float64
	deps    [][]int32
	state   []string
	forced  int // WPs started while a dependency was planned to stay open
}

// graphBuild is how the project was built and how fast.
type graphBuild struct {
	plan                    *graphPlan
	keys                    []string // by plan index
	createWP, addDep, trans result
	depFifths               []float64 // add dependency rate per fifth of the edges
	nTransitions            int
	states                  map[string]int
	took                    time.Duration
}

func (b *bench) graphQueries(ctx context.Context) error {
	ctx = agileplus.WithActor(ctx, "bench")
	spec := graphSpec{project: graphProject, wps: b.sz.graphWPs, edges: b.sz.graphEdges, fts: b.sz.graphFeats}
	rng := rand.New(rand.NewPCG(3, 4))

	// The ready query at 10,000 WPs, next to beads' figure, first: on its
	// own store, with nothing else in the heap.
	var tenk graphRow
	if spec.wps != beadsWPs {
		small := graphSpec{project: beadsProject, wps: beadsWPs, edges: 3 * beadsWPs, fts: 20}
		st, _, svc, gb, err := b.buildGraphProject(ctx, "graph-10k", small)
		if err != nil {
			return err
		}
		q := &graphRunner{b: b, ctx: ctx, svc: svc, srv: httpapi.NewServer(svc, nil, nil, "bench"), keys: gb.keys, rng: rng}
		tenk, err = q.ready(small.project)
		st.Close()
		if err != nil {
			return err
		}
	}

	store, path, svc, gb, err := b.buildGraphProject(ctx, "graph", spec)
	if err != nil {
		return err
	}
	defer store.Close()
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var gWPs, gEdges int
	if err := store.ReadGraph(ctx, func(g agileplus.GraphIndex) error { gWPs, gEdges = g.Len(), g.EdgeCount(); return nil }); err != nil {
		return err
	}
	if gWPs != spec.wps || gEdges != spec.edges {
		return fmt.Errorf("graph index holds %d WPs and %d edges, want %d and %d", gWPs, gEdges, spec.wps, spec.edges)
	}

	load0 := loadAverage()
	q := &graphRunner{b: b, ctx: ctx, svc: svc, srv: httpapi.NewServer(svc, nil, nil, "bench"), keys: gb.keys, rng: rng}
	rows, pathStats, err := q.run(spec.project)
	if err != nil {
		return err
	}
	if spec.wps == beadsWPs {
		tenk = rows[0]
	}
	load1 := loadAverage()

	// Reopen: Open rebuilds the index from the database; the heap grows by
	// the index and whatever the connections hold in Go memory.
	reopen, heapDelta, err := b.reopenGraph(ctx, store, path)
	if err != nil {
		return err
	}

	b.graphReport(spec, gb, rows, pathStats, tenk, ms0.HeapAlloc, reopen, heapDelta, load0, load1)
	return nil
}

// loadAverage returns the one-minute load average, or "?": other processes
// on the machine show in the tail latencies.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// buildGraphProject opens a fresh store and generates spec in it through
// the Service.
func (b *bench) buildGraphProject(ctx context.Context, name string, spec graphSpec) (*sqlitestore.Store, string, *agileplus.Service, *graphBuild, error) {
	dir, err := b.dir(name)
	if err != nil {
		return nil, "", nil, nil, err
	}
	path := filepath.Join(dir, "agileplus.db")
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		return nil, "", nil, nil, err
	}
	svc := agileplus.NewService(store)
	plan := planGraph(spec, rand.New(rand.NewPCG(uint64(spec.wps), 7)))
	gb, err := b.generateGraph(ctx, svc, plan)
	if err != nil {
		store.Close()
		return nil, "", nil, nil, fmt.Errorf("generate %s: %w", spec.project, err)
	}
	return store, path, svc, gb, nil
}

// planGraph draws a random DAG. WPs go round robin over the features. WP i
// depends on 1-5 earlier WPs (3 on average; a few counts are nudged so the
// total is exactly spec.edges): 70% of the time a recent WP (up to 50 back)
// of its own feature, otherwise any earlier WP. In each feature 80% of the
// first 40% of WPs are done and 5% of the rest, about 35% in all; of the
// rest 5% are doing, 2% in review, 2% blocked and the others planned.
func planGraph(spec graphSpec, rng *rand.Rand) *graphPlan {
	n, nF := spec.wps, spec.fts
	p := &graphPlan{graphSpec: spec, feature: make([]int, n), est: make([]float64, n), deps: make([][]int32, n), state: make([]string, n)}
	count := make([]int, n)
	sum := 0
	for i := range n {
		p.feature[i] = i % nF
		p.est[i] = float64(1 + rng.IntN(16))
		if i > 0 {
			count[i] = min(i, 1+rng.IntN(5))
		}
		sum += count[i]
	}
	for sum != spec.edges {
		i := 1 + rng.IntN(n-1)
		switch {
		case sum > spec.edges && count[i] > 1:
			count[i]--
			sum--
		case sum < spec.edges && count[i] < min(i, 6):
			count[i]++
			sum++
		}
	}
	for i := range n {
		pos := i / nF
		for len(p.deps[i]) < count[i] {
			var j int
			if pos > 0 && rng.IntN(100) < 70 {
				j = i - nF*(1+rng.IntN(min(pos, 50)))
			} else {
				j = rng.IntN(i)
			}
			if !slices.Contains(p.deps[i], int32(j)) {
				p.deps[i] = append(p.deps[i], int32(j))
			}
		}
	}
	perFeature := (n + nF - 1) / nF
	for i := range n {
		chance := 5
		if i/nF < perFeature*2/5 {
			chance = 80
		}
		p.state[i] = agileplus.WPPlanned
		if rng.IntN(100) < chance {
			p.state[i] = agileplus.WPDone
		} else if r := rng.IntN(100); r < 5 {
			p.state[i] = agileplus.WPDoing
		} else if r < 7 {
			p.state[i] = agileplus.WPReview
		} else if r < 9 {
			p.state[i] = agileplus.WPBlocked
		}
	}
	for i := range n {
		switch p.state[i] {
		case agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone:
			for _, j := range p.deps[i] {
				if p.state[j] != agileplus.WPDone {
					p.forced++
					break
				}
			}
		}
	}
	return p
}

// transitions returns the moves from planned to state.
func transitions(state string) []string {
	switch state {
	case agileplus.WPDoing:
		return []string{agileplus.WPDoing}
	case agileplus.WPReview:
		return []string{agileplus.WPDoing, agileplus.WPReview}
	case agileplus.WPDone:
		return []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}
	case agileplus.WPBlocked:
		return []string{agileplus.WPBlocked}
	}
	return nil
}

// generateGraph runs the plan through the Service's commands, so the store
// keeps its graph index the way it does in production: CreateWP for every
// WP, AddDependency (with its cycle check) for every edge, TransitionWP for
// every move, each from b.sz.workers goroutines to use group commit. Edges
// are added in plan order, each WP's after those of the WPs before it, as a
// team adds work that depends on work already there.
func (b *bench) generateGraph(ctx context.Context, svc *agileplus.Service, p *graphPlan) (*graphBuild, error) {
	t0 := time.Now()
	gb := &graphBuild{plan: p, keys: make([]string, p.wps), states: map[string]int{}}
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: p.project, Name: "Graph benchmark " + p.project}); err != nil {
		return nil, err
	}
	slugs := make([]string, p.fts)
	for f := range slugs {
		slugs[f] = fmt.Sprintf("%s-area-%03d", strings.ToLower(p.project), f+1)
		if _, err := svc.CreateFeature(ctx, p.project, agileplus.FeatureCreate{Slug: slugs[f], Title: fmt.Sprintf("Area %d", f+1)}); err != nil {
			return nil, err
		}
	}

	var err error
	gb.createWP, err = parallel(ctx, b.sz.workers, 0, p.wps, func(i int) error {
		w, err := svc.CreateWP(ctx, slugs[p.feature[i]], agileplus.WPCreate{
			Title:       fmt.Sprintf("Work package %d of area %d", i/p.fts+1, p.feature[i]+1),
			Description: "Generated by the graph benchmark: a sentence or two of description, as real work packages carry.",
			Estimate:    &p.est[i],
		})
		if err == nil {
			gb.keys[i] = w.Key
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create WP: %w", err)
	}
	b.logf("graph: %s: created %s WPs in %s (%s)", p.project, fmtInt(p.wps), gb.createWP.elapsed.Round(time.Millisecond), fmtRate(gb.createWP.rate()))

	type edge struct{ from, to int32 }
	edges := make([]edge, 0, p.edges)
	for i, ds := range p.deps {
		for _, j := range ds {
			edges = append(edges, edge{int32(i), j})
		}
	}
	var fifths []result
	for f := range 5 {
		lo, hi := len(edges)*f/5, len(edges)*(f+1)/5
		r, err := parallel(ctx, b.sz.workers, lo, hi, func(k int) error {
			e := edges[k]
			_, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: gb.keys[e.from], To: gb.keys[e.to], Kind: agileplus.DependsOn})
			if err != nil {
				return fmt.Errorf("%s depends_on %s: %w", gb.keys[e.from], gb.keys[e.to], err)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("add dependency: %w", err)
		}
		fifths = append(fifths, r)
		gb.depFifths = append(gb.depFifths, r.rate())
		b.logf("graph: %s: %s edges (%s in this fifth)", p.project, fmtInt(hi), fmtRate(r.rate()))
	}
	gb.addDep = merge(fifths)

	type move struct {
		i  int
		to []string
	}
	var moves []move
	for i, st := range p.state {
		gb.states[st]++
		if ts := transitions(st); ts != nil {
			moves = append(moves, move{i, ts})
			gb.nTransitions += len(ts)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	t1 := time.Now()
	_, err = parallel(ctx, b.sz.workers, 0, len(moves), func(k int) error {
		m := moves[k]
		var mine []time.Duration
		for _, to := range m.to {
			tr := agileplus.Transition{To: to}
			if to == agileplus.WPDoing {
				// Forced only when a dependency is still open; otherwise
				// the force is not used and not recorded.
				tr.Force, tr.Reason = true, "bench: started ahead of its dependencies"
			}
			s := time.Now()
			if _, err := svc.TransitionWP(ctx, gb.keys[m.i], tr, 0); err != nil {
				return fmt.Errorf("%s to %s: %w", gb.keys[m.i], to, err)
			}
			mine = append(mine, time.Since(s))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transition: %w", err)
	}
	slices.Sort(lat)
	gb.trans = result{ops: len(lat), elapsed: time.Since(t1), lat: lat}
	gb.took = time.Since(t0)
	b.logf("graph: %s: %s transitions in %s (%s); built in %s", p.project, fmtInt(gb.nTransitions),
		gb.trans.elapsed.Round(time.Millisecond), fmtRate(gb.trans.rate()), gb.took.Round(time.Second))
	return gb, nil
}

// parallel calls fn(i) for i in [lo, hi) from workers goroutines, in order
// of i as far as the goroutines keep it, and times each call. It stops at
// the first error.
func parallel(ctx context.Context, workers, lo, hi int, fn func(i int) error) (result, error) {
	var next atomic.Int64
	next.Store(int64(lo))
	var failed atomic.Bool
	errs := make(chan error, workers)
	lats := make([][]time.Duration, workers)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= hi {
					return
				}
				s := time.Now()
				if err := fn(i); err != nil {
					failed.Store(true)
					errs <- err
					return
				}
				lats[w] = append(lats[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return result{}, err
	}
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	return result{ops: len(all), elapsed: elapsed, lat: all}, nil
}

// merge joins timed runs made one after the other.
func merge(rs []result) result {
	var m result
	for _, r := range rs {
		m.ops += r.ops
		m.elapsed += r.elapsed
		m.lat = append(m.lat, r.lat...)
	}
	slices.Sort(m.lat)
	return m
}

// graphRow is one query measured through the Service and through HTTP.
type graphRow struct {
	name      string
	svc, http result
	target    float64 // ms; 0 for none
	bytes     int     // mean HTTP response size
	note      string
}

type pathStats struct {
	found, notFound    int
	foundP99, noneP99  time.Duration
	foundHops, maxHops int
}

// graphRunner times graph queries on one project.
type graphRunner struct {
	b    *bench
	ctx  context.Context
	svc  *agileplus.Service
	srv  *httpapi.Server
	keys []string
	rng  *rand.Rand
}

func (q *graphRunner) randomKey() string { return q.keys[q.rng.IntN(len(q.keys))] }

// get serves one GET in process; want lists the statuses taken as success.
func (q *graphRunner) get(path string, size *int, want ...int) (int, error) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	q.srv.ServeHTTP(rec, req)
	if !slices.Contains(want, rec.Code) {
		return rec.Code, fmt.Errorf("GET %s: %d %.300s", path, rec.Code, rec.Body.Bytes())
	}
	*size += rec.Body.Len()
	return rec.Code, nil
}

// timeQuery times n calls of fn after warm warm-up calls; fn gets the call
// number, warm-up calls included. It collects garbage first.
func timeQuery(warm, n int, fn func(i int) error) (result, []time.Duration, error) {
	runtime.GC() // the garbage of what ran before is not this query's
	for i := range warm {
		if err := fn(i); err != nil {
			return result{}, nil, err
		}
	}
	lat := make([]time.Duration, n)
	t0 := time.Now()
	for i := range n {
		s := time.Now()
		if err := fn(warm + i); err != nil {
			return result{}, nil, err
		}
		lat[i] = time.Since(s)
	}
	elapsed := time.Since(t0)
	raw := slices.Clone(lat)
	slices.Sort(lat)
	return result{ops: n, elapsed: elapsed, lat: lat}, raw, nil
}

// measure times a query through the Service (svc) and through HTTP
// (path), each with its own inputs drawn from arg.
func (q *graphRunner) measure(name string, target float64, warm, n int, arg func() string,
	svc func(a string) error, path func(a string) string) (graphRow, error) {
	row := graphRow{name: name, target: target}
	args := make([]string, warm+n)
	for i := range args {
		args[i] = arg()
	}
	var err error
	if row.svc, _, err = timeQuery(warm, n, func(i int) error { return svc(args[i]) }); err != nil {
		return row, fmt.Errorf("%s (Service): %w", name, err)
	}
	for i := range args {
		args[i] = arg()
	}
	size := 0
	if row.http, _, err = timeQuery(warm, n, func(i int) error {
		if i == warm {
			size = 0
		}
		_, err := q.get(path(args[i]), &size, http.StatusOK)
		return err
	}); err != nil {
		return row, fmt.Errorf("%s (HTTP): %w", name, err)
	}
	row.bytes = size / n
	q.b.logf("graph: %-34s Service p50 %s p99 %s | HTTP p50 %s p99 %s, %s bytes", name,
		fmtDur(row.svc.pct(50)), fmtDur(row.svc.pct(99)), fmtDur(row.http.pct(50)), fmtDur(row.http.pct(99)), fmtInt(row.bytes))
	return row, nil
}

// ready times a page of 100 of /v1/ready from a random place (after a
// random key number; none for a fifth of the calls, the first page).
func (q *graphRunner) ready(project string) (graphRow, error) {
	var pageSum, pages int
	row, err := q.measure("ready (page of 100)", targetGraphP99, readWarmup, q.b.sz.graphCalls, func() string {
		if q.rng.IntN(5) == 0 {
			return ""
		}
		return project + "-" + strconv.Itoa(1+q.rng.IntN(len(q.keys)))
	}, func(after string) error {
		ws, err := q.svc.Ready(q.ctx, project, "", agileplus.Page{After: after, Limit: 100})
		pageSum += len(ws)
		pages++
		return err
	}, func(after string) string {
		p := "/v1/ready?limit=100&project=" + project
		if after != "" {
			p += "&after=" + after
		}
		return p
	})
	row.note = fmt.Sprintf("%.0f WPs per page on average", float64(pageSum)/float64(max(pages, 1)))
	return row, err
}

// criticalAll times reading a project's whole critical path schedule a
// page of MaxPageLimit at a time, through the Service and through HTTP:
// what a client that wants every WP's slack pays. Every page schedules
// the whole project again, so a call costs about Total/1,000 page calls;
// it gets n calls after one warm-up.
func (q *graphRunner) criticalAll(project string, n int) (graphRow, error) {
	row := graphRow{name: "critical path, whole schedule (all pages)"}
	var pages, wps int
	var err error
	if row.svc, _, err = timeQuery(1, n, func(int) error {
		pages, wps = 0, 0
		for pg := (agileplus.Page{Limit: agileplus.MaxPageLimit}); ; {
			cp, err := q.svc.CriticalPath(q.ctx, project, "", pg)
			if err != nil {
				return err
			}
			pages++
			wps += len(cp.WPs)
			if cp.Next == "" {
				return nil
			}
			pg.After = cp.Next
		}
	}); err != nil {
		return row, fmt.Errorf("%s (Service): %w", row.name, err)
	}
	size := 0
	if row.http, _, err = timeQuery(1, n, func(i int) error {
		if i == 1 {
			size = 0
		}
		after := ""
		for {
			path := fmt.Sprintf("/v1/graph/critical-path?project=%s&limit=%d", project, agileplus.MaxPageLimit)
			if after != "" {
				path += "&after=" + after
			}
			rec := httptest.NewRecorder()
			q.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %.300s", path, rec.Code, rec.Body.Bytes())
			}
			size += rec.Body.Len()
			var page struct {
				Next string `json:"next"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				return fmt.Errorf("GET %s: %w", path, err)
			}
			if page.Next == "" {
				return nil
			}
			after = page.Next
		}
	}); err != nil {
		return row, fmt.Errorf("%s (HTTP): %w", row.name, err)
	}
	row.bytes = size / n
	row.note = fmt.Sprintf("%s WPs in %d pages of up to %s; %d calls after 1 warm-up", fmtInt(wps), pages, fmtInt(agileplus.MaxPageLimit), n)
	q.b.logf("graph: %-34s Service p50 %s p99 %s | HTTP p50 %s p99 %s, %s bytes", row.name,
		fmtDur(row.svc.pct(50)), fmtDur(row.svc.pct(99)), fmtDur(row.http.pct(50)), fmtDur(row.http.pct(99)), fmtInt(row.bytes))
	return row, nil
}

func (q *graphRunner) run(project string) ([]graphRow, pathStats, error) {
	var rows []graphRow
	var ps pathStats
	n := q.b.sz.graphCalls
	heavy := max(n/20, 20) // whole-project queries
	add := func(r graphRow, err error) error {
		rows = append(rows, r)
		return err
	}
	whole := func() string { return project }
	if err := add(q.ready(project)); err != nil {
		return nil, ps, err
	}

	reach := func(name string, fn func(context.Context, string, bool, int) (*agileplus.GraphReach, error)) error {
		var found, calls int
		row, err := q.measure(name+", transitive, depth 3", targetGraphP99, readWarmup, n, q.randomKey, func(k string) error {
			r, err := fn(q.ctx, k, true, 3)
			if err == nil {
				found += len(r.WPs)
				calls++
			}
			return err
		}, func(k string) string { return "/v1/wps/" + k + "/" + name + "?transitive=true&depth=3" })
		row.note = fmt.Sprintf("%.1f WPs on average", float64(found)/float64(max(calls, 1)))
		return add(row, err)
	}
	if err := reach("blockers", q.svc.Blockers); err != nil {
		return nil, ps, err
	}
	if err := reach("dependents", q.svc.Dependents); err != nil {
		return nil, ps, err
	}

	// Shortest path between random pairs of distinct WPs, in either order:
	// most pairs have no blocking path, and proving it takes the longest.
	pair := func() string {
		a := q.rng.IntN(len(q.keys))
		b := (a + 1 + q.rng.IntN(len(q.keys)-1)) % len(q.keys)
		return q.keys[a] + " " + q.keys[b]
	}
	split := func(p string) (string, string) {
		i := slices.Index([]byte(p), ' ')
		return p[:i], p[i+1:]
	}
	pairs := make([]string, readWarmup+n)
	for i := range pairs {
		pairs[i] = pair()
	}
	found := make([]bool, len(pairs))
	hops := make([]int, len(pairs))
	svcPath, raw, err := timeQuery(readWarmup, n, func(i int) error {
		from, to := split(pairs[i])
		p, err := q.svc.Path(q.ctx, from, to)
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		found[i], hops[i] = true, len(p)-1
		return nil
	})
	if err != nil {
		return nil, ps, fmt.Errorf("path (Service): %w", err)
	}
	var fl, nl []time.Duration
	for k, d := range raw {
		if i := readWarmup + k; found[i] {
			ps.found++
			ps.foundHops += hops[i]
			ps.maxHops = max(ps.maxHops, hops[i])
			fl = append(fl, d)
		} else {
			ps.notFound++
			nl = append(nl, d)
		}
	}
	slices.Sort(fl)
	slices.Sort(nl)
	ps.foundP99, ps.noneP99 = percentile(fl, 99), percentile(nl, 99)
	for i := range pairs {
		pairs[i] = pair()
	}
	size := 0
	httpPath, _, err := timeQuery(readWarmup, n, func(i int) error {
		if i == readWarmup {
			size = 0
		}
		from, to := split(pairs[i])
		_, err := q.get("/v1/graph/path?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), &size, http.StatusOK, http.StatusNotFound)
		return err
	})
	if err != nil {
		return nil, ps, fmt.Errorf("path (HTTP): %w", err)
	}
	rows = append(rows, graphRow{name: "shortest path, random pairs", svc: svcPath, http: httpPath, target: targetGraphP99,
		bytes: size / n,
		note:  fmt.Sprintf("%s found, %s not found", fmtInt(ps.found), fmtInt(ps.notFound))})
	q.b.logf("graph: %-34s Service p50 %s p99 %s | HTTP p50 %s p99 %s; %d found (p99 %s), %d not (p99 %s)", "path",
		fmtDur(svcPath.pct(50)), fmtDur(svcPath.pct(99)), fmtDur(httpPath.pct(50)), fmtDur(httpPath.pct(99)),
		ps.found, fmtDur(ps.foundP99), ps.notFound, fmtDur(ps.noneP99))

	var counted, impacted int
	row, err := q.measure("impact (list 100)", targetGraphP99, readWarmup, n, q.randomKey, func(k string) error {
		im, err := q.svc.Impact(q.ctx, k, 100)
		if err == nil {
			counted++
			impacted += im.Count
		}
		return err
	}, func(k string) string { return "/v1/wps/" + k + "/impact?limit=100" })
	row.note = fmt.Sprintf("%s WPs wait on one on average", fmtInt(impacted/max(counted, 1)))
	if err := add(row, err); err != nil {
		return nil, ps, err
	}

	// What a client gets from the endpoint: the default page.
	var cpLen float64
	var cpPath, cpWPs, cpTotal int
	row, err = q.measure("critical path, first page of the schedule (100 WPs) plus the whole path", targetCriticalP99, 3, heavy, whole, func(p string) error {
		cp, err := q.svc.CriticalPath(q.ctx, p, "", agileplus.Page{})
		if err == nil {
			cpLen, cpPath, cpWPs, cpTotal = cp.Length, len(cp.Path), len(cp.WPs), cp.Total
		}
		return err
	}, func(p string) string { return "/v1/graph/critical-path?project=" + p })
	row.note = fmt.Sprintf("%s over %d WPs, %s of %s open WPs scheduled", hours(cpLen), cpPath, fmtInt(cpWPs), fmtInt(cpTotal))
	if err := add(row, err); err != nil {
		return nil, ps, err
	}
	if err := add(q.criticalAll(project, max(heavy/10, 5))); err != nil {
		return nil, ps, err
	}

	var layers, open int
	row, err = q.measure("layers, whole project", 0, 3, heavy, whole, func(p string) error {
		l, err := q.svc.Layers(q.ctx, p, "")
		if err == nil {
			layers, open = len(l.Layers), l.Open
		}
		return err
	}, func(p string) string { return "/v1/graph/layers?project=" + p })
	row.note = fmt.Sprintf("%s open WPs in %d layers", fmtInt(open), layers)
	if err := add(row, err); err != nil {
		return nil, ps, err
	}

	var cycles int
	row, err = q.measure("cycles, whole project", 0, 3, heavy, whole, func(p string) error {
		c, err := q.svc.Cycles(q.ctx, p)
		if err == nil {
			cycles = len(c.Cycles)
		}
		return err
	}, func(p string) string { return "/v1/graph/cycles?project=" + p })
	row.note = fmt.Sprintf("%d cycles (a DAG)", cycles)
	if err := add(row, err); err != nil {
		return nil, ps, err
	}

	var lines int
	row, err = q.measure("export compact, whole project", 0, 3, heavy, whole, func(p string) error {
		out, err := q.svc.Export(q.ctx, p, agileplus.ExportCompact)
		if err == nil {
			lines = 0
			for _, c := range out {
				if c == '\n' {
					lines++
				}
			}
		}
		return err
	}, func(p string) string { return "/v1/graph/export?format=compact&project=" + p })
	row.note = fmt.Sprintf("%s lines", fmtInt(lines))
	if err := add(row, err); err != nil {
		return nil, ps, err
	}
	return rows, ps, nil
}

func hours(h float64) string { return strconv.FormatFloat(h, 'f', -1, 64) + "h" }

// reopenGraph closes the store and opens it again, timing Open, which
// rebuilds the graph index from the database, and measuring how much the
// Go heap grows with it.
func (b *bench) reopenGraph(ctx context.Context, store *sqlitestore.Store, path string) (time.Duration, int64, error) {
	if err := store.Close(); err != nil {
		return 0, 0, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		return 0, 0, err
	}
	took := time.Since(t0)
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer st.Close()
	return took, int64(after.HeapAlloc) - int64(before.HeapAlloc), nil
}

func (b *bench) graphReport(spec graphSpec, gb *graphBuild, rows []graphRow, ps pathStats, tenk graphRow, heap uint64, reopen time.Duration, heapDelta int64, load0, load1 string) {
	p := gb.plan
	s := b.rep.section(fmt.Sprintf("4. Graph queries on a %s-WP project, in process (sequential calls)", fmtInt(spec.wps)),
		"query", "calls", "Service p50", "Service p99", "HTTP p50", "HTTP p99", "target p99", "Service", "HTTP", "HTTP bytes", "answer")
	for _, r := range rows {
		target, sst, hst := "-", "-", "-"
		if r.target > 0 {
			target = fmt.Sprintf("< %g ms", r.target)
			sst, hst = metOrMissed(ms(r.svc.pct(99)) < r.target), metOrMissed(ms(r.http.pct(99)) < r.target)
		}
		s.row(r.name, fmtInt(r.svc.ops), fmtDur(r.svc.pct(50)), fmtDur(r.svc.pct(99)), fmtDur(r.http.pct(50)), fmtDur(r.http.pct(99)),
			target, sst, hst, fmtInt(r.bytes), r.note)
	}
	s.note("project %s: %s WPs in %d features, %s depends_on edges (random DAG: each WP on 1-5 earlier ones, 70%% a recent one of its feature); states %s; %s WPs started ahead of an open dependency (forced)",
		spec.project, fmtInt(spec.wps), spec.fts, fmtInt(spec.edges), fmtStates(gb.states), fmtInt(p.forced))
	s.note("built through the Service over sqlitestore, %d goroutines (group commit): create WP %s (p99 %s), add dependency %s (p99 %s; by fifth %s), transition %s x%s (p99 %s); %s in all",
		b.sz.workers, fmtRate(gb.createWP.rate()), fmtDur(gb.createWP.pct(99)), fmtRate(gb.addDep.rate()), fmtDur(gb.addDep.pct(99)),
		fmtRates(gb.depFifths), fmtRate(gb.trans.rate()), fmtInt(gb.nTransitions), fmtDur(gb.trans.pct(99)), gb.took.Round(time.Second))
	s.note("shortest path: random ordered pairs of distinct WPs; %s found (mean %.1f hops, longest %d; Service p99 %s), %s not found (Service p99 %s)",
		fmtInt(ps.found), float64(ps.foundHops)/float64(max(ps.found, 1)), ps.maxHops, fmtDur(ps.foundP99), fmtInt(ps.notFound), fmtDur(ps.noneP99))
	s.note("cheap queries: %d calls after %d warm-up, random WPs; whole-project queries: %d calls after 3 warm-up; a GC before each; HTTP: httpapi.NewServer(...).ServeHTTP with httptest.NewRecorder; load average %s before the queries, %s after",
		b.sz.graphCalls, readWarmup, rows[len(rows)-1].svc.ops, load0, load1)
	est := graphBytesPerWP*float64(spec.wps) + graphBytesPerEdge*float64(spec.edges)
	s.note("index memory, from BenchmarkGraphMemory's figures: %s WPs x %.0f B + %s edges x %.1f B = %s (plus %s of scratch per query running); Go heap after the build: %s; reopening the store (Open rebuilds the index) took %s and grew the heap by %s",
		fmtInt(spec.wps), graphBytesPerWP, fmtInt(spec.edges), graphBytesPerEdge, fmtMB(est/(1<<20)), fmtMB(graphScratchPerWP*float64(spec.wps)/(1<<20)),
		fmtMB(mb(int64(heap))), fmtDur(reopen), fmtMB(mb(heapDelta)))
	mean := tenk.http.elapsed / time.Duration(tenk.http.ops)
	s.note("/v1/ready at %s WPs: HTTP p50 %s, mean %s, p99 %s (Service p99 %s), %s; beads publishes %s for GetReadyWork at 10K issues (a Go benchmark's mean): %.0fx faster at p99, %.0fx at the mean, %.0fx at p50",
		fmtInt(beadsWPs), fmtDur(tenk.http.pct(50)), fmtDur(mean), fmtDur(tenk.http.pct(99)), fmtDur(tenk.svc.pct(99)), tenk.note, fmtMS(beadsReady10k),
		beadsReady10k/ms(tenk.http.pct(99)), beadsReady10k/ms(mean), beadsReady10k/ms(tenk.http.pct(50)))

	for _, r := range rows {
		if r.target > 0 {
			b.rep.below("Service "+r.name+" p99", ms(r.svc.pct(99)), r.target, fmtMS)
			b.rep.below("HTTP "+r.name+" p99", ms(r.http.pct(99)), r.target, fmtMS)
		}
	}
	b.rep.atLeast(fmt.Sprintf("/v1/ready at %s WPs vs beads' %s (x faster, p99)", fmtInt(beadsWPs), fmtMS(beadsReady10k)),
		beadsReady10k/ms(tenk.http.pct(99)), targetBeadsRatio, func(v float64) string { return fmt.Sprintf("%.0fx", v) })
	for _, r := range rows {
		if r.target == 0 {
			b.rep.info("HTTP "+r.name+" p99", fmt.Sprintf("%s (Service %s)", fmtDur(r.http.pct(99)), fmtDur(r.svc.pct(99))))
		}
	}
	b.rep.info("graph index memory (documented figures)", fmtMB(est/(1<<20)))
	b.rep.info("Go heap after building the graph project", fmtMB(mb(int64(heap))))
	b.rep.info("in-process add dependency, graph project", fmt.Sprintf("%s (%d goroutines)", fmtRate(gb.addDep.rate()), b.sz.workers))
}

func fmtStates(m map[string]int) string {
	var out []byte
	for _, st := range agileplus.WPStates {
		if len(out) > 0 {
			out = append(out, ", "...)
		}
		out = fmt.Appendf(out, "%s %s", fmtInt(m[st]), st)
	}
	return string(out)
}

func fmtRates(rs []float64) string {
	var out []byte
	for i, r := range rs {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, fmtRate(r)...)
	}
	return string(out)
}
