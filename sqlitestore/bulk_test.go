package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/storemigrate"
)

// plainStore hides the optional bulk ports of a store's transactions
// (BulkTx, BulkGraphTx, FenceReader), so that storemigrate.Run and BulkImport take
// the per-record path; the graph index and the outbox stay.
type plainStore struct {
	*sqlitestore.Store
}

type plainReadTx struct{ agileplus.ReadTx }
type plainTx struct{ agileplus.Tx }

func (p plainStore) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	return p.Store.View(ctx, func(tx agileplus.ReadTx) error { return fn(plainReadTx{tx}) })
}

func (p plainStore) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	return p.Store.Update(ctx, func(tx agileplus.Tx) error { return fn(plainTx{tx}) })
}

// openAt opens a new store in a file of its own, with opts applied to its
// Config, and returns it with its path.
func openAt(t *testing.T, opts ...func(*sqlitestore.Config)) (*sqlitestore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.db")
	cfg := sqlitestore.Config{Path: path}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := sqlitestore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// dumpTables returns every row of every table, rowids (hence insertion
// order) and column types included, one line per row; the columns named
// in hide show as a mark.
func dumpTables(t *testing.T, path string, hide ...string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, q := range []string{
		`SELECT rowid, * FROM projects ORDER BY rowid`,
		`SELECT rowid, * FROM features ORDER BY rowid`,
		`SELECT rowid, * FROM wps ORDER BY rowid`,
		`SELECT rowid, * FROM dependencies ORDER BY rowid`,
		`SELECT rowid, * FROM wp_references ORDER BY rowid`,
		`SELECT * FROM events ORDER BY gseq`,
		`SELECT * FROM relay_mark`,
		`SELECT * FROM published_early ORDER BY gseq`,
		`SELECT * FROM audit ORDER BY feature_id, seq`,
		`SELECT * FROM deferred_triggers`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(strings.Fields(q)[3])
			for i, v := range vals {
				if x, ok := v.([]byte); ok {
					v = "blob:" + string(x)
				}
				if slices.Contains(hide, cols[i]) {
					v = "<hidden>"
				}
				fmt.Fprintf(&b, " %s=%T:%v", cols[i], v, v)
			}
			out = append(out, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at row %d:\ngot:  %s\nwant: %s", what, i, got[i], want[i])
		}
	}
}

// checkOpenDeps compares every WP's open_deps counter with a count from
// scratch (migration 0002's).
func checkOpenDeps(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bad int
	err = db.QueryRow(`SELECT count(*) FROM wps WHERE open_deps <> (
		SELECT count(*) FROM dependencies d JOIN wps t ON t.id = d.to_id
		WHERE d.from_id = wps.id AND d.kind = 'depends_on' AND t.state <> 'done')`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Errorf("got %d WPs with a wrong open_deps counter (%v), want 0", bad, err)
	}
}

// testPlan writes a canonical bulk file of n WPs in the given project (a
// few features), with depends_on and relates_to edges between them, edges
// to WPs of other (existing) keys, feature edges and references.
func testPlan(project string, n int, existing []string, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	recs := []agileplus.Record{{Type: agileplus.RecProject, Key: project, Name: "Plan " + project}}
	for f := range 4 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecFeature, Project: project, Slug: fmt.Sprintf("%s-f%d", strings.ToLower(project), f),
			Title: fmt.Sprintf("Feature %d", f), State: agileplus.FeatureStates[f%len(agileplus.FeatureStates)]})
	}
	key := func(i int) string { return fmt.Sprintf("%s-%d", project, i) }
	for i := 1; i <= n; i++ {
		est := float64(rng.IntN(9))
		recs = append(recs, agileplus.Record{Type: agileplus.RecWP, Key: key(i), Feature: fmt.Sprintf("%s-f%d", strings.ToLower(project), i%4),
			Title: fmt.Sprintf("Work %d", i), Description: strings.Repeat("d", i%3), State: agileplus.WPStates[rng.IntN(len(agileplus.WPStates))], Estimate: &est})
	}
	seen := map[[2]string]bool{}
	edge := func(from, to, kind string) {
		if from != to && !seen[[2]string{from, to}] {
			seen[[2]string{from, to}] = true
			recs = append(recs, agileplus.Record{Type: agileplus.RecDependency, From: from, To: to, Kind: kind})
		}
	}
	for range 3 * n {
		a := 2 + rng.IntN(n-1)
		edge(key(a), key(max(1, a-1-rng.IntN(50))), agileplus.DependsOn)
	}
	for range n / 10 {
		edge(key(1+rng.IntN(n)), key(1+rng.IntN(n)), agileplus.RelatesTo)
	}
	for _, e := range existing {
		edge(key(1+rng.IntN(n)), e, agileplus.DependsOn)
	}
	edge(strings.ToLower(project)+"-f1", strings.ToLower(project)+"-f0", agileplus.DependsOn)
	edge(strings.ToLower(project)+"-f2", strings.ToLower(project)+"-f3", agileplus.RelatesTo)
	for i := range n / 20 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecReference, WP: key(1 + rng.IntN(n)), Repo: "github.com/acme/" + project, SHA: fmt.Sprintf("%07x", i+1)})
	}
	agileplus.SortRecords(recs)
	var buf bytes.Buffer
	if err := agileplus.WriteRecords(&buf, recs); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fixedService is a Service whose clock stands still, so that two of them
// doing the same things store the same times, and ids that differ only by
// where their generator started.
func fixedService(st agileplus.Store) *agileplus.Service {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	now := func() time.Time { return at }
	return &agileplus.Service{Store: st, Now: now, IDs: agileplus.NewIDGenerator(now)}
}

var idRE = regexp.MustCompile(`(prj|fea|wp|dep|evt|ref)_[0-9a-z]{26}`)

// normalize replaces ids by their rank among the dump's ids: the order
// they were made in.
func normalize(lines []string) []string {
	var ids []string
	for _, l := range lines {
		ids = append(ids, idRE.FindAllString(l, -1)...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = idRE.ReplaceAllStringFunc(l, func(id string) string {
			n, _ := slices.BinarySearch(ids, id)
			return fmt.Sprintf("%s#%d", id[:strings.IndexByte(id, '_')], n)
		})
	}
	return out
}

// seedStore gives a store the same history whatever its transactions
// take: WPs in several states, a done one, a live lease, released claims,
// a dependency removed, references.
func seedStore(t *testing.T, ctx context.Context, svc *agileplus.Service) {
	t.Helper()
	if _, err := svc.BulkImport(ctx, strings.NewReader(sampleFile), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := svc.CreateWP(ctx, "auth", agileplus.WPCreate{Title: "Later"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: w.Key, To: "CORE-5"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveDependency(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		l, err := svc.Claim(ctx, "CORE-5", agileplus.ClaimRequest{Agent: "a1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Release(ctx, "CORE-5", agileplus.ClaimRequest{Token: l.Token}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Claim(ctx, "WEB-1", agileplus.ClaimRequest{Agent: "a2", TTLSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddReference(ctx, "CORE-2", agileplus.ReferenceCreate{URL: "https://github.com/acme/core/pull/9", State: "closed"}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{agileplus.WPReview, agileplus.WPDone} { // WEB-1 waits on one WP less
		if _, err := svc.TransitionWP(ctx, "CORE-2", agileplus.Transition{To: to}, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportBulkMatchesPerRecord imports the same files into two stores
// with the same history, once through BulkTx and BulkGraphTx and once
// record by record, and finds the same rows in the same order (ids by
// rank, hashes aside), the same export, chains that verify and the same
// graph answers.
func TestImportBulkMatchesPerRecord(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "importer")
	bulkStore, bulkPath := openAt(t)
	plainBase, plainPath := openAt(t)
	stores := []struct {
		name string
		svc  *agileplus.Service
		path string
	}{
		{"bulk", fixedService(bulkStore), bulkPath},
		{"per record", fixedService(plainStore{plainBase}), plainPath},
	}
	files := [][]byte{
		testPlan("BIG", 1100, []string{"CORE-1", "CORE-2", "CORE-5", "WEB-1"}, 1),
		testPlan("MORE", 200, []string{"BIG-7", "BIG-1000"}, 2),
	}
	var exports [][]byte
	var results []string
	for _, s := range stores {
		seedStore(t, ctx, s.svc)
		for i, f := range files {
			res, err := s.svc.BulkImport(ctx, bytes.NewReader(f), agileplus.ImportOptions{})
			if err != nil {
				t.Fatalf("%s: import %d: %v", s.name, i, err)
			}
			results = append(results, fmt.Sprintf("%+v", *res))
		}
		var out bytes.Buffer
		if err := s.svc.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		exports = append(exports, out.Bytes())
		if _, ec, ac, err := storemigrate.Verify(ctx, s.svc.Store); err != nil || ec == 0 || ac == 0 {
			t.Fatalf("%s: verify: %d event chains, %d audit chains, %v", s.name, ec, ac, err)
		}
		checkOpenDeps(t, s.path)
	}
	sameLines(t, "results", results[:len(files)], results[len(files):])
	if !bytes.Equal(exports[0], exports[1]) {
		t.Errorf("exports differ")
	}
	// Hashes cover ids, which differ: the chains verified above.
	hashes := []string{"hash", "prev_hash"}
	sameLines(t, "tables", normalize(dumpTables(t, bulkPath, hashes...)), normalize(dumpTables(t, plainPath, hashes...)))
	for _, project := range []string{"BIG", "MORE", "CORE"} {
		var answers []string
		for _, s := range stores {
			ready, err := s.svc.Ready(ctx, project, "", agileplus.Page{Limit: agileplus.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			layers, err := s.svc.Layers(ctx, project, "")
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, w := range ready {
				b.WriteString(w.Key + " ")
			}
			fmt.Fprintf(&b, "%d layers", len(layers.Layers))
			answers = append(answers, b.String())
		}
		if answers[0] != answers[1] {
			t.Errorf("%s: bulk answers %s, per record %s", project, answers[0], answers[1])
		}
	}
}

// TestBulkTxMatchesPerRecord copies one varied store into two new ones
// with storemigrate.Run, through BulkTx and record by record, and finds exactly the
// same rows in the same order.
func TestBulkTxMatchesPerRecord(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	src, _ := openAt(t)
	svc := agileplus.NewService(src)
	seedStore(t, ctx, svc)
	if _, err := svc.BulkImport(ctx, bytes.NewReader(testPlan("BIG", 1200, []string{"CORE-1", "WEB-1"}, 3)), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	pending, err := src.PendingEvents(ctx, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, e := range pending {
		if i%3 == 0 {
			ids = append(ids, e.ID)
		}
	}
	if err := src.MarkPublished(ctx, ids); err != nil {
		t.Fatal(err)
	}
	var dumps [][]string
	for _, bulk := range []bool{true, false} {
		dst, path := openAt(t)
		var to agileplus.Store = dst
		if !bulk {
			to = plainStore{dst}
		}
		rep, err := storemigrate.Run(ctx, src, to, nil)
		if err != nil {
			t.Fatalf("migrate (bulk %v): %v", bulk, err)
		}
		if rep.WPs < 1200 || rep.Events < 4000 || rep.Pending == rep.Events {
			t.Fatalf("the source lacks variety: %+v", rep)
		}
		checkOpenDeps(t, path)
		dumps = append(dumps, dumpTables(t, path))
	}
	sameLines(t, "tables", dumps[0], dumps[1])
}

// TestInsertCounted stores the same WPs and edges with InsertCountedWPs
// and InsertCountedDependencies, two chunks of each, and one by one: edges
// between new WPs, to and from stored WPs (done or not), between features
// and of both kinds.
func TestInsertCounted(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &agileplus.Project{ID: "prj_1", Key: "BULK", Name: "Bulk", Version: 1, CreatedAt: now, UpdatedAt: now}
	fs := []*agileplus.Feature{
		{ID: "fea_1", ProjectID: p.ID, ProjectKey: p.Key, Slug: "one", Title: "One", State: "planned", Version: 1, CreatedAt: now, UpdatedAt: now},
		{ID: "fea_2", ProjectID: p.ID, ProjectKey: p.Key, Slug: "two", Title: "Two", State: "planned", Version: 1, CreatedAt: now, UpdatedAt: now},
	}
	wp := func(n int, state string) *agileplus.WP {
		return &agileplus.WP{ID: fmt.Sprintf("wp_%03d", n), Key: fmt.Sprintf("BULK-%d", n), ProjectID: p.ID, ProjectKey: p.Key, FeatureID: fs[n%2].ID,
			Title: "w", State: state, Estimate: 1, Version: 1, CreatedAt: now, UpdatedAt: now}
	}
	stored := []*agileplus.WP{wp(1, agileplus.WPDone), wp(2, agileplus.WPPlanned), wp(3, agileplus.WPDoing)}
	ws := []*agileplus.WP{wp(10, agileplus.WPPlanned), wp(11, agileplus.WPDone), wp(12, agileplus.WPDoing), wp(13, agileplus.WPPlanned)}
	dep := func(i int, from, to, kind, entity string) *agileplus.Dependency {
		return &agileplus.Dependency{ID: fmt.Sprintf("dep_%03d", i), EntityKind: entity, Kind: kind, From: from, To: to, Version: 1, CreatedAt: now}
	}
	ds := []*agileplus.Dependency{
		dep(1, "wp_010", "wp_011", agileplus.DependsOn, agileplus.KindWP), // to a new done WP
		dep(2, "wp_010", "wp_012", agileplus.DependsOn, agileplus.KindWP), // to a new open WP
		dep(3, "wp_010", "wp_001", agileplus.DependsOn, agileplus.KindWP), // to a stored done WP
		dep(4, "wp_010", "wp_002", agileplus.DependsOn, agileplus.KindWP), // to a stored open WP
		dep(5, "wp_012", "wp_013", agileplus.DependsOn, agileplus.KindWP),
		dep(6, "wp_002", "wp_013", agileplus.DependsOn, agileplus.KindWP), // from a stored WP
		dep(7, "wp_003", "wp_011", agileplus.DependsOn, agileplus.KindWP), // from a stored WP to a done one
		dep(8, "wp_013", "wp_012", agileplus.RelatesTo, agileplus.KindWP),
		dep(9, "fea_1", "fea_2", agileplus.DependsOn, agileplus.KindFeature),
		dep(10, "wp_013", "wp_003", agileplus.DependsOn, agileplus.KindWP),
	}
	var dumps [][]string
	var layers []string
	for _, bulk := range []bool{true, false} {
		st, path := openAt(t)
		err := st.Update(ctx, func(tx agileplus.Tx) error {
			if err := tx.InsertProject(ctx, p); err != nil {
				return err
			}
			for _, f := range fs {
				if err := tx.InsertFeature(ctx, f); err != nil {
					return err
				}
			}
			for _, w := range stored {
				if err := tx.InsertWP(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Update(ctx, func(tx agileplus.Tx) error {
			if bulk {
				// What the caller counts: depends_on edges from new
				// WPs, each open if its target is not done.
				state := map[string]string{}
				for _, w := range append(stored, ws...) {
					state[w.ID] = w.State
				}
				isNew := map[string]int{}
				for i, w := range ws {
					isNew[w.ID] = i
				}
				open := make([]int64, len(ws))
				counted := make([]bool, len(ds))
				for i, d := range ds {
					if j, ok := isNew[d.From]; ok && d.Kind == agileplus.DependsOn {
						counted[i] = true
						if state[d.To] != agileplus.WPDone {
							open[j]++
						}
					}
				}
				bg := tx.(agileplus.BulkGraphTx)
				for _, half := range [][2]int{{0, 2}, {2, len(ws)}} {
					if err := bg.InsertCountedWPs(ctx, ws[half[0]:half[1]], open[half[0]:half[1]]); err != nil {
						return err
					}
				}
				for _, half := range [][2]int{{0, 5}, {5, len(ds)}} {
					if err := bg.InsertCountedDependencies(ctx, ds[half[0]:half[1]], counted[half[0]:half[1]]); err != nil {
						return err
					}
				}
				return nil
			}
			for _, w := range ws {
				if err := tx.InsertWP(ctx, w); err != nil {
					return err
				}
			}
			for _, d := range ds {
				if err := tx.InsertDependency(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("bulk %v: %v", bulk, err)
		}
		checkOpenDeps(t, path)
		dumps = append(dumps, dumpTables(t, path))
		l, err := agileplus.NewService(st).Layers(ctx, p.Key, "")
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, fmt.Sprint(l.Layers))
	}
	sameLines(t, "tables", dumps[0], dumps[1])
	if layers[0] != layers[1] {
		t.Errorf("graph layers: bulk %s, per record %s", layers[0], layers[1])
	}
}

// TestBulkErrors checks that the bulk methods fail as the per-record ones
// do and leave nothing behind, and that appends in bulk and one by one
// continue each other's global sequence and chain heads.
func TestBulkErrors(t *testing.T) {
	ctx := t.Context()
	st, path := openAt(t)
	svc := agileplus.NewService(st)
	if _, err := svc.BulkImport(ctx, strings.NewReader(sampleFile), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before := dumpTables(t, path)
	core1, err := svc.WP(ctx, "CORE-1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, c := range map[string]struct {
		fn          func(tx agileplus.Tx, bt agileplus.BulkTx) error
		code, field string
	}{
		"project key taken": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertProjects(ctx, []*agileplus.Project{{ID: "prj_new", Key: "NEW", Name: "n", Version: 1}, {ID: "prj_core", Key: "CORE", Name: "c", Version: 1}})
		}, agileplus.ECONFLICT, "key"},
		"dependency twice": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			d := func(id string) *agileplus.Dependency {
				return &agileplus.Dependency{ID: id, EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn, From: core1.ID, To: "wp_x", FromKey: "CORE-1", ToKey: "X", Version: 1, CreatedAt: now}
			}
			return bt.InsertDependencies(ctx, []*agileplus.Dependency{d("dep_a"), d("dep_b")})
		}, agileplus.ECONFLICT, "to"},
		"event seq taken": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.AppendEvents(ctx, []*agileplus.Event{{ID: "evt_a", EntityID: core1.ID, Seq: 9, Time: now, Data: []byte("{}")}, {ID: "evt_b", EntityID: core1.ID, Seq: 1, Time: now, Data: []byte("{}")}})
		}, agileplus.ECONFLICT, ""},
		"wp of no feature": {func(_ agileplus.Tx, bt agileplus.BulkTx) error {
			return bt.InsertWPs(ctx, []*agileplus.WP{{ID: "wp_new", Key: "CORE-77", ProjectID: core1.ProjectID, FeatureID: "fea_none", State: "planned", Version: 1}}, []int64{0})
		}, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := st.Update(ctx, func(tx agileplus.Tx) error { return c.fn(tx, tx.(agileplus.BulkTx)) })
			if err == nil || agileplus.ErrorCode(err) != c.code && c.code != "" || agileplus.ErrorField(err) != c.field {
				t.Fatalf("got %v (%s, field %q), want an error %s field %q", err, agileplus.ErrorCode(err), agileplus.ErrorField(err), c.code, c.field)
			}
			sameLines(t, "tables after a failed command", dumpTables(t, path), before)
		})
	}
	t.Run("appends continue each other", func(t *testing.T) {
		var last int64
		err := st.Update(ctx, func(tx agileplus.Tx) error {
			seq, hash, err := tx.EventHead(ctx, core1.ID) // the head is now cached
			if err != nil {
				return err
			}
			es := []*agileplus.Event{
				{ID: "evt_1", EntityID: core1.ID, EntityKind: "wp", Type: "wp.noted", ProjectKey: "CORE", Seq: seq + 1, PrevHash: hash, Hash: "h1", Time: now, Data: []byte("{}")},
				{ID: "evt_2", EntityID: core1.ID, EntityKind: "wp", Type: "wp.noted", ProjectKey: "CORE", Seq: seq + 2, PrevHash: "h1", Hash: "h2", Time: now, Data: []byte("{}")},
			}
			if err := tx.(agileplus.BulkTx).AppendEvents(ctx, es); err != nil {
				return err
			}
			if s, h, err := tx.EventHead(ctx, core1.ID); err != nil || s != seq+2 || h != "h2" {
				return fmt.Errorf("head after a bulk append: %d %s %v; want %d h2", s, h, err, seq+2)
			}
			e := &agileplus.Event{ID: "evt_3", EntityID: "wp_other", EntityKind: "wp", Type: "wp.noted", ProjectKey: "CORE", Seq: 1, Hash: "h3", Time: now, Data: []byte("{}")}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
			if es[1].GlobalSeq != es[0].GlobalSeq+1 || e.GlobalSeq != es[1].GlobalSeq+1 {
				return fmt.Errorf("global sequences %d %d %d, want consecutive", es[0].GlobalSeq, es[1].GlobalSeq, e.GlobalSeq)
			}
			last = e.GlobalSeq
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Update(ctx, func(tx agileplus.Tx) error {
			if s, h, err := tx.EventHead(ctx, core1.ID); err != nil || h != "h2" {
				return fmt.Errorf("head after the commit: %d %s %v; want h2", s, h, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pending, err := st.PendingEvents(ctx, last-3, -1)
		if err != nil || len(pending) != 3 || pending[2].ID != "evt_3" {
			t.Fatalf("outbox: %d events after %d, %v; want evt_1, evt_2, evt_3", len(pending), last-3, err)
		}
	})
}

// TestCheckpointAfterAnswering checks that the writer copies the WAL back
// into the database on its own (SQLite's automatic checkpoint is off).
func TestCheckpointAfterAnswering(t *testing.T) {
	ctx := t.Context()
	st, path := openAt(t)
	if _, err := agileplus.NewService(st).BulkImport(ctx, bytes.NewReader(testPlan("BIG", 2000, nil, 4)), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the WAL copied back into the database file after a large import", func() bool {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size() > 1000*4096
	})
}

// TestWALStartsOverUnderSustainedWrites writes without a pause from many
// goroutines, so the checkpointer always races the writer, and checks that
// the WAL file stays a small multiple of the checkpoint interval instead
// of growing with everything written: the writer copies the tail and its
// next transaction starts the WAL over, and when checkpoints are slow (a
// busy disk) the writer waits for them rather than let the WAL run ahead.
func TestWALStartsOverUnderSustainedWrites(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	st, path := openAt(t, sqlitestore.WithCheckpointPages(100))
	svc := agileplus.NewService(st)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "WAL", Name: "w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateFeature(ctx, "WAL", agileplus.FeatureCreate{Slug: "f", Title: "f"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 250 {
				if _, err := svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "a work package with a title", Description: strings.Repeat("words ", 100)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// SQLite never shrinks the WAL file while the database is open (no
	// journal_size_limit), so its size now is the most the WAL ever held.
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The WAL file keeps the largest size the WAL ever had. A WAL that
	// never started over holds every page written, several times the
	// database; one that does stays well under it.
	walPages, dbPages := wal.Size()/4096, fi.Size()/4096
	t.Logf("the WAL grew to %d pages at most; the database has %d", walPages, dbPages)
	if dbPages < 2000 || walPages >= dbPages {
		t.Fatalf("the WAL grew to %d pages, the database file has %d: the WAL does not start over", walPages, dbPages)
	}
}
