package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// failingTracker fails the nth WP move, or the import when n is 0.
type failingTracker struct {
	agileplus.Tracker
	n int
}

func (f *failingTracker) TransitionWP(ctx context.Context, ref string, t agileplus.Transition, ifVersion int64) (*agileplus.WP, error) {
	if f.n--; f.n == 0 {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "server went away")
	}
	return f.Tracker.TransitionWP(ctx, ref, t, ifVersion)
}

func (f *failingTracker) BulkImport(ctx context.Context, r io.Reader, opts agileplus.ImportOptions) (*agileplus.ImportResult, error) {
	if f.n == 0 {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "server went away")
	}
	return f.Tracker.BulkImport(ctx, r, opts)
}

func openSeedStore(t *testing.T, ctx context.Context) *agileplus.Service {
	t.Helper()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return agileplus.NewService(store)
}

// A seed that stops part way says so, and says how to start over.
func TestSeedStoppedPartWaySaysSo(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	tr := &failingTracker{Tracker: openSeedStore(t, ctx), n: 5}
	_, err := seedSample(ctx, tr, sampleData())
	if err == nil || !strings.Contains(err.Error(), "server went away") || !strings.Contains(err.Error(), "stopped part way") || !strings.Contains(err.Error(), "fresh --data") {
		t.Fatalf("err = %v, want the cause and how to start over", err)
	}
	_, err = seedSample(ctx, tr, sampleData())
	if err == nil || !strings.Contains(err.Error(), "project CORE exists") {
		t.Fatalf("second seed: err = %v, want it refused naming CORE", err)
	}
}

// The import is one transaction: when it fails, nothing stays, and seed
// runs again as on an empty server.
func TestSeedImportFailedLeavesNothing(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	tr := &failingTracker{Tracker: openSeedStore(t, ctx), n: 0}
	_, err := seedSample(ctx, tr, sampleData())
	if err == nil || !strings.Contains(err.Error(), "server went away") || strings.Contains(err.Error(), "stopped part way") {
		t.Fatalf("err = %v, want the cause and no part way", err)
	}
	tr.n = -1
	if _, err := seedSample(ctx, tr, sampleData()); err != nil {
		t.Fatalf("second seed: %v", err)
	}
}

// The sample file is what export writes once seed has loaded it: its
// states are the ones the seed's moves reach.
func TestSampleFileIsItsExport(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	svc := openSeedStore(t, ctx)
	data := sampleData()
	if _, err := seedSample(ctx, svc, data); err != nil {
		t.Fatal(err)
	}
	var got, want bytes.Buffer
	if err := svc.BulkExport(ctx, &got, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	agileplus.SortRecords(data.records)
	if err := agileplus.WriteRecords(&want, data.records); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("export after seed differs from sampledata.jsonl:\ngot:\n%s\nwant:\n%s", &got, &want)
	}
}

// With --once, a server holding the whole sample is left alone and the
// command succeeds; one holding part of it is still refused.
func TestSeedOnce(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	svc := openSeedStore(t, ctx)
	if loaded, err := sampleLoaded(ctx, svc, sampleData()); err != nil || loaded != nil {
		t.Fatalf("empty server: loaded %v, %v; want nil", loaded, err)
	}
	if _, err := seedSample(ctx, svc, sampleData()); err != nil {
		t.Fatal(err)
	}
	loaded, err := sampleLoaded(ctx, svc, sampleData())
	if err != nil || strings.Join(loaded, ",") != "CORE,WEB,MOB" {
		t.Fatalf("seeded server: loaded %v, %v; want CORE,WEB,MOB", loaded, err)
	}

	part := openSeedStore(t, ctx)
	if _, err := part.CreateProject(ctx, agileplus.ProjectCreate{Key: "WEB", Name: "Web"}); err != nil {
		t.Fatal(err)
	}
	if loaded, err := sampleLoaded(ctx, part, sampleData()); err != nil || loaded != nil {
		t.Fatalf("part of the sample: loaded %v, %v; want nil", loaded, err)
	}
	if _, err := seedSample(ctx, part, sampleData()); err == nil || !strings.Contains(err.Error(), "project WEB exists") {
		t.Fatalf("part of the sample: err = %v, want it refused naming WEB", err)
	}
}
