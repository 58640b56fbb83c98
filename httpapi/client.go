package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agileplus/agileplus"
)

// Client implements agileplus.Tracker against a server.
type Client struct {
	base  string
	http  *http.Client
	actor string
	token string // sent as Authorization: Bearer, if set
	// bad is why base or actor cannot be sent, found by NewClient and
	// returned by every call.
	bad error
}

var _ agileplus.Tracker = (*Client)(nil)

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithActor names who makes the changes the client sends (see CheckActor).
func WithActor(actor string) ClientOption { return func(c *Client) { c.actor = actor } }

// WithToken authenticates every request with an API key's token.
func WithToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// NewClient returns a client of the server at base, e.g. http://127.0.0.1:8080.
// A base that CheckBaseURL refuses, or an actor CheckActor refuses, makes
// every call fail with EINVALID without sending anything.
func NewClient(base string, opts ...ClientOption) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	if err := CheckBaseURL(base); err != nil {
		c.bad = agileplus.Errorf(agileplus.EINVALID, "bad server URL %q: %v", base, err)
	} else if err := CheckActor(c.actor); err != nil {
		c.bad = agileplus.Errorf(agileplus.EINVALID, "bad actor %s: %v", agileplus.QuoteRef(c.actor), err)
	}
	return c
}

// CheckBaseURL says why base cannot be the URL of a server: it must be
// http or https with a host, and have no query or fragment, which the API
// paths appended to it would land in.
func CheckBaseURL(base string) error {
	if base == "" {
		return errors.New("it is empty")
	}
	if !strings.Contains(base, "://") {
		return errors.New("it has no http:// or https://")
	}
	u, err := url.Parse(base)
	if err != nil {
		return errors.Unwrap(err) // the url.Error repeats base
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("the scheme is %q, not http or https", u.Scheme)
	case u.Hostname() == "":
		return errors.New("it has no host")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("it has a query (?...)")
	case u.Fragment != "" || strings.Contains(base, "#"):
		return errors.New("it has a fragment (#...)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %s is not from 1 to 65535", p)
		}
	}
	return nil
}

// MaxActorBytes is the most of an actor the server keeps: it cuts a longer
// one, silently, on a character boundary.
const MaxActorBytes = 200

// CheckActor says why actor cannot be sent as the actor header: a header
// cannot carry control characters, and the server would change invalid
// UTF-8 or cut a long actor, so events and audit would record another name.
func CheckActor(actor string) error {
	if !utf8.ValidString(actor) {
		return errors.New("it is not valid UTF-8")
	}
	if len(actor) > MaxActorBytes {
		return fmt.Errorf("it is %d bytes long; the server keeps at most %d", len(actor), MaxActorBytes)
	}
	for _, r := range actor {
		if unicode.IsControl(r) {
			return fmt.Errorf("it contains the control character %U", r)
		}
	}
	return nil
}

// do sends a request and decodes a JSON response into out (if not nil).
// Error responses become *agileplus.Error with the server's code, message
// and field; an unreachable server is EUNAVAILABLE, and so is an answer no
// AgilePlus server gives (see answerProblem).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, ifVersion int64, in, out any) error {
	if c.bad != nil {
		return c.bad
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("httpapi: %s %s: encode the request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if q = nonEmpty(q); len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("httpapi: %s %s: make the request: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	if ifVersion != 0 {
		req.Header.Set("If-Match", etag(ifVersion))
	}
	setTraceParent(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.sendError(ctx, method, path, err, nil)
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
		if isTransport(err) {
			return agileplus.Errorf(agileplus.EUNAVAILABLE, "reading the response of %s %s: %v", method, path, err)
		}
		return c.notAgilePlus(method, path, err.Error())
	}
	if p := answerProblem(out); p != "" {
		return c.notAgilePlus(method, path, p)
	}
	return nil
}

// nonEmpty leaves out empty values, which the server refuses: an empty
// argument is one not given (the server then names a required one).
func nonEmpty(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}

// authorize sets the headers that say who calls: the token and the actor.
func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.actor != "" {
		req.Header.Set(ActorHeader, c.actor)
	}
}

// sendError describes a request http.Client.Do could not complete. Only a
// failure to reach or talk to the server is EUNAVAILABLE ("cannot reach");
// a body that could not be read, a cancelled ctx or a request that could
// not be made say so.
func (c *Client) sendError(ctx context.Context, method, path string, err error, body *bodyReader) error {
	switch {
	case body != nil && body.err != nil:
		return fmt.Errorf("httpapi: %s %s: reading the request body: %w", method, path, body.err)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("httpapi: %s %s: %w", method, path, ctx.Err())
	case isTimeout(err) && method != http.MethodGet:
		// The request may have arrived: a write may have been applied.
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "no answer from the server at %s to %s %s in time (%v); the change may have been applied: read it back before retrying", c.base, method, path, err)
	case isTimeout(err):
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "no answer from the server at %s to %s %s in time: %v", c.base, method, path, err)
	case isTransport(err):
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the server at %s: %v", c.base, err)
	}
	return fmt.Errorf("httpapi: %s %s: %w", method, path, err)
}

// isTimeout reports whether err is a deadline that passed: the caller's,
// or the client's own timeout.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

// isTransport reports whether err is a failure of the connection: dial,
// DNS, TLS, a timeout, or a connection the peer closed or reset.
func isTransport(err error) bool {
	var (
		netErr    net.Error
		certErr   *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
	)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // a url.Error is a net.Error whatever it wraps
	}
	return errors.As(err, &netErr) || errors.As(err, &certErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// bodyReader remembers the error reading a request body gave, which
// http.Client.Do reports like a failed connection.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// notAgilePlus is the error for a 2xx answer an AgilePlus server does not
// give: the base URL names some other HTTP server.
func (c *Client) notAgilePlus(method, path, problem string) error {
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "the server at %s did not answer like an AgilePlus server: %s %s returned %s", c.base, method, path, problem)
}

// answerProblem says what is wrong with a decoded 2xx answer that cannot
// come from AgilePlus, or "": JSON null where an object was due, or an
// entity (a struct with a string ID) without its id. Lists and raw bodies
// are not checked.
func answerProblem(out any) string {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Pointer {
		return ""
	}
	if v.Elem().IsNil() {
		return "null instead of an object"
	}
	obj := v.Elem().Elem()
	if obj.Kind() != reflect.Struct {
		return ""
	}
	// The id may be promoted from an embedded pointer that is nil when
	// the answer lacked it (KeyCreated's *APIKey).
	if f, ok := obj.Type().FieldByName("ID"); ok && f.Type.Kind() == reflect.String {
		if id, err := obj.FieldByIndexErr(f.Index); err != nil || id.String() == "" {
			return "an object without an id"
		}
	}
	return ""
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
		return &agileplus.ImportError{Problems: eb.Error.Problems, Code: cmp.Or(eb.Error.Code, codeOf(resp.StatusCode))}
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
	if p.Archived != "" {
		q.Set("archived", p.Archived)
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
func (c *Client) Features(ctx context.Context, projectRef string, q agileplus.FeatureQuery) ([]*agileplus.Feature, error) {
	v := pageQuery(q.Page)
	triageQuery(v, q.Priorities, q.Labels, q.LabelsMode, q.Sort)
	var l List[*agileplus.Feature]
	callErr := c.do(ctx, "GET", "/v1/projects/"+esc(projectRef)+"/features", v, 0, nil, &l)
	return l.Items, callErr
}

// triageQuery sets the priority, label and sort parameters a WP or feature
// list shares.
func triageQuery(v url.Values, priorities, labels []string, labelsMode, sort string) {
	if labelsMode != "" {
		v.Set("labels_mode", labelsMode)
	}
	if sort != "" {
		v.Set("sort", sort)
	}
	if len(priorities) > 0 {
		v["priority"] = priorities
	}
	if len(labels) > 0 {
		v["label"] = labels
	}
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
	for k, s := range map[string]string{"project": q.Project, "feature": q.Feature, "state": q.State, "owner": q.Owner} {
		if s != "" {
			v.Set(k, s)
		}
	}
	triageQuery(v, q.Priorities, q.Labels, q.LabelsMode, q.Sort)
	if q.Mine {
		v.Set("mine", "true")
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
func (c *Client) Claim(ctx context.Context, ref string, in agileplus.ClaimRequest) (*agileplus.Lease, error) {
	return c.lease(ctx, "POST", "/v1/wps/"+esc(ref)+"/claim", in)
}

// Renew implements agileplus.Tracker.
func (c *Client) Renew(ctx context.Context, ref string, in agileplus.ClaimRequest) (*agileplus.Lease, error) {
	return c.lease(ctx, "PUT", "/v1/wps/"+esc(ref)+"/claim", in)
}

// lease takes or renews a claim. A lease has no id; a fencing token is
// what every lease the server grants has.
func (c *Client) lease(ctx context.Context, method, path string, in agileplus.ClaimRequest) (*agileplus.Lease, error) {
	var l *agileplus.Lease
	if err := c.do(ctx, method, path, nil, 0, in, &l); err != nil {
		return nil, err
	}
	if l.Token <= 0 {
		return nil, c.notAgilePlus(method, path, "a lease without a fencing token")
	}
	return l, nil
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

// Plan implements agileplus.Tracker.
func (c *Client) Plan(ctx context.Context, in agileplus.PlanRequest) (res *agileplus.PlanResult, err error) {
	callErr := c.do(ctx, "POST", "/v1/plans", nil, 0, in, &res)
	return res, callErr
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
func (c *Client) Ready(ctx context.Context, projectRef, order string, pg agileplus.Page) ([]*agileplus.WP, error) {
	q := pageQuery(pg)
	if projectRef != "" {
		q.Set("project", projectRef)
	}
	if order != "" {
		q.Set("order", order)
	}
	var l List[*agileplus.WP]
	callErr := c.do(ctx, "GET", "/v1/ready", q, 0, nil, &l)
	return l.Items, callErr
}

// Next implements agileplus.Tracker: GET /v1/next, or POST with Claim.
func (c *Client) Next(ctx context.Context, in agileplus.NextRequest) (*agileplus.NextResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var res *agileplus.NextResult
	if !in.Claim {
		q := url.Values{"project": {in.Project}, "feature": {in.Feature}, "owner": {in.Owner}, "label": in.Labels, "labels_mode": {in.LabelsMode}}
		err := c.do(ctx, "GET", "/v1/next", q, 0, nil, &res)
		return res, err
	}
	err := c.do(ctx, "POST", "/v1/next", nil, 0, NextClaim{Project: in.Project, Feature: in.Feature, Owner: in.Owner, Labels: in.Labels, LabelsMode: in.LabelsMode, Agent: in.Agent, TTLSeconds: in.TTLSeconds}, &res)
	return res, err
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
func (c *Client) Layers(ctx context.Context, projectRef, order string) (l *agileplus.GraphLayers, err error) {
	q := url.Values{"project": {projectRef}}
	if order != "" {
		q.Set("order", order)
	}
	callErr := c.do(ctx, "GET", "/v1/graph/layers", q, 0, nil, &l)
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
	switch {
	case projectRef != "" && featureRef != "":
		return nil, agileplus.FieldErrorf("feature", "pass a project or a feature, not both")
	case projectRef != "":
		q.Set("project", projectRef)
		err = c.do(ctx, "GET", "/v1/graph/critical-path", q, 0, nil, &cp)
	case featureRef != "":
		err = c.do(ctx, "GET", "/v1/features/"+esc(featureRef)+"/critical-path", q, 0, nil, &cp)
	default:
		return nil, agileplus.FieldErrorf("project", "project or feature is required")
	}
	return cp, err
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

// BulkImport implements agileplus.Tracker. An error reading r is returned
// as such, not as an unreachable server.
func (c *Client) BulkImport(ctx context.Context, r io.Reader, opts agileplus.ImportOptions) (*agileplus.ImportResult, error) {
	if c.bad != nil {
		return nil, c.bad
	}
	path := "/v1/import"
	if opts.AllowCycles {
		path += "?allow_cycles=true"
	}
	body := &bodyReader{r: r}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("httpapi: POST %s: make the request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	c.authorize(req)
	setTraceParent(req)
	// An import may take a while to validate and write: no client timeout.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.sendError(ctx, "POST", path, err, body)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, responseError(resp)
	}
	var res agileplus.ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, c.notAgilePlus("POST", path, err.Error())
	}
	return &res, nil
}

// BulkExport implements agileplus.Tracker.
func (c *Client) BulkExport(ctx context.Context, w io.Writer, opts agileplus.ExportOptions) error {
	var q url.Values
	if opts.KeyHashes {
		q = url.Values{"key_hashes": {"true"}}
	}
	const path = "/v1/export"
	if c.bad != nil {
		return c.bad
	}
	u := c.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return fmt.Errorf("httpapi: GET %s: make the request: %w", path, err)
	}
	c.authorize(req)
	setTraceParent(req)
	// A large export streams for as long as it takes: no client timeout
	// (ctx bounds it), and the body goes to w as it arrives.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return c.sendError(ctx, "GET", path, err, nil)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return responseError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "reading the export from the server at %s: %v", c.base, err)
	}
	return nil
}

// rawBody receives a response body as it is, whatever its content type.
type rawBody []byte

// Readiness returns the server's /ready document.
func (c *Client) Readiness(ctx context.Context) (*Readiness, error) {
	if c.bad != nil {
		return nil, c.bad
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/ready", nil)
	if err != nil {
		return nil, fmt.Errorf("httpapi: GET /ready: make the request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.sendError(ctx, "GET", "/ready", err, nil)
	}
	defer resp.Body.Close()
	var r Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("httpapi: decode /ready: %w", err)
	}
	return &r, nil
}
