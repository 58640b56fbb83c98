package neo4jstore_test

import (
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// A database from before text search (migration 0006) opens with the words
// of its WPs and features in the full-text index.
func TestSearchMigrationIndexesStoredItems(t *testing.T) {
	srv := neo4jtest.Shared(t)
	s := open(t, srv)
	ctx := t.Context()
	svc := agileplus.NewService(s)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "OLD", Name: "Old"}))
	must(svc.CreateFeature(ctx, "OLD", agileplus.FeatureCreate{Slug: "login", Title: "Sign in", Description: "with a password"}))
	for _, title := range []string{"Password reset", "Password rules", "Other"} {
		must(svc.CreateWP(ctx, "login", agileplus.WPCreate{Title: title}))
	}
	// Back to the data and schema before migration 0006.
	d := srv.Driver()
	for _, q := range []string{
		`MATCH (n) WHERE n:WorkPackage OR n:Feature REMOVE n.search_text, n.search_title`,
		`DROP INDEX search_text IF EXISTS`,
		`MATCH (v:SchemaVersion {version: 6}) DELETE v`,
	} {
		if _, err := neo4j.ExecuteQuery(ctx, d, q, nil, neo4j.EagerResultTransformer); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s2, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	svc = agileplus.NewService(s2)
	hs, err := svc.Search(ctx, agileplus.SearchQuery{Q: "password"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, agileplus.SearchCursor(h))
	}
	if want := "title:OLD-1 title:OLD-2 text:login"; strings.Join(got, " ") != want {
		t.Errorf("after the migration: got %q, want %q", strings.Join(got, " "), want)
	}
	res, err := neo4j.ExecuteQuery(ctx, d, `MATCH (w:WorkPackage {key: 'OLD-1'}) RETURN w.search_text`, nil, neo4j.EagerResultTransformer)
	if err != nil || len(res.Records) != 1 || res.Records[0].Values[0] != "old 1 password reset" {
		t.Errorf("stored words: %v, %v; want \"old 1 password reset\"", res, err)
	}
}
