package storetest

import (
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// testPlan: a plan writes its feature, WPs and dependencies in one
// transaction; a refusal anywhere in it leaves nothing, not even a used WP
// number.
func testPlan(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "base")
	base := f.wp(t, "base", "schema") // CORE-1
	est := 3.0
	plan := func(wps ...agileplus.PlanWP) agileplus.PlanRequest {
		return agileplus.PlanRequest{Feature: "login", Project: "CORE", Title: "Log in", WPs: wps}
	}
	wp := func(title string, on ...string) agileplus.PlanWP {
		return agileplus.PlanWP{WPCreate: agileplus.WPCreate{Title: title, Estimate: &est}, DependsOn: on}
	}

	t.Run("refusals write nothing", func(t *testing.T) {
		for _, c := range []struct {
			name, code, field string
			p                 agileplus.PlanRequest
		}{
			{"no WPs", agileplus.EINVALID, "wps", plan()},
			{"a bad title", agileplus.EINVALID, "wps[1].title", plan(wp("a"), wp(" "))},
			{"a later title", agileplus.ENOTFOUND, "wps[0].depends_on", plan(wp("a", "b"), wp("b"))},
			{"its own title", agileplus.ENOTFOUND, "wps[0].depends_on", plan(wp("a", "a"))},
			// The first two WPs are written before the third's dependency
			// is found missing: the whole plan rolls back.
			{"an unknown WP", agileplus.ENOTFOUND, "wps[2].depends_on", plan(wp("a"), wp("b", "a"), wp("c", "CORE-99"))},
			{"an unknown project", agileplus.ENOTFOUND, "project", agileplus.PlanRequest{Feature: "login", Project: "NOPE", WPs: []agileplus.PlanWP{wp("a")}}},
			{"no feature and no project", agileplus.ENOTFOUND, "feature", agileplus.PlanRequest{Feature: "login", WPs: []agileplus.PlanWP{wp("a")}}},
			{"a bad slug", agileplus.EINVALID, "feature", agileplus.PlanRequest{Feature: "Log In", Project: "CORE", WPs: []agileplus.PlanWP{wp("a")}}},
			{"an unknown feature id", agileplus.ENOTFOUND, "feature", agileplus.PlanRequest{Feature: "fea_00000000000000000000000000", Project: "CORE", WPs: []agileplus.PlanWP{wp("a")}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.refusedWith(t, c.code, c.field, func() error { _, err := f.svc.Plan(f.ctx, c.p); return err })
			})
		}
		too := make([]agileplus.PlanWP, agileplus.MaxPlanWPs+1)
		for i := range too {
			too[i] = wp(strings.Repeat("w", i+1))
		}
		f.refusedWith(t, agileplus.EINVALID, "wps", func() error { _, err := f.svc.Plan(f.ctx, plan(too...)); return err }, "at most")
	})

	t.Run("all of it", func(t *testing.T) {
		// A title names the nearest earlier WP that has it.
		res, err := f.svc.Plan(f.ctx, plan(wp("api", base.Key), wp("ui", "api"), wp("ui"), wp("docs", "api", "ui")))
		mustOK(t, err)
		if !res.FeatureCreated || res.Feature.Slug != "login" || res.Feature.Title != "Log in" {
			t.Errorf("feature %+v, created %v", res.Feature, res.FeatureCreated)
		}
		// The refused plans used no WP number.
		mustEqual(t, "keys", keysOf(res.WPs), "CORE-2 CORE-3 CORE-4 CORE-5")
		var deps []string
		for _, d := range res.Dependencies {
			deps = append(deps, d.FromKey+">"+d.ToKey)
		}
		mustEqual(t, "dependencies", strings.Join(deps, " "), "CORE-2>CORE-1 CORE-3>CORE-2 CORE-5>CORE-2 CORE-5>CORE-4")
		mustEqual(t, "the feature of the WPs", f.getWP(t, "CORE-5").FeatureID, res.Feature.ID)
	})

	t.Run("into an existing feature", func(t *testing.T) {
		res, err := f.svc.Plan(f.ctx, agileplus.PlanRequest{Feature: "login", WPs: []agileplus.PlanWP{wp("tests", "CORE-4")}})
		mustOK(t, err)
		if res.FeatureCreated || len(res.WPs) != 1 || res.WPs[0].Key != "CORE-6" {
			t.Errorf("got %+v", res)
		}
		f.project(t, "WEB")
		f.refusedWith(t, agileplus.ECONFLICT, "project", func() error {
			_, err := f.svc.Plan(f.ctx, agileplus.PlanRequest{Feature: "login", Project: "WEB", WPs: []agileplus.PlanWP{wp("x")}})
			return err
		}, "CORE")
	})
}
