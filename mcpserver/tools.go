package mcpserver

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools, in the order tools/list gives them. Descriptions and
// schemas are kept short: they go into every agent's context window.
var toolNames = []string{"next", "show", "plan", "move", "claim", "depend", "graph", "link", "events", "status", "find"}

type handlers struct{ t agileplus.Tracker }

// NextArgs are the arguments of next.
type NextArgs struct {
	Project    string   `json:"project,omitempty" jsonschema:"project key; empty: all"`
	Feature    string   `json:"feature,omitempty" jsonschema:"feature slug"`
	Owner      string   `json:"owner,omitempty" jsonschema:"only WPs this owner has"`
	Labels     []string `json:"labels,omitempty" jsonschema:"only WPs with these labels (skills)"`
	LabelsMode string   `json:"labels_mode,omitempty" jsonschema:"all (default) or any label"`
	Claim      bool     `json:"claim,omitempty" jsonschema:"claim it now"`
	Agent      string   `json:"agent,omitempty" jsonschema:"your name; needed to claim"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty" jsonschema:"lease seconds, default 900"`
}

// ShowArgs are the arguments of show.
type ShowArgs struct {
	Ref string `json:"ref" jsonschema:"WP key or feature slug"`
}

// PlanArgs are the arguments of plan.
type PlanArgs struct {
	Feature string   `json:"feature" jsonschema:"feature slug"`
	Project string   `json:"project,omitempty" jsonschema:"project key: creates the feature if new"`
	Title   string   `json:"title,omitempty" jsonschema:"feature title, when created"`
	WPs     []PlanWP `json:"wps" jsonschema:"WPs to create, in order"`
}

// PlanWP is one WP of a plan.
type PlanWP struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Estimate    *float64 `json:"estimate,omitempty" jsonschema:"hours"`
	DependsOn   []string `json:"depends_on,omitempty" jsonschema:"earlier titles of this plan or WP keys"`
}

// MoveArgs are the arguments of move.
type MoveArgs struct {
	Ref    string `json:"ref" jsonschema:"WP key (or feature slug)"`
	To     string `json:"to" jsonschema:"target state"`
	Token  int64  `json:"token,omitempty" jsonschema:"your lease token"`
	Force  bool   `json:"force,omitempty" jsonschema:"start past open dependencies; needs reason"`
	Reason string `json:"reason,omitempty"`
}

// ClaimArgs are the arguments of claim.
type ClaimArgs struct {
	WP         string `json:"wp"`
	Action     string `json:"action" jsonschema:"take, renew or release"`
	Agent      string `json:"agent,omitempty" jsonschema:"your name; needed to take"`
	Token      int64  `json:"token,omitempty" jsonschema:"needed to renew or release"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" jsonschema:"default 900"`
}

// DependArgs are the arguments of depend.
type DependArgs struct {
	From   string `json:"from,omitempty" jsonschema:"WP key or feature slug"`
	To     string `json:"to,omitempty"`
	Kind   string `json:"kind,omitempty" jsonschema:"default depends_on: from waits on to"`
	Remove string `json:"remove,omitempty" jsonschema:"dependency id to remove instead"`
}

// GraphArgs are the arguments of graph.
type GraphArgs struct {
	Query   string `json:"query"`
	WP      string `json:"wp,omitempty" jsonschema:"blockers, dependents, impact; path: from"`
	To      string `json:"to,omitempty" jsonschema:"path: to"`
	Project string `json:"project,omitempty" jsonschema:"critical, layers"`
	Feature string `json:"feature,omitempty" jsonschema:"critical"`
	Direct  bool   `json:"direct,omitempty" jsonschema:"blockers, dependents: direct only"`
}

// LinkArgs are the arguments of link.
type LinkArgs struct {
	WP    string `json:"wp"`
	SHA   string `json:"sha,omitempty" jsonschema:"commit, with repo"`
	Repo  string `json:"repo,omitempty"`
	URL   string `json:"url,omitempty" jsonschema:"pull request"`
	State string `json:"state,omitempty" jsonschema:"pull request state"`
}

// EventsArgs are the arguments of events.
type EventsArgs struct {
	After  int64  `json:"after,omitempty" jsonschema:"cursor: last seq seen"`
	Entity string `json:"entity,omitempty" jsonschema:"only this WP, feature or project"`
	Limit  int    `json:"limit,omitempty" jsonschema:"default 50"`
}

// StatusArgs are the arguments of status.
type StatusArgs struct {
	Project string `json:"project,omitempty"`
	Feature string `json:"feature,omitempty"`
}

func (h *handlers) addTools(s *mcp.Server) {
	for _, add := range []func(*mcp.Server){
		tool(h, "next", "Best WP to start now (ready, priority, least slack, most unblocked); claim:true takes its lease atomically and returns the token.", agileplus.ScopeRead, h.next,
			limits{"project": 64, "feature": 64, "agent": 64, "labels": agileplus.MaxLabelLen}, ranges{"ttl_seconds": {1, int64(agileplus.MaxLeaseTTL.Seconds())}}, map[string]int{"labels": agileplus.MaxLabels},
			enumOf("labels_mode", []string{agileplus.LabelsAll, agileplus.LabelsAny})),
		tool(h, "show", "A WP (state, claim, blockers, dependents, links) or a feature (its WPs).", agileplus.ScopeRead, h.show,
			limits{"ref": 80}, nil, nil),
		tool(h, "plan", "Create a feature's WPs and their dependencies in one call: all or nothing.", agileplus.ScopeWrite, h.plan,
			limits{"feature": 64, "project": 16, "title": 200, "description": 4000, "depends_on": 200}, ranges{"estimate": {0, 20000}}, map[string]int{"wps": 100}),
		tool(h, "move", "Move a WP: planned, doing, review, done, blocked. Pass your lease token.", agileplus.ScopeWrite, h.move,
			limits{"ref": 80, "reason": 2000}, nil, nil, enumOf("to", agileplus.WPStates)),
		tool(h, "claim", "Take, renew or release a WP's lease.", agileplus.ScopeWrite, h.claim,
			limits{"wp": 80, "agent": 64}, ranges{"ttl_seconds": {1, int64(agileplus.MaxLeaseTTL.Seconds())}}, nil, enumOf("action", []string{"take", "renew", "release"})),
		tool(h, "depend", "Add a dependency (from depends_on to), or remove one by id.", agileplus.ScopeWrite, h.depend,
			limits{"from": 80, "to": 80, "remove": 64}, nil, nil, enumOf("kind", []string{agileplus.DependsOn, agileplus.Blocks, agileplus.RelatesTo})),
		tool(h, "graph", "Graph answers as text: blockers, dependents, path, impact, critical (path and slack), layers.", agileplus.ScopeRead, h.graph,
			limits{"wp": 80, "to": 80, "project": 64, "feature": 64}, nil, nil, enumOf("query", []string{"blockers", "dependents", "path", "impact", "critical", "layers"})),
		tool(h, "link", "Link a WP to a commit (sha, repo) or a pull request (url).", agileplus.ScopeWrite, h.link,
			limits{"wp": 80, "sha": 64, "repo": 200, "url": 2000}, nil, nil, enumOf("state", []string{"draft", "open", "merged", "closed"})),
		tool(h, "events", "Changes after a cursor, oldest first; pass the last seq as after.", agileplus.ScopeRead, h.events,
			limits{"entity": 80}, ranges{"after": {0, 1 << 62}, "limit": {1, 500}}, nil),
		tool(h, "status", "Project summary (features, open work) or feature summary (WPs, audit check).", agileplus.ScopeRead, h.status,
			limits{"project": 64, "feature": 64}, nil, nil),
		h.findTool(),
	} {
		add(s)
	}
}

type (
	limits map[string]int      // string property -> maxLength
	ranges map[string][2]int64 // number property -> minimum, maximum
)

// enumOf restricts a string property to values.
func enumOf(prop string, values []string) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) {
		for _, p := range properties(s) {
			if name, ps := p.name, p.s; name == prop {
				for _, v := range values {
					ps.Enum = append(ps.Enum, v)
				}
			}
		}
	}
}

type namedSchema struct {
	name string
	s    *jsonschema.Schema
}

// properties lists the properties of s and of the objects in its arrays.
func properties(s *jsonschema.Schema) []namedSchema {
	var out []namedSchema
	for name, p := range s.Properties {
		out = append(out, namedSchema{name, p})
		if p.Items != nil {
			out = append(out, namedSchema{name, p.Items})
			out = append(out, properties(p.Items)...)
		}
	}
	return out
}

// tool makes a tool of fn with the input schema of In, tightened: strings
// get a maximum length (oversized arguments are refused before fn runs),
// numbers a range, arrays a maximum number of items.
func tool[In any](h *handlers, name, desc, scope string, fn func(context.Context, In) (*mcp.CallToolResult, error),
	lim limits, rng ranges, items map[string]int, more ...func(*jsonschema.Schema)) func(*mcp.Server) {
	s, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: schema of %s: %v", name, err))
	}
	for _, p := range properties(s) {
		t := p.s
		switch {
		case t.Type == "string":
			n := lim[p.name]
			if n == 0 {
				n = 200
			}
			t.MaxLength = &n
		case t.Type == "integer" || t.Type == "number":
			if r, ok := rng[p.name]; ok {
				lo, hi := float64(r[0]), float64(r[1])
				t.Minimum, t.Maximum = &lo, &hi
			}
		case t.Type == "array" || slicesHas(t.Types, "array"):
			if n, ok := items[p.name]; ok {
				t.MaxItems = &n
			} else {
				n := 50
				t.MaxItems = &n
			}
			if t.Items != nil && t.Items.Type == "string" {
				n := lim[p.name]
				if n == 0 {
					n = 200
				}
				t.Items.MaxLength = &n
			}
		}
	}
	for _, m := range more {
		m(s)
	}
	tl := &mcp.Tool{Name: name, Description: desc, InputSchema: s}
	return func(srv *mcp.Server) {
		// mcp.AddTool checks the arguments against the schema and answers
		// a mismatch with a tool error; the handler adds the scope.
		mcp.AddTool(srv, tl, func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
			what, need := "tool "+name, scope
			if na, ok := any(in).(NextArgs); ok && na.Claim {
				what, need = what+" with claim", agileplus.ScopeWrite
			}
			if err := needs(ctx, need, what); err != nil {
				return failure(err), nil, nil
			}
			res, err := fn(ctx, in)
			if err != nil {
				return failure(err), nil, nil
			}
			return res, nil, nil
		})
	}
}

func slicesHas(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ---- handlers ----

func (h *handlers) next(ctx context.Context, a NextArgs) (*mcp.CallToolResult, error) {
	res, err := h.t.Next(ctx, agileplus.NextRequest{Project: a.Project, Feature: a.Feature, Owner: a.Owner, Labels: a.Labels, LabelsMode: a.LabelsMode,
		Claim: a.Claim, Agent: a.Agent, TTLSeconds: a.TTLSeconds})
	if err != nil {
		return nil, err
	}
	if res.WP == nil {
		return ok(res.Message, res), nil
	}
	var b strings.Builder
	w := res.WP
	fmt.Fprintf(&b, "%s %s %q est %s", w.Key, w.State, w.Title, hours(w.Estimate))
	if l := res.Lease; l != nil {
		fmt.Fprintf(&b, "\nclaimed by %s token %d until %s", l.Agent, l.Token, l.ExpiresAt.Format("2006-01-02T15:04:05Z"))
		fmt.Fprintf(&b, "\nnext: move {ref:%q, to:\"doing\", token:%d}", w.Key, l.Token)
	}
	fmt.Fprintf(&b, "\nwhy: %s", res.Message)
	if w.Description != "" {
		fmt.Fprintf(&b, "\n%s", clip(w.Description, 1000))
	}
	return ok(b.String(), res), nil
}

func (h *handlers) show(ctx context.Context, a ShowArgs) (*mcp.CallToolResult, error) {
	if agileplus.IsWPRef(a.Ref) {
		w, err := h.t.WP(ctx, a.Ref)
		if err != nil {
			return nil, err
		}
		edges, err := h.t.Dependencies(ctx, w.Key)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %q est %s v%d", w.Key, w.State, w.Title, hours(w.Estimate), w.Version)
		if l := w.Lease; l != nil {
			fmt.Fprintf(&b, "\nclaimed by %s token %d until %s", l.Agent, l.Token, l.ExpiresAt.Format("2006-01-02T15:04:05Z"))
		}
		writeEdges(&b, edges)
		for _, r := range w.References {
			if r.Kind == agileplus.RefCommit {
				fmt.Fprintf(&b, "\ncommit %s@%s", r.Repo, r.SHA)
			} else {
				fmt.Fprintf(&b, "\npr %s %s", r.URL, r.State)
			}
		}
		if w.Description != "" {
			fmt.Fprintf(&b, "\n%s", clip(w.Description, 2000))
		}
		return ok(b.String(), map[string]any{"wp": w, "dependencies": edges}), nil
	}
	f, err := h.t.Feature(ctx, a.Ref)
	if err != nil {
		return nil, err
	}
	ws, err := h.t.WPs(ctx, agileplus.WPQuery{Feature: f.ID, Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
	if err != nil {
		return nil, err
	}
	edges, err := h.t.Dependencies(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q project %s v%d", f.Slug, f.State, f.Title, f.ProjectKey, f.Version)
	writeEdges(&b, edges)
	writeWPs(&b, ws)
	return ok(b.String(), map[string]any{"feature": f, "wps": nonNil(ws), "dependencies": edges}), nil
}

func writeEdges(b *strings.Builder, edges []*agileplus.Edge) {
	var waits, blocks, rel []string
	for _, e := range edges {
		s := e.OtherKey + "(" + e.OtherState + ")"
		switch e.Direction {
		case agileplus.DependsOn:
			waits = append(waits, s)
		case agileplus.Blocks:
			blocks = append(blocks, s)
		default:
			rel = append(rel, s)
		}
	}
	if len(waits) > 0 {
		fmt.Fprintf(b, "\ndepends on: %s", strings.Join(waits, " "))
	}
	if len(blocks) > 0 {
		fmt.Fprintf(b, "\nblocks: %s", strings.Join(blocks, " "))
	}
	if len(rel) > 0 {
		fmt.Fprintf(b, "\nrelates to: %s", strings.Join(rel, " "))
	}
}

func writeWPs(b *strings.Builder, ws []*agileplus.WP) {
	for _, w := range ws {
		fmt.Fprintf(b, "\n%s %s %q %s", w.Key, w.State, w.Title, hours(w.Estimate))
		if w.Lease != nil {
			fmt.Fprintf(b, " @%s", w.Lease.Agent)
		}
	}
}

func (h *handlers) move(ctx context.Context, a MoveArgs) (*mcp.CallToolResult, error) {
	t := agileplus.Transition{To: a.To, Force: a.Force, Reason: a.Reason, Token: a.Token}
	if !agileplus.IsWPRef(a.Ref) {
		f, err := h.t.TransitionFeature(ctx, a.Ref, t, 0)
		if err != nil {
			return nil, err
		}
		return ok(fmt.Sprintf("%s %s v%d", f.Slug, f.State, f.Version), f), nil
	}
	w, err := h.t.TransitionWP(ctx, a.Ref, t, 0)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s %s v%d", w.Key, w.State, w.Version)
	if w.State == agileplus.WPDone {
		text += " (lease released)"
	}
	return ok(text, w), nil
}

func (h *handlers) claim(ctx context.Context, a ClaimArgs) (*mcp.CallToolResult, error) {
	c := agileplus.ClaimRequest{Agent: a.Agent, Token: a.Token, TTLSeconds: a.TTLSeconds}
	var (
		l   *agileplus.Lease
		err error
	)
	switch a.Action {
	case "take":
		l, err = h.t.Claim(ctx, a.WP, c)
	case "renew":
		l, err = h.t.Renew(ctx, a.WP, c)
	default:
		if err = h.t.Release(ctx, a.WP, c); err == nil {
			return ok(fmt.Sprintf("%s released (token %d)", a.WP, a.Token), map[string]any{"wp": a.WP, "token": a.Token, "released": true}), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return ok(fmt.Sprintf("%s claimed by %s token %d until %s", a.WP, l.Agent, l.Token, l.ExpiresAt.Format("2006-01-02T15:04:05Z")), l), nil
}

func (h *handlers) depend(ctx context.Context, a DependArgs) (*mcp.CallToolResult, error) {
	if a.Remove != "" {
		if a.From != "" || a.To != "" || a.Kind != "" {
			return nil, agileplus.FieldErrorf("remove", "remove takes only the dependency id; leave from, to and kind out")
		}
		if err := h.t.RemoveDependency(ctx, a.Remove); err != nil {
			return nil, err
		}
		return ok("removed "+a.Remove, map[string]any{"removed": a.Remove}), nil
	}
	d, err := h.t.AddDependency(ctx, agileplus.DependencyCreate{From: a.From, To: a.To, Kind: a.Kind})
	if err != nil {
		return nil, err
	}
	return ok(fmt.Sprintf("%s %s %s %s", d.ID, d.FromKey, d.Kind, d.ToKey), d), nil
}

func (h *handlers) link(ctx context.Context, a LinkArgs) (*mcp.CallToolResult, error) {
	r, err := h.t.AddReference(ctx, a.WP, agileplus.ReferenceCreate{Repo: a.Repo, SHA: a.SHA, URL: a.URL, State: a.State})
	if err != nil {
		return nil, err
	}
	what := r.URL + " " + r.State
	if r.Kind == agileplus.RefCommit {
		what = r.Repo + "@" + r.SHA
	}
	return ok(fmt.Sprintf("%s %s %s %s", r.ID, a.WP, strings.ReplaceAll(r.Kind, "_", " "), what), r), nil
}

func (h *handlers) events(ctx context.Context, a EventsArgs) (*mcp.CallToolResult, error) {
	limit := a.Limit
	if limit == 0 {
		limit = 50
	}
	es, err := h.t.Events(ctx, agileplus.EventQuery{After: a.After, Entity: a.Entity, Limit: limit})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	next := a.After
	for _, e := range es {
		fmt.Fprintf(&b, "%d %s %s %s %s\n", e.GlobalSeq, e.Time.Format("2006-01-02T15:04:05Z"), e.Type, entityName(e), e.Actor)
		next = e.GlobalSeq
	}
	fmt.Fprintf(&b, "%d events; next after=%d", len(es), next)
	return ok(b.String(), map[string]any{"events": nonNil(es), "next": next}), nil
}

// entityName is the key an event's data gives its entity, or its id.
func entityName(e *agileplus.Event) string {
	var d struct {
		Key  string `json:"key"`
		Slug string `json:"slug"`
		WP   *struct {
			Key string `json:"key"`
		} `json:"wp"`
		Feature *struct {
			Slug string `json:"slug"`
		} `json:"feature"`
		FromKey string `json:"from_key"`
		ToKey   string `json:"to_key"`
	}
	_ = jsonUnmarshal(e.Data, &d)
	switch {
	case d.Key != "":
		return d.Key
	case d.Slug != "":
		return d.Slug
	case d.WP != nil && d.WP.Key != "":
		return d.WP.Key
	case d.Feature != nil && d.Feature.Slug != "":
		return d.Feature.Slug
	case d.FromKey != "":
		return d.FromKey + "->" + d.ToKey
	}
	return e.EntityID
}

func hours(h float64) string {
	if math.IsInf(h, 0) || math.IsNaN(h) {
		return "-"
	}
	return fmt.Sprintf("%gh", h)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
