package crosstest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
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
		props := r.Values[1].(map[string]any)
		if slices.Contains(labels, any("Event")) {
			// The order a commit's events were numbered in (neo4jstore
			// sequence.go): a copy numbers them in batches of its own;
			// their gseq, which that order gives, must still agree.
			delete(props, "stamp")
			delete(props, "ord")
		}
		line("node", labels, props)
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

	srv := neo4jtest.Shared(t)
	load := func(bulk bool) (*storemigrate.Report, []string) {
		neo := openNeo4j(t, srv)
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
	if bulkRep.References == 0 || bulkRep.Keys != 2 || bulkRep.Pending == 0 || bulkRep.Pending == bulkRep.Events {
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
	// API keys: one limited to a project and used, one revoked.
	used, err := lite.CreateKey(ctx, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeWrite, Projects: []string{strings.SplitN(keys[0], "-", 2)[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if err := lite.TouchKeys(ctx, map[string]time.Time{used.ID: time.Now()}); err != nil {
		t.Fatal(err)
	}
	gone, err := lite.CreateKey(ctx, agileplus.KeyCreate{Name: "old", Scope: agileplus.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lite.RevokeKey(ctx, gone.Prefix); err != nil {
		t.Fatal(err)
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
