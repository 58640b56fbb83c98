package httpapi

import (
	"context"
	"net/http"

	"github.com/agileplus/agileplus"
)

// archivedParam is ?archived= on the lists of projects, features and WPs.
var archivedParam = param{name: "archived", typ: "string",
	doc:    "false (the default): leave archived ones out; true: only archived ones; include: both",
	schema: map[string]any{"enum": []string{agileplus.ArchivedExclude, agileplus.ArchivedOnly, agileplus.ArchivedInclude}, "default": agileplus.ArchivedExclude}}

// commentRoutes are the comments on WPs and features, and archiving,
// restoring and deleting.
func (s *Server) commentRoutes() []route {
	t := s.Tracker
	commentPage := cursorParams(idCursor(agileplus.PrefixComment))
	listComments := func(field string) func(*http.Request, *noBody) (*List[*agileplus.Comment], error) {
		return func(r *http.Request, _ *noBody) (*List[*agileplus.Comment], error) {
			if err := refKind(r, field); err != nil {
				return nil, err
			}
			pg, err := idPage(r, agileplus.PrefixComment)
			if err != nil {
				return nil, err
			}
			cs, err := t.Comments(r.Context(), r.PathValue(field), pg)
			return list(cs, pg.Limit, func(c *agileplus.Comment) string { return c.ID }), err
		}
	}
	addComment := func(field string) func(*http.Request, *agileplus.CommentCreate) (*agileplus.Comment, error) {
		return func(r *http.Request, in *agileplus.CommentCreate) (*agileplus.Comment, error) {
			if err := refKind(r, field); err != nil {
				return nil, err
			}
			return t.AddComment(r.Context(), r.PathValue(field), *in)
		}
	}
	return []route{
		op(s, "POST", "/v1/wps/{wp}/comments", "Comment on a work package (Markdown; mentions are plain text)", 201, nil, addComment("wp")).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/wps/{wp}/comments", "List a work package's comments, oldest first", 200, commentPage, listComments("wp")).needs(agileplus.ScopeRead),
		op(s, "POST", "/v1/features/{feature}/comments", "Comment on a feature (Markdown; mentions are plain text)", 201, nil, addComment("feature")).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/features/{feature}/comments", "List a feature's comments, oldest first", 200, commentPage, listComments("feature")).needs(agileplus.ScopeRead),
		opIfMatch(s, "PATCH", "/v1/comments/{comment}", "Edit one of your own comments; the old body goes to its history", func(r *http.Request, in *agileplus.CommentEdit, v int64) (*agileplus.Comment, error) {
			return t.EditComment(r.Context(), r.PathValue("comment"), *in, v)
		}).needs(agileplus.ScopeWrite),

		op(s, "POST", "/v1/projects/{project}/archive", "Archive a project: left out of the project list, still readable by key (409 if archived already)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Project, error) {
			return t.ArchiveProject(r.Context(), r.PathValue("project"))
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/projects/{project}/restore", "Restore an archived project (409 if it is not archived)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Project, error) {
			return t.RestoreProject(r.Context(), r.PathValue("project"))
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/features/{feature}/archive", "Archive a feature: left out of feature lists, still readable by slug (409 if archived already)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Feature, error) {
			return t.ArchiveFeature(r.Context(), r.PathValue("feature"))
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/features/{feature}/restore", "Restore an archived feature (409 if it is not archived)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Feature, error) {
			return t.RestoreFeature(r.Context(), r.PathValue("feature"))
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/wps/{wp}/archive", "Archive a work package: left out of WP lists and the ready set, still readable by key; what depends on it keeps waiting (409 if archived already)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.WP, error) {
			return t.ArchiveWP(r.Context(), r.PathValue("wp"))
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/wps/{wp}/restore", "Restore an archived work package (409 if it is not archived)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.WP, error) {
			return t.RestoreWP(r.Context(), r.PathValue("wp"))
		}).needs(agileplus.ScopeWrite),
		op(s, "DELETE", "/v1/wps/{wp}", "Delete a work package never started that nothing depends on, with its own dependencies, references and comments (409 naming what is in the way)", 204, nil, func(r *http.Request, _ *noBody) (*noBody, error) {
			return nil, t.DeleteWP(r.Context(), r.PathValue("wp"))
		}).needs(agileplus.ScopeWrite),
	}
}

// refKind refuses a WP ref on a feature path and a feature ref on a WP
// path, as not found: the Service would take either.
func refKind(r *http.Request, field string) error {
	ref := r.PathValue(field)
	if agileplus.IsWPRef(ref) == (field == "wp") {
		return nil
	}
	what := map[bool]string{true: "work package", false: "feature"}[field == "wp"]
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: field + ": no " + what + " " + agileplus.QuoteRef(ref)}
}

// commentsPath is the comments of a WP or a feature, told apart by the ref.
func commentsPath(ref string) string {
	if agileplus.IsWPRef(ref) {
		return "/v1/wps/" + esc(ref) + "/comments"
	}
	return "/v1/features/" + esc(ref) + "/comments"
}

// AddComment implements agileplus.Tracker.
func (c *Client) AddComment(ctx context.Context, ref string, in agileplus.CommentCreate) (cm *agileplus.Comment, err error) {
	callErr := c.do(ctx, "POST", commentsPath(ref), nil, 0, in, &cm)
	return cm, callErr
}

// EditComment implements agileplus.Tracker.
func (c *Client) EditComment(ctx context.Context, id string, in agileplus.CommentEdit, ifVersion int64) (cm *agileplus.Comment, err error) {
	callErr := c.do(ctx, "PATCH", "/v1/comments/"+esc(id), nil, ifVersion, in, &cm)
	return cm, callErr
}

// Comments implements agileplus.Tracker.
func (c *Client) Comments(ctx context.Context, ref string, pg agileplus.Page) ([]*agileplus.Comment, error) {
	var l List[*agileplus.Comment]
	pg.Archived = ""
	callErr := c.do(ctx, "GET", commentsPath(ref), pageQuery(pg), 0, nil, &l)
	return l.Items, callErr
}

// ArchiveProject implements agileplus.Tracker.
func (c *Client) ArchiveProject(ctx context.Context, ref string) (p *agileplus.Project, err error) {
	callErr := c.do(ctx, "POST", "/v1/projects/"+esc(ref)+"/archive", nil, 0, nil, &p)
	return p, callErr
}

// RestoreProject implements agileplus.Tracker.
func (c *Client) RestoreProject(ctx context.Context, ref string) (p *agileplus.Project, err error) {
	callErr := c.do(ctx, "POST", "/v1/projects/"+esc(ref)+"/restore", nil, 0, nil, &p)
	return p, callErr
}

// ArchiveFeature implements agileplus.Tracker.
func (c *Client) ArchiveFeature(ctx context.Context, ref string) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "POST", "/v1/features/"+esc(ref)+"/archive", nil, 0, nil, &f)
	return f, callErr
}

// RestoreFeature implements agileplus.Tracker.
func (c *Client) RestoreFeature(ctx context.Context, ref string) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "POST", "/v1/features/"+esc(ref)+"/restore", nil, 0, nil, &f)
	return f, callErr
}

// ArchiveWP implements agileplus.Tracker.
func (c *Client) ArchiveWP(ctx context.Context, ref string) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "POST", "/v1/wps/"+esc(ref)+"/archive", nil, 0, nil, &w)
	return w, callErr
}

// RestoreWP implements agileplus.Tracker.
func (c *Client) RestoreWP(ctx context.Context, ref string) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "POST", "/v1/wps/"+esc(ref)+"/restore", nil, 0, nil, &w)
	return w, callErr
}

// DeleteWP implements agileplus.Tracker.
func (c *Client) DeleteWP(ctx context.Context, ref string) error {
	return c.do(ctx, "DELETE", "/v1/wps/"+esc(ref), nil, 0, nil, nil)
}
