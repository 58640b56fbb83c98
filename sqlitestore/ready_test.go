package sqlitestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// TestReadyMatchesDependencies drives random dependency and state changes
// and checks, after each one, that Ready (answered from the open_deps
// counter the triggers keep) equals the ready set computed from the edges.
func TestReadyMatchesDependencies(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := agileplus.NewService(s)
	check := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "RND", Name: "Random"}))
	check(svc.CreateFeature(ctx, "RND", agileplus.FeatureCreate{Slug: "f", Title: "F"}))
	const n = 30
	for range n {
		check(svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "w"}))
	}
	key := func(i int) string { return fmt.Sprintf("RND-%d", i+1) }
	rng := rand.New(rand.NewPCG(1, 2))
	var deps []string
	for step := range 250 {
		switch op := rng.IntN(10); {
		case op < 5: // add an edge from a higher to a lower number: never a cycle
			a, b := rng.IntN(n), rng.IntN(n)
			if a == b {
				continue
			}
			if a < b {
				a, b = b, a
			}
			kind := []string{agileplus.DependsOn, agileplus.RelatesTo}[rng.IntN(2)]
			d, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: key(a), To: key(b), Kind: kind})
			if err == nil {
				deps = append(deps, d.ID)
			} else if agileplus.ErrorCode(err) != agileplus.ECONFLICT {
				t.Fatal(err)
			}
		case op < 7 && len(deps) > 0:
			i := rng.IntN(len(deps))
			if err := svc.RemoveDependency(ctx, deps[i]); err != nil {
				t.Fatal(err)
			}
			deps = slices.Delete(deps, i, i+1)
		default: // walk a WP one step towards done, forcing past open dependencies
			w, err := svc.WP(ctx, key(rng.IntN(n)))
			if err != nil {
				t.Fatal(err)
			}
			next := map[string]string{agileplus.WPPlanned: agileplus.WPDoing, agileplus.WPDoing: agileplus.WPReview, agileplus.WPReview: agileplus.WPDone}[w.State]
			if next == "" {
				continue
			}
			if _, err := svc.TransitionWP(ctx, w.Key, agileplus.Transition{To: next, Force: true, Reason: "test"}, 0); err != nil {
				t.Fatal(err)
			}
		}
		got, err := svc.Ready(ctx, "RND", agileplus.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := keysOf(got), naiveReady(t, svc, n, key); !slices.Equal(g, w) {
			t.Fatalf("step %d: got ready %v, want %v", step, g, w)
		}
	}
}

func naiveReady(t *testing.T, svc *agileplus.Service, n int, key func(int) string) []string {
	ctx := context.Background()
	var out []string
	for i := range n {
		w, err := svc.WP(ctx, key(i))
		if err != nil {
			t.Fatal(err)
		}
		if w.State != agileplus.WPPlanned {
			continue
		}
		edges, err := svc.Dependencies(ctx, w.Key)
		if err != nil {
			t.Fatal(err)
		}
		ready := true
		for _, e := range edges {
			if e.Direction == agileplus.DependsOn && e.OtherState != agileplus.WPDone {
				ready = false
			}
		}
		if ready {
			out = append(out, w.Key)
		}
	}
	return out
}

func keysOf(ws []*agileplus.WP) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Key)
	}
	return out
}
