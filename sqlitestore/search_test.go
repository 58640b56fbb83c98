package sqlitestore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// A database from before text search (migration 0010) opens with its WPs
// and features in the index, and the triggers keep it in step from then on.
func TestSearchMigrationIndexesStoredItems(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agileplus.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	svc := agileplus.NewService(s)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "login", Title: "Sign in", Description: "with a password"}); err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"Password reset", "Password rules", "Other"} {
		if _, err := svc.CreateWP(ctx, "login", agileplus.WPCreate{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before migration 0010.
	var drops []string
	for _, tr := range []string{"wps_search_insert", "wps_search_update", "wps_search_delete", "features_search_insert", "features_search_update", "features_search_delete"} {
		drops = append(drops, "DROP TRIGGER "+tr)
	}
	execAll(t, path, append(drops, `DROP TABLE search_words`, `DROP TABLE search_docs`, `DELETE FROM schema_migrations WHERE version = 10`)...)

	s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	svc = agileplus.NewService(s)
	find := func(q string) string {
		t.Helper()
		hs, err := svc.Search(ctx, agileplus.SearchQuery{Q: q})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hs {
			out = append(out, agileplus.SearchCursor(h))
		}
		return strings.Join(out, " ")
	}
	if got, want := find("password"), "title:CORE-1 title:CORE-2 text:login"; got != want {
		t.Errorf("after the migration: got %q, want %q", got, want)
	}
	title := "Password hints"
	if _, err := svc.UpdateWP(ctx, "CORE-3", agileplus.WPUpdate{Title: &title}, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := find("password h"), "title:CORE-3"; got != want {
		t.Errorf("after an update: got %q, want %q", got, want)
	}
}
