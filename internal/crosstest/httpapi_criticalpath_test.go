package crosstest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// TestCriticalPathPagesOverHTTP pages a critical path's schedule through
// the client and the raw endpoint: CORE-1 .. CORE-5, each depending on the
// one before, so the path is all five on every page.
func TestCriticalPathPagesOverHTTP(t *testing.T) {
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
	must(c.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "api", Title: "API"}))
	for i := 1; i <= 5; i++ {
		must(c.CreateWP(ctx, "api", agileplus.WPCreate{Title: fmt.Sprint("step ", i)}))
		if i > 1 {
			must(c.AddDependency(ctx, agileplus.DependencyCreate{From: fmt.Sprintf("CORE-%d", i), To: fmt.Sprintf("CORE-%d", i-1)}))
		}
	}

	var keys, nexts []string
	for pg := (agileplus.Page{Limit: 2}); ; {
		cp, err := c.CriticalPath(ctx, "", "api", pg)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Total != 5 || cp.Length != 5 || len(cp.Path) != 5 {
			t.Fatalf("page after %q: got total %d, length %g, path of %d; want 5, 5, 5", pg.After, cp.Total, cp.Length, len(cp.Path))
		}
		for _, s := range cp.WPs {
			keys = append(keys, s.Key)
		}
		nexts = append(nexts, cp.Next)
		if cp.Next == "" {
			break
		}
		pg.After = cp.Next
	}
	if want := []string{"CORE-1", "CORE-2", "CORE-3", "CORE-4", "CORE-5"}; !slices.Equal(keys, want) {
		t.Errorf("pages of 2 hold %v, want %v", keys, want)
	}
	if want := []string{"CORE-2", "CORE-4", ""}; !slices.Equal(nexts, want) {
		t.Errorf("got nexts %v, want %v", nexts, want)
	}

	// The default page is 100; next is left out on the last page.
	code, _, raw := do(t, srv, "GET", "/v1/graph/critical-path?project=CORE", "")
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); code != 200 || err != nil {
		t.Fatalf("got %d %s, %v", code, raw, err)
	}
	if string(body["total"]) != "5" || body["next"] != nil {
		t.Errorf("default page: got total %s, next %s; want 5 and no next", body["total"], body["next"])
	}
	code, _, raw = do(t, srv, "GET", "/v1/graph/critical-path?project=CORE&after=CORE-3&limit=1", "")
	var cp agileplus.GraphCriticalPath
	if err := json.Unmarshal(raw, &cp); code != 200 || err != nil || len(cp.WPs) != 1 || cp.WPs[0].Key != "CORE-4" || cp.Next != "CORE-4" {
		t.Errorf("after CORE-3, limit 1: got %d %s, %v; want CORE-4 with next CORE-4", code, raw, err)
	}
}
