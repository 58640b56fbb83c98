package crosstest

import (
	"context"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestMCPFind(t *testing.T) {
	svc := newMCPService(t)
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}))
	must(svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "login", Title: "Sign in", Description: "login with a password"}))
	must(svc.CreateWP(ctx, "login", agileplus.WPCreate{Title: "Login form"}))
	must(svc.CreateWP(ctx, "login", agileplus.WPCreate{Title: "Password reset", Description: "after a failed login"}))
	cs := connectMCP(t, svc)

	a := mustTool(t, cs, "find", map[string]any{"query": "login"}, "login feature created \"Sign in\" (key)", "CORE-1 wp planned \"Login form\" (title)", "3 found")
	if items, _ := a.data["items"].([]any); len(items) != 3 {
		t.Errorf("find structured items: %v", a.data)
	}
	mustTool(t, cs, "find", map[string]any{"query": "login", "kind": "wp", "limit": 1}, "CORE-1", `more: after="title:CORE-1"`)
	mustTool(t, cs, "find", map[string]any{"query": "login", "kind": "wp", "after": "title:CORE-1"}, "CORE-2", "1 found")
	mustTool(t, cs, "find", map[string]any{"query": `"pass*" NEAR`}, "0 found")
	toolFails(t, cs, "find", map[string]any{"query": `"*"`}, "q must hold a word")
	toolFails(t, cs, "find", map[string]any{"query": "x", "kind": "bug"})
}
