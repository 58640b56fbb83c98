package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// failingTracker fails the nth WP create.
type failingTracker struct {
	agileplus.Tracker
	n int
}

func (f *failingTracker) CreateWP(ctx context.Context, feature string, c agileplus.WPCreate) (*agileplus.WP, error) {
	if f.n--; f.n == 0 {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "server went away")
	}
	return f.Tracker.CreateWP(ctx, feature, c)
}

// A seed that stops part way says so, and says how to start over.
func TestSeedStoppedPartWaySaysSo(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tr := &failingTracker{Tracker: agileplus.NewService(store), n: 5}
	_, err = seedSample(ctx, tr, sampleData())
	if err == nil || !strings.Contains(err.Error(), "server went away") || !strings.Contains(err.Error(), "stopped part way") || !strings.Contains(err.Error(), "fresh --data") {
		t.Fatalf("err = %v, want the cause and how to start over", err)
	}
	_, err = seedSample(ctx, tr, sampleData())
	if err == nil || !strings.Contains(err.Error(), "project CORE exists") {
		t.Fatalf("second seed: err = %v, want it refused naming CORE", err)
	}
}
