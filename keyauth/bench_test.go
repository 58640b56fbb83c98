package keyauth_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/keyauth"
)

// BenchmarkAuthenticate measures what authentication adds to a request:
// the same tiny handler without authentication (the baseline) and behind
// a bearer check on the cached path (one process owning SQLite) and the
// uncached one (a shared store: one store read per request). Each reports
// its p50 next to the mean.
func BenchmarkAuthenticate(b *testing.B) {
	svc := newService(b)
	k := mustCreate(b, svc, agileplus.KeyCreate{Name: "bench", Scope: agileplus.ScopeWrite})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	withAuth := func(a *keyauth.Authenticator) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !found {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			p, err := a.Authenticate(r.Context(), tok)
			if err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			ok.ServeHTTP(w, r.WithContext(agileplus.WithPrincipal(r.Context(), p)))
		})
	}
	cached := keyauth.New(keyauth.Config{Keys: svc, Touch: svc, Cache: true})
	uncached := keyauth.New(keyauth.Config{Keys: svc, Touch: svc})
	defer cached.Close()
	defer uncached.Close()
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"baseline", ok},
		{"cached", withAuth(cached)},
		{"uncached", withAuth(uncached)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v1/projects", nil)
			req.Header.Set("Authorization", "Bearer "+k.Token)
			w := httptest.NewRecorder()
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				c.h.ServeHTTP(w, req)
				took = append(took, time.Since(start))
			}
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d, want 204", w.Code)
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
		})
	}
}
