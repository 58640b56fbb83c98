package sqlitestore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/agileplus/agileplus"
)

// TestFenceTokens reads fencing counters in bulk, in a read transaction,
// as FenceToken reads them one by one.
func TestFenceTokens(t *testing.T) {
	svc, st := openService(t)
	ctx := agileplus.WithActor(context.Background(), "test")
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "FEN", Name: "Fences"}); err != nil {
		t.Fatal(err)
	}
	f, err := svc.CreateFeature(ctx, "FEN", agileplus.FeatureCreate{Slug: "fen", Title: "Fences"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		w, err := svc.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "w"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
		for range i {
			l, err := svc.Claim(ctx, w.ID, agileplus.ClaimRequest{Agent: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Release(ctx, w.ID, agileplus.ClaimRequest{Token: l.Token}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := make([]int64, 0, 4)
	err = st.Update(ctx, func(tx agileplus.Tx) error {
		for _, id := range []string{ids[2], ids[0], ids[1], ids[2]} {
			n, err := tx.FenceToken(ctx, id)
			if err != nil {
				return err
			}
			want = append(want, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(want, []int64{2, 0, 1, 2}) {
		t.Fatalf("FenceToken: %v, want [2 0 1 2]", want)
	}
	err = st.View(ctx, func(tx agileplus.ReadTx) error {
		fr := tx.(agileplus.FenceReader)
		got, err := fr.FenceTokens(ctx, []string{ids[2], ids[0], ids[1], ids[2]})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("FenceTokens: %v, %v; want %v", got, err, want)
		}
		_, err = fr.FenceTokens(ctx, []string{ids[0], "wp_nope"})
		if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("FenceTokens of an unknown WP: %v, want ENOTFOUND", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
