package crosstest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// newTestAPI serves the API over a real SQLite store in a temp dir.
func newTestAPI(t *testing.T) (*httptest.Server, *sqlitestore.Store) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	checks := []httpapi.Check{{Name: "store", Func: func(ctx context.Context) (map[string]any, error) { return nil, store.Ping(ctx) }}}
	srv := httptest.NewServer(httpapi.NewServer(agileplus.NewService(store), checks, nil, "test"))
	t.Cleanup(srv.Close)
	return srv, store
}

func do(t testing.TB, srv *httptest.Server, method, path, body string, hdr ...string) (int, httpapi.ErrorBody, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb httpapi.ErrorBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &eb); err != nil {
			t.Fatalf("%s %s: error body is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, eb, raw
}

func TestBadInput(t *testing.T) {
	srv, store := newTestAPI(t)
	setup := []struct{ method, path, body string }{
		{"POST", "/v1/projects", `{"key":"CORE","name":"Core"}`},
		{"POST", "/v1/projects/CORE/features", `{"slug":"login","title":"Login"}`},
		{"POST", "/v1/features/login/wps", `{"title":"A"}`},
		{"POST", "/v1/features/login/wps", `{"title":"B"}`},
		{"POST", "/v1/dependencies", `{"from":"CORE-1","to":"CORE-2"}`},
		{"POST", "/v1/projects", `{"key":"OTHER","name":"Other"}`},
	}
	for _, s := range setup {
		if code, eb, _ := do(t, srv, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("setup %s %s: got %d %+v", s.method, s.path, code, eb)
		}
	}
	pendingBefore, _ := store.PendingCount(context.Background())

	big := `{"key":"BIG","name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		wantStatus               int
		wantField                string
		wantIn                   string // substring of the message
	}{
		{"malformed json", "POST", "/v1/projects", `{"key":`, nil, 400, "", "not valid JSON"},
		{"empty body", "POST", "/v1/projects", ``, nil, 400, "", "empty"},
		{"not an object", "POST", "/v1/projects", `[1,2]`, nil, 400, "", "JSON object"},
		{"trailing data", "POST", "/v1/projects", `{"key":"ABC","name":"x"} {}`, nil, 400, "", "after the JSON value"},
		{"unknown field", "POST", "/v1/projects", `{"key":"ABC","name":"x","owner":"me"}`, nil, 400, "owner", "unknown field"},
		{"wrong type", "POST", "/v1/projects", `{"key":42,"name":"x"}`, nil, 400, "key", "must be a string"},
		{"wrong type estimate", "POST", "/v1/features/login/wps", `{"title":"x","estimate":"soon"}`, nil, 400, "estimate", "must be a number"},
		{"negative estimate", "POST", "/v1/features/login/wps", `{"title":"x","estimate":-1}`, nil, 400, "estimate", "estimate"},
		{"oversized body", "POST", "/v1/projects", big, nil, 400, "", "larger than"},
		{"bad key", "POST", "/v1/projects", `{"key":"lower","name":"x"}`, nil, 400, "key", "upper-case"},
		{"missing name", "POST", "/v1/projects", `{"key":"ABC"}`, nil, 400, "name", "required"},
		{"duplicate key", "POST", "/v1/projects", `{"key":"CORE","name":"x"}`, nil, 409, "key", "already exists"},
		{"not json content type", "POST", "/v1/projects", `key=ABC`, []string{"Content-Type", "text/plain"}, 400, "Content-Type", "not JSON"},
		{"json-like content type", "POST", "/v1/projects", `{"key":"CTX","name":"x"}`, []string{"Content-Type", "application/jsonx"}, 400, "Content-Type", "not JSON"},
		{"name with a control character", "POST", "/v1/projects", `{"key":"NULX","name":"a\u0000b"}`, nil, 400, "name", "control character U+0000"},
		{"title with a line separator", "POST", "/v1/features/login/wps", `{"title":"a\u2028b"}`, nil, 400, "title", "single line"},
		{"description with an escape", "POST", "/v1/features/login/wps", `{"title":"t","description":"a\u001b[2Jb"}`, nil, 400, "description", "U+001B"},
		{"name of 201 characters", "POST", "/v1/projects", `{"key":"LONGF","name":"` + strings.Repeat("é", 201) + `"}`, nil, 400, "name", "longer than 200 characters"},
		{"fraction for an integer", "POST", "/v1/wps/CORE-1/claim", `{"agent":"a","ttl_seconds":1.5}`, nil, 400, "ttl_seconds", "must be an integer, not number 1.5"},
		{"integer out of range", "POST", "/v1/wps/CORE-1/claim", `{"agent":"a","ttl_seconds":9223372036854775808}`, nil, 400, "ttl_seconds", "out of range"},
		{"estimate out of range", "POST", "/v1/features/login/wps", `{"title":"t","estimate":1e400}`, nil, 400, "estimate", "out of range: 1e400"},
		{"body on a route that reads none", "DELETE", "/v1/dependencies/dep_nope", `{"id":"dep_nope"}`, nil, 400, "body", "takes no request body"},
		{"body on a list route", "GET", "/v1/projects", `{"limit":1}`, nil, 400, "body", "query parameters: after, limit"},
		{"dependencies of a feature on the wp route", "GET", "/v1/wps/login/dependencies", ``, nil, 404, "wp", "no work package"},
		{"dependencies of a wp on the feature route", "GET", "/v1/features/CORE-1/dependencies", ``, nil, 404, "feature", "no feature"},
		{"dependencies of an unknown wp", "GET", "/v1/wps/CORE-99/dependencies", ``, nil, 404, "wp", "CORE-99"},
		{"project list after a foreign cursor", "GET", "/v1/projects?after=garbage", ``, nil, 400, "after", "prj_"},
		{"wp list after a foreign cursor", "GET", "/v1/features/login/wps?after=prj_x", ``, nil, 400, "after", "wp_"},
		{"wp list of a feature in another project", "GET", "/v1/wps?project=OTHER&feature=login", ``, nil, 404, "feature", "is in project CORE, not OTHER"},
		{"query with a broken escape", "GET", "/v1/events?limit=1%zz", ``, nil, 400, "query", "malformed"},
		{"path with an empty segment", "PATCH", "/v1/wps//CORE-1", `{"title":"x"}`, nil, 404, "", "no such endpoint"},
		{"path with a dot-dot segment", "GET", "/v1/projects/CORE/../NOPE", ``, nil, 404, "", "no such endpoint"},
		{"huge reference is not echoed whole", "POST", "/v1/dependencies", `{"from":"login","to":"` + strings.Repeat("x", 5000) + `"}`, nil, 400, "to", "(5000 bytes)"},
		{"unknown project", "GET", "/v1/projects/NOPE", ``, nil, 404, "project", "not found"},
		{"unknown wp", "GET", "/v1/wps/CORE-99", ``, nil, 404, "wp", "not found"},
		{"unknown feature state", "POST", "/v1/features/login/transition", `{"to":"flying"}`, nil, 400, "to", "unknown feature state"},
		{"backward feature", "POST", "/v1/features/login/transition", `{"to":"created"}`, nil, 409, "to", "forward"},
		{"unknown wp state", "POST", "/v1/wps/CORE-1/transition", `{"to":"finished"}`, nil, 400, "to", "unknown work package state"},
		{"illegal wp move", "POST", "/v1/wps/CORE-1/transition", `{"to":"done"}`, nil, 409, "to", "cannot move"},
		{"blocked start", "POST", "/v1/wps/CORE-1/transition", `{"to":"doing"}`, nil, 409, "", "CORE-2"},
		{"force without reason", "POST", "/v1/wps/CORE-1/transition", `{"to":"doing","force":true}`, nil, 400, "reason", "reason"},
		{"self dependency", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"CORE-1"}`, nil, 409, "to", "itself"},
		{"cycle", "POST", "/v1/dependencies", `{"from":"CORE-2","to":"CORE-1"}`, nil, 409, "to", "CORE-2 -> CORE-1 -> CORE-2"},
		{"cycle via blocks", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"CORE-2","kind":"blocks"}`, nil, 409, "to", "cycle"},
		{"unknown kind", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"CORE-2","kind":"likes"}`, nil, 400, "kind", "unknown dependency kind"},
		{"unknown dependency end", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"NOPE-3"}`, nil, 404, "to", "NOPE-3"},
		{"mixed kinds", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"login"}`, nil, 409, "to", "two work packages or two features"},
		{"dependency end that names nothing it could", "POST", "/v1/dependencies", `{"from":"CORE-1","to":"Not A Ref"}`, nil, 400, "to", "not a work package id or key"},
		{"unknown dependency id", "DELETE", "/v1/dependencies/dep_nope", ``, nil, 404, "id", "not found"},
		{"stale if-match", "PATCH", "/v1/wps/CORE-1", `{"title":"new"}`, []string{"If-Match", `"7"`}, 409, "version", "version"},
		{"bad if-match", "PATCH", "/v1/wps/CORE-1", `{"title":"new"}`, []string{"If-Match", `"x"`}, 400, "If-Match", "If-Match"},
		{"claim without agent", "POST", "/v1/wps/CORE-1/claim", `{}`, nil, 400, "agent", "agent"},
		{"claim bad ttl", "POST", "/v1/wps/CORE-1/claim", `{"agent":"a","ttl_seconds":-5}`, nil, 400, "ttl_seconds", "ttl_seconds"},
		{"renew without token", "PUT", "/v1/wps/CORE-1/claim", `{}`, nil, 400, "token", "token"},
		{"release bad token", "DELETE", "/v1/wps/CORE-1/claim?token=abc", ``, nil, 400, "token", "token"},
		{"release unclaimed", "DELETE", "/v1/wps/CORE-1/claim?token=3", ``, nil, 409, "token", "no live lease"},
		{"ready of every project, bad after", "GET", "/v1/ready?after=CORE", ``, nil, 400, "after", "next cursor of the previous page"},
		{"ready bad after", "GET", "/v1/ready?project=CORE&after=CORE-99999999999999999999", ``, nil, 400, "after", "next cursor of the previous page"},
		{"bad limit", "GET", "/v1/projects?limit=5000", ``, nil, 400, "limit", "limit"},
		{"bad after", "GET", "/v1/events?after=-1", ``, nil, 400, "after", "after"},
		{"unknown entity", "GET", "/v1/events?entity=NOPE-1", ``, nil, 404, "entity", "NOPE-1"},
		{"layers without project", "GET", "/v1/graph/layers", ``, nil, 400, "project", "required"},
		{"features without project", "GET", "/v1/graph/features", ``, nil, 400, "project", "required"},
		{"layers unknown project", "GET", "/v1/graph/layers?project=NOPE", ``, nil, 404, "project", "NOPE"},
		{"depth out of range", "GET", "/v1/wps/CORE-1/blockers?transitive=true&depth=500", ``, nil, 400, "depth", "depth"},
		{"bad transitive", "GET", "/v1/wps/CORE-1/blockers?transitive=maybe", ``, nil, 400, "transitive", "true or false"},
		{"blockers of a feature", "GET", "/v1/wps/login/blockers", ``, nil, 400, "wp", "not a work package"},
		{"blockers of unknown wp", "GET", "/v1/wps/CORE-77/blockers", ``, nil, 404, "wp", "CORE-77"},
		{"path without to", "GET", "/v1/graph/path?from=CORE-1", ``, nil, 400, "to", "required"},
		{"no path", "GET", "/v1/graph/path?from=CORE-2&to=CORE-1", ``, nil, 404, "", "no blocking path"},
		{"path from unknown", "GET", "/v1/graph/path?from=CORE-9&to=CORE-1", ``, nil, 404, "from", "CORE-9"},
		{"critical path of a project with feature", "GET", "/v1/graph/critical-path?project=CORE&feature=login", ``, nil, 400, "feature", "feature"},
		{"critical path of nothing", "GET", "/v1/graph/critical-path", ``, nil, 400, "project", "required"},
		{"critical path limit too large", "GET", "/v1/graph/critical-path?project=CORE&limit=1001", ``, nil, 400, "limit", "between 1 and 1000"},
		{"critical path limit not a number", "GET", "/v1/graph/critical-path?project=CORE&limit=all", ``, nil, 400, "limit", "limit"},
		{"critical path after not a key", "GET", "/v1/graph/critical-path?project=CORE&after=login", ``, nil, 400, "after", "last WP key"},
		{"critical path after a huge number", "GET", "/v1/features/login/critical-path?after=CORE-99999999999999999999", ``, nil, 400, "after", "last WP key"},
		{"impact of unknown", "GET", "/v1/wps/CORE-42/impact", ``, nil, 404, "wp", "CORE-42"},
		{"impact bad limit", "GET", "/v1/wps/CORE-1/impact?limit=0", ``, nil, 400, "limit", "limit"},
		{"feature blockers of unknown feature", "GET", "/v1/features/nope/blockers", ``, nil, 404, "feature", "nope"},
		{"feature dependents depth out of range", "GET", "/v1/features/login/dependents?transitive=true&depth=101", ``, nil, 400, "depth", "depth"},
		{"feature blockers depth not a number", "GET", "/v1/features/login/blockers?transitive=true&depth=deep", ``, nil, 400, "depth", "depth"},
		{"feature blockers of a wp", "GET", "/v1/features/CORE-1/blockers", ``, nil, 400, "feature", "work package"},
		{"feature impact of unknown", "GET", "/v1/features/nope/impact", ``, nil, 404, "feature", "nope"},
		{"feature impact bad limit", "GET", "/v1/features/login/impact?limit=x", ``, nil, 400, "limit", "limit"},
		{"feature path without to", "GET", "/v1/graph/feature-path?from=login", ``, nil, 400, "to", "required"},
		{"feature path from unknown", "GET", "/v1/graph/feature-path?from=nope&to=login", ``, nil, 404, "from", "nope"},
		{"export bad format", "GET", "/v1/graph/export?project=CORE&format=svg", ``, nil, 400, "format", "svg"},
		{"cycles unknown project", "GET", "/v1/graph/cycles?project=ZZ", ``, nil, 404, "project", "ZZ"},
		{"reference without kind", "POST", "/v1/wps/CORE-1/references", `{}`, nil, 400, "kind", "commit"},
		{"reference bad sha", "POST", "/v1/wps/CORE-1/references", `{"sha":"xyz","repo":"r"}`, nil, 400, "sha", "hex"},
		{"reference commit without repo", "POST", "/v1/wps/CORE-1/references", `{"sha":"3f2a9c1"}`, nil, 400, "repo", "repo"},
		{"reference bad url", "POST", "/v1/wps/CORE-1/references", `{"url":"ftp://x/y"}`, nil, 400, "url", "http"},
		{"reference bad pr state", "POST", "/v1/wps/CORE-1/references", `{"url":"https://x.dev/pr/1","state":"lost"}`, nil, 400, "state", "lost"},
		{"reference unknown wp", "POST", "/v1/wps/CORE-55/references", `{"sha":"3f2a9c1","repo":"r"}`, nil, 404, "wp", "CORE-55"},
		{"unknown endpoint", "GET", "/v1/nothing", ``, nil, 404, "", "no such endpoint"},
		{"wrong method", "PUT", "/v1/projects", `{}`, nil, 405, "", "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, eb, raw := do(t, srv, tt.method, tt.path, tt.body, tt.hdr...)
			if code != tt.wantStatus {
				t.Fatalf("got status %d, want %d; body %s", code, tt.wantStatus, raw)
			}
			if eb.Error.Field != tt.wantField {
				t.Errorf("got field %q, want %q (message %q)", eb.Error.Field, tt.wantField, eb.Error.Message)
			}
			if !strings.Contains(eb.Error.Message, tt.wantIn) {
				t.Errorf("got message %q, want it to contain %q", eb.Error.Message, tt.wantIn)
			}
			if eb.Error.Code == "" {
				t.Error("got empty error code")
			}
		})
	}
	// Nothing half-written: no refused request added an event.
	if got, _ := store.PendingCount(context.Background()); got != pendingBefore {
		t.Errorf("got %d events after refused requests, want %d", got, pendingBefore)
	}
}

// What the stricter checks must still let through.
func TestStrictInputStillAccepts(t *testing.T) {
	srv, _ := newTestAPI(t)
	for _, tt := range []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"content type in capitals with a charset", "POST", "/v1/projects", `{"key":"CTY","name":"x"}`, []string{"Content-Type", "Application/JSON; charset=utf-8"}, 201},
		{"vendor json content type", "POST", "/v1/projects", `{"key":"CTZ","name":"x"}`, []string{"Content-Type", "application/vnd.agileplus+json"}, 201},
		{"name of 150 characters in 300 bytes", "POST", "/v1/projects", `{"key":"LONGE","name":"` + strings.Repeat("é", 150) + `"}`, nil, 201},
		{"feature in that project", "POST", "/v1/projects/CTY/features", `{"slug":"f","title":"F","description":"two lines\n\tand a tab"}`, nil, 201},
		{"whitespace body on a route that reads none", "GET", "/v1/projects/CTY", "  \n", nil, 200},
		{"wp list after a wp cursor", "GET", "/v1/features/f/wps?after=wp_0", ``, nil, 200},
		// Without transitive, depth does not apply: the direct edges.
		{"depth without transitive", "GET", "/v1/features/f/dependents?depth=3", ``, nil, 200},
		{"wp in that feature", "POST", "/v1/features/f/wps", `{"title":"t"}`, nil, 201},
		// JSON Schema counts 60.0 and 6e1 as integers.
		{"integral number with a fraction for an integer", "POST", "/v1/wps/CTY-1/claim", `{"agent":"a","ttl_seconds":60.0}`, nil, 201},
		{"integral number with an exponent for an integer", "PUT", "/v1/wps/CTY-1/claim", `{"token":1e0,"ttl_seconds":6E+1}`, nil, 200},
		// From an entity to itself the chain is the entity alone.
		{"path to itself", "GET", "/v1/graph/path?from=CTY-1&to=CTY-1", ``, nil, 200},
		{"feature path to itself", "GET", "/v1/graph/feature-path?from=f&to=f", ``, nil, 200},
		{"critical path of a feature", "GET", "/v1/features/f/critical-path", ``, nil, 200},
	} {
		if code, eb, raw := do(t, srv, tt.method, tt.path, tt.body, tt.hdr...); code != tt.want {
			t.Errorf("%s: status %d (%s), want %d; %s", tt.name, code, eb.Error.Message, tt.want, raw)
		}
	}
}

// An update that changes nothing records nothing: same version, no event.
func TestNoOpUpdateRecordsNothing(t *testing.T) {
	srv, store := newTestAPI(t)
	for _, c := range [][3]string{
		{"POST", "/v1/projects", `{"key":"NO","name":"n"}`},
		{"POST", "/v1/projects/NO/features", `{"slug":"no","title":"t","description":"d"}`},
		{"POST", "/v1/features/no/wps", `{"title":"w","estimate":2}`},
	} {
		if code, eb, _ := do(t, srv, c[0], c[1], c[2]); code != 201 {
			t.Fatalf("%s %s: %d %s", c[0], c[1], code, eb.Error.Message)
		}
	}
	ctx := context.Background()
	before, _ := store.PendingCount(ctx)
	for _, c := range [][2]string{
		{"/v1/projects/NO", `{}`}, {"/v1/projects/NO", `{"name":" n "}`},
		{"/v1/features/no", `{}`}, {"/v1/features/no", `{"title":"t","description":"d"}`},
		{"/v1/wps/NO-1", `{}`}, {"/v1/wps/NO-1", `{"title":"w","estimate":2}`}, {"/v1/wps/NO-1", `{"estimate":2.0}`},
	} {
		code, _, raw := do(t, srv, "PATCH", c[0], c[1])
		var v struct{ Version int64 }
		if err := json.Unmarshal(raw, &v); code != 200 || err != nil || v.Version != 1 {
			t.Errorf("PATCH %s %s: %d %s, want 200 at version 1", c[0], c[1], code, raw)
		}
	}
	if after, _ := store.PendingCount(ctx); after != before {
		t.Errorf("no-op updates recorded %d events", after-before)
	}
	code, _, raw := do(t, srv, "PATCH", "/v1/wps/NO-1", `{"estimate":3}`)
	var v struct{ Version int64 }
	if err := json.Unmarshal(raw, &v); code != 200 || err != nil || v.Version != 2 {
		t.Errorf("a real change: %d %s, want version 2", code, raw)
	}
	code, _, raw = do(t, srv, "POST", "/v1/features/no/wps", `{"title":"z","estimate":-0}`)
	if code != 201 || !strings.Contains(string(raw), `"estimate":0,`) {
		t.Errorf("estimate -0: %d %s, want 0", code, raw)
	}
}

// relates_to has no direction: the reverse of a stored edge is a duplicate.
func TestRelatesToReverseIsDuplicate(t *testing.T) {
	srv, _ := newTestAPI(t)
	for _, c := range [][3]string{
		{"POST", "/v1/projects", `{"key":"RT","name":"r"}`},
		{"POST", "/v1/projects/RT/features", `{"slug":"rt","title":"r"}`},
		{"POST", "/v1/features/rt/wps", `{"title":"a"}`},
		{"POST", "/v1/features/rt/wps", `{"title":"b"}`},
		{"POST", "/v1/dependencies", `{"from":"RT-2","to":"RT-1","kind":"relates_to"}`},
	} {
		if code, eb, _ := do(t, srv, c[0], c[1], c[2]); code != 201 {
			t.Fatalf("%s %s: %d %s", c[0], c[1], code, eb.Error.Message)
		}
	}
	for _, body := range []string{`{"from":"RT-1","to":"RT-2","kind":"relates_to"}`, `{"from":"RT-2","to":"RT-1","kind":"relates_to"}`} {
		if code, eb, raw := do(t, srv, "POST", "/v1/dependencies", body); code != 409 || eb.Error.Field == "" {
			t.Errorf("%s: %d %s, want 409 naming a field", body, code, raw)
		}
	}
	if code, _, raw := do(t, srv, "POST", "/v1/dependencies", `{"from":"RT-1","to":"RT-2"}`); code != 201 {
		t.Errorf("depends_on next to relates_to: %d %s", code, raw)
	}
}

// Renew and release may name the agent; it must then be the holder.
func TestRenewChecksAgent(t *testing.T) {
	srv, _ := newTestAPI(t)
	for _, c := range [][3]string{
		{"POST", "/v1/projects", `{"key":"AG","name":"a"}`},
		{"POST", "/v1/projects/AG/features", `{"slug":"ag","title":"a"}`},
		{"POST", "/v1/features/ag/wps", `{"title":"w"}`},
	} {
		if code, eb, _ := do(t, srv, c[0], c[1], c[2]); code != 201 {
			t.Fatalf("%s %s: %d %s", c[0], c[1], code, eb.Error.Message)
		}
	}
	code, eb, raw := do(t, srv, "POST", "/v1/wps/AG-1/claim", `{"agent":"alice","token":3}`)
	if code != 400 || eb.Error.Field != "token" {
		t.Errorf("claim with a token: %d %s, want 400 on token", code, raw)
	}
	code, _, raw = do(t, srv, "POST", "/v1/wps/AG-1/claim", `{"agent":"alice"}`)
	if code != 201 {
		t.Fatalf("claim: %d %s", code, raw)
	}
	var l agileplus.Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	tok := strconv.FormatInt(l.Token, 10)
	for _, tt := range []struct{ body, field string }{
		{`{"token":` + tok + `,"agent":"mallory"}`, "agent"},
		{`{"token":` + tok + `,"agent":"alice\nline2"}`, "agent"},
	} {
		if code, eb, raw := do(t, srv, "PUT", "/v1/wps/AG-1/claim", tt.body); code/100 != 4 || eb.Error.Field != tt.field {
			t.Errorf("renew %s: %d %s, want 4xx on %s", tt.body, code, raw, tt.field)
		}
	}
	if code, _, raw := do(t, srv, "PUT", "/v1/wps/AG-1/claim", `{"token":`+tok+`,"agent":"alice"}`); code != 200 {
		t.Errorf("renew by the holder: %d %s", code, raw)
	}
	if code, _, raw := do(t, srv, "PUT", "/v1/wps/AG-1/claim", `{"token":`+tok+`}`); code != 200 {
		t.Errorf("renew without agent: %d %s", code, raw)
	}
}

func TestImportLimits(t *testing.T) {
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	api := httpapi.NewServer(agileplus.NewService(store), nil, nil, "test")
	api.ImportLimit = 100
	srv := httptest.NewServer(api)
	defer srv.Close()
	big := strings.Repeat(`{"type":"project","key":"AB","name":"x"}`+"\n", 10)
	code, eb, _ := do(t, srv, "POST", "/v1/import", big)
	if code != 400 || eb.Error.Field != "body" || !strings.Contains(eb.Error.Message, "limit") {
		t.Fatalf("got %d %+v, want 400 naming the limit", code, eb)
	}
	code, eb, _ = do(t, srv, "POST", "/v1/import?allow_cycles=maybe", "")
	if code != 400 || eb.Error.Field != "allow_cycles" {
		t.Fatalf("got %d %+v, want 400 for allow_cycles", code, eb)
	}
	code, eb, _ = do(t, srv, "POST", "/v1/import", `{"type":"project","key":"ab","name":"x"}`+"\n")
	if code != 400 || len(eb.Error.Problems) != 1 || eb.Error.Problems[0].Line != 1 {
		t.Fatalf("got %d %+v, want 400 listing the problem on line 1", code, eb)
	}
	if n, _ := store.PendingCount(context.Background()); n != 0 {
		t.Fatalf("got %d events after refused imports, want 0", n)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	srv, _ := newTestAPI(t)
	code, _, raw := do(t, srv, "GET", "/openapi.json", "")
	if code != 200 {
		t.Fatalf("got %d, want 200", code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("got openapi %q, want 3.1.0", doc.OpenAPI)
	}
	for path, methods := range map[string][]string{
		"/v1/projects": {"get", "post"}, "/v1/wps/{wp}/claim": {"post", "put", "delete"},
		"/v1/dependencies": {"post"}, "/v1/ready": {"get"}, "/v1/events": {"get"},
		"/v1/features/{feature}/audit/verify": {"get"}, "/health": {"get"}, "/ready": {"get"},
		"/v1/features/{feature}/blockers": {"get"}, "/v1/features/{feature}/dependents": {"get"},
		"/v1/features/{feature}/impact": {"get"}, "/v1/graph/feature-path": {"get"},
	} {
		for _, m := range methods {
			if doc.Paths[path][m] == nil {
				t.Errorf("openapi lacks %s %s", m, path)
			}
		}
	}
	var cpParams []string
	for _, p := range doc.Paths["/v1/graph/critical-path"]["get"]["parameters"].([]any) {
		cpParams = append(cpParams, p.(map[string]any)["name"].(string))
	}
	if got := strings.Join(cpParams, " "); got != "project after limit" {
		t.Errorf("critical-path parameters: got %s, want project after limit", got)
	}
	cp, _ := doc.Components.Schemas["GraphCriticalPath"]["properties"].(map[string]any)
	for _, f := range []string{"length", "path", "total", "wps", "next"} {
		if cp[f] == nil {
			t.Errorf("schema GraphCriticalPath lacks property %s", f)
		}
	}
	wp := doc.Components.Schemas["WP"]
	props, _ := wp["properties"].(map[string]any)
	for _, f := range []string{"id", "key", "state", "version", "estimate", "lease"} {
		if props[f] == nil {
			t.Errorf("schema WP lacks property %s", f)
		}
	}
	// Every $ref resolves.
	for _, ref := range strings.Split(string(raw), `"$ref": "#/components/schemas/`)[1:] {
		name := ref[:strings.IndexByte(ref, '"')]
		if doc.Components.Schemas[name] == nil {
			t.Errorf("dangling $ref %s", name)
		}
	}
}

func TestETagAndIfMatch(t *testing.T) {
	srv, _ := newTestAPI(t)
	do(t, srv, "POST", "/v1/projects", `{"key":"CORE","name":"Core"}`)
	req, _ := http.NewRequest("PATCH", srv.URL+"/v1/projects/CORE", strings.NewReader(`{"name":"Core platform"}`))
	req.Header.Set("If-Match", `"1"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"2"` {
		t.Fatalf("got %d ETag %s, want 200 \"2\"", resp.StatusCode, resp.Header.Get("ETag"))
	}
	if code, _, _ := do(t, srv, "PATCH", "/v1/projects/CORE", `{"name":"again"}`, "If-Match", `"1"`); code != 409 {
		t.Fatalf("got %d for a stale If-Match, want 409", code)
	}
}

func TestActorHeaderIsCutOnACharacterBoundary(t *testing.T) {
	srv, _ := newTestAPI(t)
	long := strings.Repeat("é", 150) // 300 bytes
	if code, eb, _ := do(t, srv, "POST", "/v1/projects", `{"key":"ACT","name":"a"}`, httpapi.ActorHeader, long); code != 201 {
		t.Fatalf("got %d %+v", code, eb)
	}
	_, _, raw := do(t, srv, "GET", "/v1/events?entity=ACT", "")
	var l struct{ Items []agileplus.Event }
	if err := json.Unmarshal(raw, &l); err != nil || len(l.Items) != 1 {
		t.Fatalf("got %s", raw)
	}
	e := l.Items[0]
	if e.Actor != strings.Repeat("é", 100) || e.ComputeHash() != e.Hash {
		t.Fatalf("got actor %q (%d bytes), hash verifies %v", e.Actor, len(e.Actor), e.ComputeHash() == e.Hash)
	}
}
