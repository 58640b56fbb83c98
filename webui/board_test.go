package webui

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/session"
)

// memCache is an agileplus.Cache in a map: the board's tests may not use
// another adapter's cache, and what they check is the board's rules.
type memCache struct {
	mu sync.Mutex
	h  map[string]map[string]string
}

func (c *memCache) Ping(context.Context) error { return nil }
func (c *memCache) Close() error               { return nil }
func (c *memCache) Get(context.Context, string) ([]byte, error) {
	return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no such key")
}
func (c *memCache) Set(context.Context, string, []byte, time.Duration) error { return nil }
func (c *memCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.h, k)
	}
	return nil
}
func (c *memCache) SetHash(_ context.Context, key string, fields map[string]string, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		c.h = map[string]map[string]string{}
	}
	c.h[key] = maps.Clone(fields)
	return nil
}
func (c *memCache) Hash(_ context.Context, key string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.h[key]
	if !ok {
		return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no such key")
	}
	return maps.Clone(h), nil
}
func (c *memCache) Expire(_ context.Context, key string, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.h[key]; !ok {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no such key")
	}
	return nil
}

// keys is an Authenticator over a fixed set of tokens; revoke removes one.
type keys struct {
	mu sync.Mutex
	m  map[string]*agileplus.Principal
}

func (k *keys) Authenticate(_ context.Context, token string) (*agileplus.Principal, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.m[token]; ok {
		return p, nil
	}
	return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "the API key identifies no active key")
}

func (k *keys) revoke(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, token)
}

const (
	goodToken = "ak_good_token_for_tests"
)

// apiSeen is the fake API: it answers with the Authorization it got.
type apiSeen struct {
	mu    sync.Mutex
	calls int
}

func (a *apiSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.calls++
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "authorization": r.Header.Get("Authorization")})
}

func (a *apiSeen) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

type fixture struct {
	board *Board
	cache *memCache
	keys  *keys
	api   *apiSeen
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{cache: &memCache{}, api: &apiSeen{}, keys: &keys{m: map[string]*agileplus.Principal{
		goodToken: {KeyID: "key_1", Name: "ada", Scope: agileplus.ScopeWrite},
	}}}
	cfg := Config{API: f.api, Auth: f.keys, Sessions: &session.Service{Cache: f.cache}}
	if mod != nil {
		mod(&cfg)
	}
	f.board = New(cfg)
	return f
}

// do sends a request to the board as a same-origin browser would.
func (f *fixture) do(method, target, body string, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://127.0.0.1:8080"+target, rd)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.board.ServeHTTP(w, r)
	return w
}

func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName || c.Name == secureCookieName {
			return c
		}
	}
	t.Fatalf("no session cookie in %v (status %d, body %s)", w.Header()["Set-Cookie"], w.Code, w.Body)
	return nil
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return v
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	return decode[errorBody](t, w)
}

// signIn signs in with goodToken and returns the cookie and CSRF token.
func (f *fixture) signIn(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	w := f.do("POST", signInPath, `{"token":"`+goodToken+`"}`, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("sign-in: status %d, body %s", w.Code, w.Body)
	}
	info := decode[SessionInfo](t, w)
	if !info.SignedIn || info.Name != "ada" || info.Scope != agileplus.ScopeWrite || info.CSRF == "" {
		t.Fatalf("sign-in answered %+v", info)
	}
	return sessionCookie(t, w), info.CSRF
}

func TestAssets(t *testing.T) {
	f := newFixture(t, nil)
	t.Run("IndexAtRoot", func(t *testing.T) {
		w := f.do("GET", "/", "", nil)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), `src="/ui/assets/app.js"`) {
			t.Fatalf("GET /: %d %s %.80s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP = %q", csp)
		}
	})
	t.Run("EmbeddedFiles", func(t *testing.T) {
		for name, ctype := range map[string]string{"app.js": "text/javascript", "api.js": "text/javascript", "graph.js": "text/javascript", "app.css": "text/css"} {
			w := f.do("GET", assetPrefix+name, "", nil)
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() == 0 {
				t.Errorf("GET %s: %d %q, %d bytes", name, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
			}
		}
	})
	t.Run("NoListingNoMissing", func(t *testing.T) {
		for _, p := range []string{assetPrefix, assetPrefix + "nope.js", assetPrefix + "index.html", "/ui/other"} {
			w := f.do("GET", p, "", nil)
			if w.Code != 404 || errorOf(t, w).Error.Code != agileplus.ENOTFOUND {
				t.Errorf("GET %s: %d %s", p, w.Code, w.Body)
			}
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{{"POST", "/"}, {"DELETE", assetPrefix + "app.js"}, {"POST", sessionPath}, {"GET", signInPath}, {"GET", signOutPath}} {
			w := f.do(c.method, c.path, "", nil)
			if w.Code != 405 || w.Header().Get("Allow") == "" {
				t.Errorf("%s %s: %d, Allow %q", c.method, c.path, w.Code, w.Header().Get("Allow"))
			}
		}
	})
	t.Run("OtherPathsGoToTheAPI", func(t *testing.T) {
		for _, p := range []string{"/health", "/ready", "/openapi.json", "/nope", "/v1/projects"} {
			before := f.api.count()
			w := f.do("GET", p, "", nil)
			if f.api.count() != before+1 || decode[map[string]string](t, w)["path"] != p {
				t.Errorf("GET %s did not reach the API: %d %s", p, w.Code, w.Body)
			}
		}
	})
}

func TestSignIn(t *testing.T) {
	t.Run("Refused", func(t *testing.T) {
		f := newFixture(t, nil)
		for _, c := range []struct {
			name, body string
			hdr        map[string]string
			status     int
			field      string
		}{
			{"EmptyToken", `{"token":"  "}`, nil, 400, "token"},
			{"NotJSON", `token=x`, nil, 400, "body"},
			{"TooLong", `{"token":"` + strings.Repeat("a", maxSignInBytes) + `"}`, nil, 400, "body"},
			{"UnknownKey", `{"token":"ak_nobody"}`, nil, 401, ""},
			{"CrossSiteOrigin", `{"token":"` + goodToken + `"}`, map[string]string{"Origin": "https://evil.example"}, 403, ""},
			{"CrossSiteFetch", `{"token":"` + goodToken + `"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				w := f.do("POST", signInPath, c.body, c.hdr)
				if w.Code != c.status || errorOf(t, w).Error.Field != c.field {
					t.Fatalf("status %d, body %s; want %d naming field %q", w.Code, w.Body, c.status, c.field)
				}
				if len(w.Result().Cookies()) != 0 {
					t.Errorf("a refused sign-in set %v", w.Header()["Set-Cookie"])
				}
			})
		}
	})
	t.Run("Cookie", func(t *testing.T) {
		f := newFixture(t, nil)
		c, _ := f.signIn(t)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.Name != cookieName {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure without TLS", c)
		}
		f = newFixture(t, func(c *Config) { c.Secure = true })
		c, _ = f.signIn(t)
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Name != secureCookieName {
			t.Errorf("cookie with TLS %+v: want Secure, HttpOnly, SameSite=Strict, named %s", c, secureCookieName)
		}
	})
	t.Run("CacheHoldsNoToken", func(t *testing.T) {
		f := newFixture(t, nil)
		c, _ := f.signIn(t)
		f.cache.mu.Lock()
		defer f.cache.mu.Unlock()
		if len(f.cache.h) != 1 {
			t.Fatalf("cache holds %d entries, want 1 session", len(f.cache.h))
		}
		for k, h := range f.cache.h {
			for field, v := range h {
				if strings.Contains(k+field+v, goodToken) || strings.Contains(k+field+v, c.Value) {
					t.Errorf("the cache holds the key or the session id in %s %s", k, field)
				}
			}
		}
	})
	t.Run("SessionAnswers", func(t *testing.T) {
		f := newFixture(t, nil)
		w := f.do("GET", sessionPath, "", nil)
		if info := decode[SessionInfo](t, w); info.SignedIn || info.Auth != "keys" || info.CSRF != "" {
			t.Errorf("without a cookie: %+v", info)
		}
		c, csrf := f.signIn(t)
		w = f.do("GET", sessionPath, "", nil, c)
		if info := decode[SessionInfo](t, w); !info.SignedIn || info.Name != "ada" || info.CSRF != csrf {
			t.Errorf("with the cookie: %+v", info)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	})
	t.Run("RevokedKeyEndsTheSession", func(t *testing.T) {
		f := newFixture(t, nil)
		c, _ := f.signIn(t)
		f.keys.revoke(goodToken)
		if info := decode[SessionInfo](t, f.do("GET", sessionPath, "", nil, c)); info.SignedIn {
			t.Errorf("after the key was revoked: %+v", info)
		}
	})
	t.Run("NoAuthentication", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.Auth, c.Sessions = nil, nil })
		if info := decode[SessionInfo](t, f.do("GET", sessionPath, "", nil)); !info.SignedIn || info.Auth != "off" {
			t.Errorf("session on a server without authentication: %+v", info)
		}
		if w := f.do("POST", signInPath, `{"token":"x"}`, nil); w.Code != 409 {
			t.Errorf("sign-in without authentication: %d, want 409", w.Code)
		}
	})
}

func TestSessionCarriesTheKey(t *testing.T) {
	f := newFixture(t, nil)
	c, csrf := f.signIn(t)
	auth := func(w *httptest.ResponseRecorder) string {
		t.Helper()
		if w.Code != 200 {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
		return decode[map[string]string](t, w)["authorization"]
	}
	t.Run("ReadWithoutCSRF", func(t *testing.T) {
		if got := auth(f.do("GET", "/v1/projects", "", nil, c)); got != "Bearer "+goodToken {
			t.Errorf("the API got Authorization %q", got)
		}
	})
	t.Run("ChangeNeedsCSRF", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			for name, hdr := range map[string]map[string]string{"none": nil, "wrong": {CSRFHeader: "nope"}, "empty": {CSRFHeader: ""}} {
				before := f.api.count()
				w := f.do(m, "/v1/projects", "{}", hdr, c)
				if w.Code != 403 || errorOf(t, w).Error.Code != agileplus.EFORBIDDEN || !strings.Contains(w.Body.String(), CSRFHeader) {
					t.Errorf("%s with %s CSRF token: %d %s, want 403 naming %s", m, name, w.Code, w.Body, CSRFHeader)
				}
				if f.api.count() != before {
					t.Errorf("%s with %s CSRF token reached the API", m, name)
				}
			}
			if got := auth(f.do(m, "/v1/projects", "{}", map[string]string{CSRFHeader: csrf}, c)); got != "Bearer "+goodToken {
				t.Errorf("%s with the CSRF token: the API got Authorization %q", m, got)
			}
		}
	})
	t.Run("AnotherSessionsCSRF", func(t *testing.T) {
		_, other := f.signIn(t)
		if w := f.do("POST", "/v1/projects", "{}", map[string]string{CSRFHeader: other}, c); w.Code != 403 {
			t.Errorf("a change with another session's CSRF token: %d, want 403", w.Code)
		}
	})
	t.Run("OwnAuthorizationWins", func(t *testing.T) {
		if got := auth(f.do("POST", "/v1/projects", "{}", map[string]string{"Authorization": "Bearer other"}, c)); got != "Bearer other" {
			t.Errorf("a request with its own key: the API got %q", got)
		}
	})
	t.Run("OnlyTheAPIGetsTheKey", func(t *testing.T) {
		for _, p := range []string{"/metrics", "/mcp"} {
			if got := auth(f.do("GET", p, "", nil, c)); got != "" {
				t.Errorf("GET %s with the cookie: the API got Authorization %q", p, got)
			}
		}
	})
	t.Run("UnknownCookie", func(t *testing.T) {
		bad := &http.Cookie{Name: cookieName, Value: "ses_forged"}
		if got := auth(f.do("POST", "/v1/projects", "{}", map[string]string{CSRFHeader: csrf}, bad)); got != "" {
			t.Errorf("a forged cookie: the API got Authorization %q", got)
		}
	})
	t.Run("SignOut", func(t *testing.T) {
		if w := f.do("POST", signOutPath, "", nil, c); w.Code != 403 {
			t.Fatalf("sign-out without the CSRF token: %d, want 403", w.Code)
		}
		w := f.do("POST", signOutPath, "", map[string]string{CSRFHeader: csrf}, c)
		if w.Code != 204 {
			t.Fatalf("sign-out: %d %s", w.Code, w.Body)
		}
		if gone := sessionCookie(t, w); gone.MaxAge >= 0 || gone.Value != "" {
			t.Errorf("sign-out cookie %+v: want it cleared", gone)
		}
		if got := auth(f.do("GET", "/v1/projects", "", nil, c)); got != "" {
			t.Errorf("after sign-out the API got Authorization %q", got)
		}
		if info := decode[SessionInfo](t, f.do("GET", sessionPath, "", nil, c)); info.SignedIn {
			t.Errorf("after sign-out: %+v", info)
		}
	})
}

// code asks for a sign-in code with the Authorization header given.
func (f *fixture) code(t *testing.T, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	hdr := map[string]string{}
	if authorization != "" {
		hdr["Authorization"] = authorization
	}
	return f.do("POST", codePath, "", hdr)
}

func (f *fixture) newCode(t *testing.T, token string) string {
	t.Helper()
	w := f.code(t, "Bearer "+token)
	if w.Code != 200 {
		t.Fatalf("POST %s: %d %s", codePath, w.Code, w.Body)
	}
	c := decode[Code](t, w)
	if c.Code == "" || time.Until(c.ExpiresAt) > CodeTTL || time.Until(c.ExpiresAt) <= 0 {
		t.Fatalf("POST %s answered %+v", codePath, c)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("asking for a code set %v: the code, not its caller, signs in", w.Header()["Set-Cookie"])
	}
	return c.Code
}

func TestSignInCode(t *testing.T) {
	t.Run("SignsInOnce", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.newCode(t, goodToken)
		w := f.do("POST", signInPath, `{"code":"`+code+`"}`, nil)
		if w.Code != 200 {
			t.Fatalf("sign-in with the code: %d %s", w.Code, w.Body)
		}
		info := decode[SessionInfo](t, w)
		if !info.SignedIn || info.Name != "ada" || info.CSRF == "" {
			t.Fatalf("sign-in with the code answered %+v", info)
		}
		c := sessionCookie(t, w)
		if got := decode[map[string]string](t, f.do("GET", "/v1/projects", "", nil, c))["authorization"]; got != "Bearer "+goodToken {
			t.Errorf("the session of the code sent the API %q, want the key the code was made with", got)
		}
		w = f.do("POST", signInPath, `{"code":"`+code+`"}`, nil)
		if w.Code != 401 || len(w.Result().Cookies()) != 0 || !strings.Contains(errorOf(t, w).Error.Message, "agileplus board") {
			t.Errorf("the code a second time: %d %s, want 401 and no cookie", w.Code, w.Body)
		}
	})
	t.Run("Expires", func(t *testing.T) {
		clk := time.Now()
		f := newFixture(t, func(c *Config) { c.Sessions.Now = func() time.Time { return clk } })
		code := f.newCode(t, goodToken)
		clk = clk.Add(CodeTTL)
		if w := f.do("POST", signInPath, `{"code":"`+code+`"}`, nil); w.Code != 401 || len(w.Result().Cookies()) != 0 {
			t.Errorf("the code at its deadline: %d %s, want 401", w.Code, w.Body)
		}
	})
	t.Run("RefusedWhenWrong", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.newCode(t, goodToken)
		for _, bad := range []string{"sic_nope", code + "x", strings.ToUpper(code), "ses_" + code[4:]} {
			w := f.do("POST", signInPath, `{"code":"`+bad+`"}`, nil)
			if w.Code != 401 || len(w.Result().Cookies()) != 0 {
				t.Errorf("code %q: %d %s, want 401 and no cookie", bad, w.Code, w.Body)
			}
		}
		if w := f.do("POST", signInPath, `{"code":"`+code+`","token":"`+goodToken+`"}`, nil); w.Code != 400 || errorOf(t, w).Error.Field != "code" {
			t.Errorf("a code and a token: %d %s, want 400 naming code", w.Code, w.Body)
		}
		if w := f.do("POST", signInPath, `{"code":"`+code+`"}`, nil); w.Code != 200 {
			t.Errorf("the right code after wrong ones: %d %s", w.Code, w.Body)
		}
	})
	t.Run("CrossSiteRefused", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.newCode(t, goodToken)
		w := f.do("POST", signInPath, `{"code":"`+code+`"}`, map[string]string{"Origin": "https://evil.example"})
		if w.Code != 403 || len(w.Result().Cookies()) != 0 {
			t.Errorf("a code sent from another site: %d %s, want 403", w.Code, w.Body)
		}
	})
	t.Run("RevokedKeyAfterTheCode", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.newCode(t, goodToken)
		f.keys.revoke(goodToken)
		if w := f.do("POST", signInPath, `{"code":"`+code+`"}`, nil); w.Code != 401 || len(w.Result().Cookies()) != 0 {
			t.Errorf("a code of a key revoked since: %d %s, want 401", w.Code, w.Body)
		}
	})
	t.Run("NeedsAKey", func(t *testing.T) {
		f := newFixture(t, nil)
		c, _ := f.signIn(t)
		for name, w := range map[string]*httptest.ResponseRecorder{
			"NoAuthorization":   f.code(t, ""),
			"UnknownKey":        f.code(t, "Bearer ak_nobody"),
			"NotBearer":         f.code(t, "Basic "+goodToken),
			"EmptyBearer":       f.code(t, "Bearer "),
			"SessionCookieOnly": f.do("POST", codePath, "", nil, c),
		} {
			if w.Code != 401 || errorOf(t, w).Error.Code != agileplus.EUNAUTHORIZED || w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %d %s, want 401", name, w.Code, w.Body)
			}
		}
		if w := f.do("GET", codePath, "", map[string]string{"Authorization": "Bearer " + goodToken}); w.Code != 405 {
			t.Errorf("GET %s: %d, want 405", codePath, w.Code)
		}
	})
	t.Run("CacheHoldsNoCodeNorKey", func(t *testing.T) {
		f := newFixture(t, nil)
		code := f.newCode(t, goodToken)
		f.cache.mu.Lock()
		defer f.cache.mu.Unlock()
		for k, h := range f.cache.h {
			for field, v := range h {
				if strings.Contains(k+field+v, goodToken) || strings.Contains(k+field+v, code) {
					t.Errorf("the cache holds the key or the code in %s %s", k, field)
				}
			}
		}
	})
	t.Run("NoAuthentication", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.Auth, c.Sessions = nil, nil })
		if w := f.code(t, "Bearer x"); w.Code != 409 {
			t.Errorf("a code without authentication: %d, want 409", w.Code)
		}
	})
}

// TestNoSessionWithoutAKeyOrCode: no request without a key or a code gets
// a session, whatever name it reaches the server by.
func TestNoSessionWithoutAKeyOrCode(t *testing.T) {
	f := newFixture(t, nil)
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost."} {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/", ""}, {"GET", sessionPath, ""}, {"POST", signInPath, "{}"}, {"POST", signInPath, `{"code":""}`},
			{"POST", codePath, ""}, {"POST", signOutPath, ""}, {"GET", "/v1/projects", ""},
		} {
			var rd io.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			r := httptest.NewRequest(c.method, "http://"+host+c.path, rd)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			w := httptest.NewRecorder()
			f.board.ServeHTTP(w, r)
			for _, ck := range w.Result().Cookies() {
				if ck.MaxAge >= 0 {
					t.Errorf("%s %s on %s set %s", c.method, c.path, host, ck.Name)
				}
			}
			if c.path == sessionPath {
				if info := decode[SessionInfo](t, w); info.SignedIn {
					t.Errorf("/ui/session on %s without a key: %+v", host, info)
				}
			}
		}
	}
	f.cache.mu.Lock()
	defer f.cache.mu.Unlock()
	if len(f.cache.h) != 0 {
		t.Errorf("the cache holds %d entries after requests without a key or code", len(f.cache.h))
	}
}
