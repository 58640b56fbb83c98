package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// Client implements agileplus.Tracker against a server.
type Client struct {
	base  string
	http  *http.Client
	actor string
}

var _ agileplus.Tracker = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithActor names who makes the changes the client sends.
func WithActor(actor string) ClientOption { return func(c *Client) { c.actor = actor } }

// NewClient returns a client of the server at base, e.g. http://127.0.0.1:8080.
func NewClient(base string, opts ...ClientOption) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// do sends a request and decodes a JSON response into out (if not nil).
// Error responses become *agileplus.Error with the server's code, message
// and field; an unreachable server is EUNAVAILABLE.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, ifVersion int64, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("httpapi: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return agileplus.Errorf(agileplus.EINVALID, "bad server URL %q: %v", c.base, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.actor != "" {
		req.Header.Set(ActorHeader, c.actor)
	}
	if ifVersion != 0 {
		req.Header.Set("If-Match", etag(ifVersion))
	}
	setTraceParent(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the server at %s: %v", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return responseError(resp)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*rawBody); ok {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return agileplus.Errorf(agileplus.EUNAVAILABLE, "reading the response of %s %s: %v", method, path, err)
		}
		*raw = b
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("httpapi: decode %s %s response: %w", method, path, err)
	}
	return nil
}

// responseError turns an error response into the domain error it carries:
// an *agileplus.ImportError when it lists import problems, else an
// *agileplus.Error with the server's code, message and field.
func responseError(resp *http.Response) error {
	var eb ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if json.Unmarshal(raw, &eb) != nil || eb.Error.Message == "" {
		return &agileplus.Error{Code: codeOf(resp.StatusCode), Message: fmt.Sprintf("server answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))}
	}
	if len(eb.Error.Problems) > 0 {
		return &agileplus.ImportError{Problems: eb.Error.Problems}
	}
	code := eb.Error.Code
	if code == "" {
		code = codeOf(resp.StatusCode)
	}
	return &agileplus.Error{Code: code, Message: eb.Error.Message, Field: eb.Error.Field}
}

func esc(ref string) string { return url.PathEscape(ref) }

func pageQuery(p agileplus.Page) url.Values {
	q := url.Values{}
	if p.After != "" {
		q.Set("after", p.After)
	}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	return q
}

// CreateProject implements agileplus.Tracker.
func (c *Client) CreateProject(ctx context.Context, in agileplus.ProjectCreate) (p *agileplus.Project, err error) {
	callErr := c.do(ctx, "POST", "/v1/projects", nil, 0, in, &p)
	return p, callErr
}

// Project implements agileplus.Tracker.
func (c *Client) Project(ctx context.Context, ref string) (p *agileplus.Project, err error) {
	callErr := c.do(ctx, "GET", "/v1/projects/"+esc(ref), nil, 0, nil, &p)
	return p, callErr
}

// Projects implements agileplus.Tracker.
func (c *Client) Projects(ctx context.Context, pg agileplus.Page) ([]*agileplus.Project, error) {
	var l List[*agileplus.Project]
	callErr := c.do(ctx, "GET", "/v1/projects", pageQuery(pg), 0, nil, &l)
	return l.Items, callErr
}

// UpdateProject implements agileplus.Tracker.
func (c *Client) UpdateProject(ctx context.Context, ref string, u agileplus.ProjectUpdate, ifVersion int64) (p *agileplus.Project, err error) {
	callErr := c.do(ctx, "PATCH", "/v1/projects/"+esc(ref), nil, ifVersion, u, &p)
	return p, callErr
}

// CreateFeature implements agileplus.Tracker.
func (c *Client) CreateFeature(ctx context.Context, projectRef string, in agileplus.FeatureCreate) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "POST", "/v1/projects/"+esc(projectRef)+"/features", nil, 0, in, &f)
	return f, callErr
}

// Feature implements agileplus.Tracker.
func (c *Client) Feature(ctx context.Context, ref string) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(ref), nil, 0, nil, &f)
	return f, callErr
}

// Features implements agileplus.Tracker.
func (c *Client) Features(ctx context.Context, projectRef string, pg agileplus.Page) ([]*agileplus.Feature, error) {
	var l List[*agileplus.Feature]
	callErr := c.do(ctx, "GET", "/v1/projects/"+esc(projectRef)+"/features", pageQuery(pg), 0, nil, &l)
	return l.Items, callErr
}

// UpdateFeature implements agileplus.Tracker.
func (c *Client) UpdateFeature(ctx context.Context, ref string, u agileplus.FeatureUpdate, ifVersion int64) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "PATCH", "/v1/features/"+esc(ref), nil, ifVersion, u, &f)
	return f, callErr
}

// TransitionFeature implements agileplus.Tracker.
func (c *Client) TransitionFeature(ctx context.Context, ref string, t agileplus.Transition, ifVersion int64) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "POST", "/v1/features/"+esc(ref)+"/transition", nil, ifVersion, t, &f)
	return f, callErr
}

// CreateWP implements agileplus.Tracker.
func (c *Client) CreateWP(ctx context.Context, featureRef string, in agileplus.WPCreate) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "POST", "/v1/features/"+esc(featureRef)+"/wps", nil, 0, in, &w)
	return w, callErr
}

// WP implements agileplus.Tracker.
func (c *Client) WP(ctx context.Context, ref string) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "GET", "/v1/wps/"+esc(ref), nil, 0, nil, &w)
	return w, callErr
}

// WPs implements agileplus.Tracker.
func (c *Client) WPs(ctx context.Context, q agileplus.WPQuery) ([]*agileplus.WP, error) {
	v := pageQuery(q.Page)
	for k, s := range map[string]string{"project": q.Project, "feature": q.Feature, "state": q.State} {
		if s != "" {
			v.Set(k, s)
		}
	}
	var l List[*agileplus.WP]
	callErr := c.do(ctx, "GET", "/v1/wps", v, 0, nil, &l)
	return l.Items, callErr
}

// UpdateWP implements agileplus.Tracker.
func (c *Client) UpdateWP(ctx context.Context, ref string, u agileplus.WPUpdate, ifVersion int64) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "PATCH", "/v1/wps/"+esc(ref), nil, ifVersion, u, &w)
	return w, callErr
}

// TransitionWP implements agileplus.Tracker.
func (c *Client) TransitionWP(ctx context.Context, ref string, t agileplus.Transition, ifVersion int64) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "POST", "/v1/wps/"+esc(ref)+"/transition", nil, ifVersion, t, &w)
	return w, callErr
}

// Claim implements agileplus.Tracker.
func (c *Client) Claim(ctx context.Context, ref string, in agileplus.ClaimRequest) (l *agileplus.Lease, err error) {
	callErr := c.do(ctx, "POST", "/v1/wps/"+esc(ref)+"/claim", nil, 0, in, &l)
	return l, callErr
}

// Renew implements agileplus.Tracker.
func (c *Client) Renew(ctx context.Context, ref string, in agileplus.ClaimRequest) (l *agileplus.Lease, err error) {
	callErr := c.do(ctx, "PUT", "/v1/wps/"+esc(ref)+"/claim", nil, 0, in, &l)
	return l, callErr
}

// Release implements agileplus.Tracker.
func (c *Client) Release(ctx context.Context, ref string, in agileplus.ClaimRequest) error {
	if in.Token <= 0 {
		return agileplus.FieldErrorf("token", "token is required: pass the fencing token the claim returned")
	}
	return c.do(ctx, "DELETE", "/v1/wps/"+esc(ref)+"/claim", url.Values{"token": {strconv.FormatInt(in.Token, 10)}}, 0, nil, nil)
}

// AddReference implements agileplus.Tracker.
func (c *Client) AddReference(ctx context.Context, ref string, in agileplus.ReferenceCreate) (r *agileplus.Reference, err error) {
	callErr := c.do(ctx, "POST", "/v1/wps/"+esc(ref)+"/references", nil, 0, in, &r)
	return r, callErr
}

// AddDependency implements agileplus.Tracker.
func (c *Client) AddDependency(ctx context.Context, in agileplus.DependencyCreate) (d *agileplus.Dependency, err error) {
	callErr := c.do(ctx, "POST", "/v1/dependencies", nil, 0, in, &d)
	return d, callErr
}

// RemoveDependency implements agileplus.Tracker.
func (c *Client) RemoveDependency(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/dependencies/"+esc(id), nil, 0, nil, nil)
}

// Dependencies implements agileplus.Tracker. The server tells WPs from
// features by the ref; WP keys contain a dash followed by digits.
func (c *Client) Dependencies(ctx context.Context, ref string) ([]*agileplus.Edge, error) {
	var l List[*agileplus.Edge]
	path := "/v1/features/" + esc(ref) + "/dependencies"
	if agileplus.IsWPRef(ref) {
		path = "/v1/wps/" + esc(ref) + "/dependencies"
	}
	callErr := c.do(ctx, "GET", path, nil, 0, nil, &l)
	return l.Items, callErr
}

// Ready implements agileplus.Tracker.
func (c *Client) Ready(ctx context.Context, projectRef string, pg agileplus.Page) ([]*agileplus.WP, error) {
	q := pageQuery(pg)
	q.Set("project", projectRef)
	var l List[*agileplus.WP]
	callErr := c.do(ctx, "GET", "/v1/ready", q, 0, nil, &l)
	return l.Items, callErr
}

// Events implements agileplus.Tracker.
func (c *Client) Events(ctx context.Context, f agileplus.EventQuery) ([]*agileplus.Event, error) {
	q := url.Values{}
	if f.After != 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Entity != "" {
		q.Set("entity", f.Entity)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var l List[*agileplus.Event]
	callErr := c.do(ctx, "GET", "/v1/events", q, 0, nil, &l)
	return l.Items, callErr
}

// Audit implements agileplus.Tracker.
func (c *Client) Audit(ctx context.Context, featureRef string, after int64, limit int) ([]*agileplus.AuditEntry, error) {
	q := url.Values{}
	if after != 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var l List[*agileplus.AuditEntry]
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(featureRef)+"/audit", q, 0, nil, &l)
	return l.Items, callErr
}

// VerifyAudit implements agileplus.Tracker.
func (c *Client) VerifyAudit(ctx context.Context, featureRef string) (v *agileplus.AuditVerification, err error) {
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(featureRef)+"/audit/verify", nil, 0, nil, &v)
	return v, callErr
}

// Layers implements agileplus.Tracker.
func (c *Client) Layers(ctx context.Context, projectRef string) (l *agileplus.GraphLayers, err error) {
	callErr := c.do(ctx, "GET", "/v1/graph/layers", url.Values{"project": {projectRef}}, 0, nil, &l)
	return l, callErr
}

// FeatureGraph implements agileplus.Tracker.
func (c *Client) FeatureGraph(ctx context.Context, projectRef string) (f *agileplus.GraphFeatures, err error) {
	callErr := c.do(ctx, "GET", "/v1/graph/features", url.Values{"project": {projectRef}}, 0, nil, &f)
	return f, callErr
}

func reachValues(transitive bool, depth int) url.Values {
	q := url.Values{}
	if transitive {
		q.Set("transitive", "true")
	}
	if depth != 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	return q
}

// Blockers implements agileplus.Tracker.
func (c *Client) Blockers(ctx context.Context, ref string, transitive bool, depth int) (g *agileplus.GraphReach, err error) {
	callErr := c.do(ctx, "GET", "/v1/wps/"+esc(ref)+"/blockers", reachValues(transitive, depth), 0, nil, &g)
	return g, callErr
}

// Dependents implements agileplus.Tracker.
func (c *Client) Dependents(ctx context.Context, ref string, transitive bool, depth int) (g *agileplus.GraphReach, err error) {
	callErr := c.do(ctx, "GET", "/v1/wps/"+esc(ref)+"/dependents", reachValues(transitive, depth), 0, nil, &g)
	return g, callErr
}

// Path implements agileplus.Tracker.
func (c *Client) Path(ctx context.Context, from, to string) ([]agileplus.GraphNode, error) {
	var p GraphPath
	callErr := c.do(ctx, "GET", "/v1/graph/path", url.Values{"from": {from}, "to": {to}}, 0, nil, &p)
	return p.WPs, callErr
}

// CriticalPath implements agileplus.Tracker.
func (c *Client) CriticalPath(ctx context.Context, projectRef, featureRef string, pg agileplus.Page) (cp *agileplus.GraphCriticalPath, err error) {
	q := pageQuery(pg)
	if projectRef != "" {
		q.Set("project", projectRef)
	}
	if featureRef != "" {
		q.Set("feature", featureRef)
	}
	callErr := c.do(ctx, "GET", "/v1/graph/critical-path", q, 0, nil, &cp)
	return cp, callErr
}

// Impact implements agileplus.Tracker.
func (c *Client) Impact(ctx context.Context, ref string, limit int) (im *agileplus.GraphImpact, err error) {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	callErr := c.do(ctx, "GET", "/v1/wps/"+esc(ref)+"/impact", q, 0, nil, &im)
	return im, callErr
}

// FeatureBlockers implements agileplus.Tracker.
func (c *Client) FeatureBlockers(ctx context.Context, ref string, transitive bool, depth int) (g *agileplus.GraphFeatureReach, err error) {
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(ref)+"/blockers", reachValues(transitive, depth), 0, nil, &g)
	return g, callErr
}

// FeatureDependents implements agileplus.Tracker.
func (c *Client) FeatureDependents(ctx context.Context, ref string, transitive bool, depth int) (g *agileplus.GraphFeatureReach, err error) {
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(ref)+"/dependents", reachValues(transitive, depth), 0, nil, &g)
	return g, callErr
}

// FeatureImpact implements agileplus.Tracker.
func (c *Client) FeatureImpact(ctx context.Context, ref string, limit int) (im *agileplus.GraphFeatureImpact, err error) {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(ref)+"/impact", q, 0, nil, &im)
	return im, callErr
}

// FeaturePath implements agileplus.Tracker.
func (c *Client) FeaturePath(ctx context.Context, from, to string) ([]agileplus.GraphFeatureNode, error) {
	var p GraphFeaturePath
	callErr := c.do(ctx, "GET", "/v1/graph/feature-path", url.Values{"from": {from}, "to": {to}}, 0, nil, &p)
	return p.Features, callErr
}

// Cycles implements agileplus.Tracker.
func (c *Client) Cycles(ctx context.Context, projectRef string) (cy *agileplus.GraphCycles, err error) {
	callErr := c.do(ctx, "GET", "/v1/graph/cycles", url.Values{"project": {projectRef}}, 0, nil, &cy)
	return cy, callErr
}

// Export implements agileplus.Tracker.
func (c *Client) Export(ctx context.Context, projectRef, format string) ([]byte, error) {
	var raw rawBody
	callErr := c.do(ctx, "GET", "/v1/graph/export", url.Values{"project": {projectRef}, "format": {format}}, 0, nil, &raw)
	return raw, callErr
}

// BulkImport implements agileplus.Tracker.
func (c *Client) BulkImport(ctx context.Context, r io.Reader, opts agileplus.ImportOptions) (*agileplus.ImportResult, error) {
	u := c.base + "/v1/import"
	if opts.AllowCycles {
		u += "?allow_cycles=true"
	}
	req, err := http.NewRequestWithContext(ctx, "POST", u, r)
	if err != nil {
		return nil, agileplus.Errorf(agileplus.EINVALID, "bad server URL %q: %v", c.base, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if c.actor != "" {
		req.Header.Set(ActorHeader, c.actor)
	}
	setTraceParent(req)
	// An import may take a while to validate and write: no client timeout.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the server at %s: %v", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, responseError(resp)
	}
	var res agileplus.ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("httpapi: decode import result: %w", err)
	}
	return &res, nil
}

// BulkExport implements agileplus.Tracker.
func (c *Client) BulkExport(ctx context.Context, w io.Writer) error {
	var raw rawBody
	if err := c.do(ctx, "GET", "/v1/export", nil, 0, nil, &raw); err != nil {
		return err
	}
	_, err := w.Write(raw)
	return err
}

// rawBody receives a response body as it is, whatever its content type.
type rawBody []byte

// Readiness returns the server's /ready document.
func (c *Client) Readiness(ctx context.Context) (*Readiness, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/ready", nil)
	if err != nil {
		return nil, agileplus.Errorf(agileplus.EINVALID, "bad server URL %q: %v", c.base, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the server at %s: %v", c.base, err)
	}
	defer resp.Body.Close()
	var r Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("httpapi: decode /ready: %w", err)
	}
	return &r, nil
}
