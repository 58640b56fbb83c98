package crosstest

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/storetest"
	"github.com/agileplus/agileplus/sqlitestore"
)

// TestHTTPContract runs the store contract suite with every command and
// query going over HTTP: the client against a server over the Service on a
// SQLite store. It proves the transport equivalent to the Service.
func TestHTTPContract(t *testing.T) {
	open := func(t *testing.T) agileplus.Store {
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "agileplus.db")})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	}
	overHTTP := storetest.Transport{
		Tracker: func(t *testing.T, svc *agileplus.Service) agileplus.Tracker {
			srv := httptest.NewServer(httpapi.NewServer(svc, nil, nil, "test"))
			t.Cleanup(srv.Close)
			return httpapi.NewClient(srv.URL, httpapi.WithActor(storetest.Actor))
		},
		// The server is a span of its own: events record its traceparent,
		// not the caller's (see httpapi/trace.go).
		OwnSpan: true,
	}
	storetest.RunThrough(t, open, overHTTP)
}
