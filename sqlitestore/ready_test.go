package sqlitestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/depgraph"
	"github.com/agileplus/agileplus/sqlitestore"
)

// TestReadyMatchesDependencies drives random dependency and state changes
// and checks, after each one, that Ready (answered from the open_deps
// counter the triggers keep) and the in-memory graph index both equal the
// ready set computed from the edges; at the end a reopened store rebuilds
// the same index.
func TestReadyMatchesDependencies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	svc := agileplus.NewService(s)
	check := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "RND", Name: "Random"})
	check(p, err)
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
		got, err := svc.Ready(ctx, "RND", "", agileplus.Page{})
		if err != nil {
			t.Fatal(err)
		}
		want := naiveReady(t, svc, n, key)
		if g := keysOf(got); !slices.Equal(g, want) {
			t.Fatalf("step %d: got ready %v, want %v", step, g, want)
		}
		// The in-memory graph index agrees (there are no claims here).
		var fromGraph []string
		s.ReadGraph(ctx, func(g agileplus.GraphIndex) error {
			for _, n := range g.(*depgraph.Graph).Ready(p.ID, 0, 1000) {
				if n.State == agileplus.WPPlanned {
					fromGraph = append(fromGraph, n.Key)
				}
			}
			return nil
		})
		if !slices.Equal(fromGraph, want) {
			t.Fatalf("step %d: got graph ready %v, want %v", step, fromGraph, want)
		}
	}
	before := graphSnapshot(t, s, p.ID)
	s.Close()
	if s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path}); err != nil {
		t.Fatal(err)
	}
	if after := graphSnapshot(t, s, p.ID); after != before {
		t.Fatalf("graph rebuilt at open differs:\n%s\nwant\n%s", after, before)
	}
}

func graphSnapshot(t *testing.T, s *sqlitestore.Store, projectID string) string {
	var out []byte
	err := s.ReadGraph(context.Background(), func(g agileplus.GraphIndex) error {
		var err error
		out, err = g.Export(projectID, agileplus.ExportCompact)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
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
