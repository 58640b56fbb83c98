package crosstest

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// TestOpenDepsFollowWrites runs one random sequence of commands (new WPs,
// dependencies added and removed, WPs moved to done, some started ahead
// of their dependencies, claims) on Neo4j and on SQLite, and checks after
// each step that every WP's open_deps counter on Neo4j equals a recount
// and that both stores give the same ready set.
func TestOpenDepsFollowWrites(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	srv := neo4jtest.Shared(t)
	neoStore := openNeo4j(t, srv)
	lite, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	svcs := []*agileplus.Service{agileplus.NewService(lite), agileplus.NewService(neoStore)}
	both := func(what string, fn func(s *agileplus.Service) error) {
		t.Helper()
		var errs [2]string
		for i, s := range svcs {
			if err := fn(s); err != nil {
				errs[i] = agileplus.ErrorCode(err)
			}
		}
		if errs[0] != errs[1] {
			t.Fatalf("%s: SQLite %q, Neo4j %q", what, errs[0], errs[1])
		}
	}
	recount := func(step string) {
		t.Helper()
		res, err := neo4j.ExecuteQuery(ctx, srv.Driver(), `MATCH (w:WorkPackage)
			OPTIONAL MATCH (w)-[:DEPENDS_ON]->(d:WorkPackage) WHERE d.state <> 'done'
			WITH w, count(d) AS n WHERE w.open_deps IS NULL OR w.open_deps <> n
			RETURN w.key, w.open_deps, n LIMIT 5`, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(neo4jtest.Database))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			t.Errorf("after %s: %v holds open_deps %v, recount %v", step, r.Values[0], r.Values[1], r.Values[2])
		}
		var ready [2][]string
		for i, s := range svcs {
			ws, err := s.Ready(ctx, "RDY", "", agileplus.Page{Limit: agileplus.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				ready[i] = append(ready[i], w.Key)
			}
		}
		if !slices.Equal(ready[0], ready[1]) {
			t.Fatalf("after %s: ready on SQLite %v, on Neo4j %v", step, ready[0], ready[1])
		}
	}

	both("project", func(s *agileplus.Service) error {
		_, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "RDY", Name: "r"})
		return err
	})
	both("feature", func(s *agileplus.Service) error {
		_, err := s.CreateFeature(ctx, "RDY", agileplus.FeatureCreate{Slug: "rdy", Title: "r"})
		return err
	})
	rng := rand.New(rand.NewPCG(11, 13))
	n := 0
	newWP := func() {
		n++
		both("new wp", func(s *agileplus.Service) error {
			_, err := s.CreateWP(ctx, "rdy", agileplus.WPCreate{Title: fmt.Sprint("w", n)})
			return err
		})
	}
	for range 12 {
		newWP()
	}
	key := func(i int) string { return fmt.Sprint("RDY-", i) }
	state := map[int]string{}
	claimed := map[int]bool{}
	for i := 1; i <= n; i++ {
		state[i] = agileplus.WPPlanned
	}
	next := map[string]string{agileplus.WPPlanned: agileplus.WPDoing, agileplus.WPDoing: agileplus.WPReview, agileplus.WPReview: agileplus.WPDone}
	for step := range 200 {
		switch op := rng.IntN(10); {
		case op < 2:
			newWP()
			state[n] = agileplus.WPPlanned
		case op < 5: // a dependency on an earlier WP: never a cycle
			from := 2 + rng.IntN(n-1)
			to := 1 + rng.IntN(from-1)
			both(fmt.Sprintf("step %d: %s depends on %s", step, key(from), key(to)), func(s *agileplus.Service) error {
				_, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: key(from), To: key(to), Kind: agileplus.DependsOn})
				return err
			})
		case op < 6: // remove one of a WP's dependencies
			from := 1 + rng.IntN(n)
			var targets [2][]string
			for i, s := range svcs {
				es, err := s.Dependencies(ctx, key(from))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					if e.Direction == agileplus.DependsOn {
						targets[i] = append(targets[i], e.OtherKey+" "+e.ID)
					}
				}
				slices.Sort(targets[i])
			}
			if len(targets[0]) == 0 {
				continue
			}
			j := rng.IntN(len(targets[0]))
			for i, s := range svcs {
				var other, id string
				fmt.Sscan(targets[i][j], &other, &id)
				if err := s.RemoveDependency(ctx, id); err != nil {
					t.Fatalf("step %d: remove %s -> %s: %v", step, key(from), other, err)
				}
			}
		case op < 9: // move a WP forward (mostly one already started), forcing a start now and then
			i := 1 + rng.IntN(n)
			var started []int
			for j := 1; j <= n; j++ {
				if (state[j] == agileplus.WPDoing || state[j] == agileplus.WPReview) && !claimed[j] {
					started = append(started, j)
				}
			}
			if len(started) > 0 && rng.IntN(3) > 0 {
				i = started[rng.IntN(len(started))]
			}
			to, ok := next[state[i]]
			if !ok {
				continue
			}
			tr := agileplus.Transition{To: to}
			if to == agileplus.WPDoing && rng.IntN(2) == 0 {
				tr.Force, tr.Reason = true, "test"
			}
			var codes [2]string
			for k, s := range svcs {
				if _, err := s.TransitionWP(ctx, key(i), tr, 0); err != nil {
					codes[k] = agileplus.ErrorCode(err)
				}
			}
			if codes[0] != codes[1] {
				t.Fatalf("step %d: %s to %s: SQLite %q, Neo4j %q", step, key(i), to, codes[0], codes[1])
			}
			if codes[0] == "" {
				state[i] = to
			}
		default: // a claim takes a WP out of the ready set
			i := 1 + rng.IntN(n)
			both(fmt.Sprintf("step %d: claim %s", step, key(i)), func(s *agileplus.Service) error {
				_, err := s.Claim(ctx, key(i), agileplus.ClaimRequest{Agent: "a", TTLSeconds: 3600})
				return err
			})
			claimed[i] = true
		}
		recount(fmt.Sprint("step ", step))
	}
	// Migration 0002 computes the counters of a database written before
	// them. The store applies the migrations above the highest version
	// recorded, so every version from 2 on is forgotten (the later ones
	// are idempotent too).
	for _, q := range []string{`MATCH (w:WorkPackage) REMOVE w.open_deps`, `MATCH (v:SchemaVersion) WHERE v.version >= 2 DELETE v`} {
		if _, err := neo4j.ExecuteQuery(ctx, srv.Driver(), q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(neo4jtest.Database)); err != nil {
			t.Fatal(err)
		}
	}
	again, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	svcs[1] = agileplus.NewService(again)
	recount("migration 0002 applied again")

	var done int
	for _, st := range state {
		if st == agileplus.WPDone {
			done++
		}
	}
	if done < 5 {
		t.Errorf("only %d WPs reached done: the sequence does not exercise the counters", done)
	}
}
