package crosstest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// keyAuth authenticates tokens against the keys of a Service, the way
// the server's authenticator does, without its cache.
type keyAuth struct{ svc *agileplus.Service }

func (a keyAuth) Authenticate(ctx context.Context, token string) (*agileplus.Principal, error) {
	prefix, secret, err := agileplus.ParseKeyToken(token)
	if err != nil {
		return nil, err
	}
	k, err := a.svc.Key(ctx, prefix)
	if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
		return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "unknown API key %s", prefix)
	}
	if err != nil {
		return nil, err
	}
	if !agileplus.SecretMatches(secret, k.Hash) || !k.Active(time.Now()) {
		return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "API key %s is revoked, expired or wrong", prefix)
	}
	return &agileplus.Principal{KeyID: k.ID, Name: k.Name, Scope: k.Scope, Projects: k.Projects}, nil
}

// authAPI is a server that authenticates, over a real SQLite store with
// projects CORE and WEB and a key of each kind.
type authAPI struct {
	*streamAPI
	tokens map[string]string // by key name: reader, writer, admin, limited (write on CORE)

	mu      sync.Mutex
	refused []agileplus.Refusal
}

func newAuthAPI(t *testing.T, configure ...func(*httpapi.Server)) *authAPI {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a := &authAPI{streamAPI: &streamAPI{svc: agileplus.NewService(store), hub: httpapi.NewHub()}, tokens: map[string]string{}}
	a.feeder = &streamFeeder{hub: a.hub, svc: a.svc}
	a.svc.OnCommit = a.feeder.poke
	ctx := context.Background()
	for _, key := range []string{"CORE", "WEB"} {
		if _, err := a.svc.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []agileplus.KeyCreate{
		{Name: "reader", Scope: agileplus.ScopeRead},
		{Name: "writer", Scope: agileplus.ScopeWrite},
		{Name: "admin", Scope: agileplus.ScopeAdmin},
		{Name: "limited", Scope: agileplus.ScopeWrite, Projects: []string{"CORE"}},
	} {
		kc, err := a.svc.CreateKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[k.Name] = kc.Token
	}
	a.api = httpapi.NewServer(a.svc, nil, nil, "test")
	a.api.Auth = keyAuth{a.svc}
	a.api.Keys = a.svc
	a.api.Feed = a.hub
	a.api.Refused = func(ctx context.Context, keyID string, r agileplus.Refusal) {
		a.mu.Lock()
		a.refused = append(a.refused, r)
		a.mu.Unlock()
		if err := a.svc.RecordRefusal(ctx, keyID, r); err != nil {
			t.Errorf("record refusal: %v", err)
		}
	}
	for _, c := range configure {
		c(a.api)
	}
	a.srv = httptest.NewUnstartedServer(a.api)
	a.srv.Config.RegisterOnShutdown(a.api.CloseStreams)
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// operation is one entry of the OpenAPI document.
type operation struct {
	method, path, scope string
	body                bool
}

// operations lists the API's operations from its OpenAPI document, the
// route table as the server publishes it.
func operations(t testing.TB, srv *httptest.Server) []operation {
	t.Helper()
	code, _, raw := do(t, srv, "GET", "/openapi.json", "")
	if code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Scope       string `json:"x-agileplus-scope"`
			Description string `json:"description"`
			RequestBody any    `json:"requestBody"`
			Security    *[]any `json:"security"`
			Responses   map[string]any
		} `json:"paths"`
		Security   []map[string]any `json:"security"`
		Components struct {
			SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if b := doc.Components.SecuritySchemes["bearer"]; b.Type != "http" || b.Scheme != "bearer" {
		t.Errorf("securitySchemes.bearer: got %+v, want http bearer", b)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("global security: got %v, want [{bearer: []}]", doc.Security)
	}
	var ops []operation
	for path, methods := range doc.Paths {
		for method, o := range methods {
			op := operation{method: strings.ToUpper(method), path: path, scope: o.Scope, body: o.RequestBody != nil || path == "/v1/import"}
			name := op.method + " " + path
			switch {
			case !slices.Contains(append([]string{"public"}, agileplus.Scopes...), o.Scope):
				t.Errorf("%s declares no scope (x-agileplus-scope %q): every route must say which scope it needs", name, o.Scope)
			case o.Scope == "public":
				if o.Security == nil || len(*o.Security) != 0 {
					t.Errorf("%s is public but does not say security: []", name)
				}
			default:
				if !strings.Contains(o.Description, "Needs scope "+o.Scope) {
					t.Errorf("%s: description %q does not name its scope", name, o.Description)
				}
				if o.Responses["401"] == nil || o.Responses["403"] == nil {
					t.Errorf("%s does not document 401 and 403", name)
				}
			}
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	return ops
}

var pathValues = strings.NewReplacer("{project}", "CORE", "{feature}", "nofeature", "{wp}", "CORE-99", "{id}", "dep_x",
	"{webhook}", "whk_x", "{seq}", "1", "{key}", "key_x")

// TestEveryRouteAuthorizes calls every operation of the API with no key, a
// bad key, and a key of each scope, and checks 401, 403 or neither as the
// operation's scope says: a new route is covered as soon as it exists.
func TestEveryRouteAuthorizes(t *testing.T) {
	a := newAuthAPI(t)
	a.api.Feed = nil // the stream answers 503 once authorized, rather than stay open
	ops := operations(t, a.srv)
	if len(ops) < 50 {
		t.Fatalf("only %d operations in the OpenAPI document", len(ops))
	}
	public := map[string]bool{"GET /health": true, "GET /ready": true, "GET /openapi.json": true}
	creds := []struct {
		name, scope string
		hdr         []string
	}{
		{"no key", "", nil},
		{"bad key", "", bearer("ap_zzzzzzzz_" + strings.Repeat("0", 64))},
		{"reader", agileplus.ScopeRead, bearer(a.tokens["reader"])},
		{"writer", agileplus.ScopeWrite, bearer(a.tokens["writer"])},
		{"admin", agileplus.ScopeAdmin, bearer(a.tokens["admin"])},
		{"limited", agileplus.ScopeWrite, bearer(a.tokens["limited"])},
	}
	wantRefused := 0
	for _, op := range ops {
		name := op.method + " " + op.path
		if public[name] != (op.scope == "public") {
			t.Errorf("%s: scope %s; only /health, /ready and /openapi.json are public", name, op.scope)
		}
		path := pathValues.Replace(op.path)
		body := ""
		if op.body {
			body = "{}"
		}
		for _, c := range creds {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				code, eb, _ := do(t, a.srv, op.method, path, body, c.hdr...)
				switch {
				case op.scope == "public":
					if code == 401 || code == 403 {
						t.Errorf("got %d %+v on a public route", code, eb.Error)
					}
				case c.scope == "":
					if code != 401 || eb.Error.Code != agileplus.EUNAUTHORIZED {
						t.Errorf("got %d %+v, want 401 unauthorized", code, eb.Error)
					}
				case !agileplus.ScopeAllows(c.scope, op.scope):
					if code != 403 || eb.Error.Code != agileplus.EFORBIDDEN || !strings.Contains(eb.Error.Message, "needs scope "+op.scope+"; key "+c.name+" has "+c.scope) {
						t.Errorf("got %d %+v, want 403 naming scope %s", code, eb.Error, op.scope)
					}
					if op.scope == agileplus.ScopeAdmin {
						wantRefused++
					}
				case code == 401 || code == 403 && (c.name != "limited" || strings.Contains(eb.Error.Message, "needs scope")):
					t.Errorf("got %d %+v, want the key allowed", code, eb.Error)
				case code >= 500 && code != 503:
					t.Errorf("got %d %+v", code, eb.Error)
				}
			})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.refused) != wantRefused {
		t.Errorf("got %d refused admin actions recorded, want %d", len(a.refused), wantRefused)
	}
	es, err := a.svc.Events(context.Background(), agileplus.EventQuery{Limit: agileplus.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Type == "key.refused" {
			n++
		}
	}
	if n != wantRefused {
		t.Errorf("got %d key.refused events, want %d", n, wantRefused)
	}
}

func TestAuthorizationHeaderErrors(t *testing.T) {
	a := newAuthAPI(t)
	ctx := context.Background()
	revoked, err := a.svc.CreateKey(ctx, agileplus.KeyCreate{Name: "gone", Scope: agileplus.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		hdr    []string
		wantIn string
	}{
		{"missing", nil, "agileplus key create"},
		{"empty", []string{"Authorization", ""}, "empty"},
		{"basic", []string{"Authorization", "Basic dXNlcjpwdw=="}, `scheme is "Basic", not Bearer`},
		{"bearer without a key", []string{"Authorization", "Bearer"}, "no key after Bearer"},
		{"bearer and spaces", []string{"Authorization", "Bearer    "}, "no key after Bearer"},
		{"too long", []string{"Authorization", "Bearer " + strings.Repeat("a", 5000)}, "the limit is 4096"},
		{"not ascii", []string{"Authorization", "Bearer ключ"}, "not printable ASCII"},
		{"malformed key", []string{"Authorization", "Bearer ap_short"}, "malformed API key"},
		{"unknown key", bearer("ap_zzzzzzzz_" + strings.Repeat("0", 64)), "unknown API key"},
		{"revoked key", bearer(revoked.Token), "revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", a.srv.URL+"/v1/projects", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			checkUnauthorized(t, req, tc.wantIn)
		})
	}
	t.Run("two headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", a.srv.URL+"/v1/projects", nil)
		req.Header.Add("Authorization", "Bearer "+a.tokens["admin"])
		req.Header.Add("Authorization", "Bearer "+a.tokens["reader"])
		checkUnauthorized(t, req, "2 Authorization headers")
	})
	t.Run("the secret is not echoed", func(t *testing.T) {
		req, _ := http.NewRequest("GET", a.srv.URL+"/v1/projects", nil)
		req.Header.Set("Authorization", "Bearer "+revoked.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb httpapi.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		if strings.Contains(eb.Error.Message, revoked.Token[12:]) {
			t.Errorf("the answer repeats the secret: %s", eb.Error.Message)
		}
	})
}

func checkUnauthorized(t *testing.T, req *http.Request, wantIn string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if resp.StatusCode != 401 || eb.Error.Code != agileplus.EUNAUTHORIZED || !strings.Contains(eb.Error.Message, wantIn) {
		t.Errorf("got %d %+v, want 401 with %q", resp.StatusCode, eb.Error, wantIn)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="agileplus"` {
		t.Errorf("got WWW-Authenticate %q", got)
	}
}

// TestKeysOverHTTP manages keys through the client, and checks that no
// answer carries a key's hash.
func TestKeysOverHTTP(t *testing.T) {
	a := newAuthAPI(t)
	ctx := context.Background()
	admin := httpapi.NewClient(a.srv.URL, httpapi.WithToken(a.tokens["admin"]))
	kc, err := admin.CreateKey(ctx, agileplus.KeyCreate{Name: "ci-bot", Scope: agileplus.ScopeRead, Projects: []string{"WEB"}})
	if err != nil {
		t.Fatal(err)
	}
	if kc.ID == "" || kc.Name != "ci-bot" || kc.Scope != "read" || !strings.HasPrefix(kc.Token, "ap_"+kc.Prefix+"_") {
		t.Fatalf("created %+v", kc)
	}
	_, secret, err := agileplus.ParseKeyToken(kc.Token)
	if err != nil {
		t.Fatal(err)
	}
	hash := agileplus.HashSecret(secret)

	bot := httpapi.NewClient(a.srv.URL, httpapi.WithToken(kc.Token))
	who, err := bot.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !who.Authenticated || who.KeyID != kc.ID || who.Name != "ci-bot" || who.Scope != "read" || !slices.Equal(who.Projects, []string{"WEB"}) || who.Actor != "ci-bot" {
		t.Errorf("whoami: got %+v", who)
	}
	if _, err := bot.CreateKey(ctx, agileplus.KeyCreate{Name: "x", Scope: "admin"}); agileplus.ErrorCode(err) != agileplus.EFORBIDDEN || !strings.Contains(agileplus.ErrorMessage(err), "needs scope admin; key ci-bot has read") {
		t.Errorf("a read key creating a key: got %v, want forbidden naming the scope", err)
	}
	if _, err := httpapi.NewClient(a.srv.URL).Projects(ctx, agileplus.Page{}); agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED {
		t.Errorf("no token: got %v, want unauthorized", err)
	}

	ks, err := admin.Keys(ctx, agileplus.Page{})
	if err != nil || len(ks) != 5 {
		t.Fatalf("keys: got %d, %v; want 5", len(ks), err)
	}
	if page, err := admin.Keys(ctx, agileplus.Page{Limit: 2}); err != nil || len(page) != 2 {
		t.Errorf("a page of 2: got %d, %v", len(page), err)
	}
	for _, ref := range []string{kc.ID, kc.Prefix} {
		if k, err := admin.Key(ctx, ref); err != nil || k.ID != kc.ID {
			t.Errorf("key %s: got %+v, %v", ref, k, err)
		}
	}
	if _, err := admin.Key(ctx, "key_nope"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("unknown key: got %v", err)
	}
	rk, err := admin.RevokeKey(ctx, kc.Prefix)
	if err != nil || rk.RevokedAt == nil {
		t.Fatalf("revoke: got %+v, %v", rk, err)
	}
	if _, err := bot.Whoami(ctx); agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED {
		t.Errorf("a revoked key: got %v, want unauthorized", err)
	}

	for _, path := range []string{"/v1/keys", "/v1/keys/" + kc.ID, "/v1/keys/" + kc.Prefix, "/v1/events?limit=1000"} {
		code, _, raw := do(t, a.srv, "GET", path, "", bearer(a.tokens["admin"])...)
		if code != 200 {
			t.Errorf("GET %s: %d", path, code)
		}
		if strings.Contains(string(raw), hash) || strings.Contains(string(raw), secret) {
			t.Errorf("GET %s answers the key's hash or secret", path)
		}
	}
	code, _, raw := do(t, a.srv, "POST", "/v1/keys/"+kc.ID+"/revoke", "", bearer(a.tokens["admin"])...)
	if code != 200 || strings.Contains(string(raw), hash) {
		t.Errorf("revoke again: %d %s", code, raw)
	}
	code, _, raw = do(t, a.srv, "POST", "/v1/keys", `{"name":"another","scope":"write"}`, bearer(a.tokens["admin"])...)
	var created agileplus.KeyCreated
	if err := json.Unmarshal(raw, &created); code != 201 || err != nil || created.Token == "" {
		t.Fatalf("create: %d %s", code, raw)
	}
	_, s2, _ := agileplus.ParseKeyToken(created.Token)
	if strings.Contains(string(raw), agileplus.HashSecret(s2)) || strings.Contains(string(raw), `"hash"`) {
		t.Errorf("the answer of create carries the hash: %s", raw)
	}
	code, eb, _ := do(t, a.srv, "POST", "/v1/keys", `{"name":"x","scope":"root"}`, bearer(a.tokens["admin"])...)
	if code != 400 || eb.Error.Field != "scope" {
		t.Errorf("a scope that does not exist: got %d %+v", code, eb.Error)
	}
	code, eb, _ = do(t, a.srv, "POST", "/v1/keys", `{"name":"x","scope":"read","projects":["NOPE"]}`, bearer(a.tokens["admin"])...)
	if code != 404 || eb.Error.Field != "projects" {
		t.Errorf("an unknown project: got %d %+v, want 404 naming projects", code, eb.Error)
	}
	// Well formed but already past: a rule refuses it (409), not the schema.
	code, eb, _ = do(t, a.srv, "POST", "/v1/keys", `{"name":"x","scope":"read","expires_at":"2000-01-01T00:00:00Z"}`, bearer(a.tokens["admin"])...)
	if code != 409 || eb.Error.Code != agileplus.ERULE || eb.Error.Field != "expires_at" {
		t.Errorf("an expiry in the past: got %d %+v, want 409 rule naming expires_at", code, eb.Error)
	}
	// Revoking is POST .../revoke: the key stays, revoked, so there is no
	// DELETE that a GET would contradict.
	if code, _, _ := do(t, a.srv, "DELETE", "/v1/keys/"+kc.ID, "", bearer(a.tokens["admin"])...); code != 405 {
		t.Errorf("DELETE /v1/keys/{key}: got %d, want 405", code)
	}
}

func TestKeysAndWhoamiWithoutAuth(t *testing.T) {
	srv, _ := newTestAPI(t)
	ctx := context.Background()
	c := httpapi.NewClient(srv.URL, httpapi.WithActor("me"))
	who, err := c.Whoami(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if who.Authenticated || !strings.Contains(who.Message, "authentication is off") || who.Actor != "me" {
		t.Errorf("whoami: got %+v", who)
	}
	if _, err := c.Keys(ctx, agileplus.Page{}); agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE {
		t.Errorf("keys without a key admin: got %v, want unavailable", err)
	}
}

// TestActorComesFromKey: the actor header may only narrow the key's name.
func TestActorComesFromKey(t *testing.T) {
	a := newAuthAPI(t)
	tests := []struct{ header, want string }{
		{"", "writer"},
		{"writer", "writer"},
		{"writer/job-7", "writer/job-7"},
		{"admin", "writer/admin"},
		{"mallory", "writer/mallory"},
		{"writerx", "writer/writerx"},
	}
	for i, tc := range tests {
		key := "ACT" + string(rune('A'+i))
		hdr := bearer(a.tokens["writer"])
		if tc.header != "" {
			hdr = append(hdr, httpapi.ActorHeader, tc.header)
		}
		code, eb, _ := do(t, a.srv, "POST", "/v1/projects", `{"key":"`+key+`","name":"x"}`, hdr...)
		if code != 201 {
			t.Fatalf("create %s: %d %+v", key, code, eb.Error)
		}
		p, err := a.svc.Project(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		es, err := a.svc.Events(context.Background(), agileplus.EventQuery{Entity: p.ID})
		if err != nil || len(es) != 1 {
			t.Fatalf("events of %s: %d, %v", key, len(es), err)
		}
		if es[0].Actor != tc.want {
			t.Errorf("header %q: got actor %q, want %q", tc.header, es[0].Actor, tc.want)
		}
	}
}

// TestLimitedKeySeesOnlyItsEvents: the event list and the stream send a
// key only the events of its projects, and key events only to admins.
func TestLimitedKeySeesOnlyItsEvents(t *testing.T) {
	a := newAuthAPI(t)
	ctx := context.Background()
	for _, p := range []string{"CORE", "WEB"} {
		f, err := a.svc.CreateFeature(ctx, p, agileplus.FeatureCreate{Slug: strings.ToLower(p) + "-f", Title: "f"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.svc.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	all := allEvents(t, a.svc)
	visible := func(p *agileplus.Principal) []*agileplus.Event {
		var out []*agileplus.Event
		for _, e := range all {
			if p.AllowsEvent(e) {
				out = append(out, e)
			}
		}
		return out
	}
	principals := map[string]*agileplus.Principal{
		"limited": {Name: "limited", Scope: "write", Projects: []string{"CORE"}},
		"reader":  {Name: "reader", Scope: "read"},
		"admin":   {Name: "admin", Scope: "admin"},
	}
	for name, p := range principals {
		want := visible(p)
		if name == "admin" && len(want) != len(all) || name != "admin" && len(want) >= len(all) {
			t.Fatalf("%s: %d of %d events visible: the setup is wrong", name, len(want), len(all))
		}
		t.Run("list/"+name, func(t *testing.T) {
			var got []*agileplus.Event
			after := ""
			for {
				code, eb, raw := do(t, a.srv, "GET", "/v1/events?limit=2"+after, "", bearer(a.tokens[name])...)
				if code != 200 {
					t.Fatalf("%d %+v", code, eb.Error)
				}
				var l httpapi.List[*agileplus.Event]
				if err := json.Unmarshal(raw, &l); err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Items...)
				if l.Next == "" {
					break
				}
				after = "&after=" + l.Next
			}
			if len(got) != len(want) {
				t.Fatalf("got %d events, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Fatalf("event %d: got %s, want %s", i, got[i].ID, want[i].ID)
				}
			}
		})
		t.Run("stream/"+name, func(t *testing.T) {
			c := openSSE(t, a.srv.URL+"/v1/events/stream", bearer(a.tokens[name])...)
			checkFrames(t, c.readN(t, len(want)), want)
			// Live: an event of WEB, then one of CORE.
			if _, err := a.svc.CreateWP(ctx, "web-f", agileplus.WPCreate{Title: "live"}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.svc.CreateWP(ctx, "core-f", agileplus.WPCreate{Title: "live"}); err != nil {
				t.Fatal(err)
			}
			latest := allEvents(t, a.svc)
			web, core := latest[len(latest)-2], latest[len(latest)-1]
			var wantLive []*agileplus.Event
			for _, e := range []*agileplus.Event{web, core} {
				if p.AllowsEvent(e) {
					wantLive = append(wantLive, e)
				}
			}
			checkFrames(t, c.readN(t, len(wantLive)), wantLive)
			all = latest
		})
	}
}

func TestStreamOfAnotherProjectIsForbidden(t *testing.T) {
	a := newAuthAPI(t)
	code, eb, _ := do(t, a.srv, "GET", "/v1/events/stream?project=CORE,WEB", "", bearer(a.tokens["limited"])...)
	if code != 403 || eb.Error.Field != "project" || !strings.Contains(eb.Error.Message, "cannot use project WEB") {
		t.Errorf("got %d %+v, want 403 naming WEB", code, eb.Error)
	}
}

func TestStreamCaps(t *testing.T) {
	a := newAuthAPI(t, func(s *httpapi.Server) { s.MaxStreamsPerKey = 1; s.MaxStreams = 2 })
	openSSE(t, a.srv.URL+"/v1/events/stream", bearer(a.tokens["reader"])...)
	for _, tc := range []struct {
		key    string
		status int
		wantIn string
	}{
		{"reader", 429, "this key has 1 event streams open"},
		{"writer", 200, ""},
		{"admin", 503, "the server has 2 event streams open"},
	} {
		if tc.status == 200 {
			openSSE(t, a.srv.URL+"/v1/events/stream", bearer(a.tokens[tc.key])...)
			continue
		}
		req, _ := http.NewRequest("GET", a.srv.URL+"/v1/events/stream", nil)
		req.Header.Set("Authorization", "Bearer "+a.tokens[tc.key])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb httpapi.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(eb.Error.Message, tc.wantIn) || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got %d %+v Retry-After %q, want %d with %q", tc.key, resp.StatusCode, eb.Error, resp.Header.Get("Retry-After"), tc.status, tc.wantIn)
		}
	}
}
