package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// wantScope is the scope policy: what each route must declare.
func wantScope(method, path string) string {
	switch {
	case path == "/health" || path == "/ready" || path == "/openapi.json":
		return scopePublic
	case strings.HasPrefix(path, "/v1/keys"), strings.HasPrefix(path, "/v1/webhooks"), strings.HasPrefix(path, "/v1/deadletters"),
		path == "/v1/import", path == "/v1/export", method == "PUT" && strings.HasSuffix(path, "/flags"):
		return agileplus.ScopeAdmin
	case method == "GET":
		return agileplus.ScopeRead
	default:
		return agileplus.ScopeWrite
	}
}

// TestEveryRouteDeclaresScope fails for a route that declares no scope,
// or one other than the policy's.
func TestEveryRouteDeclaresScope(t *testing.T) {
	s := NewServer(nil, nil, nil, "test")
	rs := s.routes()
	if len(rs) < 50 {
		t.Fatalf("only %d routes", len(rs))
	}
	for _, rt := range rs {
		if rt.scope == "" {
			t.Errorf("%s %s declares no scope: add .needs(...) (or scope:) to its entry", rt.method, rt.path)
			continue
		}
		if want := wantScope(rt.method, rt.path); rt.scope != want {
			t.Errorf("%s %s: scope %s, want %s", rt.method, rt.path, rt.scope, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tok := "ap_abcdefgh_" + strings.Repeat("0", 64)
	tests := []struct {
		name   string
		values []string
		want   string // the token, or a substring of the error
		ok     bool
	}{
		{"bearer", []string{"Bearer " + tok}, tok, true},
		{"lower-case scheme", []string{"bearer " + tok}, tok, true},
		{"surrounding spaces", []string{"  Bearer   " + tok + "  "}, tok, true},
		{"missing", nil, "agileplus key create", false},
		{"empty", []string{""}, "empty", false},
		{"spaces only", []string{"   "}, "empty", false},
		{"two", []string{"Bearer a", "Bearer b"}, "2 Authorization headers", false},
		{"basic", []string{"Basic abc"}, `"Basic"`, false},
		{"token alone", []string{tok}, "not Bearer", false},
		{"no token", []string{"Bearer"}, "no key after Bearer", false},
		{"too long", []string{"Bearer " + strings.Repeat("x", MaxAuthorizationBytes)}, "the limit is 4096", false},
		{"utf-8", []string{"Bearer é"}, "not printable ASCII", false},
		{"control", []string{"Bearer a\tb"}, "not printable ASCII (0x09", false},
		{"nul", []string{"Bearer \x00"}, "not printable ASCII (0x00", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Authorization", v)
			}
			got, err := bearerToken(h)
			switch {
			case tc.ok && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case !tc.ok && (agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %q, %v; want unauthorized with %q", got, err, tc.want)
			}
		})
	}
}

func TestActorFor(t *testing.T) {
	p := &agileplus.Principal{Name: "ci-bot"}
	tests := []struct {
		p           *agileplus.Principal
		header, out string
	}{
		{nil, "", ""},
		{nil, "alice", "alice"},
		{p, "", "ci-bot"},
		{p, "ci-bot", "ci-bot"},
		{p, "ci-bot/job-7", "ci-bot/job-7"},
		{p, "alice", "ci-bot/alice"},
		{p, "ci-bot2", "ci-bot/ci-bot2"},
		{p, "ci-bot-x/y", "ci-bot/ci-bot-x/y"},
	}
	for _, tc := range tests {
		if got := actorFor(tc.p, tc.header); got != tc.out {
			t.Errorf("actorFor(%v, %q) = %q, want %q", tc.p, tc.header, got, tc.out)
		}
	}
}

// TestActorIsCutAfterTheKeyName: a long header is cut, never the name.
func TestActorIsCutAfterTheKeyName(t *testing.T) {
	for _, name := range []string{"ci-bot", strings.Repeat("é", 100)} {
		p := &agileplus.Principal{Name: name, Scope: agileplus.ScopeWrite}
		r, _ := http.NewRequest("POST", "/", nil)
		r.Header.Set(ActorHeader, strings.Repeat("x", 500))
		r = withActor(r.WithContext(agileplus.WithPrincipal(r.Context(), p)))
		got := agileplus.ActorFrom(r.Context())
		if !strings.HasPrefix(got, name) || len(got) > max(MaxActorBytes, len(name)) {
			t.Errorf("name of %d bytes: got an actor of %d bytes starting %q", len(name), len(got), got[:min(len(got), 20)])
		}
	}
}
