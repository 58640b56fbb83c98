package neo4jstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/storemigrate"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// plainStore hides the optional bulk ports of a store's transactions, so
// that storemigrate's Run and Verify take the per-record path.
type plainStore struct {
	agileplus.Store
	agileplus.Outbox
}

type plainReadTx struct{ agileplus.ReadTx }
type plainTx struct{ agileplus.Tx }

func plain(s agileplus.Store) plainStore { return plainStore{s, s.(agileplus.Outbox)} }

func (p plainStore) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	return p.Store.View(ctx, func(tx agileplus.ReadTx) error { return fn(plainReadTx{tx}) })
}

func (p plainStore) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	return p.Store.Update(ctx, func(tx agileplus.Tx) error { return fn(plainTx{tx}) })
}

// dumpGraph returns every node (but the lock counter and schema versions)
// with its labels and properties, and every relationship with its type,
// properties and ends, as sorted lines: what two loads of the same data
// must both hold, element ids aside.
func dumpGraph(t *testing.T, srv *neo4jtest.Server) []string {
	t.Helper()
	ctx := t.Context()
	name := `coalesce(%[1]s.id, %[1]s.name, %[1]s.url, %[1]s.repo + '@' + %[1]s.sha)`
	q := func(query string) []*neo4j.Record {
		res, err := neo4j.ExecuteQuery(ctx, srv.Driver(), query, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(neo4jtest.Database))
		if err != nil {
			t.Fatalf("dump: %v", err)
		}
		return res.Records
	}
	var out []string
	line := func(vs ...any) {
		b, err := json.Marshal(vs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	for _, r := range q(`MATCH (n) WHERE NOT n:Counter AND NOT n:SchemaVersion RETURN labels(n), properties(n)`) {
		labels := r.Values[0].([]any)
		slices.SortFunc(labels, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		line("node", labels, r.Values[1])
	}
	for _, r := range q(`MATCH (a)-[r]->(b) RETURN labels(a), ` + fmt.Sprintf(name, "a") + `, type(r), properties(r), labels(b), ` + fmt.Sprintf(name, "b")) {
		line(append([]any{"rel"}, r.Values...)...)
	}
	slices.Sort(out)
	return out
}

// TestBulkMatchesPerRecord copies one varied store from SQLite into Neo4j
// twice, once through the bulk ports (BulkTx, FenceReader) and once through
// the per-record methods, and finds the same digest and the very same
// nodes, labels, properties and relationships.
func TestBulkMatchesPerRecord(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	sqlite, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	lite := agileplus.NewService(sqlite)
	keys := buildRandomPlan(t, ctx, lite, rand.New(rand.NewPCG(3, 5)))
	addVariety(t, ctx, lite, sqlite, keys)

	srv := sharedNeo4j(t)
	load := func(bulk bool) (*storemigrate.Report, []string) {
		neo := open(t, srv)
		var src, dst agileplus.Store = sqlite, neo
		if !bulk {
			src, dst = plain(sqlite), plain(neo)
		}
		began := time.Now()
		rep, err := storemigrate.Run(ctx, src, dst, nil)
		if err != nil {
			t.Fatalf("migrate (bulk %v): %v", bulk, err)
		}
		t.Logf("migrated (bulk %v) %d WPs, %d dependencies, %d references, %d events in %s", bulk, rep.WPs, rep.Dependencies, rep.References, rep.Events,
			time.Since(began).Round(time.Millisecond))
		// Verify reads the same digest with and without FenceReader.
		for _, st := range []agileplus.Store{neo, plain(neo)} {
			d, _, _, err := storemigrate.Verify(ctx, st)
			if err != nil || d != rep.Digest {
				t.Errorf("verify: %s, %v; want %s", d, err, rep.Digest)
			}
		}
		return rep, dumpGraph(t, srv)
	}
	bulkRep, bulkDump := load(true)
	plainRep, plainDump := load(false)
	if bulkRep.Digest != plainRep.Digest {
		t.Errorf("digest: bulk %s, per record %s", bulkRep.Digest, plainRep.Digest)
	}
	if bulkRep.References == 0 || bulkRep.Pending == 0 || bulkRep.Pending == bulkRep.Events {
		t.Errorf("the plan lacks variety: %+v", bulkRep)
	}
	if len(bulkDump) != len(plainDump) {
		t.Errorf("bulk load holds %d nodes and relationships, per record %d", len(bulkDump), len(plainDump))
	}
	for i := range min(len(bulkDump), len(plainDump)) {
		if bulkDump[i] != plainDump[i] {
			t.Fatalf("first difference:\nbulk:       %s\nper record: %s", bulkDump[i], plainDump[i])
		}
	}
}

// addVariety adds to a plan what buildRandomPlan does not make:
// references, released claims and published events.
func addVariety(t *testing.T, ctx context.Context, lite *agileplus.Service, sqlite *sqlitestore.Store, keys []string) {
	t.Helper()
	// References: commits, a pull request named by three WPs with three
	// different repos (each reference keeps its own), one updated.
	for i, k := range keys[:3] {
		if _, err := lite.AddReference(ctx, k, agileplus.ReferenceCreate{Repo: "github.com/acme/api", SHA: fmt.Sprintf("%040d", i)}); err != nil {
			t.Fatal(err)
		}
		repo := []string{"github.com/acme/api", "github.com/fork/api", ""}[i]
		if _, err := lite.AddReference(ctx, k, agileplus.ReferenceCreate{Repo: repo, URL: "https://github.com/acme/api/pull/7", State: "open"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lite.AddReference(ctx, keys[0], agileplus.ReferenceCreate{URL: "https://github.com/acme/api/pull/7", State: "merged"}); err != nil {
		t.Fatal(err)
	}
	// Released claims leave a fencing counter above any lease; one agent
	// holds several WPs.
	for _, k := range keys[3:6] {
		w, err := lite.WP(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if w.Lease != nil || w.State == agileplus.WPDone {
			continue
		}
		for range 2 {
			l, err := lite.Claim(ctx, k, agileplus.ClaimRequest{Agent: "agent-shared"})
			if err != nil {
				t.Fatal(err)
			}
			if err := lite.Release(ctx, k, agileplus.ClaimRequest{Token: l.Token}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := lite.Claim(ctx, k, agileplus.ClaimRequest{Agent: "agent-shared", TTLSeconds: 3600}); err != nil {
			t.Fatal(err)
		}
	}
	// Half the outbox published.
	pending, err := sqlite.PendingEvents(ctx, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, e := range pending {
		if i%2 == 0 {
			ids = append(ids, e.ID)
		}
	}
	if err := sqlite.MarkPublished(ctx, ids); err != nil {
		t.Fatal(err)
	}

}

// TestBulkErrors checks that the bulk methods fail where the per-record
// ones would, and that AppendEvents continues the global sequence.
func TestBulkErrors(t *testing.T) {
	ctx := t.Context()
	neo := open(t, sharedNeo4j(t))
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
		if err := tx.AppendEvent(ctx, &agileplus.Event{ID: "ev-0", EntityID: p.ID, Seq: 1, Time: now}); err != nil {
			return err
		}
		es := []*agileplus.Event{{ID: "ev-1", EntityID: p.ID, Seq: 2, Time: now}, {ID: "ev-2", EntityID: p.ID, Seq: 3, Time: now}}
		if err := bt.AppendEvents(ctx, es); err != nil {
			return err
		}
		if es[0].GlobalSeq != 2 || es[1].GlobalSeq != 3 {
			return fmt.Errorf("global sequences %d, %d; want 2, 3", es[0].GlobalSeq, es[1].GlobalSeq)
		}
		e := &agileplus.Event{ID: "ev-3", EntityID: p.ID, Seq: 4, Time: now}
		if err := tx.AppendEvent(ctx, e); err != nil || e.GlobalSeq != 4 {
			return fmt.Errorf("append after a bulk append: gseq %d, %v; want 4", e.GlobalSeq, err)
		}
		return bt.InsertDependencies(ctx, []*agileplus.Dependency{{ID: "dep-1", EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
			From: wp(1, "").ID, To: wp(2, "").ID, Version: 1, CreatedAt: now}})
	})
	if err != nil {
		t.Fatal(err)
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
