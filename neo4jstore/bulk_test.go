package neo4jstore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
)

// TestBulkErrors checks that the bulk methods fail where the per-record
// ones would, and that AppendEvents continues the global sequence.
func TestBulkErrors(t *testing.T) {
	ctx := t.Context()
	neo := open(t, neo4jtest.Shared(t))
	now := time.Now()
	p := &agileplus.Project{ID: agileplus.PrefixProject + "1", Key: "BULK", Name: "Bulk", Version: 1, CreatedAt: now, UpdatedAt: now}
	f := &agileplus.Feature{ID: agileplus.PrefixFeature + "1", ProjectID: p.ID, Slug: "bulk", Title: "Bulk", State: "planned", Version: 1, CreatedAt: now, UpdatedAt: now}
	wp := func(n int, feature string) *agileplus.WP {
		return &agileplus.WP{ID: fmt.Sprintf("%s%d", agileplus.PrefixWP, n), Key: fmt.Sprintf("BULK-%d", n), ProjectID: p.ID, FeatureID: feature,
			Title: "w", State: agileplus.WPPlanned, Version: 1, CreatedAt: now, UpdatedAt: now}
	}
	update := func(fn func(tx agileplus.Tx, bt agileplus.BulkTx) error) error {
		return neo.Update(ctx, func(tx agileplus.Tx) error { return fn(tx, tx.(agileplus.BulkTx)) })
	}
	var all []*agileplus.Event
	for i := range 4 {
		all = append(all, &agileplus.Event{ID: fmt.Sprint("ev-", i), EntityID: p.ID, Seq: int64(i + 1), Time: now})
	}
	err := update(func(tx agileplus.Tx, bt agileplus.BulkTx) error {
		if err := bt.InsertProjects(ctx, []*agileplus.Project{p}); err != nil {
			return err
		}
		if err := bt.InsertFeatures(ctx, []*agileplus.Feature{f}); err != nil {
			return err
		}
		w2 := wp(2, f.ID)
		w2.Lease = &agileplus.Lease{WPID: w2.ID, Agent: "a", Token: 3, ClaimedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := bt.InsertWPs(ctx, []*agileplus.WP{wp(1, f.ID), w2, wp(3, f.ID)}, []int64{5, 2, 0}); err != nil {
			return err
		}
		fences, err := tx.(agileplus.FenceReader).FenceTokens(ctx, []string{wp(3, "").ID, wp(1, "").ID, wp(2, "").ID})
		if err != nil || !slices.Equal(fences, []int64{0, 5, 3}) {
			return fmt.Errorf("fences %v, %v; want [0 5 3]", fences, err)
		}
		if err := tx.AppendEvent(ctx, all[0]); err != nil {
			return err
		}
		if err := bt.AppendEvents(ctx, all[1:3]); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, all[3]); err != nil {
			return fmt.Errorf("append after a bulk append: %v", err)
		}
		return bt.InsertDependencies(ctx, []*agileplus.Dependency{{ID: "dep-1", EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
			From: wp(1, "").ID, To: wp(2, "").ID, Version: 1, CreatedAt: now}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Numbered at the commit, in the order appended, one after the other.
	for i, e := range all {
		if e.GlobalSeq != int64(i+1) {
			t.Errorf("event %s: global sequence %d, want %d", e.ID, e.GlobalSeq, i+1)
		}
	}
	if n, err := neo.PendingCount(ctx); err != nil || n != 4 {
		t.Errorf("pending: %d, %v; want 4", n, err)
	}
	for name, c := range map[string]struct {
		fn          func(tx agileplus.Tx, bt agileplus.BulkTx) error
		code, field string
	}{
		"wp of an unknown feature": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertWPs(ctx, []*agileplus.WP{wp(4, f.ID), wp(5, agileplus.PrefixFeature+"nope")}, []int64{0, 0})
		}, agileplus.ENOTFOUND, "feature"},
		"wp key taken": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertWPs(ctx, []*agileplus.WP{wp(4, f.ID), wp(1, f.ID)}, []int64{0, 0})
		}, agileplus.ECONFLICT, "key"},
		"bad wp key": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			w := wp(4, f.ID)
			w.Key = "BULK"
			return bt.InsertWPs(ctx, []*agileplus.WP{w}, []int64{0})
		}, agileplus.EINVALID, "key"},
		"edge exists": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertDependencies(ctx, []*agileplus.Dependency{{ID: "dep-2", EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
				From: wp(1, "").ID, To: wp(2, "").ID, Version: 1, CreatedAt: now}})
		}, agileplus.ECONFLICT, "to"},
		"edge twice": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			d := &agileplus.Dependency{ID: "dep-3", EntityKind: agileplus.KindWP, Kind: agileplus.RelatesTo, From: wp(1, "").ID, To: wp(2, "").ID, Version: 1, CreatedAt: now}
			d2 := *d
			d2.ID = "dep-4"
			return bt.InsertDependencies(ctx, []*agileplus.Dependency{d, &d2})
		}, agileplus.ECONFLICT, "to"},
		"edge to an unknown wp": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertDependencies(ctx, []*agileplus.Dependency{{ID: "dep-5", EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
				From: wp(1, "").ID, To: wp(9, "").ID, Version: 1, CreatedAt: now}})
		}, agileplus.ENOTFOUND, "from"},
		"reference of an unknown wp": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.PutReferences(ctx, []*agileplus.Reference{{ID: "ref-1", WPID: wp(9, "").ID, Kind: agileplus.RefCommit, Repo: "r", SHA: "s", CreatedAt: now, UpdatedAt: now}})
		}, agileplus.ENOTFOUND, "wp"},
		"event seq taken": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.AppendEvents(ctx, []*agileplus.Event{{ID: "ev-9", EntityID: p.ID, Seq: 2, Time: now}})
		}, agileplus.ECONFLICT, ""},
		"fence of an unknown wp": {func(tx agileplus.Tx, _ agileplus.BulkTx) error {
			_, err := tx.(agileplus.FenceReader).FenceTokens(ctx, []string{wp(1, "").ID, wp(9, "").ID})
			return err
		}, agileplus.ENOTFOUND, "wp"},
	} {
		err := update(c.fn)
		var de *agileplus.Error
		if agileplus.ErrorCode(err) != c.code || (c.field != "" && (!errors.As(err, &de) || de.Field != c.field)) {
			t.Errorf("%s: %v; want %s on field %q", name, err, c.code, c.field)
		}
	}
	// Nothing of the failed transactions stayed.
	if err := neo.View(ctx, func(tx agileplus.ReadTx) error {
		ws, err := tx.WPs(ctx, agileplus.WPFilter{Page: agileplus.Page{Limit: 100}})
		if len(ws) != 3 {
			return fmt.Errorf("%d WPs, want 3 (%v)", len(ws), err)
		}
		return err
	}); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

var _ agileplus.BulkTx = (*neo4jstore.Tx)(nil)
