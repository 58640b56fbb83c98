package mcpserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// FindArgs are the arguments of find.
type FindArgs struct {
	Query   string   `json:"query" jsonschema:"words; the last may be a prefix"`
	Project string   `json:"project,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	State   string   `json:"state,omitempty"`
	Labels  []string `json:"labels,omitempty" jsonschema:"all of them"`
	Owner   string   `json:"owner,omitempty"`
	After   string   `json:"after,omitempty" jsonschema:"cursor: next of the previous answer"`
	Limit   int      `json:"limit,omitempty" jsonschema:"default 20"`
}

// findTool is text search: WPs and features by words, best first.
func (h *handlers) findTool() func(*mcp.Server) {
	states := append(append([]string{}, agileplus.WPStates...), agileplus.FeatureStates...)
	return tool(h, "find", "WPs and features by words in key, title, description; best first.", agileplus.ScopeRead, h.find,
		limits{"query": agileplus.MaxSearchQuery, "project": 64, "labels": 40, "after": 100}, ranges{"limit": {1, 100}}, map[string]int{"labels": 20},
		enumOf("kind", []string{agileplus.KindWP, agileplus.KindFeature}), enumOf("state", states))
}

func (h *handlers) find(ctx context.Context, a FindArgs) (*mcp.CallToolResult, error) {
	limit := a.Limit
	if limit == 0 {
		limit = 20
	}
	hs, err := h.t.Search(ctx, agileplus.SearchQuery{Q: a.Query, Project: a.Project, Kind: a.Kind, State: a.State,
		Labels: a.Labels, Owner: a.Owner, Page: agileplus.Page{After: a.After, Limit: limit}})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s %s %s %q (%s)\n", h.Key, h.Kind, h.State, h.Title, h.Match)
	}
	next := ""
	if len(hs) == limit {
		next = agileplus.SearchCursor(hs[len(hs)-1])
		fmt.Fprintf(&b, "%d found; more: after=%q", len(hs), next)
	} else {
		fmt.Fprintf(&b, "%d found", len(hs))
	}
	return ok(b.String(), map[string]any{"items": nonNil(hs), "next": next}), nil
}
