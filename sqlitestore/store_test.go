package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

// TestGroupCommitIsolatesFailures runs many commands at once, so the writer
// groups them into shared transactions, and checks that a command that
// fails after writing leaves nothing behind while the others commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(ctx, func(tx agileplus.Tx) error {
				now := time.Now()
				p := &agileplus.Project{ID: fmt.Sprintf("prj_%03d", i), Key: fmt.Sprintf("P%03d", i), Name: "p", Version: 1, CreatedAt: now, UpdatedAt: now}
				if err := tx.InsertProject(ctx, p); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return agileplus.Errorf(agileplus.ERULE, "refused after writing")
				case 2:
					panic("boom")
				}
				return nil
			})
		}()
	}
	var failed int
	for range n {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if got, want := failed, n/2; got != want {
		t.Fatalf("got %d failed commands, want %d", got, want)
	}
	err = s.View(ctx, func(tx agileplus.ReadTx) error {
		ps, err := tx.Projects(ctx, agileplus.Page{Limit: 1000})
		if err != nil {
			return err
		}
		if len(ps) != n/2 {
			t.Errorf("got %d projects, want %d", len(ps), n/2)
		}
		for _, p := range ps {
			var i int
			fmt.Sscanf(p.Key, "P%03d", &i)
			if i%4 == 1 || i%4 == 2 {
				t.Errorf("project %s of a failed command was committed", p.Key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpdateAfterCloseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	err = s.Update(ctx, func(agileplus.Tx) error { return nil })
	if got := agileplus.ErrorCode(err); got != agileplus.EUNAVAILABLE {
		t.Fatalf("got %v (%s), want %s", err, got, agileplus.EUNAVAILABLE)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestChainHeadsSurviveFailedCommands appends events to one entity from
// many concurrent commands, half of which fail after appending; the chain
// must hold only the successful ones, unbroken.
func TestChainHeadsSurviveFailedCommands(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 100
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(ctx, func(tx agileplus.Tx) error {
				seq, prev, err := tx.EventHead(ctx, "prj_x")
				if err != nil {
					return err
				}
				e := &agileplus.Event{ID: fmt.Sprintf("evt_%03d", i), Type: "project.updated", EntityKind: agileplus.KindProject,
					EntityID: "prj_x", ProjectKey: "XX", Seq: seq + 1, PrevHash: prev, Time: time.Now(), Actor: "t", Data: []byte(`{}`)}
				e.Hash = e.ComputeHash()
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				if i%2 == 1 {
					return agileplus.Errorf(agileplus.ERULE, "refused after appending")
				}
				return nil
			})
		}()
	}
	for range n {
		<-errs
	}
	var events []*agileplus.Event
	err = s.View(ctx, func(tx agileplus.ReadTx) error {
		events, err = tx.Events(ctx, agileplus.EventFilter{EntityID: "prj_x", Limit: 1000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n/2 {
		t.Fatalf("got %d events, want %d", len(events), n/2)
	}
	if err := agileplus.VerifyEventChain(events); err != nil {
		t.Fatal(err)
	}
}

// TestCanceledCommandDoesNotFailItsBatch cancels one command's context in
// the middle of its writes while others share its transaction: the others
// must commit.
func TestCanceledCommandDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 60
	errs := make(chan error, n)
	for i := range n {
		go func() {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errs <- s.Update(cctx, func(tx agileplus.Tx) error {
				if i%3 == 1 {
					cancel() // the client went away mid-command
				}
				now := time.Now()
				return tx.InsertProject(cctx, &agileplus.Project{ID: fmt.Sprintf("prj_%03d", i), Key: fmt.Sprintf("C%03d", i), Name: "p", Version: 1, CreatedAt: now, UpdatedAt: now})
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("got %v, want every command committed", err)
		}
	}
	err = s.View(ctx, func(tx agileplus.ReadTx) error {
		ps, err := tx.Projects(ctx, agileplus.Page{Limit: 1000})
		if len(ps) != n {
			t.Errorf("got %d projects, want %d", len(ps), n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An events table from before the traceparent column gains it empty: old
// events read back with no traceparent and their chains still verify.
func TestTraceParentMigrationKeepsOldEvents(t *testing.T) {
	ctx := context.Background()
	s, path, _ := storeWithEvents(t, ctx, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before migration 0004.
	execAll(t, path, `ALTER TABLE events DROP COLUMN traceparent`, `DELETE FROM schema_migrations WHERE version = 4`)

	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	svc := agileplus.NewService(s)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	name := "Renamed"
	if _, err := svc.UpdateProject(agileplus.WithTraceParent(ctx, tp), "CORE", agileplus.ProjectUpdate{Name: &name}, 0); err != nil {
		t.Fatal(err)
	}
	var got []*agileplus.Event
	if err := s.AllEvents(ctx, func(e *agileplus.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	for i, want := range []string{"", tp} {
		if got[i].TraceParent != want {
			t.Errorf("event %d: got traceparent %q, want %q", i+1, got[i].TraceParent, want)
		}
	}
	if err := agileplus.VerifyEventChain(got); err != nil {
		t.Errorf("chain: %v", err)
	}
}

// execAll runs statements on the closed database at path, in order: the
// migration tests take a database back to an older schema with it.
func execAll(t *testing.T, path string, qs ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeWithEvents opens a new store holding project CORE with n events
// (its creation and n-1 renames), all pending, and returns them.
func storeWithEvents(t *testing.T, ctx context.Context, n int) (*sqlitestore.Store, string, []*agileplus.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agileplus.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	svc := agileplus.NewService(s)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	for i := range n - 1 {
		name := fmt.Sprint("name ", i)
		if _, err := svc.UpdateProject(ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 0); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.PendingEvents(ctx, 0, n+1)
	if err != nil || len(all) != n {
		t.Fatalf("got %d events, %v; want %d", len(all), err, n)
	}
	return s, path, all
}

// TestOutboxMarkMigrationKeepsPendingEvents takes a database with the
// outbox table of migration 0001 (some events published in order, one out
// of order) through migration 0006 and checks that the same events are
// pending, in order, and that marking goes on from there.
func TestOutboxMarkMigrationKeepsPendingEvents(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	s, path, all := storeWithEvents(t, ctx, 8)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before migration 0006: events 1, 2 and 5 were
	// published, so the outbox holds 3, 4, 6, 7 and 8.
	execAll(t, path,
		`CREATE TABLE outbox (gseq INTEGER PRIMARY KEY REFERENCES events(gseq), event_id TEXT NOT NULL UNIQUE)`,
		`INSERT INTO outbox SELECT gseq, id FROM events WHERE gseq NOT IN (1, 2, 5)`,
		`CREATE TRIGGER events_outbox AFTER INSERT ON events BEGIN INSERT INTO outbox (gseq, event_id) VALUES (NEW.gseq, NEW.id); END`,
		`DROP TABLE relay_mark`, `DROP TABLE published_early`, `DELETE FROM schema_migrations WHERE version = 6`)

	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	pending := func(want ...int) {
		t.Helper()
		got, err := s.PendingEvents(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int
		for _, e := range got {
			seqs = append(seqs, int(e.GlobalSeq))
		}
		if fmt.Sprint(seqs) != fmt.Sprint(want) {
			t.Fatalf("pending %v, want %v", seqs, want)
		}
		if n, err := s.PendingCount(ctx); err != nil || n != int64(len(want)) {
			t.Fatalf("pending count %d, %v; want %d", n, err, len(want))
		}
	}
	pending(3, 4, 6, 7, 8)
	name := "after"
	if _, err := agileplus.NewService(s).UpdateProject(ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 0); err != nil {
		t.Fatal(err)
	}
	pending(3, 4, 6, 7, 8, 9)
	if err := s.MarkPublished(ctx, []string{all[3].ID, all[2].ID}); err != nil {
		t.Fatal(err)
	}
	pending(6, 7, 8, 9)
	if err := s.MarkPublished(ctx, []string{all[7].ID}); err != nil {
		t.Fatal(err)
	}
	pending(6, 7, 9)
	if err := s.MarkPublished(ctx, []string{all[5].ID, all[6].ID}); err != nil {
		t.Fatal(err)
	}
	pending(9)
}

// TestMarkPublishedScattered marks events far ahead of the mark, then the
// rest in reverse order, and checks the pending set at each step and that
// nothing is left in published_early once the mark has passed everything.
func TestMarkPublishedScattered(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	s, path, all := storeWithEvents(t, ctx, 60)
	defer s.Close()
	check := func(step string, published map[int]bool) {
		t.Helper()
		var want []string
		for i, e := range all {
			if !published[i] {
				want = append(want, e.ID)
			}
		}
		got, err := s.PendingEvents(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("%s: pending %d events %v, want %d %v", step, len(ids), ids, len(want), want)
		}
		if n, err := s.PendingCount(ctx); err != nil || n != int64(len(want)) {
			t.Fatalf("%s: pending count %d, %v; want %d", step, n, err, len(want))
		}
	}
	published := map[int]bool{}
	var ids []string
	for i := 2; i < 60; i += 3 {
		ids = append(ids, all[i].ID)
		published[i] = true
	}
	if err := s.MarkPublished(ctx, ids); err != nil {
		t.Fatal(err)
	}
	check("every third marked", published)
	for _, half := range [][2]int{{30, 60}, {0, 30}} {
		ids = nil
		for i := half[1] - 1; i >= half[0]; i-- {
			ids = append(ids, all[i].ID)
			published[i] = true
		}
		if err := s.MarkPublished(ctx, ids); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("events %d to %d marked", half[0], half[1]), published)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var early int
	var upto int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM published_early), (SELECT upto FROM relay_mark)`).Scan(&early, &upto); err != nil {
		t.Fatal(err)
	}
	if early != 0 || upto != all[59].GlobalSeq {
		t.Fatalf("published_early holds %d, the mark is at %d; want 0 and %d", early, upto, all[59].GlobalSeq)
	}
}

// Every reader connection held by a read transaction that runs a query
// for the first time must not stall reads: preparing the query for the
// pool needs a connection of the pool, so a read that waited for one
// would wait for the others, which wait for it.
func TestReadsOnEveryConnectionWithNewQueriesGoOn(t *testing.T) {
	ctx := context.Background()
	const readers = 2
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "agileplus.db"), Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := agileplus.NewService(s).CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	// Past this deadline the reads are stuck: they fail, never hang the test.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	inside := make(chan struct{}, readers)
	all := make(chan struct{})
	errs := make(chan error, readers)
	for range readers {
		go func() {
			errs <- s.View(ctx, func(tx agileplus.ReadTx) error {
				inside <- struct{}{}
				<-all // every connection is now held by a read transaction
				_, err := tx.Project(ctx, "CORE")
				return err
			})
		}()
	}
	for range readers {
		<-inside
	}
	close(all)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatalf("a read with every connection held: %v", err)
		}
	}
}

// A database from before priorities, labels and owners (migration 0008)
// opens with every WP and feature at normal priority, without labels or
// owner, and takes the new fields from then on.
func TestTriageMigrationGivesDefaults(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agileplus.db")
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	svc := agileplus.NewService(s)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "f", Title: "F"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "w"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before migration 0008.
	execAll(t, path, `DROP INDEX wps_ready_priority`, `DROP TABLE label_defs`,
		`ALTER TABLE wps DROP COLUMN priority`, `ALTER TABLE wps DROP COLUMN labels`, `ALTER TABLE wps DROP COLUMN owner`,
		`ALTER TABLE features DROP COLUMN priority`, `ALTER TABLE features DROP COLUMN labels`,
		`DELETE FROM schema_migrations WHERE version = 8`)

	s, err = sqlitestore.Open(ctx, sqlitestore.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	svc = agileplus.NewService(s)
	f, err := svc.Feature(ctx, "f")
	if err != nil || f.Priority != agileplus.PriorityNormal || f.Labels != nil {
		t.Errorf("feature after the migration: %+v, %v; want normal, no labels", f, err)
	}
	ws, err := svc.WPs(ctx, agileplus.WPQuery{Project: "CORE"})
	if err != nil || len(ws) != 3 {
		t.Fatalf("wps: %v, %v", ws, err)
	}
	for _, w := range ws {
		if w.Priority != agileplus.PriorityNormal || w.Labels != nil || w.Owner != "" {
			t.Errorf("%s after the migration: priority %q, labels %v, owner %q; want normal, none, none", w.Key, w.Priority, w.Labels, w.Owner)
		}
	}
	high := agileplus.PriorityHigh
	if _, err := svc.UpdateWP(ctx, "CORE-3", agileplus.WPUpdate{Priority: &high, Labels: &[]string{"go"}}, 0); err != nil {
		t.Fatal(err)
	}
	ready, err := svc.Ready(ctx, "CORE", agileplus.OrderPriority, agileplus.Page{})
	if err != nil || len(ready) != 3 || ready[0].Key != "CORE-3" || ready[1].Key != "CORE-1" {
		t.Errorf("ready by priority: %v, %v; want CORE-3 first, then CORE-1", ready, err)
	}
	l, err := svc.Layers(ctx, "CORE", agileplus.OrderPriority)
	if err != nil || len(l.Layers) != 1 || l.Layers[0][0].Key != "CORE-3" || l.Layers[0][1].Priority != agileplus.PriorityNormal {
		t.Errorf("layers by priority: %+v, %v", l, err)
	}
	if _, err := svc.CreateLabel(ctx, "CORE", agileplus.LabelCreate{Name: "go"}); err != nil {
		t.Errorf("define a label: %v", err)
	}
}
