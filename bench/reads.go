package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

const (
	targetReadP99 = 1.0 // ms
	readProject   = "READ"
	readWarmup    = 100
)

// readProjectStats describes the generated project.
type readProjectStats struct {
	wps, features, edges, done, forced int
	createWP, addDep, transition       result // sequential in-process commands
	// add dependency rates over the first and the last fifth of the WPs:
	// each cycle check walks the ancestors of the new edge's target.
	depFirst, depLast float64
}

func (b *bench) reads(ctx context.Context) error {
	dir, err := b.dir("reads")
	if err != nil {
		return err
	}
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		return err
	}
	defer store.Close()
	svc := agileplus.NewService(store)
	rng := rand.New(rand.NewPCG(1, 2))

	keys, st, err := b.generate(ctx, svc, rng)
	if err != nil {
		return err
	}

	srv := httpapi.NewServer(svc, nil, nil, "bench")
	n := b.sz.readCalls
	randomKey := func() string { return keys[rng.IntN(len(keys))] }
	var readySize, readyBytes int

	httpGet := func(path func() string) func() error {
		return func() error {
			req := httptest.NewRequest(http.MethodGet, path(), nil)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %s", req.URL, rec.Code, rec.Body.Bytes())
			}
			readyBytes = rec.Body.Len()
			return nil
		}
	}
	measures := []struct {
		name string
		fn   func() error
	}{
		{"HTTP GET /v1/wps/{key}", httpGet(func() string { return "/v1/wps/" + randomKey() })},
		{"HTTP GET /v1/ready?project=" + readProject, httpGet(func() string { return "/v1/ready?project=" + readProject })},
		{"Service.WP(key)", func() error { _, err := svc.WP(ctx, randomKey()); return err }},
		{"Service.Ready(project)", func() error {
			ws, err := svc.Ready(ctx, readProject, "", agileplus.Page{})
			readySize = len(ws)
			return err
		}},
		{"HTTP GET /v1/ready?order=priority", httpGet(func() string { return "/v1/ready?order=priority&project=" + readProject })},
		{"Service.Ready(project, priority)", func() error {
			_, err := svc.Ready(ctx, readProject, agileplus.OrderPriority, agileplus.Page{})
			return err
		}},
	}
	runs := make([]result, len(measures))
	var readyRespBytes int
	for i, m := range measures {
		r, err := timeCalls(n, m.fn)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if i == 1 {
			readyRespBytes = readyBytes
		}
		runs[i] = r
		b.logf("reads: %-34s p50 %s  p99 %s", m.name, fmtDur(r.pct(50)), fmtDur(r.pct(99)))
	}

	s := b.rep.section(fmt.Sprintf("2. Reads on a %s-WP project, in process (sequential calls, %d warm-up)", fmtInt(st.wps), readWarmup),
		"read", "calls", "HTTP p50", "HTTP p99", "p99<1ms", "Service p50", "Service p99", "p99<1ms", "HTTP/Service p99")
	for i, name := range []string{"get WP by key (random keys)", "ready set of the project", "ready set by priority"} {
		h, sv := runs[i], runs[i+2]
		if i == 2 {
			h, sv = runs[4], runs[5]
		}
		s.row(name, fmtInt(h.ops), fmtDur(h.pct(50)), fmtDur(h.pct(99)), metOrMissed(ms(h.pct(99)) < targetReadP99),
			fmtDur(sv.pct(50)), fmtDur(sv.pct(99)), metOrMissed(ms(sv.pct(99)) < targetReadP99),
			fmt.Sprintf("%.2fx", float64(h.pct(99))/float64(sv.pct(99))))
	}
	s.note("project: %s WPs in %d features, %s depends_on edges (random DAG, each WP on up to 5 earlier ones), %s done (%s of them forced past open dependencies)",
		fmtInt(st.wps), st.features, fmtInt(st.edges), fmtInt(st.done), fmtInt(st.forced))
	s.note("ready set: %s WPs; the /v1/ready response is %.0f KB of JSON", fmtInt(readySize), float64(readyRespBytes)/1024)
	s.note("HTTP: httpapi.NewServer(svc, nil, nil, \"bench\").ServeHTTP with httptest.NewRecorder (routing, JSON encoding, no network)")
	s.note("generating it in process, one command at a time (Service over SQLite, no relay): create WP %s (p99 %s), add dependency %s (p99 %s), transition %s (p99 %s)",
		fmtRate(st.createWP.rate()), fmtDur(st.createWP.pct(99)), fmtRate(st.addDep.rate()), fmtDur(st.addDep.pct(99)),
		fmtRate(st.transition.rate()), fmtDur(st.transition.pct(99)))
	s.note("add dependency slowed from %s over the first fifth of the WPs to %s over the last, as the cycle check's ancestor walk grew",
		fmtRate(st.depFirst), fmtRate(st.depLast))

	b.rep.below("HTTP get WP p99 ("+fmtInt(st.wps)+" WPs)", ms(runs[0].pct(99)), targetReadP99, fmtMS)
	b.rep.below("HTTP ready set p99 ("+fmtInt(readySize)+" ready)", ms(runs[1].pct(99)), targetReadP99, fmtMS)
	b.rep.below("Service get WP p99", ms(runs[2].pct(99)), targetReadP99, fmtMS)
	b.rep.below("Service ready set p99", ms(runs[3].pct(99)), targetReadP99, fmtMS)
	b.rep.below("HTTP ready set by priority p99", ms(runs[4].pct(99)), targetReadP99, fmtMS)
	b.rep.below("Service ready set by priority p99", ms(runs[5].pct(99)), targetReadP99, fmtMS)
	b.rep.info("ready-set size", fmtInt(readySize)+" of "+fmtInt(st.wps)+" WPs")
	b.rep.info("in-process create WP, sequential (baseline)", fmtRate(st.createWP.rate()))
	b.rep.info("in-process add dependency, last fifth of the DAG", fmt.Sprintf("%s (first fifth %s)", fmtRate(st.depLast), fmtRate(st.depFirst)))
	return nil
}

// timeCalls calls fn readWarmup times, then n times timing each call.
func timeCalls(n int, fn func() error) (result, error) {
	for range readWarmup {
		if err := fn(); err != nil {
			return result{}, err
		}
	}
	lat := make([]time.Duration, n)
	t0 := time.Now()
	for i := range n {
		t := time.Now()
		if err := fn(); err != nil {
			return result{}, err
		}
		lat[i] = time.Since(t)
	}
	elapsed := time.Since(t0)
	slices.Sort(lat)
	return result{ops: n, elapsed: elapsed, lat: lat}, nil
}

// timer records the latency of a sequence of calls.
type timer struct {
	t0  time.Time
	lat []time.Duration
}

func (t *timer) do(fn func() error) error {
	if t.t0.IsZero() {
		t.t0 = time.Now()
	}
	s := time.Now()
	err := fn()
	t.lat = append(t.lat, time.Since(s))
	return err
}

func (t *timer) run() result {
	slices.Sort(t.lat)
	return result{ops: len(t.lat), elapsed: time.Since(t.t0), lat: t.lat}
}

// generate builds the read project through the Service: WPs spread round
// robin over the features; each WP depends on 1-5 earlier ones, mostly
// recent ones of its own feature, some anywhere earlier; in each feature
// most of the first 40% of WPs are done and a few of the rest, about 40%
// in all. Starting a WP whose dependencies are open is forced with a reason,
// as a team would.
func (b *bench) generate(ctx context.Context, svc *agileplus.Service, rng *rand.Rand) ([]string, readProjectStats, error) {
	nWP, nF := b.sz.readWPs, b.sz.readFeats
	st := readProjectStats{wps: nWP, features: nF}
	ctx = agileplus.WithActor(ctx, "bench")
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: readProject, Name: "Read benchmark"}); err != nil {
		return nil, st, err
	}
	slugs := make([]string, nF)
	for f := range nF {
		slugs[f] = fmt.Sprintf("area-%02d", f+1)
		if _, err := svc.CreateFeature(ctx, readProject, agileplus.FeatureCreate{Slug: slugs[f], Title: fmt.Sprintf("Area %d", f+1)}); err != nil {
			return nil, st, err
		}
	}

	t0 := time.Now()
	keys := make([]string, nWP)
	var tm timer
	for i := range nWP {
		est := float64(1 + rng.IntN(16))
		err := tm.do(func() error {
			w, err := svc.CreateWP(ctx, slugs[i%nF], agileplus.WPCreate{
				Title:       fmt.Sprintf("Work package %d of %s", i/nF+1, slugs[i%nF]),
				Description: "Generated by the read benchmark: a paragraph of description, as real work packages carry, so rows are not unrealistically small.",
				Estimate:    &est,
				// A quarter of each priority, so the priority order is a
				// real index range and not key order in disguise.
				Priority: agileplus.Priorities[i%len(agileplus.Priorities)],
			})
			if err == nil {
				keys[i] = w.Key
			}
			return err
		})
		if err != nil {
			return nil, st, err
		}
	}
	st.createWP = tm.run()
	b.logf("reads: created %s WPs in %s", fmtInt(nWP), time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	deps := make([][]int, nWP)
	tm = timer{}
	lastEdges, lastT := 0, t0
	for i := range nWP {
		pos := i / nF
		want := 1 + rng.IntN(5)
		for try := 0; len(deps[i]) < want && try < 4*want; try++ {
			var j int
			if rng.IntN(100) < 85 {
				if pos == 0 {
					continue
				}
				j = i - nF*(1+rng.IntN(min(pos, 50))) // a recent WP of the same feature
			} else {
				if i == 0 {
					continue
				}
				j = rng.IntN(i)
			}
			if slices.Contains(deps[i], j) {
				continue
			}
			deps[i] = append(deps[i], j)
			if err := tm.do(func() error {
				_, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: keys[i], To: keys[j], Kind: agileplus.DependsOn})
				return err
			}); err != nil {
				return nil, st, fmt.Errorf("%s depends_on %s: %w", keys[i], keys[j], err)
			}
			st.edges++
		}
		if (i+1)%(nWP/5) == 0 {
			rate := float64(st.edges-lastEdges) / time.Since(lastT).Seconds()
			if lastEdges == 0 {
				st.depFirst = rate
			}
			st.depLast = rate
			lastEdges, lastT = st.edges, time.Now()
			b.logf("reads: %s edges for %s WPs (%s; %s in this fifth)", fmtInt(st.edges), fmtInt(i+1), time.Since(t0).Round(time.Millisecond), fmtRate(rate))
		}
	}
	st.addDep = tm.run()
	b.logf("reads: added %s dependencies in %s", fmtInt(st.edges), time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	perFeature := (nWP + nF - 1) / nF
	done := make([]bool, nWP)
	tm = timer{}
	for i := range nWP {
		p := 7
		if i/nF < perFeature*2/5 {
			p = 90
		}
		if rng.IntN(100) >= p {
			continue
		}
		var open bool
		for _, j := range deps[i] {
			open = open || !done[j]
		}
		if open {
			st.forced++
		}
		for _, t := range []agileplus.Transition{
			{To: agileplus.WPDoing, Force: open, Reason: forceReason(open)},
			{To: agileplus.WPReview},
			{To: agileplus.WPDone},
		} {
			if err := tm.do(func() error { _, err := svc.TransitionWP(ctx, keys[i], t, 0); return err }); err != nil {
				return nil, st, fmt.Errorf("%s to %s: %w", keys[i], t.To, err)
			}
		}
		done[i] = true
		st.done++
	}
	st.transition = tm.run()
	b.logf("reads: moved %s WPs to done (%s forced) in %s", fmtInt(st.done), fmtInt(st.forced), time.Since(t0).Round(time.Millisecond))
	return keys, st, nil
}

func forceReason(open bool) string {
	if open {
		return "bench: started ahead of its dependencies"
	}
	return ""
}
