package httpapi

import (
	"context"
	"net/http"

	"github.com/agileplus/agileplus"
)

// labelRoutes are a project's label definitions, by name.
func (s *Server) labelRoutes() []route {
	t := s.Tracker
	return []route{
		op(s, "POST", "/v1/projects/{project}/labels", "Define a label in a project: its colour and what it means", 201, nil, func(r *http.Request, in *agileplus.LabelCreate) (*agileplus.LabelDef, error) {
			return t.CreateLabel(r.Context(), r.PathValue("project"), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/projects/{project}/labels", "List a project's label definitions by name", 200, cursorParams(agileplus.LabelPattern), func(r *http.Request, _ *noBody) (*List[*agileplus.LabelDef], error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			ls, err := t.Labels(r.Context(), r.PathValue("project"), pg)
			return list(ls, pg.Limit, func(l *agileplus.LabelDef) string { return l.Name }), err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/projects/{project}/labels/{label}", "Get a label definition by name", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.LabelDef, error) {
			return t.Label(r.Context(), r.PathValue("project"), r.PathValue("label"))
		}).needs(agileplus.ScopeRead),
		opIfMatch(s, "PATCH", "/v1/projects/{project}/labels/{label}", "Change a label definition's colour or description", func(r *http.Request, in *agileplus.LabelUpdate, v int64) (*agileplus.LabelDef, error) {
			return t.UpdateLabel(r.Context(), r.PathValue("project"), r.PathValue("label"), *in, v)
		}).needs(agileplus.ScopeWrite),
		op(s, "DELETE", "/v1/projects/{project}/labels/{label}", "Remove a label definition (the label stays on the WPs and features that carry it)", 204, nil, func(r *http.Request, _ *noBody) (*noBody, error) {
			return nil, t.DeleteLabel(r.Context(), r.PathValue("project"), r.PathValue("label"))
		}).needs(agileplus.ScopeWrite),
	}
}

func labelPath(projectRef, name string) string {
	return "/v1/projects/" + esc(projectRef) + "/labels/" + esc(name)
}

// CreateLabel implements agileplus.Tracker.
func (c *Client) CreateLabel(ctx context.Context, projectRef string, in agileplus.LabelCreate) (l *agileplus.LabelDef, err error) {
	callErr := c.do(ctx, "POST", "/v1/projects/"+esc(projectRef)+"/labels", nil, 0, in, &l)
	return l, callErr
}

// Label implements agileplus.Tracker.
func (c *Client) Label(ctx context.Context, projectRef, name string) (l *agileplus.LabelDef, err error) {
	callErr := c.do(ctx, "GET", labelPath(projectRef, name), nil, 0, nil, &l)
	return l, callErr
}

// Labels implements agileplus.Tracker.
func (c *Client) Labels(ctx context.Context, projectRef string, pg agileplus.Page) ([]*agileplus.LabelDef, error) {
	var l List[*agileplus.LabelDef]
	callErr := c.do(ctx, "GET", "/v1/projects/"+esc(projectRef)+"/labels", pageQuery(pg), 0, nil, &l)
	return l.Items, callErr
}

// UpdateLabel implements agileplus.Tracker.
func (c *Client) UpdateLabel(ctx context.Context, projectRef, name string, u agileplus.LabelUpdate, ifVersion int64) (l *agileplus.LabelDef, err error) {
	callErr := c.do(ctx, "PATCH", labelPath(projectRef, name), nil, ifVersion, u, &l)
	return l, callErr
}

// DeleteLabel implements agileplus.Tracker.
func (c *Client) DeleteLabel(ctx context.Context, projectRef, name string) error {
	return c.do(ctx, "DELETE", labelPath(projectRef, name), nil, 0, nil, nil)
}
