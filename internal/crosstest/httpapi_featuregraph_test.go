package crosstest

import (
	"context"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// TestFeatureGraphOverHTTP asks the feature queries through the client:
// api waits on db through a WP edge across projects, ui on api through a
// feature-level edge, docs only relates to ui.
func TestFeatureGraphOverHTTP(t *testing.T) {
	srv, _ := newTestAPI(t)
	ctx := context.Background()
	c := httpapi.NewClient(srv.URL)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}))
	must(c.CreateProject(ctx, agileplus.ProjectCreate{Key: "DATA", Name: "Data"}))
	for _, f := range [][2]string{{"CORE", "ui"}, {"CORE", "api"}, {"DATA", "db"}, {"CORE", "docs"}} {
		must(c.CreateFeature(ctx, f[0], agileplus.FeatureCreate{Slug: f[1], Title: f[1]}))
	}
	est := 3.0
	must(c.CreateWP(ctx, "api", agileplus.WPCreate{Title: "endpoint", Estimate: &est})) // CORE-1
	must(c.CreateWP(ctx, "db", agileplus.WPCreate{Title: "schema"}))                    // DATA-1
	must(c.CreateWP(ctx, "ui", agileplus.WPCreate{Title: "page", Estimate: &est}))      // CORE-2
	must(c.AddDependency(ctx, agileplus.DependencyCreate{From: "CORE-1", To: "DATA-1"}))
	must(c.AddDependency(ctx, agileplus.DependencyCreate{From: "ui", To: "api"}))
	must(c.AddDependency(ctx, agileplus.DependencyCreate{From: "docs", To: "ui", Kind: agileplus.RelatesTo}))

	slugs := func(hs []agileplus.GraphFeatureHop) string {
		var s []string
		for _, h := range hs {
			s = append(s, h.Slug)
		}
		return strings.Join(s, ",")
	}
	r, err := c.FeatureBlockers(ctx, "ui", true, 0)
	if err != nil || slugs(r.Features) != "api,db" || r.Features[1].Depth != 2 || r.Depth != agileplus.MaxGraphDepth || r.Feature.Open != 1 {
		t.Errorf("blockers ui: got %+v, %v", r, err)
	}
	r, err = c.FeatureDependents(ctx, "db", false, 0)
	if err != nil || slugs(r.Features) != "api" || r.Features[0].OpenEstimate != 3 || r.Features[0].Open != 1 || r.Features[0].Depth != 1 {
		t.Errorf("dependents db: got %+v, %v", r, err)
	}
	im, err := c.FeatureImpact(ctx, "db", 1)
	if err != nil || im.Count != 2 || im.Open != 2 || im.Estimate != 6 || slugs(im.Features) != "api" || !im.Truncated {
		t.Errorf("impact db: got %+v, %v", im, err)
	}
	p, err := c.FeaturePath(ctx, "ui", "db")
	if err != nil || len(p) != 3 || p[1].Slug != "api" {
		t.Errorf("path ui -> db: got %+v, %v", p, err)
	}
	code, eb, _ := do(t, srv, "GET", "/v1/graph/feature-path?from=docs&to=ui", "")
	if code != 404 || !strings.Contains(eb.Error.Message, "no blocking path from feature docs to feature ui") {
		t.Errorf("path docs -> ui: got %d %+v, want 404 no blocking path", code, eb)
	}
	if _, err := c.FeaturePath(ctx, "db", "ui"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("path db -> ui: got %v, want ENOTFOUND", err)
	}
	code, _, raw := do(t, srv, "GET", "/v1/graph/feature-path?from=ui&to=db", "")
	if code != 200 || !strings.Contains(string(raw), `"hops":2`) {
		t.Errorf("feature-path ui -> db: got %d %s", code, raw)
	}
}
