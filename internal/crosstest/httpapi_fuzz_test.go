package crosstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

var fuzzMethods = []string{"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"}

// FuzzServer sends any method, path, query, body and headers to a server
// over a real store, with authentication on or off: it never answers 500.
func FuzzServer(f *testing.F) {
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(f.TempDir(), "a.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	svc := agileplus.NewService(store)
	ctx := context.Background()
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		f.Fatal(err)
	}
	feat, err := svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "login", Title: "Login"})
	if err != nil {
		f.Fatal(err)
	}
	for range 2 {
		if _, err := svc.CreateWP(ctx, feat.ID, agileplus.WPCreate{Title: "w"}); err != nil {
			f.Fatal(err)
		}
	}
	admin, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "admin", Scope: agileplus.ScopeAdmin})
	if err != nil {
		f.Fatal(err)
	}
	open := httpapi.NewServer(svc, nil, nil, "test")
	open.Keys = svc
	guarded := httpapi.NewServer(svc, nil, nil, "test")
	guarded.Keys, guarded.Auth = svc, keyAuth{svc}

	// Seeds: one request per operation, as the route × scope test sends.
	srv := httptest.NewServer(open)
	for _, op := range operations(f, srv) {
		m := strings.Index(strings.Join(fuzzMethods, " "), op.method) / 4
		f.Add(uint8(m), pathValues.Replace(op.path), "limit=2", `{}`, "", true, true)
	}
	srv.Close()
	f.Add(uint8(1), "/v1/projects", "", `{"key":"NEW","name":"x"}`, "me", false, false)
	f.Add(uint8(1), "/v1/features/login/wps", "", `{"title":"t","estimate":1e400}`, "", true, true)
	f.Add(uint8(2), "/v1/wps/CORE-1", "", `{"title":"x"}`, "", true, false)
	f.Add(uint8(0), "/v1/events", "after=-1&limit=99999", "", "", true, true)
	f.Add(uint8(1), "/v1/import", "allow_cycles=yes", "{\"type\":\"project\"}\n{", "", true, true)
	f.Add(uint8(1), "/v1/keys", "", `{"name":"k","scope":"admin","projects":["CORE"]}`, "", true, true)

	f.Fuzz(func(t *testing.T, method uint8, path, rawQuery, body, actor string, withAuth, withKey bool) {
		h := http.Header{}
		h["Content-Type"] = []string{"application/json"}
		h[httpapi.ActorHeader] = []string{actor}
		if withKey {
			h["Authorization"] = []string{"Bearer " + admin.Token}
		}
		r := &http.Request{
			Method: fuzzMethods[int(method)%len(fuzzMethods)], URL: &url.URL{Path: path, RawQuery: rawQuery},
			Header: h, Body: http.NoBody, Host: "x", RequestURI: path,
		}
		if body != "" {
			r.Body, r.ContentLength = readCloser{strings.NewReader(body)}, int64(len(body))
		}
		r = r.WithContext(t.Context())
		w := httptest.NewRecorder()
		s := open
		if withAuth {
			s = guarded
		}
		s.ServeHTTP(w, r)
		// 503 is an answer (no bus, no event feed on this server); 500 never is.
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s?%s %q: got %d %s", r.Method, path, rawQuery, body, w.Code, w.Body)
		}
	})
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
