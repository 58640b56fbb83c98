package agileplus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// TestServiceCriticalPathPages pages the schedule through the Service: the
// default page, Next and Total, and the refusals of bad pages.
func TestServiceCriticalPathPages(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := agileplus.NewService(store)
	if _, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "api", Title: "API"}); err != nil {
		t.Fatal(err)
	}
	// CORE-1 .. CORE-130, a chain from CORE-2 on: CORE-n depends on CORE-(n-1).
	const n = agileplus.DefaultPageLimit + 30
	for i := 1; i <= n; i++ {
		if _, err := s.CreateWP(ctx, "api", agileplus.WPCreate{Title: fmt.Sprint("wp ", i)}); err != nil {
			t.Fatal(err)
		}
		if i > 2 {
			if _, err := s.AddDependency(ctx, agileplus.DependencyCreate{From: fmt.Sprintf("CORE-%d", i), To: fmt.Sprintf("CORE-%d", i-1)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	first, err := s.CriticalPath(ctx, "CORE", "", agileplus.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.WPs) != agileplus.DefaultPageLimit || first.Total != n || first.Next != "CORE-100" ||
		first.Length != n-1 || len(first.Path) != n-1 {
		t.Fatalf("default page: got %d WPs, total %d, next %q, length %g, path of %d; want %d, %d, CORE-100, %d, %d",
			len(first.WPs), first.Total, first.Next, first.Length, len(first.Path), agileplus.DefaultPageLimit, n, n-1, n-1)
	}
	last, err := s.CriticalPath(ctx, "", "api", agileplus.Page{After: first.Next, Limit: agileplus.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(last.WPs) != 30 || last.WPs[0].Key != "CORE-101" || last.Next != "" || last.Total != n || !slices.Equal(last.Path, first.Path) {
		t.Fatalf("last page: got %d WPs from %s, next %q, total %d; want 30 from CORE-101, no next, %d", len(last.WPs), last.WPs[0].Key, last.Next, last.Total, n)
	}

	tests := []struct {
		name  string
		pg    agileplus.Page
		field string
	}{
		{"limit over the max", agileplus.Page{Limit: agileplus.MaxPageLimit + 1}, "limit"},
		{"negative limit", agileplus.Page{Limit: -1}, "limit"},
		{"after not a key", agileplus.Page{After: "nope"}, "after"},
		{"after a WP id", agileplus.Page{After: "wp_01HZZZZZZZZZZZZZZZZZZZZZZZ"}, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CriticalPath(ctx, "CORE", "", tt.pg)
			if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != tt.field {
				t.Fatalf("got %v (field %q), want EINVALID on field %q", err, agileplus.ErrorField(err), tt.field)
			}
		})
	}
}

func TestFeatureLayers(t *testing.T) {
	fg := &agileplus.GraphFeatures{Features: []agileplus.GraphFeature{
		{FeatureID: "a", Slug: "api", Open: 2, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "d", Open: 1, WPEdges: 1}}},
		{FeatureID: "b", Slug: "billing", Open: 1, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "a", Open: 1, WPEdges: 2}, {FeatureID: "c", Explicit: true}}},
		{FeatureID: "c", Slug: "core", Open: 0, DependsOn: []agileplus.GraphFeatureEdge{}},                                      // all done: not layered
		{FeatureID: "d", Slug: "db", Open: 3, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "x", Open: 4, WPEdges: 4}}},   // x: another project
		{FeatureID: "e", Slug: "edge", Open: 1, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "a", Open: 0, WPEdges: 3}}}, // only done WPs: no wait
		{FeatureID: "f", Slug: "fx", Open: 1, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "g", Explicit: true}}},
		{FeatureID: "g", Slug: "gx", Open: 1, DependsOn: []agileplus.GraphFeatureEdge{{FeatureID: "f", Open: 1, WPEdges: 1}}},
	}}
	fg.FeatureLayers()
	if got, want := fmt.Sprint(fg.Layers), "[[db edge] [api] [billing]]"; got != want {
		t.Errorf("got layers %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(fg.Cyclic), "[fx gx]"; got != want {
		t.Errorf("got cyclic %s, want %s", got, want)
	}
}
