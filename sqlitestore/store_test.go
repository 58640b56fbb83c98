package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

func TestReopenKeepsDataAndMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agileplus.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	svc := agileplus.NewService(s)
	p, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "login", Title: "Login"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.CreateWP(ctx, f.Slug, agileplus.WPCreate{Title: "Form"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.Key, "CORE-1"; got != want {
		t.Fatalf("got key %s, want %s", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path, Synchronous: "full"})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	svc = agileplus.NewService(s)
	got, err := svc.Project(ctx, p.ID)
	if err != nil || got.Key != "CORE" {
		t.Fatalf("got %v, %v; want project CORE", got, err)
	}
	n, err := s.PendingCount(ctx)
	if err != nil || n != 3 {
		t.Fatalf("got %d pending, %v; want 3", n, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]sqlitestore.Config{
		"no path":          {},
		"bad synchronous":  {Path: filepath.Join(t.TempDir(), "a.db"), Synchronous: "sometimes"},
		"unwritable place": {Path: "/proc/agileplus/a.db"},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := sqlitestore.Open(ctx, cfg); err == nil {
				s.Close()
				t.Fatal("got nil error, want one")
			}
		})
	}
}
