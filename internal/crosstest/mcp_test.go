package crosstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/mcpserver"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP server over a real Service, reached in-process and over the
// API's /mcp with keys.

func newMCPService(t *testing.T) *agileplus.Service {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return agileplus.NewService(store)
}

// connectMCP connects a Go SDK client to an MCP server over t in memory.
func connectMCP(t *testing.T, tr agileplus.Tracker) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	srv := mcpserver.New(tr, mcpserver.Options{Version: "test"})
	ctx := agileplus.WithActor(context.Background(), "mcp-test")
	if _, err := srv.Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type toolAnswer struct {
	text    string
	isError bool
	data    map[string]any
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) toolAnswer {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: protocol error %v, want a tool result", name, args, err)
	}
	var a toolAnswer
	a.isError = res.IsError
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			a.text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &a.data)
	}
	return a
}

func mustTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, wantIn ...string) toolAnswer {
	t.Helper()
	a := callTool(t, cs, name, args)
	if a.isError {
		t.Fatalf("%s %v: tool error %q", name, args, a.text)
	}
	for _, w := range wantIn {
		if !strings.Contains(a.text, w) {
			t.Errorf("%s %v: got %q, want it to mention %q", name, args, a.text, w)
		}
	}
	return a
}

func toolFails(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, wantIn ...string) {
	t.Helper()
	a := callTool(t, cs, name, args)
	if !a.isError {
		t.Fatalf("%s %v: got %q, want a tool error", name, args, a.text)
	}
	for _, w := range wantIn {
		if !strings.Contains(a.text, w) {
			t.Errorf("%s %v: got error %q, want it to mention %q", name, args, a.text, w)
		}
	}
}

func TestMCPTools(t *testing.T) {
	svc := newMCPService(t)
	ctx := context.Background()
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	cs := connectMCP(t, svc)

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if got := strings.Join(names, " "); got != "claim depend events find graph link move next plan show status" {
		t.Errorf("tools: got %s", got)
	}

	t.Run("plan creates the feature, WPs and dependencies", func(t *testing.T) {
		a := mustTool(t, cs, "plan", map[string]any{"feature": "login", "project": "CORE", "title": "Login", "wps": []any{
			map[string]any{"title": "Schema", "estimate": 2},
			map[string]any{"title": "API", "estimate": 4, "depends_on": []any{"Schema"}},
			map[string]any{"title": "UI", "estimate": 3, "depends_on": []any{"API"}},
		}}, "created and planned login: 3 WPs, 2 dependencies", "CORE-2 \"API\" <- CORE-1")
		if wps, _ := a.data["wps"].([]any); len(wps) != 3 {
			t.Errorf("plan structured wps: %v", a.data)
		}
		// A bad plan writes nothing.
		toolFails(t, cs, "plan", map[string]any{"feature": "login", "wps": []any{
			map[string]any{"title": "Later"}, map[string]any{"title": "Docs", "depends_on": []any{"Nope"}},
		}}, "wps[1].depends_on")
		if ws, _ := svc.WPs(ctx, agileplus.WPQuery{Project: "CORE"}); len(ws) != 3 {
			t.Errorf("after a refused plan: %d WPs, want 3", len(ws))
		}
	})

	var token int64
	t.Run("an agent loop: next with claim, doing, review, done", func(t *testing.T) {
		a := mustTool(t, cs, "next", map[string]any{"project": "CORE", "claim": true, "agent": "bot"}, "CORE-1", "claimed by bot token 1")
		lease, _ := a.data["lease"].(map[string]any)
		token = int64(lease["token"].(float64))
		toolFails(t, cs, "move", map[string]any{"ref": "CORE-2", "to": "doing"}, "CORE-1 (planned)")
		toolFails(t, cs, "move", map[string]any{"ref": "CORE-1", "to": "doing", "token": token + 1}, "stale fencing token")
		mustTool(t, cs, "move", map[string]any{"ref": "CORE-1", "to": "doing", "token": token}, "CORE-1 doing")
		mustTool(t, cs, "link", map[string]any{"wp": "CORE-1", "sha": "abc1234", "repo": "github.com/acme/app"}, "CORE-1 commit github.com/acme/app@abc1234")
		mustTool(t, cs, "move", map[string]any{"ref": "CORE-1", "to": "review", "token": token}, "CORE-1 review")
		mustTool(t, cs, "move", map[string]any{"ref": "CORE-1", "to": "done", "token": token}, "CORE-1 done")
		w, err := svc.WP(ctx, "CORE-1")
		if err != nil || w.State != agileplus.WPDone || len(w.References) != 1 {
			t.Errorf("CORE-1 in the store: %+v, %v", w, err)
		}
	})

	t.Run("every other tool", func(t *testing.T) {
		mustTool(t, cs, "show", map[string]any{"ref": "CORE-2"}, "CORE-2 planned \"API\"", "depends on: CORE-1(done)", "blocks: CORE-3(planned)")
		mustTool(t, cs, "show", map[string]any{"ref": "login"}, "login created \"Login\"", "CORE-3 planned")
		c := mustTool(t, cs, "claim", map[string]any{"wp": "CORE-2", "action": "take", "agent": "bot"}, "CORE-2 claimed by bot token 1")
		_ = c
		mustTool(t, cs, "claim", map[string]any{"wp": "CORE-2", "action": "renew", "token": 1}, "token 1")
		mustTool(t, cs, "claim", map[string]any{"wp": "CORE-2", "action": "release", "token": 1}, "CORE-2 released")
		toolFails(t, cs, "claim", map[string]any{"wp": "CORE-2", "action": "renew"}, "token")
		d := mustTool(t, cs, "depend", map[string]any{"from": "CORE-3", "to": "CORE-1"}, "CORE-3 depends_on CORE-1")
		toolFails(t, cs, "depend", map[string]any{"from": "CORE-1", "to": "CORE-3"}, "cycle")
		mustTool(t, cs, "depend", map[string]any{"remove": d.data["id"]}, "removed")
		mustTool(t, cs, "graph", map[string]any{"query": "blockers", "wp": "CORE-3"}, "CORE-3 depends on 2 WPs", "1 CORE-2", "2 CORE-1")
		mustTool(t, cs, "graph", map[string]any{"query": "dependents", "wp": "CORE-1", "direct": true}, "CORE-2")
		mustTool(t, cs, "graph", map[string]any{"query": "path", "wp": "CORE-3", "to": "CORE-1"}, "CORE-3(planned) -> CORE-2(planned) -> CORE-1(done)")
		mustTool(t, cs, "graph", map[string]any{"query": "impact", "wp": "CORE-2"}, "1 WPs wait on it, 1 open, 3h open")
		mustTool(t, cs, "graph", map[string]any{"query": "critical", "project": "CORE"}, "critical path 7h: CORE-2 -> CORE-3")
		mustTool(t, cs, "graph", map[string]any{"query": "layers", "project": "CORE"}, "layer 0: CORE-2", "layer 1: CORE-3")
		toolFails(t, cs, "graph", map[string]any{"query": "path", "wp": "CORE-3"}, "to")
		ev := mustTool(t, cs, "events", map[string]any{"entity": "CORE-1", "limit": 3}, "wp.created CORE-1", "3 events; next after=")
		next := ev.data["next"].(float64)
		mustTool(t, cs, "events", map[string]any{"entity": "CORE-1", "after": next}, "wp.transitioned")
		mustTool(t, cs, "status", map[string]any{"feature": "login"}, "3 WPs: 2 planned 1 done", "audit verified")
		mustTool(t, cs, "status", map[string]any{"project": "CORE"}, "CORE \"Core\": 1 features", "login created 3 2 7h")
	})

	t.Run("next filters by owner and labels", func(t *testing.T) {
		mustTool(t, cs, "next", map[string]any{"project": "CORE", "labels": []any{"ui"}}, "nothing is ready in project CORE labelled ui")
		labels, owner := []string{"ui", "css"}, "ann"
		if _, err := svc.UpdateWP(ctx, "CORE-2", agileplus.WPUpdate{Labels: &labels, Owner: &owner}, 0); err != nil {
			t.Fatal(err)
		}
		mustTool(t, cs, "next", map[string]any{"project": "CORE", "labels": []any{"UI", "go"}, "labels_mode": "any", "owner": "ann"}, "CORE-2")
		mustTool(t, cs, "next", map[string]any{"project": "CORE", "labels": []any{"ui", "go"}}, "nothing is ready")
	})

	t.Run("mistakes are tool errors", func(t *testing.T) {
		toolFails(t, cs, "nope", nil, "unknown tool \"nope\"", "next")
		toolFails(t, cs, "show", map[string]any{"ref": "CORE-2", "extra": 1}, "extra")
		toolFails(t, cs, "show", map[string]any{"ref": 12}, "ref")
		toolFails(t, cs, "show", map[string]any{}, "ref")
		toolFails(t, cs, "move", map[string]any{"ref": "CORE-2", "to": "flying"}, "to")
		toolFails(t, cs, "show", map[string]any{"ref": strings.Repeat("x", 5000)}, "ref")
		toolFails(t, cs, "show", map[string]any{"ref": "CORE-99"}, "not_found")
		toolFails(t, cs, "next", map[string]any{"project": "CORE", "claim": true}, "agent")
		toolFails(t, cs, "next", map[string]any{"labels": []any{"no spaces"}}, "labels")
		toolFails(t, cs, "next", map[string]any{"labels": []any{"go"}, "labels_mode": "some"}, "labels_mode")
	})

	t.Run("resources and prompts", func(t *testing.T) {
		r, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "agileplus://projects/CORE/graph"})
		if err != nil || len(r.Contents) != 1 || !strings.Contains(r.Contents[0].Text, "CORE-3") {
			t.Errorf("graph resource: %+v, %v", r, err)
		}
		r, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "agileplus://features/login/status"})
		if err != nil || !strings.Contains(r.Contents[0].Text, "audit verified") {
			t.Errorf("status resource: %+v, %v", r, err)
		}
		for _, name := range []string{"plan-feature", "start-next"} {
			p, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: name, Arguments: map[string]string{"feature": "login", "agent": "bot", "project": "CORE"}})
			if err != nil || len(p.Messages) != 1 {
				t.Errorf("prompt %s: %+v, %v", name, p, err)
			}
		}
	})
}

// authHeader adds a bearer token to every request.
type authHeader struct {
	token string
	next  http.RoundTripper
}

func (a authHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+a.token)
	return a.next.RoundTrip(r)
}

func connectHTTPMCP(t *testing.T, url, token string) (*mcp.ClientSession, error) {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: url + httpapi.MCPPath, HTTPClient: &http.Client{Transport: authHeader{token, http.DefaultTransport}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(context.Background(), tr, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

// /mcp takes the API's keys: no key no session, a read key reads but
// cannot claim, a key limited to projects stays in them, and the actor of
// a change is the key.
func TestMCPOverHTTPKeys(t *testing.T) {
	a := newAuthAPI(t, func(s *httpapi.Server) {
		s.MCP = mcpserver.Handler(mcpserver.New(s.Tracker, mcpserver.Options{Version: "test"}))
	})
	ctx := context.Background()
	for _, key := range []string{"CORE", "WEB"} {
		if _, err := a.svc.CreateFeature(ctx, key, agileplus.FeatureCreate{Slug: strings.ToLower(key) + "-f", Title: key}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.svc.CreateWP(ctx, strings.ToLower(key)+"-f", agileplus.WPCreate{Title: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := connectHTTPMCP(t, a.srv.URL, "ap_nope_nope"); err == nil {
		t.Error("connected with a bad key")
	}
	reader, err := connectHTTPMCP(t, a.srv.URL, a.tokens["reader"])
	if err != nil {
		t.Fatal(err)
	}
	mustTool(t, reader, "next", map[string]any{"project": "CORE"}, "CORE-1")
	toolFails(t, reader, "next", map[string]any{"project": "CORE", "claim": true, "agent": "r"}, "needs scope write", "reader")
	toolFails(t, reader, "move", map[string]any{"ref": "CORE-1", "to": "doing"}, "needs scope write")

	limited, err := connectHTTPMCP(t, a.srv.URL, a.tokens["limited"])
	if err != nil {
		t.Fatal(err)
	}
	toolFails(t, limited, "show", map[string]any{"ref": "WEB-1"}, "forbidden")
	mustTool(t, limited, "next", map[string]any{"claim": true, "agent": "lim"}, "CORE-1", "token 1")
	es, err := a.svc.Events(ctx, agileplus.EventQuery{Entity: "CORE-1"})
	if err != nil || es[len(es)-1].Actor != "limited" {
		t.Errorf("claim event actor: %+v, %v; want the key's name", es[len(es)-1], err)
	}
}

// Twenty agents calling next with claim through MCP at once on ten ready
// WPs: ten distinct winners, ten told nothing is ready.
func TestMCPNextClaimRace(t *testing.T) {
	svc := newMCPService(t)
	ctx := context.Background()
	svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "RACE", Name: "Race"})
	svc.CreateFeature(ctx, "RACE", agileplus.FeatureCreate{Slug: "race", Title: "Race"})
	for i := range 10 {
		if _, err := svc.CreateWP(ctx, "race", agileplus.WPCreate{Title: fmt.Sprint("w", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cs := connectMCP(t, svc)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners = map[string]int{}
		none    int
	)
	for i := range 20 {
		wg.Go(func() {
			a := callTool(t, cs, "next", map[string]any{"project": "RACE", "claim": true, "agent": fmt.Sprint("agent-", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case a.isError:
				t.Errorf("agent-%d: %s", i, a.text)
			case a.data["wp"] == nil:
				none++
			default:
				winners[a.data["wp"].(map[string]any)["key"].(string)]++
			}
		})
	}
	wg.Wait()
	if len(winners) != 10 || none != 10 {
		t.Errorf("got %d distinct winners and %d told nothing is ready, want 10 and 10", len(winners), none)
	}
	for k, n := range winners {
		if n != 1 {
			t.Errorf("%s went to %d agents", k, n)
		}
	}
}
