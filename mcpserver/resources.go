package mcpserver

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resource URIs.
const (
	graphURI  = "agileplus://projects/{project}/graph"
	statusURI = "agileplus://features/{feature}/status"
)

// addResources adds a project's graph in the compact export form and a
// feature's status, as resource templates.
func addResources(s *mcp.Server, h *handlers) {
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		Name: "project-graph", URITemplate: graphURI, MIMEType: "text/plain",
		Description: "A project's WPs and depends_on edges, compact: one line per WP.",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		project, err := uriPart(req.Params.URI, "agileplus://projects/", "/graph")
		if err != nil {
			return nil, err
		}
		if err := needs(ctx, agileplus.ScopeRead, "resource "+req.Params.URI); err != nil {
			return nil, err
		}
		b, err := h.t.Export(ctx, project, agileplus.ExportCompact)
		if err != nil {
			return nil, err
		}
		return text(req.Params.URI, string(b)), nil
	})
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		Name: "feature-status", URITemplate: statusURI, MIMEType: "text/plain",
		Description: "A feature's state, WPs and audit verification.",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		feature, err := uriPart(req.Params.URI, "agileplus://features/", "/status")
		if err != nil {
			return nil, err
		}
		if err := needs(ctx, agileplus.ScopeRead, "resource "+req.Params.URI); err != nil {
			return nil, err
		}
		t, _, err := h.featureStatus(ctx, feature)
		if err != nil {
			return nil, err
		}
		return text(req.Params.URI, t), nil
	})
}

func text(uri, s string) *mcp.ReadResourceResult {
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: s}}}
}

// uriPart returns the part of uri between prefix and suffix, unescaped.
func uriPart(uri, prefix, suffix string) (string, error) {
	rest, ok := strings.CutPrefix(uri, prefix)
	if ok {
		rest, ok = strings.CutSuffix(rest, suffix)
	}
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", fmt.Errorf("resource %q: want %s<ref>%s", uri, prefix, suffix)
	}
	return url.PathUnescape(rest)
}

// addPrompts adds the two prompts an agent starts from.
func addPrompts(s *mcp.Server) {
	s.AddPrompt(&mcp.Prompt{
		Name: "plan-feature", Description: "Plan a feature into WPs with dependencies.",
		Arguments: []*mcp.PromptArgument{
			{Name: "feature", Description: "feature slug", Required: true},
			{Name: "project", Description: "project key, to create the feature"},
			{Name: "goal", Description: "what the feature must do"},
		},
	}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		a := req.Params.Arguments
		if a["feature"] == "" {
			return nil, fmt.Errorf("argument feature is required")
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Plan feature %s into work packages.", a["feature"])
		if a["goal"] != "" {
			fmt.Fprintf(&b, " Goal: %s", a["goal"])
		}
		b.WriteString(`
1. If it exists, read it: show {ref: "` + a["feature"] + `"}.
2. Split the work into WPs of 1-8 hours each, each one testable on its own; give each a title, a short description and an estimate in hours.
3. Order them: depends_on lists the earlier WPs (by title) that must be done first. Keep chains short so work can run in parallel.
4. Create them all in one call: plan {feature: "` + a["feature"] + `"`)
		if a["project"] != "" {
			fmt.Fprintf(&b, `, project: %q, title: "..."`, a["project"])
		}
		b.WriteString(`, wps: [...]}.
5. Check the result: graph {query: "critical", feature: "` + a["feature"] + `"}.`)
		return prompt("Plan a feature into WPs", b.String()), nil
	})
	s.AddPrompt(&mcp.Prompt{
		Name: "start-next", Description: "Pick the next WP, claim it and start it.",
		Arguments: []*mcp.PromptArgument{
			{Name: "agent", Description: "your name", Required: true},
			{Name: "project", Description: "project key"},
		},
	}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		a := req.Params.Arguments
		if a["agent"] == "" {
			return nil, fmt.Errorf("argument agent is required")
		}
		project := ""
		if a["project"] != "" {
			project = fmt.Sprintf(`project: %q, `, a["project"])
		}
		return prompt("Pick and start the next WP", fmt.Sprintf(`Pick and start the next work package as %[1]s.
1. next {%[2]sclaim: true, agent: %[1]q}. If nothing is ready, stop and say why.
2. Keep the token it returns; move {ref: KEY, to: "doing", token}.
3. Read the WP: show {ref: KEY}. Do the work; link commits: link {wp: KEY, sha, repo}.
4. When done: move {ref: KEY, to: "review", token}, then move {ref: KEY, to: "done", token}.
For work over 15 minutes, renew: claim {wp: KEY, action: "renew", token}.`, a["agent"], project)), nil
	})
}

func prompt(desc, s string) *mcp.GetPromptResult {
	return &mcp.GetPromptResult{Description: desc, Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: s}}}}
}
