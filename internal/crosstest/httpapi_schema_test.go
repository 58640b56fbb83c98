package crosstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// The OpenAPI document is the contract: these tests read it and check
// that the server does what it says, for every operation and every
// constrained field, so a route or a constraint is covered once it exists.

type openAPIParam struct {
	Name     string         `json:"name"`
	In       string         `json:"in"`
	Required bool           `json:"required"`
	Schema   map[string]any `json:"schema"`
}

type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Parameters  []openAPIParam `json:"parameters"`
		RequestBody *struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

// contractAPI is a server over a real Service with keys, and sample data:
// project CORE, feature f1 with WP CORE-1.
func contractAPI(t *testing.T) (*httptest.Server, openAPIDoc) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := agileplus.NewService(store)
	api := httpapi.NewServer(svc, nil, nil, "test")
	api.Keys = svc
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for _, c := range [][3]string{
		{"POST", "/v1/projects", `{"key":"CORE","name":"Core"}`},
		{"POST", "/v1/projects/CORE/features", `{"slug":"f1","title":"F1"}`},
		{"POST", "/v1/features/f1/wps", `{"title":"W1"}`},
	} {
		if code, eb, _ := do(t, srv, c[0], c[1], c[2]); code != 201 {
			t.Fatalf("%s %s: %d %+v", c[0], c[1], code, eb.Error)
		}
	}
	_, _, raw := do(t, srv, "GET", "/openapi.json", "")
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return srv, doc
}

var contractPathValues = strings.NewReplacer("{project}", "CORE", "{feature}", "f1", "{wp}", "CORE-1", "{id}", "dep_x",
	"{webhook}", "whk_x", "{seq}", "1", "{key}", "key_x", "{label}", "go", "{comment}", "cmt_x")

// sampleValue is a value a query parameter's schema accepts.
func sampleValue(p openAPIParam) string {
	s := p.Schema
	if s["type"] == "array" {
		s = s["items"].(map[string]any)
	}
	if e, ok := s["enum"].([]any); ok {
		return fmt.Sprint(e[0])
	}
	switch s["type"] {
	case "integer":
		if m, ok := s["minimum"].(float64); ok && m > 0 {
			return fmt.Sprint(m)
		}
		return "1"
	case "boolean":
		return "true"
	}
	switch p.Name {
	case "project":
		return "CORE"
	case "feature":
		return "f1"
	case "since":
		return "1h"
	case "type":
		return "wp.created"
	case "entity":
		return "wp"
	}
	return "CORE-1"
}

// TestQueryParametersAreExact checks, on every operation, that a missing
// required query parameter, an empty one, a repeated one (unless it
// repeats) and an undeclared one are each a 400 naming the parameter.
func TestQueryParametersAreExact(t *testing.T) {
	srv, doc := contractAPI(t)
	n := 0
	for path, ops := range doc.Paths {
		for method, o := range ops {
			method = strings.ToUpper(method)
			target := contractPathValues.Replace(path)
			body := ""
			if o.RequestBody != nil {
				body = "{}"
			}
			var query []openAPIParam
			required := url.Values{}
			for _, p := range o.Parameters {
				if p.In == "query" {
					query = append(query, p)
					if p.Required {
						required.Set(p.Name, sampleValue(p))
					}
				}
			}
			check := func(what, field string, q url.Values) {
				t.Helper()
				n++
				code, eb, _ := do(t, srv, method, target+"?"+q.Encode(), body)
				if code != 400 || eb.Error.Field != field || !strings.Contains(eb.Error.Message, field) {
					t.Errorf("%s %s?%s (%s): got %d %+v, want 400 naming %s", method, path, q.Encode(), what, code, eb.Error, field)
				}
			}
			with := func(name string, vs ...string) url.Values {
				q := url.Values{}
				for k, v := range required {
					q[k] = v
				}
				q[name] = vs
				return q
			}
			check("undeclared", "bogus", with("bogus", "1"))
			for _, p := range query {
				v := sampleValue(p)
				check("empty", p.Name, with(p.Name, ""))
				if p.Schema["type"] != "array" {
					check("repeated", p.Name, with(p.Name, v, v))
				}
				if p.Required {
					q := with(p.Name)
					delete(q, p.Name)
					check("missing", p.Name, q)
				}
			}
		}
	}
	if n < 150 {
		t.Errorf("only %d requests checked", n)
	}
}

// The required query parameters the issue named are declared so.
func TestRequiredQueryParametersAreDeclared(t *testing.T) {
	_, doc := contractAPI(t)
	for path, names := range map[string][]string{
		"/v1/graph/cycles": {"project"}, "/v1/graph/features": {"project"}, "/v1/graph/layers": {"project"},
		"/v1/graph/export": {"project", "format"},
		"/v1/graph/path":   {"from", "to"}, "/v1/graph/feature-path": {"from", "to"},
	} {
		for _, name := range names {
			i := slices.IndexFunc(doc.Paths[path]["get"].Parameters, func(p openAPIParam) bool { return p.Name == name })
			if i < 0 || !doc.Paths[path]["get"].Parameters[i].Required {
				t.Errorf("GET %s: %s is not a required parameter", path, name)
			}
		}
	}
}

// TestQueryBoundsAreEnforced sends, for every bounded or enumerated query
// parameter, a value just outside (400 naming it) and just inside (not 400).
func TestQueryBoundsAreEnforced(t *testing.T) {
	srv, doc := contractAPI(t)
	n := 0
	for path, ops := range doc.Paths {
		for method, o := range ops {
			if method != "get" || path == "/v1/events/stream" {
				continue // the stream would stay open; its bounds are those of /v1/events
			}
			target := contractPathValues.Replace(path)
			required := url.Values{}
			for _, p := range o.Parameters {
				if p.In == "query" && p.Required {
					required.Set(p.Name, sampleValue(p))
				}
			}
			// What the document says in prose only: depth with transitive.
			for _, p := range o.Parameters {
				if p.In != "query" {
					continue
				}
				if p.Name == "depth" {
					required.Set("transitive", "true")
				}
				var outside, inside []string
				if lo, ok := p.Schema["minimum"].(float64); ok {
					outside, inside = append(outside, fmt.Sprint(int64(lo)-1)), append(inside, fmt.Sprint(int64(lo)))
				}
				if hi, ok := p.Schema["maximum"].(float64); ok && hi < 1e15 {
					outside, inside = append(outside, fmt.Sprint(int64(hi)+1)), append(inside, fmt.Sprint(int64(hi)))
				}
				if e, ok := p.Schema["enum"].([]any); ok {
					outside = append(outside, "bogus")
					for _, v := range e {
						inside = append(inside, fmt.Sprint(v))
					}
				}
				switch p.Schema["type"] {
				case "integer":
					outside = append(outside, "1.5", "x")
				case "boolean":
					outside = append(outside, "maybe")
					inside = append(inside, "true", "false")
				}
				for _, v := range append(outside, inside...) {
					q := url.Values{}
					for k, vs := range required {
						q[k] = vs
					}
					q.Set(p.Name, v)
					n++
					code, eb, _ := do(t, srv, "GET", target+"?"+q.Encode(), "")
					if slices.Contains(outside, v) {
						if code != 400 || eb.Error.Field != p.Name {
							t.Errorf("GET %s?%s: got %d %+v, want 400 naming %s", path, q.Encode(), code, eb.Error, p.Name)
						}
					} else if code == 400 {
						t.Errorf("GET %s?%s: got 400 %+v for a value the document allows", path, q.Encode(), eb.Error)
					}
				}
			}
		}
	}
	if n < 60 {
		t.Errorf("only %d requests checked", n)
	}
}

// bodyCase is a valid body for an operation, and the fields whose bounds
// the test probes on it.
type bodyCase struct {
	method, path, body string
}

// validBodies are a valid body for each JSON body of the API (that the
// sample data lets succeed or fail past validation). Each field of the
// body's schema is probed on it.
var validBodies = []bodyCase{
	{"POST", "/v1/projects", `{"key":"NEW","name":"New"}`},
	{"PATCH", "/v1/projects/CORE", `{"name":"Core"}`},
	{"POST", "/v1/projects/CORE/features", `{"slug":"f2","title":"F2","description":"d","priority":"high","labels":["go"]}`},
	{"PATCH", "/v1/features/f1", `{"title":"F1","description":"d","priority":"low","labels":["go"]}`},
	{"POST", "/v1/features/f1/transition", `{"to":"specified"}`},
	{"POST", "/v1/features/f1/wps", `{"title":"W","description":"d","estimate":2,"priority":"urgent","labels":["go","db"],"owner":"ann"}`},
	{"PATCH", "/v1/wps/CORE-1", `{"title":"W1","description":"d","estimate":2,"priority":"low","labels":["go"],"owner":"ann"}`},
	{"POST", "/v1/projects/CORE/labels", `{"name":"go","color":"#00add8","description":"d"}`},
	{"PATCH", "/v1/projects/CORE/labels/go", `{"color":"#00add8","description":"d"}`},
	{"POST", "/v1/wps/CORE-1/transition", `{"to":"blocked","force":true,"reason":"r","token":0}`},
	{"POST", "/v1/wps/CORE-1/claim", `{"agent":"a","ttl_seconds":60}`},
	{"PUT", "/v1/wps/CORE-1/claim", `{"agent":"a","ttl_seconds":60,"token":1}`},
	{"POST", "/v1/wps/CORE-1/references", `{"kind":"commit","sha":"abcdef1","repo":"github.com/acme/api"}`},
	{"POST", "/v1/wps/CORE-1/references", `{"kind":"pull_request","url":"https://github.com/acme/api/pull/1","state":"open","repo":"r"}`},
	// Feature slugs: a WP key padded to the field's length is no key.
	{"POST", "/v1/dependencies", `{"from":"f1","to":"f2","kind":"relates_to"}`},
	{"POST", "/v1/wps/CORE-1/comments", `{"body":"looks good"}`},
	{"POST", "/v1/features/f1/comments", `{"body":"looks good"}`},
	{"PATCH", "/v1/comments/cmt_x", `{"body":"looks better"}`},
	{"POST", "/v1/keys", `{"name":"bot","scope":"write","projects":["CORE"]}`},
	{"POST", "/v1/next", `{"project":"CORE","feature":"f1","owner":"ann","labels":["go"],"labels_mode":"any","agent":"a","ttl_seconds":60}`},
	{"POST", "/v1/plans", `{"feature":"f1","wps":[{"title":"W","description":"d","estimate":2,"priority":"low","labels":["go"],"owner":"ann","depends_on":["CORE-1"]}]}`},
	{"PUT", "/v1/flags", `{"set":{"wip.max_claims_per_agent":2,"workflow.require_review":false},"unset":["wip.max_doing_per_project"]}`},
	{"PUT", "/v1/projects/CORE/flags", `{"set":{"wip.max_doing_per_project":5},"unset":["workflow.require_review"]}`},
}

// probes returns values just outside (want 400 naming the field) and just
// inside (want anything but 400) a field's schema.
func probes(t *testing.T, s map[string]any, valid any) (outside, inside []any) {
	if s["type"] == "array" {
		items, _ := s["items"].(map[string]any)
		var item any = sampleString(items)
		if vs, _ := valid.([]any); len(vs) > 0 && items["$ref"] != nil {
			item = vs[0] // an object: the valid body's own
		}
		if mx, ok := s["maxItems"].(float64); ok {
			outside = append(outside, slices.Repeat([]any{item}, int(mx)+1))
			inside = append(inside, slices.Repeat([]any{item}, int(mx)))
		}
		o, _ := probes(t, items, item)
		for _, v := range o {
			outside = append(outside, []any{v})
		}
		return outside, inside
	}
	if e, ok := s["enum"].([]any); ok {
		return []any{"bogus"}, e
	}
	pattern, _ := s["pattern"].(string)
	var re *regexp.Regexp
	if pattern != "" {
		re = regexp.MustCompile(pattern)
		for _, v := range []string{"", " ", "a\x01b", "a\u0085b", "a\u2028b", "lower", "UP", "-x-", "ftp://x", "ab\nc"} {
			if !re.MatchString(v) && v != "" {
				outside = append(outside, v)
			}
		}
	}
	if lo, ok := s["minLength"].(float64); ok && lo > 0 {
		outside = append(outside, strings.Repeat(fill(s), int(lo)-1))
		inside = append(inside, strings.Repeat(fill(s), int(lo)))
	}
	if hi, ok := s["maxLength"].(float64); ok {
		// The valid value, padded: a pattern may ask for a prefix.
		v, _ := valid.(string)
		pad := int(hi) - utf8.RuneCountInString(v)
		outside = append(outside, v+strings.Repeat(fill(s), pad+1))
		inside = append(inside, v+strings.Repeat(fill(s), pad))
	}
	if lo, ok := s["minimum"].(float64); ok {
		outside, inside = append(outside, lo-1), append(inside, lo)
	}
	if hi, ok := s["maximum"].(float64); ok {
		outside, inside = append(outside, hi+1), append(inside, hi)
	}
	for _, v := range inside {
		if str, ok := v.(string); ok && re != nil && !re.MatchString(str) {
			t.Fatalf("probe %q does not match the field's pattern %s", str, pattern)
		}
	}
	return outside, inside
}

// fill is a character to repeat for a string of some length that the
// field's pattern accepts.
func fill(s map[string]any) string {
	p, _ := s["pattern"].(string)
	for _, c := range []string{"é", "a", "A"} { // é first: two bytes, and lengths count characters
		if p == "" || regexp.MustCompile(p).MatchString(strings.Repeat(c, 8)) {
			return c
		}
	}
	return "x"
}

func sampleString(s map[string]any) string {
	if p, _ := s["pattern"].(string); strings.Contains(p, "A-Z") {
		return "CORE"
	}
	return "x"
}

// TestBodyBoundsAreEnforced probes every constrained field of every JSON
// request body the document describes.
func TestBodyBoundsAreEnforced(t *testing.T) {
	srv, doc := contractAPI(t)
	probed := map[string]bool{}
	for _, c := range validBodies {
		o := doc.Paths[strings.NewReplacer("CORE-1", "{wp}", "/f1", "/{feature}", "cmt_x", "{comment}").Replace(c.path)]
		if strings.HasPrefix(c.path, "/v1/projects/CORE") {
			o = doc.Paths[strings.Replace(strings.Replace(c.path, "CORE", "{project}", 1), "/labels/go", "/labels/{label}", 1)]
		}
		op, ok := o[strings.ToLower(c.method)]
		if !ok || op.RequestBody == nil {
			t.Fatalf("%s %s: no such operation with a body in the document", c.method, c.path)
		}
		ref := op.RequestBody.Content["application/json"].Schema["$ref"].(string)
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		probed[name] = true
		props := doc.Components.Schemas[name]["properties"].(map[string]any)
		var base map[string]any
		if err := json.Unmarshal([]byte(c.body), &base); err != nil {
			t.Fatal(err)
		}
		for field, fs := range props {
			if _, in := base[field]; !in {
				continue
			}
			outside, inside := probes(t, fs.(map[string]any), base[field])
			if name+"."+field == "ReferenceCreate.kind" || name+"."+field == "KeyCreate.scope" {
				inside = nil // the schema's anyOf or if/then ties it to the other fields
			}
			for _, v := range append(outside, inside...) {
				b := map[string]any{}
				for k, x := range base {
					b[k] = x
				}
				b[field] = v
				raw, _ := json.Marshal(b)
				code, eb, _ := do(t, srv, c.method, c.path, string(raw))
				show := string(raw)
				if len(show) > 120 {
					show = show[:120] + "..."
				}
				if slices.ContainsFunc(outside, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
					if code != 400 || !strings.HasPrefix(eb.Error.Field, field) {
						t.Errorf("%s %s %s: got %d %+v, want 400 naming %s", c.method, c.path, show, code, eb.Error, field)
					}
				} else if code == 400 {
					t.Errorf("%s %s %s: got 400 %+v for a value the document allows", c.method, c.path, show, eb.Error)
				}
			}
		}
	}
	for path, ops := range doc.Paths {
		for method, o := range ops {
			if o.RequestBody == nil || o.RequestBody.Content["application/json"].Schema == nil {
				continue
			}
			name := strings.TrimPrefix(o.RequestBody.Content["application/json"].Schema["$ref"].(string), "#/components/schemas/")
			if !probed[name] && name != "WebhookCreate" { // webhooks need the bus: see the webhook package's tests
				t.Errorf("%s %s: body %s is not probed", method, path, name)
			}
		}
	}
}

// TestNullIsRefused sends null as the body and as each field of a body.
func TestNullIsRefused(t *testing.T) {
	srv, _ := contractAPI(t)
	for _, c := range validBodies {
		if code, eb, _ := do(t, srv, c.method, c.path, "null"); code != 400 || !strings.Contains(eb.Error.Message, "must be a JSON object, not null") {
			t.Errorf("%s %s null: got %d %+v, want 400", c.method, c.path, code, eb.Error)
		}
		var base map[string]any
		json.Unmarshal([]byte(c.body), &base)
		for field := range base {
			b := map[string]any{}
			for k, x := range base {
				b[k] = x
			}
			b[field] = nil
			raw, _ := json.Marshal(b)
			if code, eb, _ := do(t, srv, c.method, c.path, string(raw)); code != 400 || eb.Error.Field != field || !strings.Contains(eb.Error.Message, "must not be null") {
				t.Errorf("%s %s %s: got %d %+v, want 400 naming %s", c.method, c.path, raw, code, eb.Error, field)
			}
		}
	}
	code, eb, _ := do(t, srv, "POST", "/v1/keys", `{"name":"k","scope":"write","projects":["CORE",null]}`)
	if code != 400 || eb.Error.Field != "projects" || !strings.Contains(eb.Error.Message, "projects[1]") {
		t.Errorf("a null in an array: got %d %+v, want 400 naming projects[1]", code, eb.Error)
	}
}

func TestImportNeedsABody(t *testing.T) {
	srv, doc := contractAPI(t)
	rb := doc.Paths["/v1/import"]["post"].RequestBody
	if rb == nil || rb.Content["application/x-ndjson"].Schema == nil {
		t.Fatalf("POST /v1/import documents no application/x-ndjson body")
	}
	code, eb, _ := do(t, srv, "POST", "/v1/import", "")
	if code != 400 || eb.Error.Field != "body" {
		t.Errorf("empty import: got %d %+v, want 400 naming the body", code, eb.Error)
	}
}

// TestImportStatusByProblem: a file with a line that breaks its record
// type's schema is a 400, one of well-formed records that contradict each
// other or the store a 409; either lists every problem with its line.
func TestImportStatusByProblem(t *testing.T) {
	srv, _ := contractAPI(t)
	const orphan = `{"type":"feature","project":"NOPE","slug":"orphan","title":"Orphan"}`
	for _, tt := range []struct {
		name, body string
		status     int
		code       string
		lines      []int
	}{
		{"malformed", `{"type":"project","key":"ab","name":"x"}`, 400, agileplus.EINVALID, []int{1}},
		{"a project neither has", orphan, 409, agileplus.ECONFLICT, []int{1}},
		{"a WP of another project's key", `{"type":"wp","key":"WEB-1","feature":"f1","title":"W"}`, 409, agileplus.ECONFLICT, []int{1}},
		{"a cycle", `{"type":"wp","key":"CORE-7","feature":"f1","title":"W7"}` + "\n" +
			`{"type":"dependency","from":"CORE-1","to":"CORE-7"}` + "\n" + `{"type":"dependency","from":"CORE-7","to":"CORE-1"}`, 409, agileplus.ECONFLICT, []int{2}},
		{"malformed and inconsistent", orphan + "\n" + `{"type":"project","key":"WEB","name":null}`, 400, agileplus.EINVALID, []int{1, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, eb, raw := do(t, srv, "POST", "/v1/import", tt.body+"\n")
			if code != tt.status || eb.Error.Code != tt.code {
				t.Fatalf("got %d %s, want %d %s", code, raw, tt.status, tt.code)
			}
			var lines []int
			for _, p := range eb.Error.Problems {
				lines = append(lines, p.Line)
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("got problems at lines %v, want %v: %s", lines, tt.lines, raw)
			}
		})
	}
}

// TestImportTextIsTheSchemas: an import takes the text of older exports,
// looser than the API's, and trims the spaces around a reference's sha and
// repo; the patterns the document declares for those fields decide what is
// a 400, as the server does.
func TestImportTextIsTheSchemas(t *testing.T) {
	srv, doc := contractAPI(t)
	pattern := func(record, field string) *regexp.Regexp {
		s := doc.Components.Schemas["Import"+record+"Record"]["properties"].(map[string]any)[field].(map[string]any)
		return regexp.MustCompile(s["pattern"].(string))
	}
	n := 0
	for _, tt := range []struct {
		record, field string
		line          func(v string) string
	}{
		{"Project", "name", func(v string) string { n++; return fmt.Sprintf(`{"type":"project","key":"NM%d","name":%s}`, n, v) }},
		{"Feature", "title", func(v string) string {
			n++
			return fmt.Sprintf(`{"type":"feature","project":"CORE","slug":"t%d","title":%s}`, n, v)
		}},
		{"Reference", "repo", func(v string) string {
			n++
			return fmt.Sprintf(`{"type":"reference","wp":"CORE-1","url":"https://example.com/pr/%d","repo":%s}`, n, v)
		}},
		{"Reference", "sha", func(v string) string { return fmt.Sprintf(`{"type":"reference","wp":"CORE-1","repo":"r","sha":%s}`, v) }},
	} {
		re := pattern(tt.record, tt.field)
		for i, v := range []string{"ok", "\tpadded ", "a\u0001b", "a\u2028b", " \u2028 ", "\u00a0", "\u3000\u0085", "a\nb", "\na", "b\r",
			"abcdef1", " ABCDEF2\t", "\u3000abcdef3\u0085", "abc", "abcdef4 x", "", "x"} {
			if tt.field == "sha" {
				v = strings.Replace(v, "abcdef", fmt.Sprintf("abcde%x", i), 1) // a new commit each time
			}
			val, _ := json.Marshal(v)
			line := tt.line(string(val))
			code, eb, raw := do(t, srv, "POST", "/v1/import", line+"\n")
			if want := re.MatchString(v); (code == 200) != want || code != 200 && code != 400 {
				t.Errorf("%s.%s %q: the document's pattern matches: %v; got %d %s (%+v)", tt.record, tt.field, v, want, code, raw, eb.Error.Problems)
			}
		}
	}
}
