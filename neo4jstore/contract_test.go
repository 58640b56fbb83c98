package neo4jstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/internal/storetest"
	"github.com/agileplus/agileplus/neo4jstore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	neo4jtest.StopShared()
	os.Exit(code)
}

// open empties the shared server's database and opens a store on it.
func open(t *testing.T, srv *neo4jtest.Server) *neo4jstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
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

func TestContract(t *testing.T) {
	neo4jtest.Shared(t) // started (or skipped) once, before the subtests
	storetest.Run(t, func(t *testing.T) agileplus.Store {
		return open(t, neo4jtest.Shared(t))
	})
}
