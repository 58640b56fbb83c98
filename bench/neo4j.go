package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/storemigrate"
)

// Neo4j targets.
const (
	targetWholeRatio  = 10.0  // embedded index at least this many times faster on whole-graph queries (p50)
	targetNeo4jHops5  = 200.0 // ms: Neo4j blockers traversal 5 hops deep, p99
	neo4jHeap         = "-Xmx3g"
	neo4jPageCache    = "-Dneo4jtest.pagecache=4294967296" // 4 GB: the 100,000-WP graph, its events and audit entries fit
	neo4jWriteWorkers = 16
)

// neo4j compares the two systems of record on the graph benchmark's
// project: generated into SQLite through the Service, copied into a real
// Neo4j (neo4jtest.Launch) with storemigrate.Run, then every graph query
// through both Services on the same inputs. Then write commands through
// HTTP on Neo4j with one and with two serve processes sharing it and one
// NATS server.
func (b *bench) neo4j(ctx context.Context) error {
	ctx = agileplus.WithActor(ctx, "bench")
	spec := graphSpec{project: graphProject, wps: b.sz.graphWPs, edges: b.sz.graphEdges, fts: b.sz.graphFeats}
	lite, _, liteSvc, gb, err := b.buildGraphProject(ctx, "neo4j-graph", spec)
	if err != nil {
		return err
	}
	defer lite.Close()

	dir, err := b.dir("neo4j-server")
	if err != nil {
		return err
	}
	t0 := time.Now()
	srv, err := neo4jtest.Launch(dir, neo4jHeap, neo4jPageCache)
	if err != nil {
		return err
	}
	defer srv.Close()
	b.logf("neo4j: %s ready in %s", srv.URL(), time.Since(t0).Round(time.Millisecond))
	neo, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
	if err != nil {
		return err
	}
	defer neo.Close()

	t0 = time.Now()
	last := time.Now()
	mrep, err := storemigrate.Run(ctx, lite, neo, func(stage string, done, total int) {
		if time.Since(last) > 15*time.Second {
			b.logf("neo4j: migrate: %s %d/%d", stage, done, total)
			last = time.Now()
		}
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	migrated := time.Since(t0)
	b.logf("neo4j: migrated %d WPs, %d dependencies, %d events in %s", mrep.WPs, mrep.Dependencies, mrep.Events, migrated.Round(time.Second))
	t0 = time.Now()
	if err := neo.ReadGraph(ctx, func(agileplus.GraphIndex) error { return nil }); err != nil {
		return err
	}
	loaded := time.Since(t0)
	neoSvc := agileplus.NewService(neo)

	rows, err := b.neo4jQueries(ctx, liteSvc, neoSvc, spec.project, gb.keys)
	if err != nil {
		return err
	}
	sec := b.rep.section(fmt.Sprintf("Graph queries on %s WPs / %s edges: embedded index (SQLite) and Neo4j, same inputs", fmtInt(spec.wps), fmtInt(spec.edges)),
		"query", "embedded p50", "embedded p99", "Neo4j p50", "Neo4j p99", "ratio p50", "ratio p99", "on Neo4j")
	minWhole := 0.0
	for _, r := range rows {
		p50 := ms(r.neo.pct(50)) / ms(r.lite.pct(50))
		p99 := ms(r.neo.pct(99)) / ms(r.lite.pct(99))
		how := "Cypher"
		if r.whole {
			how = "fetched graph, no write since"
		}
		sec.row(r.name, fmtDur(r.lite.pct(50)), fmtDur(r.lite.pct(99)), fmtDur(r.neo.pct(50)), fmtDur(r.neo.pct(99)),
			fmt.Sprintf("%.1fx", p50), fmt.Sprintf("%.1fx", p99), how)
		if a := r.afterWrite; a != nil {
			p50 = ms(a.pct(50)) / ms(r.lite.pct(50))
			p99 = ms(a.pct(99)) / ms(r.lite.pct(99))
			if minWhole == 0 || p50 < minWhole {
				minWhole = p50
			}
			sec.row(r.name+", after a write", fmtDur(r.lite.pct(50)), fmtDur(r.lite.pct(99)), fmtDur(a.pct(50)), fmtDur(a.pct(99)),
				fmt.Sprintf("%.1fx", p50), fmt.Sprintf("%.1fx", p99), "graph fetched again")
		}
		if r.name == "blockers, transitive, depth 5" {
			b.rep.below("Neo4j blockers 5 hops deep, p99", ms(r.neo.pct(99)), targetNeo4jHops5, fmtMS)
		}
	}
	sec.note("migrate SQLite -> Neo4j (storemigrate.Run, verified both sides): %s (%s WPs, %s dependencies, %s events, %s audit entries)",
		migrated.Round(time.Second), fmtInt(mrep.WPs), fmtInt(mrep.Dependencies), fmtInt(mrep.Events), fmtInt(mrep.AuditEntries))
	sec.note("first graph fetch from Neo4j (ReadGraph after a write, every WP and edge): %s; while nothing is written the fetched graph is reused after one version query", fmtDur(loaded))
	sec.note("whole-graph queries on Neo4j run on the fetched graph: Cypher has no efficient way to carry a value along every edge in topological order")
	sec.note("the embedded index is updated in each commit, so a write costs its queries nothing; on Neo4j, whole-graph queries after a write pay the fetch")
	b.rep.atLeast("whole-graph queries after a write: Neo4j / embedded index, p50, least", minWhole, targetWholeRatio, func(v float64) string { return fmt.Sprintf("%.1fx", v) })

	return b.neo4jWrites(ctx, srv)
}

type neo4jRow struct {
	name      string
	whole     bool
	lite, neo result
	// afterWrite is Neo4j's time when a write came just before, so the
	// graph must be fetched again (the state under a write load).
	afterWrite *result
}

// neo4jQueries times each graph query through both Services on the same
// random inputs.
func (b *bench) neo4jQueries(ctx context.Context, lite, neo *agileplus.Service, project string, keys []string) ([]neo4jRow, error) {
	rng := rand.New(rand.NewPCG(5, 6))
	key := func() string { return keys[rng.IntN(len(keys))] }
	n := max(b.sz.graphCalls/4, 50)
	heavy := max(b.sz.graphCalls/40, 10)
	type query struct {
		name  string
		whole bool
		arg   func() string
		fn    func(s *agileplus.Service, a string) error
	}
	reach := func(blockers bool, depth int) func(s *agileplus.Service, a string) error {
		return func(s *agileplus.Service, a string) error {
			var err error
			if blockers {
				_, err = s.Blockers(ctx, a, true, depth)
			} else {
				_, err = s.Dependents(ctx, a, true, depth)
			}
			return err
		}
	}
	whole := func() string { return project }
	qs := []query{
		{"ready (page of 100)", false, func() string { return "" }, func(s *agileplus.Service, _ string) error {
			_, err := s.Ready(ctx, project, "", agileplus.Page{Limit: 100})
			return err
		}},
		{"blockers, direct", false, key, func(s *agileplus.Service, a string) error { _, err := s.Blockers(ctx, a, false, 0); return err }},
		{"blockers, transitive, depth 3", false, key, reach(true, 3)},
		{"blockers, transitive, depth 5", false, key, reach(true, 5)},
		{"dependents, transitive, depth 3", false, key, reach(false, 3)},
		{"dependents, transitive, depth 5", false, key, reach(false, 5)},
		{"shortest path, random pairs", false, func() string { return key() + " " + key() }, func(s *agileplus.Service, a string) error {
			var from, to string
			fmt.Sscan(a, &from, &to)
			_, err := s.Path(ctx, from, to)
			if c := agileplus.ErrorCode(err); c == agileplus.ENOTFOUND || c == agileplus.EINVALID {
				return nil
			}
			return err
		}},
		{"impact (list 100)", false, key, func(s *agileplus.Service, a string) error { _, err := s.Impact(ctx, a, 100); return err }},
		{"critical path (page of 100), whole project", true, whole, func(s *agileplus.Service, a string) error {
			_, err := s.CriticalPath(ctx, a, "", agileplus.Page{})
			return err
		}},
		{"layers, whole project", true, whole, func(s *agileplus.Service, a string) error { _, err := s.Layers(ctx, a, ""); return err }},
		{"cycles, whole project", true, whole, func(s *agileplus.Service, a string) error { _, err := s.Cycles(ctx, a); return err }},
		{"export compact, whole project", true, whole, func(s *agileplus.Service, a string) error {
			_, err := s.Export(ctx, a, agileplus.ExportCompact)
			return err
		}},
	}
	var rows []neo4jRow
	for _, q := range qs {
		calls := n
		if q.whole {
			calls = heavy
		}
		args := make([]string, readWarmup+calls)
		for i := range args {
			args[i] = q.arg()
		}
		row := neo4jRow{name: q.name, whole: q.whole}
		var err error
		if row.lite, _, err = timeQuery(readWarmup, calls, func(i int) error { return q.fn(lite, args[i]) }); err != nil {
			return nil, fmt.Errorf("%s (embedded): %w", q.name, err)
		}
		if row.neo, _, err = timeQuery(readWarmup, calls, func(i int) error { return q.fn(neo, args[i]) }); err != nil {
			return nil, fmt.Errorf("%s (Neo4j): %w", q.name, err)
		}
		if q.whole {
			// A write first (any write changes the version the fetched
			// graph is keyed on), then the timed query.
			k := max(calls/2, 3)
			lat := make([]time.Duration, 0, k)
			for i := range k {
				name := fmt.Sprintf("Graph benchmark %d", i)
				if _, err := neo.UpdateProject(ctx, project, agileplus.ProjectUpdate{Name: &name}, 0); err != nil {
					return nil, fmt.Errorf("%s (Neo4j, a write first): %w", q.name, err)
				}
				t := time.Now()
				if err := q.fn(neo, args[i]); err != nil {
					return nil, fmt.Errorf("%s (Neo4j, after a write): %w", q.name, err)
				}
				lat = append(lat, time.Since(t))
			}
			slices.Sort(lat)
			row.afterWrite = &result{ops: k, lat: lat}
		}
		b.logf("neo4j: %-34s embedded p50 %s p99 %s | Neo4j p50 %s p99 %s", q.name,
			fmtDur(row.lite.pct(50)), fmtDur(row.lite.pct(99)), fmtDur(row.neo.pct(50)), fmtDur(row.neo.pct(99)))
		rows = append(rows, row)
	}
	return rows, nil
}

// neo4jWrites times create and mixed write commands through HTTP on
// Neo4j, first with one serve process, then with two sharing the database
// and the first one's NATS server, the load split between them.
func (b *bench) neo4jWrites(ctx context.Context, srv *neo4jtest.Server) error {
	env := []string{"NEO4J_USER=" + srv.User(), "NEO4J_PASSWORD=" + srv.Password()}
	sec := b.rep.section("Write commands through HTTP on Neo4j", "serve processes", "command", "ops", "rate", "p50", "p99")
	ops := max(b.sz.writeOps/4, 4*neo4jWriteWorkers)
	for procs := 1; procs <= 2; procs++ {
		var children []*child
		for i := range procs {
			dir, err := b.dir(fmt.Sprintf("neo4j-serve-%d-%d", procs, i))
			if err != nil {
				return err
			}
			args := []string{"--neo4j-url", srv.URL()}
			if i == 0 {
				args = append(args, "--nats-listen", "127.0.0.1:0")
			} else {
				u, err := children[0].busURL(ctx)
				if err != nil {
					return err
				}
				args = append(args, "--nats-url", u)
			}
			c, err := b.startServe(ctx, dir, env, args...)
			if err != nil {
				return err
			}
			defer c.stop()
			children = append(children, c)
		}
		proj := fmt.Sprintf("NEOW%d", procs)
		feat := fmt.Sprintf("neo-writes-%d", procs)
		api := client(children[0].base)
		if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: proj, Name: "Neo4j writes"}); err != nil {
			return err
		}
		if _, err := api.CreateFeature(ctx, proj, agileplus.FeatureCreate{Slug: feat, Title: "Neo4j writes"}); err != nil {
			return err
		}
		create := func(_, _ int) request {
			return request{"POST", "/v1/features/" + feat + "/wps", []byte(`{"title":"bench wp","estimate":2}`)}
		}
		// Untimed first: a fresh JVM plans and compiles the write
		// statements during the first hundreds of commands.
		if _, err := b.splitLoad(ctx, children, max(ops/10, 4*neo4jWriteWorkers), create); err != nil {
			return fmt.Errorf("create warm-up on %d processes: %w", procs, err)
		}
		r, err := b.splitLoad(ctx, children, ops, create)
		if err != nil {
			return fmt.Errorf("create load on %d processes: %w", procs, err)
		}
		b.logf("neo4j writes: %d process(es): create WP %s ops %s p50 %s p99 %s", procs, fmtInt(r.ops), fmtRate(r.rate()), fmtDur(r.pct(50)), fmtDur(r.pct(99)))
		sec.row(fmt.Sprint(procs), "create WP", fmtInt(r.ops), fmtRate(r.rate()), fmtDur(r.pct(50)), fmtDur(r.pct(99)))
		for _, c := range children {
			if err := c.stop(); err != nil {
				return err
			}
		}
	}
	sec.note("%d concurrent clients in all, split evenly over the processes; all in one feature, whose audit trail orders them; a tenth as many creates run untimed first", neo4jWriteWorkers)
	return nil
}

// splitLoad runs ops requests from neo4jWriteWorkers clients, split evenly
// over the children, and merges the results.
func (b *bench) splitLoad(ctx context.Context, children []*child, ops int, gen func(w, j int) request) (result, error) {
	hc := b.loadClient(neo4jWriteWorkers)
	defer hc.close()
	rs := make([]result, len(children))
	errs := make(chan error, len(children))
	for i, c := range children {
		go func() {
			var err error
			rs[i], err = load(ctx, hc, c.base, ops/len(children), neo4jWriteWorkers/len(children), gen)
			errs <- err
		}()
	}
	for range children {
		if err := <-errs; err != nil {
			return result{}, err
		}
	}
	// Concurrent: the wall time is the longest of them.
	var m result
	for _, r := range rs {
		m.ops += r.ops
		m.elapsed = max(m.elapsed, r.elapsed)
		m.lat = append(m.lat, r.lat...)
	}
	slices.Sort(m.lat)
	return m, nil
}
