package agileplus_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// Service.OnClaim hears of each claim taken, and whether it took over an
// expired lease; a refused claim says nothing.
func TestServiceOnClaim(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := agileplus.NewService(store)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Now = func() time.Time { return now }
	var got []bool
	s.OnClaim = func(tookOver bool) { got = append(got, tookOver) }

	if _, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "CL", Name: "Claims"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFeature(ctx, "CL", agileplus.FeatureCreate{Slug: "claims", Title: "Claims"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWP(ctx, "claims", agileplus.WPCreate{Title: "One"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "CL-1", agileplus.ClaimRequest{Agent: "a", TTLSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "CL-1", agileplus.ClaimRequest{Agent: "b"}); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
		t.Fatalf("claim of a live lease: got %v, want a conflict", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.Claim(ctx, "CL-1", agileplus.ClaimRequest{Agent: "b"}); err != nil {
		t.Fatal(err)
	}
	// next with claim is a claim too; next without one is not.
	if _, err := s.CreateWP(ctx, "claims", agileplus.WPCreate{Title: "Two"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx, agileplus.NextRequest{Project: "CL"}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Next(ctx, agileplus.NextRequest{Project: "CL", Claim: true, Agent: "c"}); err != nil || r.Lease == nil {
		t.Fatalf("next with claim: %+v, %v", r, err)
	}
	if want := []bool{false, true, false}; !slices.Equal(got, want) {
		t.Errorf("got OnClaim calls %v, want %v", got, want)
	}
}
