package crosstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/storemigrate"
)

// TestGraphAnswers builds one random plan through the Service into a
// SQLite store, copies it into Neo4j with storemigrate.Run, and asks both
// Services every graph query: the embedded index on SQLite and Cypher (or
// the fetched graph) on Neo4j must give the same answers and the same
// errors, for every WP and a sample of pairs.
//
// The plan: two projects of a DAG (about 3 depends_on edges per WP, a
// quarter across features, some across projects, mixed states and
// estimates, relates_to edges that would close cycles if they blocked,
// feature-level edges, live claims, forced starts, removed edges) and a
// small third project imported with cycles, which also reach into the
// other two.
func TestGraphAnswers(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	began := time.Now()
	sqlite, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	lite := agileplus.NewService(sqlite)
	keys := buildRandomPlan(t, ctx, lite, rand.New(rand.NewPCG(7, 11)))
	built := time.Since(began)

	neo := openNeo4j(t, neo4jtest.Shared(t))
	began = time.Now()
	if _, err := storemigrate.Run(ctx, sqlite, neo, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Logf("plan of %d WPs built on SQLite in %s, migrated to Neo4j in %s", len(keys), built.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	cmp := &answerComparer{t: t, lite: lite, neo: agileplus.NewService(neo)}

	projects := []string{"CORE", "WEB", "LOOP"}
	began = time.Now()
	t.Run("project queries", func(t *testing.T) {
		cmp.t, cmp.failures = t, 0
		for _, p := range append(projects, "NOPE") {
			cmp.same("ready "+p, func(s *agileplus.Service) (any, error) { return readyAll(ctx, s, p) })
			cmp.same("layers "+p, func(s *agileplus.Service) (any, error) { return s.Layers(ctx, p, "") })
			cmp.same("ready by priority "+p, func(s *agileplus.Service) (any, error) { return readyAllBy(ctx, s, p, agileplus.OrderPriority) })
			cmp.same("layers by priority "+p, func(s *agileplus.Service) (any, error) { return s.Layers(ctx, p, agileplus.OrderPriority) })
			cmp.same("critical path "+p, func(s *agileplus.Service) (any, error) { return criticalPathAll(ctx, s, p, "") })
			cmp.same("cycles "+p, func(s *agileplus.Service) (any, error) { return s.Cycles(ctx, p) })
			cmp.same("features "+p, func(s *agileplus.Service) (any, error) { return s.FeatureGraph(ctx, p) })
			for _, f := range []string{agileplus.ExportJSON, agileplus.ExportDOT, agileplus.ExportMermaid, agileplus.ExportCompact, "svg"} {
				cmp.same("export "+p+" "+f, func(s *agileplus.Service) (any, error) {
					b, err := s.Export(ctx, p, f)
					return string(b), err
				})
			}
		}
		for _, f := range []string{"core-0", "core-1", "core-2", "core-3", "web-0", "web-1", "web-2", "loop-0", "nope"} {
			cmp.same("critical path of feature "+f, func(s *agileplus.Service) (any, error) { return criticalPathAll(ctx, s, "", f) })
		}
	})
	t.Logf("project queries compared in %s", time.Since(began).Round(time.Millisecond))

	began = time.Now()
	t.Run("every wp", func(t *testing.T) {
		cmp.t, cmp.failures = t, 0
		for i, k := range append(keys, "CORE-999", "wp_nope") {
			ref := k
			if i%3 == 1 {
				ref = wpID(t, ctx, lite, k) // ids and keys both work
			}
			for _, q := range []struct {
				name string
				fn   func(*agileplus.Service, context.Context, string, bool, int) (*agileplus.GraphReach, error)
			}{{"blockers", (*agileplus.Service).Blockers}, {"dependents", (*agileplus.Service).Dependents}} {
				cmp.same(q.name+" direct "+k, func(s *agileplus.Service) (any, error) { return q.fn(s, ctx, ref, false, 0) })
				for depth := 0; depth <= 5; depth++ { // 0: the default, MaxGraphDepth
					cmp.same(fmt.Sprintf("%s %s depth %d", q.name, k, depth), func(s *agileplus.Service) (any, error) { return q.fn(s, ctx, ref, true, depth) })
				}
			}
			for _, limit := range []int{0, 3, agileplus.MaxImpactList} {
				cmp.same(fmt.Sprintf("impact %s limit %d", k, limit), func(s *agileplus.Service) (any, error) { return s.Impact(ctx, ref, limit) })
			}
		}
	})
	t.Logf("every wp compared in %s", time.Since(began).Round(time.Millisecond))

	began = time.Now()
	t.Run("paths", func(t *testing.T) {
		cmp.t, cmp.failures = t, 0
		r := rand.New(rand.NewPCG(5, 3))
		found := 0
		for i := range 400 {
			from := keys[r.IntN(len(keys))]
			to := keys[r.IntN(len(keys))]
			if i%2 == 0 {
				// A WP that from waits on, so that about half the pairs
				// have a path, often several equally short ones.
				res, err := lite.Blockers(ctx, from, true, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.WPs) > 0 {
					to = res.WPs[r.IntN(len(res.WPs))].Key
				}
			}
			if cmp.same("path "+from+" "+to, func(s *agileplus.Service) (any, error) { return s.Path(ctx, from, to) }) == nil {
				found++
			}
		}
		if found < 150 || found > 350 {
			t.Errorf("%d of 400 pairs have a path: want both kinds well represented", found)
		}
	})
	t.Logf("400 paths compared in %s", time.Since(began).Round(time.Millisecond))

	t.Run("errors", func(t *testing.T) {
		cmp.t, cmp.failures = t, 0
		for name, fn := range map[string]func(*agileplus.Service) (any, error){
			"depth too deep": func(s *agileplus.Service) (any, error) {
				return s.Blockers(ctx, "CORE-1", true, agileplus.MaxGraphDepth+1)
			},
			"depth negative":        func(s *agileplus.Service) (any, error) { return s.Dependents(ctx, "CORE-1", true, -1) },
			"blockers of a project": func(s *agileplus.Service) (any, error) { return s.Blockers(ctx, "CORE", false, 0) },
			"blockers of nothing":   func(s *agileplus.Service) (any, error) { return s.Blockers(ctx, "", false, 0) },
			"path from unknown":     func(s *agileplus.Service) (any, error) { return s.Path(ctx, "CORE-999", "CORE-1") },
			"path to unknown":       func(s *agileplus.Service) (any, error) { return s.Path(ctx, "CORE-1", "wp_nope") },
			"path both unknown":     func(s *agileplus.Service) (any, error) { return s.Path(ctx, "WEB-999", "CORE-999") },
			"path without to":       func(s *agileplus.Service) (any, error) { return s.Path(ctx, "CORE-1", "") },
			"impact limit":          func(s *agileplus.Service) (any, error) { return s.Impact(ctx, "CORE-1", agileplus.MaxPageLimit+1) },
			"impact of unknown":     func(s *agileplus.Service) (any, error) { return s.Impact(ctx, "LOOP-99", 0) },
		} {
			if cmp.same(name, fn) == nil {
				t.Errorf("%s: got no error on either store", name)
			}
		}
		// A path from a WP to itself is the WP alone, on both stores.
		for name, fn := range map[string]func(*agileplus.Service) (any, error){
			"path to itself":     func(s *agileplus.Service) (any, error) { return s.Path(ctx, "CORE-3", "CORE-3") },
			"path id to own key": func(s *agileplus.Service) (any, error) { return s.Path(ctx, wpID(t, ctx, lite, "WEB-2"), "WEB-2") },
		} {
			if err := cmp.same(name, fn); err != nil {
				t.Errorf("%s: %v, want the WP alone", name, err)
			}
		}
	})
	if cmp.compared < 5000 {
		t.Errorf("compared %d answers, want at least 5,000", cmp.compared)
	}
	if !t.Failed() {
		t.Logf("%d answers compared, all equal", cmp.compared)
	}
}

// answerComparer asks both Services the same question.
type answerComparer struct {
	t         *testing.T
	lite, neo *agileplus.Service
	compared  int
	failures  int
}

// same asks both Services and reports any difference in the answers or
// the errors (code, field and message); it returns the embedded index's
// error.
func (c *answerComparer) same(name string, q func(*agileplus.Service) (any, error)) error {
	c.t.Helper()
	c.compared++
	want, wantErr := q(c.lite)
	got, gotErr := q(c.neo)
	if agileplus.ErrorCode(gotErr) == agileplus.EUNAVAILABLE || agileplus.ErrorCode(gotErr) == agileplus.EINTERNAL && gotErr != nil {
		c.t.Fatalf("%s: Neo4j: %v", name, gotErr)
	}
	switch {
	case !sameError(gotErr, wantErr):
		c.fail("%s: got error %s, want %s", name, describe(gotErr), describe(wantErr))
	case wantErr == nil && !sameAnswer(got, want):
		c.fail("%s:\n got (Neo4j) %s\nwant (index) %s", name, show(got), show(want))
	}
	return wantErr
}

func (c *answerComparer) fail(format string, args ...any) {
	c.t.Helper()
	c.failures++
	if c.failures > 20 {
		c.t.FailNow()
	}
	c.t.Errorf(format, args...)
}

func sameError(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || agileplus.ErrorCode(a) == agileplus.ErrorCode(b) && agileplus.ErrorField(a) == agileplus.ErrorField(b) &&
		agileplus.ErrorMessage(a) == agileplus.ErrorMessage(b)
}

func describe(err error) string {
	if err == nil {
		return "none"
	}
	return fmt.Sprintf("%s (field %q): %s", agileplus.ErrorCode(err), agileplus.ErrorField(err), agileplus.ErrorMessage(err))
}

// sameAnswer compares two answers exactly: floats bit for bit, lists in
// order, empty and nil lists apart. WPs, which carry times, compare as
// JSON.
func sameAnswer(a, b any) bool {
	if wa, ok := a.([]*agileplus.WP); ok {
		wb, _ := b.([]*agileplus.WP)
		return show(wa) == show(wb)
	}
	return reflect.DeepEqual(a, b)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// readyAll pages through a project's ready WPs, 7 at a time.
func readyAll(ctx context.Context, s *agileplus.Service, project string) ([]*agileplus.WP, error) {
	return readyAllBy(ctx, s, project, "")
}

// readyAllBy is readyAll in an order.
func readyAllBy(ctx context.Context, s *agileplus.Service, project, order string) ([]*agileplus.WP, error) {
	all := []*agileplus.WP{}
	for pg := (agileplus.Page{Limit: 7}); ; {
		ws, err := s.Ready(ctx, project, order, pg)
		if err != nil {
			return nil, err
		}
		all = append(all, ws...)
		if len(ws) < pg.Limit {
			return all, nil
		}
		pg.After = agileplus.ReadyCursor(ws[len(ws)-1], order)
	}
}

// criticalPathAll pages through a critical path's schedule and merges the
// pages, so that every WP's slack is compared.
func criticalPathAll(ctx context.Context, s *agileplus.Service, project, feature string) (*agileplus.GraphCriticalPath, error) {
	var all *agileplus.GraphCriticalPath
	for pg := (agileplus.Page{Limit: agileplus.MaxPageLimit}); ; {
		cp, err := s.CriticalPath(ctx, project, feature, pg)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = cp
		} else {
			all.WPs = append(all.WPs, cp.WPs...)
		}
		if cp.Next == "" {
			all.Next = ""
			return all, nil
		}
		pg.After = cp.Next
	}
}

func wpID(t *testing.T, ctx context.Context, s *agileplus.Service, key string) string {
	t.Helper()
	w, err := s.WP(ctx, key)
	if err != nil {
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return "wp_nope"
		}
		t.Fatal(err)
	}
	return w.ID
}

// buildRandomPlan builds the plan TestGraphAnswers queries and returns the
// keys of its WPs.
func buildRandomPlan(t *testing.T, ctx context.Context, svc *agileplus.Service, r *rand.Rand) []string {
	t.Helper()
	const (
		perProject = 150 // WPs of CORE and of WEB
		loopWPs    = 16
	)
	var file bytes.Buffer
	rec := func(v agileplus.Record) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		file.Write(append(b, '\n'))
	}
	feats := map[string]int{"CORE": 4, "WEB": 3, "LOOP": 1}
	for _, p := range []string{"CORE", "WEB", "LOOP"} {
		rec(agileplus.Record{Type: agileplus.RecProject, Key: p, Name: strings.ToLower(p)})
		for f := range feats[p] {
			rec(agileplus.Record{Type: agileplus.RecFeature, Project: p, Slug: fmt.Sprintf("%s-%d", strings.ToLower(p), f), Title: "F"})
		}
	}
	ests := []float64{0, 0.1, 0.2, 0.3, 0.5, 1, 1, 2, 3, 8, 13.7, 40}
	states := []string{agileplus.WPPlanned, agileplus.WPPlanned, agileplus.WPPlanned, agileplus.WPDoing, agileplus.WPReview, agileplus.WPBlocked,
		agileplus.WPDone, agileplus.WPDone, agileplus.WPDone}
	// Topological order: WPs of CORE and WEB interleaved; each depends on
	// earlier ones only.
	var order []string
	feature := map[string]string{}
	for i := range perProject {
		for _, p := range []string{"CORE", "WEB"} {
			k := fmt.Sprintf("%s-%d", p, i+1)
			order = append(order, k)
			feature[k] = fmt.Sprintf("%s-%d", strings.ToLower(p), r.IntN(feats[p]))
		}
	}
	for i, k := range order {
		est := ests[r.IntN(len(ests))]
		// Priorities in turn, drawing nothing from r: the plan stays the one it was.
		rec(agileplus.Record{Type: agileplus.RecWP, Key: k, Feature: feature[k], Title: k, State: states[r.IntN(len(states))], Estimate: &est,
			Priority: agileplus.Priorities[(i/3)%len(agileplus.Priorities)]})
	}
	edges := map[[2]string]bool{}
	addEdge := func(from, to, kind string) bool {
		if from == to || edges[[2]string{from, to}] || edges[[2]string{to, from}] {
			return false
		}
		edges[[2]string{from, to}] = true
		rec(agileplus.Record{Type: agileplus.RecDependency, From: from, To: to, Kind: kind})
		return true
	}
	for i, k := range order {
		if i == 0 {
			continue
		}
		for range r.IntN(6) + 1 { // 3.5 on average, fewer once duplicates drop
			var j int
			if r.IntN(2) == 0 {
				j = i - 1 - r.IntN(min(i, 12)) // close: long chains
			} else {
				j = r.IntN(i) // anywhere earlier: shortcuts, fan-in
			}
			to := order[j]
			if strings.HasPrefix(k, "CORE") != strings.HasPrefix(to, "CORE") && r.IntN(3) > 0 {
				continue // fewer cross-project edges
			}
			addEdge(k, to, agileplus.DependsOn)
		}
	}
	// relates_to backwards: cycles if they blocked.
	for range 60 {
		i := r.IntN(len(order)-1) + 1
		addEdge(order[r.IntN(i)], order[i], agileplus.RelatesTo)
	}
	// Feature-level edges.
	rec(agileplus.Record{Type: agileplus.RecDependency, From: "core-2", To: "core-0"})
	rec(agileplus.Record{Type: agileplus.RecDependency, From: "web-1", To: "core-3"})
	rec(agileplus.Record{Type: agileplus.RecDependency, From: "web-2", To: "web-0", Kind: agileplus.RelatesTo})
	// LOOP: a ring with chords, a self-contained two-cycle, edges into the
	// DAG and from the DAG into the ring.
	for i := range loopWPs {
		est := ests[r.IntN(len(ests))]
		rec(agileplus.Record{Type: agileplus.RecWP, Key: fmt.Sprintf("LOOP-%d", i+1), Feature: "loop-0", Title: "loop", State: states[r.IntN(len(states))], Estimate: &est})
	}
	for i := range 10 {
		addEdge(fmt.Sprintf("LOOP-%d", i+1), fmt.Sprintf("LOOP-%d", (i+1)%10+1), agileplus.DependsOn)
	}
	addEdge("LOOP-3", "LOOP-8", agileplus.DependsOn)
	addEdge("LOOP-9", "LOOP-5", agileplus.DependsOn)
	addEdge("LOOP-11", "LOOP-12", agileplus.DependsOn)
	edges[[2]string{"LOOP-11", "LOOP-12"}] = false
	rec(agileplus.Record{Type: agileplus.RecDependency, From: "LOOP-12", To: "LOOP-11"})
	for i := 13; i <= loopWPs; i++ {
		addEdge(fmt.Sprintf("LOOP-%d", i), order[r.IntN(len(order))], agileplus.DependsOn)
		addEdge(order[len(order)-1-r.IntN(20)], fmt.Sprintf("LOOP-%d", i-12), agileplus.DependsOn)
	}
	if _, err := svc.BulkImport(ctx, &file, agileplus.ImportOptions{AllowCycles: true}); err != nil {
		t.Fatalf("import: %v", err)
	}

	// Then single commands, as people and agents make them.
	for range 40 { // more edges, checked for cycles
		i := r.IntN(len(order)-1) + 1
		from, to := order[i], order[r.IntN(i)]
		if edges[[2]string{from, to}] {
			continue
		}
		if _, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: from, To: to}); err != nil {
			t.Fatalf("add dependency %s -> %s: %v", from, to, err)
		}
		edges[[2]string{from, to}] = true
	}
	removed := 0
	for _, k := range order[:60] {
		es, err := svc.Dependencies(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Direction == agileplus.Blocks && r.IntN(4) == 0 {
				if err := svc.RemoveDependency(ctx, e.ID); err != nil {
					t.Fatal(err)
				}
				removed++
			}
		}
	}
	moved, claimed := 0, 0
	for _, k := range order {
		switch r.IntN(12) {
		case 0: // a forced start and on to review or done
			w, err := svc.WP(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if w.State != agileplus.WPPlanned && w.State != agileplus.WPBlocked {
				continue
			}
			path := []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}[:r.IntN(3)+1]
			for _, to := range path {
				if _, err := svc.TransitionWP(ctx, k, agileplus.Transition{To: to, Force: true, Reason: "test"}, 0); err != nil {
					t.Fatalf("move %s to %s: %v", k, to, err)
				}
				moved++
			}
		case 1: // a live claim: no longer ready
			w, err := svc.WP(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if w.State == agileplus.WPDone {
				continue
			}
			if _, err := svc.Claim(ctx, k, agileplus.ClaimRequest{Agent: "agent-" + k, TTLSeconds: 3600}); err != nil {
				t.Fatalf("claim %s: %v", k, err)
			}
			claimed++
		}
	}
	if removed == 0 || moved == 0 || claimed == 0 {
		t.Fatalf("removed %d edges, made %d moves and %d claims: want some of each", removed, moved, claimed)
	}
	keys := slices.Clone(order)
	for i := range loopWPs {
		keys = append(keys, fmt.Sprintf("LOOP-%d", i+1))
	}
	return keys
}
