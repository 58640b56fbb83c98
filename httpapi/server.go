// Package httpapi is the HTTP transport: a server over any agileplus.Tracker
// and a client that implements agileplus.Tracker against such a server.
//
// The live side of the event stream (SSE) lives here too, next to its only
// consumer: Hub fans events out to the open streams, and LiveFeed feeds the
// hub from the bus. LiveFeed follows the bus through the root's
// agileplus.Follower port, which natsbus implements, so this adapter never
// imports the bus adapter; cmd/agileplus wires the two together.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 1 << 20

// MCPPath is where Server.MCP is served.
const MCPPath = "/mcp"

// ActorHeader carries who makes a change; it is recorded in events and audit.
const ActorHeader = "X-Agileplus-Actor"

// Check is one dependency /ready asks about. Func returns details to show
// and an error when the dependency is not ready. The server does without
// an Optional one, less well: its error marks it, and the server,
// degraded, and /ready still answers 200.
type Check struct {
	Name     string
	Func     func(ctx context.Context) (map[string]any, error)
	Optional bool
}

// Server serves the API over a Tracker.
type Server struct {
	Tracker agileplus.Tracker
	Checks  []Check
	Logger  *slog.Logger
	Version string
	// Tracer, if set, records a server span for every request, named by
	// its route; the request's traceparent is then that span's.
	Tracer agileplus.Tracer
	// ImportLimit bounds a bulk import body (default DefaultImportLimit).
	ImportLimit int64
	// Backbone serves webhooks and dead letters; nil answers 503.
	Backbone agileplus.Backbone
	// Feed gives the event stream its live events; nil answers 503.
	Feed Feed
	// Auth authenticates every route but /health, /ready and
	// /openapi.json; nil serves without authentication (every caller
	// may do everything, and the actor header is taken as given).
	Auth Authenticator
	// MCP, if set, serves the Model Context Protocol at /mcp behind the
	// same keys as the API: any key may connect, and each tool needs the
	// scope of the routes it stands for (the handler checks it from the
	// principal in the context). Nil answers 404.
	MCP http.Handler
	// Keys serves /v1/keys; nil answers 503.
	Keys agileplus.KeyAdmin
	// Artifacts serves the artifact routes; nil answers 503.
	Artifacts agileplus.Artifacts
	// Refused, if set, records an admin action a key was refused (the
	// audit trail of refusals).
	Refused func(ctx context.Context, keyID string, r agileplus.Refusal)
	// MaxStreams caps the event streams open at once (default
	// DefaultMaxStreams); beyond it a new one is refused with 503.
	MaxStreams int
	// MaxStreamsPerKey caps the event streams one key has open at once
	// (default DefaultMaxStreamsPerKey); beyond it 429.
	MaxStreamsPerKey int
	// BodyGrace and BodyMinRate bound how slowly a client may send a
	// request body: within BodyGrace (default DefaultBodyGrace) plus one
	// second per BodyMinRate bytes (default DefaultBodyMinRate) it sent,
	// else 408. MaxBodies caps the bodies read at once (default
	// DefaultMaxBodies); beyond it 503.
	BodyGrace   time.Duration
	BodyMinRate int64
	MaxBodies   int
	// StreamKeepalive is how often an idle event stream sends a comment
	// (default 15s), so proxies keep it open and clients see it alive.
	// Client.StreamEvents drops a stream silent for 45s.
	StreamKeepalive time.Duration
	// PlainJSON sends every answer through encoding/json, even the WP
	// lists and WPs otherwise encoded by hand to the same bytes (see
	// fastjson.go): for benchmarks that compare the two.
	PlainJSON bool
	// Requests, if set, is told about every request answered (metrics).
	Requests RequestObserver
	// Metrics serves /metrics (the Prometheus exposition); nil answers 503.
	Metrics http.Handler
	// Limiter, if set, limits the requests of each key (or remote
	// address, without one) per route class, as RateLimits says.
	Limiter    agileplus.RateLimiter
	RateLimits RateLimits

	streams streams // open event streams, ended by CloseStreams
	bodies  bodies  // request bodies being read

	handler http.Handler
	openapi []byte
}

// NewServer builds the server and its route table.
func NewServer(t agileplus.Tracker, checks []Check, logger *slog.Logger, version string) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{Tracker: t, Checks: checks, Logger: logger, Version: version}
	rs := s.routes()
	s.openapi = openAPIDocument(rs, version)
	s.handler = s.mux(rs)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != "/" && path.Clean(p) != p {
		// ServeMux would answer a redirect to the cleaned path, which a
		// client following it replays as a write somewhere else.
		writeError(w, http.StatusNotFound, ErrorDetail{Code: agileplus.ENOTFOUND, Message: "no such endpoint: " + agileplus.QuoteRef(p) + " (paths have no empty, . or .. segments and no trailing slash; see /openapi.json)"})
		return
	}
	// r.URL.Query() drops what it cannot decode without a word: an escape
	// or a semicolon, the only things ParseQuery refuses.
	if strings.ContainsAny(r.URL.RawQuery, "%;") {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeError(w, http.StatusBadRequest, ErrorDetail{Code: agileplus.EINVALID, Field: "query", Message: "the query string is malformed: " + err.Error()})
			return
		}
	}
	s.handler.ServeHTTP(w, r)
}

// mux registers each path once and dispatches by method, so that unknown
// paths and methods get JSON errors too.
func (s *Server) mux(rs []route) http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]map[string]http.HandlerFunc{}
	var order []string
	for _, rt := range rs {
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]http.HandlerFunc{}
			order = append(order, rt.path)
		}
		byPath[rt.path][rt.method] = s.guard(rt.scope, s.limited(classOf(routeClass(rt)), checkQuery(rt.query, rt.handler)))
	}
	for _, p := range order {
		methods := byPath[p]
		var allow []string
		for m := range methods {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		allowHdr := strings.Join(allow, ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			h := methods[r.Method]
			if h == nil && r.Method == http.MethodHead {
				h = methods[http.MethodGet]
			}
			if h == nil {
				w.Header().Set("Allow", allowHdr)
				writeError(w, http.StatusMethodNotAllowed, ErrorDetail{Code: agileplus.EINVALID, Message: fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allowHdr)})
				return
			}
			h(w, r)
		})
	}
	mux.HandleFunc(MCPPath, func(w http.ResponseWriter, r *http.Request) {
		if s.MCP == nil {
			writeError(w, http.StatusNotFound, ErrorDetail{Code: agileplus.ENOTFOUND, Message: "this server does not serve MCP"})
			return
		}
		s.guard(agileplus.ScopeRead, s.limited(mcpClass, func(w http.ResponseWriter, r *http.Request) { s.MCP.ServeHTTP(w, withActor(r)) }))(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, ErrorDetail{Code: agileplus.ENOTFOUND, Message: "no such endpoint: " + agileplus.QuoteRef(r.URL.Path) + " (see /openapi.json)"})
	})
	return s.traced(s.observed(s.recoverer(s.limitBodies(routed(mux)))))
}

// recoverer turns a panic in a handler into a logged 500.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "http: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, ErrorDetail{Code: agileplus.EINTERNAL, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// writeResult writes a route's answer as writeJSON does, but encodes WP
// lists and WPs by hand, in a pooled buffer, unless s.PlainJSON or the
// hand-written encoding gives up.
func (s *Server) writeResult(w http.ResponseWriter, status int, v any) {
	var appendJSON func([]byte) ([]byte, bool)
	if !s.PlainJSON {
		appendJSON = fastEncoder(v)
	}
	if appendJSON != nil {
		bp := listBufs.Get().(*[]byte)
		defer listBufs.Put(bp)
		b, ok := appendJSON((*bp)[:0])
		*bp = b
		if ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write(b)
			return
		}
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, d ErrorDetail) {
	writeJSON(w, status, ErrorBody{Error: d})
}

// fail writes err as a JSON error; only internal errors are logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := agileplus.ErrorCode(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = agileplus.EUNAVAILABLE
		err = agileplus.Errorf(code, "request canceled or timed out")
	}
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		s.Logger.ErrorContext(r.Context(), "http: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	d := ErrorDetail{Code: code, Message: agileplus.ErrorMessage(err), Field: agileplus.ErrorField(err)}
	var ie *agileplus.ImportError
	if errors.As(err, &ie) {
		d.Message, d.Problems = ie.Error(), ie.Problems
	}
	writeError(w, status, d)
}

// decode reads a JSON body into v: at most MaxBodyBytes, a JSON object, no
// unknown fields, no null anywhere (a field left out says "absent"; null
// would say it twice, and decode into Go as nothing at all), nothing after
// the value. Errors name the field at fault.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return &agileplus.Error{Code: agileplus.EINVALID, Field: "Content-Type", Message: fmt.Sprintf("content type %q is not JSON: send application/json", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return agileplus.Errorf(agileplus.EINVALID, "request body is larger than %d bytes", MaxBodyBytes)
	case err != nil:
		return agileplus.FieldErrorf("body", "cannot read the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Type.Kind() >= reflect.Int && typ.Type.Kind() <= reflect.Uint64 {
		// JSON Schema counts 3.0 and 3e2 as integers; so does the server.
		if norm, ok := integralNumbers(body); ok {
			body = norm
			dec = json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			err = dec.Decode(v)
		}
	}
	switch {
	case err == nil:
		if dec.More() || dec.Decode(&struct{}{}) != io.EOF {
			return agileplus.Errorf(agileplus.EINVALID, "request body has data after the JSON value")
		}
		return refuseNull(body)
	case errors.Is(err, io.EOF):
		return agileplus.Errorf(agileplus.EINVALID, "request body is empty: send a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return agileplus.Errorf(agileplus.EINVALID, "request body is not valid JSON: %v", err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return agileplus.Errorf(agileplus.EINVALID, "request body must be a JSON object, not %s", typ.Value)
		}
		want := jsonKind(typ.Type.Kind().String())
		if num, ok := strings.CutPrefix(typ.Value, "number "); ok && (want == "a number" || want == "an integer" && !strings.ContainsAny(num, ".eE")) {
			// The right type, but out of range for it (1e400, or 2^63 for an integer).
			return agileplus.FieldErrorf(typ.Field, "field %s is out of range: %s", typ.Field, num)
		}
		return agileplus.FieldErrorf(typ.Field, "field %s must be %s, not %s", typ.Field, want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return agileplus.FieldErrorf(f, "unknown field %q", f)
	default:
		return agileplus.Errorf(agileplus.EINVALID, "request body: %v", err)
	}
}

// refuseNull fails a body that is null or holds a null anywhere, naming
// the field.
func refuseNull(body []byte) error {
	if !bytes.Contains(body, []byte("null")) {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return agileplus.Errorf(agileplus.EINVALID, "request body is not valid JSON: %v", err)
	}
	at, ok := nullAt(v, "")
	switch {
	case !ok:
		return nil
	case at == "":
		return agileplus.Errorf(agileplus.EINVALID, "request body must be a JSON object, not null")
	}
	field, _, _ := strings.Cut(at, "[")
	return agileplus.FieldErrorf(field, "field %s must not be null: leave it out instead", at)
}

// nullAt returns the path of the first null in v, at being v's own path.
func nullAt(v any, at string) (string, bool) {
	switch x := v.(type) {
	case nil:
		return at, true
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := k
			if at != "" {
				p = at + "." + k
			}
			if p, ok := nullAt(x[k], p); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := nullAt(e, at+"["+strconv.Itoa(i)+"]"); ok {
				return p, true
			}
		}
	}
	return "", false
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "string":
		return "a string"
	case k == "slice":
		return "an array"
	default:
		return "an object"
	}
}

var ifMatchRE = regexp.MustCompile(ifMatchPattern)

// ifMatch parses an If-Match header ("3", 3 or W/"3") into a version; 0 if
// absent or *.
func ifMatch(r *http.Request) (int64, error) {
	vs := r.Header.Values("If-Match")
	switch {
	case len(vs) == 0:
		return 0, nil
	case len(vs) > 1:
		return 0, agileplus.FieldErrorf("If-Match", "the request has %d If-Match headers; send one", len(vs))
	case vs[0] == "*":
		return 0, nil
	case !ifMatchRE.MatchString(vs[0]):
		return 0, agileplus.FieldErrorf("If-Match", "If-Match must be an entity version such as \"3\"")
	}
	v, _ := strconv.ParseInt(strings.Trim(strings.TrimPrefix(vs[0], "W/"), `"`), 10, 64)
	return v, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// checkQuery holds a request to the query parameters its route declares,
// before the handler reads any: an undeclared parameter, one given twice
// (unless it may repeat), one with an empty value and a required one left
// out are each refused with 400 naming the parameter. Handlers then read
// a parameter with Get, and "" means it was not given.
func checkQuery(declared []param, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := queryError(r.URL.Query(), declared); err != nil {
			writeError(w, http.StatusBadRequest, ErrorDetail{Code: agileplus.EINVALID, Field: agileplus.ErrorField(err), Message: agileplus.ErrorMessage(err)})
			return
		}
		next(w, r)
	}
}

func queryError(q url.Values, declared []param) error {
	names := slices.Sorted(maps.Keys(q))
	for _, name := range names {
		i := slices.IndexFunc(declared, func(p param) bool { return p.name == name })
		switch {
		case i < 0:
			if len(declared) == 0 {
				return agileplus.FieldErrorf(name, "unknown query parameter %s: this operation takes none", agileplus.QuoteRef(name))
			}
			known := make([]string, len(declared))
			for j, p := range declared {
				known[j] = p.name
			}
			return agileplus.FieldErrorf(name, "unknown query parameter %s: this operation takes %s", agileplus.QuoteRef(name), strings.Join(known, ", "))
		case len(q[name]) > 1 && !declared[i].repeat:
			return agileplus.FieldErrorf(name, "query parameter %s is given %d times; give it once", name, len(q[name]))
		case slices.Contains(q[name], ""):
			return agileplus.FieldErrorf(name, "query parameter %s is empty: give it a value or leave it out", name)
		}
	}
	for _, p := range declared {
		if p.required && q[p.name] == nil {
			return agileplus.FieldErrorf(p.name, "query parameter %s is required: %s", p.name, p.doc)
		}
	}
	return nil
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string, min, max int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < min || v > max {
		return 0, agileplus.FieldErrorf(name, "%s must be an integer between %d and %d", name, min, max)
	}
	return v, nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, agileplus.FieldErrorf(name, "%s must be true or false, not %q", name, v)
	}
}

// idPage is page for lists whose cursor is the id of the last item, which
// starts with prefix: anything else cannot come from a previous page.
func idPage(r *http.Request, prefix string) (agileplus.Page, error) {
	pg, err := page(r)
	if err == nil && pg.After != "" && !strings.HasPrefix(pg.After, prefix) {
		err = agileplus.FieldErrorf("after", "after must be the next cursor of the previous page (an id starting with %s), not %s", prefix, agileplus.QuoteRef(pg.After))
	}
	return pg, err
}

// page reads ?after= and ?limit=.
func page(r *http.Request) (agileplus.Page, error) {
	limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
	if err != nil {
		return agileplus.Page{}, err
	}
	// archived is read here for every list; routes that do not declare
	// it refuse it before their handler runs.
	q := r.URL.Query()
	return agileplus.Page{After: q.Get("after"), Limit: int(limit), Archived: q.Get("archived")}, nil
}

// List is the envelope of list responses. Next is the cursor for the next
// page (pass it as ?after=), empty on the last page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Health is the body of /health.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

// Readiness is the body of /ready.
type Readiness struct {
	Status string                 `json:"status"` // "ready", "degraded" (an optional check failed) or "not_ready"
	Checks map[string]CheckResult `json:"checks"`
}

// CheckResult is one dependency's state in /ready.
type CheckResult struct {
	Status string         `json:"status"` // "ok", "down", or "degraded" for an optional check
	Error  string         `json:"error,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Health{Status: "ok", Version: s.Version})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := Readiness{Status: "ready", Checks: map[string]CheckResult{}}
	status := http.StatusOK
	for _, c := range s.Checks {
		detail, err := c.Func(ctx)
		res := CheckResult{Status: "ok", Detail: detail}
		if err != nil {
			res.Status, res.Error = "down", agileplus.ErrorMessage(err)
			if agileplus.ErrorCode(err) == agileplus.EINTERNAL {
				res.Error = err.Error()
			}
			if c.Optional {
				res.Status = "degraded"
				if status == http.StatusOK {
					out.Status = "degraded"
				}
			} else {
				out.Status, status = "not_ready", http.StatusServiceUnavailable
			}
		}
		out.Checks[c.Name] = res
	}
	writeJSON(w, status, out)
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openapi)
}

// integralNumbers rewrites the numbers of a JSON body that have a fraction
// or an exponent but an integral value (3.0, 3e2) as plain integers, so
// that they decode into integer fields. ok is false when there is none.
func integralNumbers(body []byte) (out []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case json.Number:
			if n, yes := integral(string(x)); yes {
				ok = true
				return n
			}
		}
		return v
	}
	v = walk(v)
	if !ok {
		return nil, false
	}
	out, err := json.Marshal(v)
	return out, err == nil
}

// integral is the number literal s as a plain integer, when it has a
// fraction or exponent and an integral value. Long literals and large
// exponents are left alone: they are out of any integer field's range.
func integral(s string) (json.Number, bool) {
	if !strings.ContainsAny(s, ".eE") || len(s) > 64 {
		return "", false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-")) > 2 {
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return "", false
	}
	return json.Number(r.Num().String()), true
}
