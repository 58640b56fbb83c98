package neo4jstore_test

import (
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// A database from before priorities, labels and owners (migration 0004)
// opens with every WP and feature at normal priority, without labels or
// owner, and its WPs are in the ready-by-priority index.
func TestTriageMigrationGivesDefaults(t *testing.T) {
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
	must(svc.CreateFeature(ctx, "OLD", agileplus.FeatureCreate{Slug: "old", Title: "Old"}))
	for range 3 {
		must(svc.CreateWP(ctx, "old", agileplus.WPCreate{Title: "w"}))
	}
	// Back to the data and schema before migration 0004.
	d := srv.Driver()
	for _, q := range []string{
		`MATCH (w:WorkPackage) REMOVE w.priority, w.labels, w.owner`,
		`MATCH (f:Feature) REMOVE f.priority, f.labels`,
		`DROP INDEX wp_ready_priority IF EXISTS`,
		`MATCH (v:SchemaVersion {version: 4}) DELETE v`,
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
	f, err := svc.Feature(ctx, "old")
	if err != nil || f.Priority != agileplus.PriorityNormal || f.Labels != nil {
		t.Errorf("feature after the migration: %+v, %v", f, err)
	}
	ws, err := svc.WPs(ctx, agileplus.WPQuery{Project: "OLD"})
	if err != nil || len(ws) != 3 {
		t.Fatalf("wps: %v, %v", ws, err)
	}
	for _, w := range ws {
		if w.Priority != agileplus.PriorityNormal || w.Labels != nil || w.Owner != "" {
			t.Errorf("%s after the migration: priority %q, labels %v, owner %q", w.Key, w.Priority, w.Labels, w.Owner)
		}
	}
	high := agileplus.PriorityHigh
	must(svc.UpdateWP(ctx, "OLD-3", agileplus.WPUpdate{Priority: &high}, 0))
	ready, err := svc.Ready(ctx, "OLD", agileplus.OrderPriority, agileplus.Page{})
	if err != nil || len(ready) != 3 || ready[0].Key != "OLD-3" || ready[1].Key != "OLD-1" {
		t.Errorf("ready by priority: %v, %v; want OLD-3, then OLD-1", ready, err)
	}
}
