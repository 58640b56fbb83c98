package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// countLimiter allows Quota requests per key, forever, and records the
// keys it was asked about. The adapters' own limiters are tested by the
// cache contract suite (internal/cachetest); this one tests the HTTP side.
type countLimiter struct {
	mu    sync.Mutex
	used  map[string]int
	asked []string
	err   error
}

func (c *countLimiter) Allow(_ context.Context, key string, l agileplus.RateLimit) (agileplus.RateDecision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, key)
	if c.err != nil {
		return agileplus.RateDecision{}, c.err
	}
	if c.used == nil {
		c.used = map[string]int{}
	}
	if c.used[key] >= l.Quota {
		return agileplus.RateDecision{RetryAfter: 1500 * time.Millisecond, Reset: 90 * time.Second}, nil
	}
	c.used[key]++
	return agileplus.RateDecision{Allowed: true, Remaining: l.Quota - c.used[key], Reset: time.Duration(c.used[key]) * 30 * time.Second}, nil
}

func (c *countLimiter) lastAsked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.asked) == 0 {
		return ""
	}
	return c.asked[len(c.asked)-1]
}

// mapAuth knows keys by token.
type mapAuth map[string]*agileplus.Principal

func (a mapAuth) Authenticate(_ context.Context, token string) (*agileplus.Principal, error) {
	if p, ok := a[token]; ok {
		return p, nil
	}
	return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "unknown API key")
}

// rejections records what a RateLimitObserver is told.
type rejections struct {
	seenRequests
	mu      sync.Mutex
	classes []string
}

func (r *rejections) ObserveRateLimited(class string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.classes = append(r.classes, class)
}

func limitedServer(t *testing.T, lim agileplus.RateLimiter, limits RateLimits, auth Authenticator) (*httptest.Server, *rejections) {
	t.Helper()
	s := NewServer(nil, nil, nil, "test") // no Tracker: the routes used here do not reach it
	s.Limiter, s.RateLimits, s.Auth = lim, limits, auth
	obs := &rejections{}
	s.Requests = obs
	s.MCP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, obs
}

func send(t *testing.T, srv *httptest.Server, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestRateLimitRefusesOverQuota(t *testing.T) {
	lim := &countLimiter{}
	auth := mapAuth{
		"a": {KeyID: "key_a", Name: "alice", Scope: agileplus.ScopeAdmin},
		"b": {KeyID: "key_b", Name: "bob", Scope: agileplus.ScopeRead},
	}
	srv, obs := limitedServer(t, lim, RateLimits{Read: agileplus.RateLimit{Quota: 2, Window: time.Minute}}, auth)

	for i, wantLeft := range []string{"1", "0"} {
		resp, body := send(t, srv, "GET", "/v1/whoami", "a", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s; want 200", i+1, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("RateLimit-Policy"), `"read";q=2;w=60`; got != want {
			t.Fatalf("RateLimit-Policy = %q, want %q", got, want)
		}
		if got, want := resp.Header.Get("RateLimit"), `"read";r=`+wantLeft+`;t=`+[]string{"30", "60"}[i]; got != want {
			t.Fatalf("request %d: RateLimit = %q, want %q", i+1, got, want)
		}
	}
	resp, body := send(t, srv, "GET", "/v1/whoami", "a", "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("request 3: %d %s; want 429", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After = %q, want 2 (1.5 s rounded up)", got)
	}
	if got, want := resp.Header.Get("RateLimit"), `"read";r=0;t=90`; got != want {
		t.Fatalf("RateLimit of the 429 = %q, want %q", got, want)
	}
	var e struct{ Error ErrorDetail }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != agileplus.EUNAVAILABLE || !strings.Contains(e.Error.Message, "read requests are limited to 2 per 1m0s for key alice") {
		t.Fatalf("429 body %s (%v); want code unavailable and a message naming the class, quota and key", body, err)
	}
	if resp, _ := send(t, srv, "GET", "/v1/whoami", "b", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("another key: %d; want 200, a bucket of its own", resp.StatusCode)
	}
	if got := lim.lastAsked(); got != "ratelimit:read:key:key_b" {
		t.Fatalf("bucket %q; want ratelimit:read:key:key_b", got)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.classes) != 1 || obs.classes[0] != ClassRead {
		t.Fatalf("rejections observed %v; want [read]", obs.classes)
	}
}

func TestRateLimitClasses(t *testing.T) {
	lim := &countLimiter{}
	one := agileplus.RateLimit{Quota: 1000, Window: time.Minute}
	auth := mapAuth{"a": {KeyID: "key_a", Name: "alice", Scope: agileplus.ScopeAdmin}}
	srv, _ := limitedServer(t, lim, RateLimits{Read: one, Write: one, Admin: one, Import: one, Stream: one}, auth)
	for _, tc := range []struct{ method, path, body, class string }{
		{"GET", "/v1/whoami", "", ClassRead},
		{"GET", "/metrics", "", ClassRead},
		{"POST", "/v1/projects", "not json", ClassWrite},
		{"POST", "/v1/keys", "not json", ClassAdmin},
		{"GET", "/v1/webhooks", "", ClassAdmin},
		{"POST", "/v1/import", "", ClassImport},
		{"GET", "/v1/export", "", ClassImport},
		{"GET", "/v1/events/stream", "", ClassStream},
		{"GET", "/mcp", "", ClassStream},
		{"POST", "/mcp", "{}", ClassWrite},
		{"GET", "/health", "", ""},
		{"GET", "/ready", "", ""},
		{"GET", "/openapi.json", "", ""},
	} {
		before := lim.lastAsked()
		lim.mu.Lock()
		n := len(lim.asked)
		lim.mu.Unlock()
		resp, body := send(t, srv, tc.method, tc.path, "a", tc.body)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
		lim.mu.Lock()
		asked := len(lim.asked) > n
		lim.mu.Unlock()
		if tc.class == "" {
			if asked {
				t.Fatalf("%s %s, a public route, was counted (%s)", tc.method, tc.path, lim.lastAsked())
			}
			continue
		}
		if want := "ratelimit:" + tc.class + ":key:key_a"; !asked || lim.lastAsked() != want {
			t.Fatalf("%s %s counted in %q (before: %q); want %q", tc.method, tc.path, lim.lastAsked(), before, want)
		}
		if got := resp.Header.Get("RateLimit-Policy"); !strings.HasPrefix(got, `"`+tc.class+`"`) {
			t.Fatalf("%s %s: RateLimit-Policy %q; want class %s", tc.method, tc.path, got, tc.class)
		}
	}
}

// Without keys, each remote address has its bucket.
func TestRateLimitPerAddressWithoutKeys(t *testing.T) {
	lim := &countLimiter{}
	srv, _ := limitedServer(t, lim, RateLimits{Read: agileplus.RateLimit{Quota: 1, Window: time.Hour}}, nil)
	if resp, _ := send(t, srv, "GET", "/v1/whoami", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	if got := lim.lastAsked(); got != "ratelimit:read:addr:127.0.0.1" {
		t.Fatalf("bucket %q; want ratelimit:read:addr:127.0.0.1", got)
	}
	resp, body := send(t, srv, "GET", "/v1/whoami", "", "")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "address 127.0.0.1") {
		t.Fatalf("second: %d %s; want 429 naming the address", resp.StatusCode, body)
	}
}

// A limiter that fails lets requests through, without the headers; a
// class without a limit is not counted.
func TestRateLimiterFailureLetsRequestsThrough(t *testing.T) {
	lim := &countLimiter{err: agileplus.Errorf(agileplus.EUNAVAILABLE, "down")}
	srv, _ := limitedServer(t, lim, RateLimits{Read: agileplus.RateLimit{Quota: 1, Window: time.Hour}}, nil)
	for range 3 {
		resp, body := send(t, srv, "GET", "/v1/whoami", "", "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("%d %s (RateLimit %q); want 200 without RateLimit", resp.StatusCode, body, resp.Header.Get("RateLimit"))
		}
	}
	lim.mu.Lock()
	n := len(lim.asked)
	lim.mu.Unlock()
	send(t, srv, "POST", "/v1/projects", "", "not json")
	if lim.mu.Lock(); len(lim.asked) != n {
		t.Fatalf("a write, whose class has no limit, was counted")
	}
	lim.mu.Unlock()
}
