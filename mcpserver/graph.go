package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// graphRows bounds the WPs a graph answer lists; counts cover them all.
const graphRows = 50

func (h *handlers) graph(ctx context.Context, a GraphArgs) (*mcp.CallToolResult, error) {
	need := func(field, v string) error {
		if v == "" {
			return agileplus.FieldErrorf(field, "graph %s needs %s", a.Query, field)
		}
		return nil
	}
	var b strings.Builder
	switch a.Query {
	case "blockers", "dependents":
		if err := need("wp", a.WP); err != nil {
			return nil, err
		}
		q := h.t.Blockers
		verb := "depends on"
		if a.Query == "dependents" {
			q, verb = h.t.Dependents, "is waited on by"
		}
		r, err := q(ctx, a.WP, !a.Direct, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s %s %d WPs (depth %d)", r.WP.Key, verb, len(r.WPs), r.Depth)
		for i, w := range r.WPs {
			if i == graphRows {
				fmt.Fprintf(&b, "\n... %d more", len(r.WPs)-i)
				break
			}
			fmt.Fprintf(&b, "\n%d %s %s %s", w.Depth, w.Key, w.State, hours(w.Estimate))
		}
		return ok(b.String(), r), nil
	case "path":
		if err := need("wp", a.WP); err != nil {
			return nil, err
		}
		if err := need("to", a.To); err != nil {
			return nil, err
		}
		p, err := h.t.Path(ctx, a.WP, a.To)
		if err != nil {
			return nil, err
		}
		keys := make([]string, len(p))
		for i, n := range p {
			keys[i] = n.Key + "(" + n.State + ")"
		}
		fmt.Fprintf(&b, "%s (%d hops, each depends on the next)", strings.Join(keys, " -> "), len(p)-1)
		return ok(b.String(), map[string]any{"hops": len(p) - 1, "wps": p}), nil
	case "impact":
		if err := need("wp", a.WP); err != nil {
			return nil, err
		}
		r, err := h.t.Impact(ctx, a.WP, graphRows)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "if %s slips: %d WPs wait on it, %d open, %s open", r.WP.Key, r.Count, r.Open, hours(r.Estimate))
		for _, w := range r.WPs {
			fmt.Fprintf(&b, "\n%d %s %s %s", w.Depth, w.Key, w.State, hours(w.Estimate))
		}
		if r.Truncated {
			b.WriteString("\n...")
		}
		return ok(b.String(), r), nil
	case "critical":
		if a.Project == "" && a.Feature == "" {
			return nil, agileplus.FieldErrorf("project", "graph critical needs project or feature")
		}
		r, err := h.t.CriticalPath(ctx, a.Project, a.Feature, agileplus.Page{Limit: graphRows})
		if err != nil {
			return nil, err
		}
		path := make([]string, len(r.Path))
		for i, n := range r.Path {
			path[i] = n.Key
		}
		fmt.Fprintf(&b, "critical path %s: %s\nkey state est slack (%d open WPs)", hours(r.Length), strings.Join(path, " -> "), r.Total)
		for _, w := range r.WPs {
			fmt.Fprintf(&b, "\n%s %s %s %s", w.Key, w.State, hours(w.Estimate), hours(w.Slack))
		}
		if r.Next != "" {
			fmt.Fprintf(&b, "\n... %d more", r.Total-len(r.WPs))
		}
		return ok(b.String(), r), nil
	case "layers":
		if err := need("project", a.Project); err != nil {
			return nil, err
		}
		r, err := h.t.Layers(ctx, a.Project, agileplus.OrderPriority)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%d open WPs; layer 0 waits on nothing open (in progress or not; ready lists what can start now), layer n on layers before it", r.Open)
		for i, l := range r.Layers {
			keys := make([]string, 0, len(l))
			for j, n := range l {
				if j == graphRows {
					keys = append(keys, fmt.Sprintf("... %d more", len(l)-j))
					break
				}
				keys = append(keys, n.Key)
			}
			fmt.Fprintf(&b, "\nlayer %d: %s", i, strings.Join(keys, " "))
		}
		if len(r.Cyclic) > 0 {
			fmt.Fprintf(&b, "\ncyclic: %d WPs", len(r.Cyclic))
		}
		return ok(b.String(), r), nil
	}
	return nil, agileplus.FieldErrorf("query", "unknown graph query %q", a.Query)
}

// ---- status ----

func (h *handlers) status(ctx context.Context, a StatusArgs) (*mcp.CallToolResult, error) {
	switch {
	case a.Feature != "" && a.Project != "":
		return nil, agileplus.FieldErrorf("feature", "status takes project or feature, not both")
	case a.Feature != "":
		text, v, err := h.featureStatus(ctx, a.Feature)
		if err != nil {
			return nil, err
		}
		return ok(text, v), nil
	case a.Project != "":
		text, v, err := h.projectStatus(ctx, a.Project)
		if err != nil {
			return nil, err
		}
		return ok(text, v), nil
	}
	return nil, agileplus.FieldErrorf("project", "status needs project or feature")
}

// FeatureStatus is the structured answer of status for a feature.
type FeatureStatus struct {
	Feature *agileplus.Feature           `json:"feature"`
	Counts  map[string]int               `json:"counts"`
	Open    float64                      `json:"open_estimate"`
	WPs     []*agileplus.WP              `json:"wps"`
	Audit   *agileplus.AuditVerification `json:"audit"`
}

func (h *handlers) featureStatus(ctx context.Context, ref string) (string, *FeatureStatus, error) {
	f, err := h.t.Feature(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	ws, err := allWPs(ctx, h.t, agileplus.WPQuery{Feature: f.ID})
	if err != nil {
		return "", nil, err
	}
	v, err := h.t.VerifyAudit(ctx, f.ID)
	if err != nil {
		return "", nil, err
	}
	st := &FeatureStatus{Feature: f, Counts: map[string]int{}, WPs: nonNil(ws), Audit: v}
	for _, w := range ws {
		st.Counts[w.State]++
		if w.State != agileplus.WPDone {
			st.Open += w.Estimate
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q project %s\n%d WPs:%s; open %s\n", f.Slug, f.State, f.Title, f.ProjectKey, len(ws), countText(st.Counts), hours(st.Open))
	if v.Valid {
		fmt.Fprintf(&b, "audit verified: %d entries", v.Entries)
	} else {
		fmt.Fprintf(&b, "audit BROKEN at entry %d: %s", v.BrokenAt, v.Problem)
	}
	writeWPs(&b, ws)
	return b.String(), st, nil
}

func countText(c map[string]int) string {
	var b strings.Builder
	for _, s := range agileplus.WPStates {
		if c[s] > 0 {
			fmt.Fprintf(&b, " %d %s", c[s], s)
		}
	}
	return b.String()
}

func (h *handlers) projectStatus(ctx context.Context, ref string) (string, any, error) {
	p, err := h.t.Project(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	var fs []*agileplus.Feature
	for pg := (agileplus.Page{Limit: agileplus.MaxPageLimit}); ; {
		page, err := h.t.Features(ctx, p.Key, agileplus.FeatureQuery{Page: pg})
		if err != nil {
			return "", nil, err
		}
		fs = append(fs, page...)
		if len(page) < pg.Limit {
			break
		}
		pg.After = page[len(page)-1].ID
	}
	g, err := h.t.FeatureGraph(ctx, p.Key)
	if err != nil {
		return "", nil, err
	}
	roll := map[string]agileplus.GraphFeature{}
	for _, gf := range g.Features {
		roll[gf.FeatureID] = gf
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q: %d features\nslug state wps open open_h waits_on", p.Key, p.Name, len(fs))
	for _, f := range fs {
		r := roll[f.ID]
		var waits []string
		for _, d := range r.DependsOn {
			if d.Open > 0 || d.Explicit {
				waits = append(waits, d.Slug)
			}
		}
		fmt.Fprintf(&b, "\n%s %s %d %d %s %s", f.Slug, f.State, r.WPs, r.Open, hours(r.OpenEstimate), orDash(strings.Join(waits, ",")))
	}
	return b.String(), map[string]any{"project": p, "features": nonNil(fs), "rollup": g}, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func allWPs(ctx context.Context, t agileplus.Tracker, q agileplus.WPQuery) ([]*agileplus.WP, error) {
	q.Limit = agileplus.MaxPageLimit
	var all []*agileplus.WP
	for {
		page, err := t.WPs(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all, nil
		}
		q.After = page[len(page)-1].ID
	}
}

// ---- plan ----

// PlanResult is the structured answer of plan.
type PlanResult struct {
	Feature      string                  `json:"feature"`
	Created      bool                    `json:"feature_created"`
	WPs          []*agileplus.WP         `json:"wps"`
	Dependencies []*agileplus.Dependency `json:"dependencies"`
}

// plan creates the plan in one transaction (Tracker.Plan): all of it is
// written, or nothing.
func (h *handlers) plan(ctx context.Context, a PlanArgs) (*mcp.CallToolResult, error) {
	req := agileplus.PlanRequest{Feature: a.Feature, Project: a.Project, Title: a.Title, WPs: make([]agileplus.PlanWP, len(a.WPs))}
	for i, w := range a.WPs {
		req.WPs[i] = agileplus.PlanWP{WPCreate: agileplus.WPCreate{Title: w.Title, Description: w.Description, Estimate: w.Estimate}, DependsOn: w.DependsOn}
	}
	pr, err := h.t.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &PlanResult{Feature: pr.Feature.Slug, Created: pr.FeatureCreated, WPs: nonNil(pr.WPs), Dependencies: nonNil(pr.Dependencies)}
	on := map[string][]string{}
	for _, d := range pr.Dependencies {
		on[d.FromKey] = append(on[d.FromKey], d.ToKey)
	}
	var b strings.Builder
	verb := "planned"
	if res.Created {
		verb = "created and planned"
	}
	fmt.Fprintf(&b, "%s %s: %d WPs, %d dependencies", verb, res.Feature, len(res.WPs), len(res.Dependencies))
	for _, w := range res.WPs {
		fmt.Fprintf(&b, "\n%s %q", w.Key, w.Title)
		if len(on[w.Key]) > 0 {
			fmt.Fprintf(&b, " <- %s", strings.Join(slices.Compact(on[w.Key]), " "))
		}
	}
	return ok(b.String(), res), nil
}
