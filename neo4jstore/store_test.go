package neo4jstore_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
)

// mustUnavailable fails t unless err is EUNAVAILABLE and its message
// mentions each of subs.
func mustUnavailable(t *testing.T, err error, subs ...string) {
	t.Helper()
	if code := agileplus.ErrorCode(err); code != agileplus.EUNAVAILABLE {
		t.Fatalf("got code %q (err %v), want %q", code, err, agileplus.EUNAVAILABLE)
	}
	for _, s := range subs {
		if !strings.Contains(agileplus.ErrorMessage(err), s) {
			t.Errorf("got message %q, want it to mention %q", agileplus.ErrorMessage(err), s)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOpenUnreachable opens a store on a port nothing listens on, with
// every scheme the driver takes: EUNAVAILABLE at once, naming the URL.
func TestOpenUnreachable(t *testing.T) {
	for _, scheme := range []string{"bolt", "neo4j", "bolt+s", "neo4j+s", "bolt+ssc", "neo4j+ssc"} {
		t.Run(scheme, func(t *testing.T) {
			url := scheme + "://" + closedPort(t)
			start := time.Now()
			s, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URL: url, User: "neo4j", Password: "secret"})
			if err == nil {
				s.Close()
				t.Fatal("Open: got nil error, want EUNAVAILABLE")
			}
			mustUnavailable(t, err, "cannot reach", url)
			t.Logf("Open: %v", err)
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Open took %s, want an answer within 10s", d)
			}
		})
	}
}

func TestOpenWrongPassword(t *testing.T) {
	srv := neo4jtest.Shared(t)
	s, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password() + "-wrong"})
	if err == nil {
		s.Close()
		t.Fatal("Open: got nil error, want EUNAVAILABLE")
	}
	mustUnavailable(t, err, "refused the credentials", srv.URL(), srv.User())
	t.Logf("Open: %v", err)
}

func TestOpenBadURL(t *testing.T) {
	_, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URL: "http://127.0.0.1:7474"})
	if err == nil || agileplus.ErrorCode(err) == agileplus.EUNAVAILABLE {
		t.Fatalf("got error %v, want a configuration error", err)
	}
	_, err = neo4jstore.Open(t.Context(), neo4jstore.Config{})
	if err == nil {
		t.Fatal("got nil error for an empty URL, want one")
	}
}

// TestTwoStores opens a second store, as a second replica would, through
// the routing scheme, on a database that is set up already: the migrations
// are not applied again, both see each other's writes, events share one
// global sequence, and each one's graph follows the other's commits.
func TestTwoStores(t *testing.T) {
	srv := neo4jtest.Shared(t)
	a := open(t, srv)
	ctx := agileplus.WithActor(t.Context(), "test")
	svcA := &agileplus.Service{Store: a, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)}
	if _, err := svcA.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcA.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "alpha", Title: "Alpha"}); err != nil {
		t.Fatal(err)
	}
	routing := strings.Replace(srv.URL(), "bolt://", "neo4j://", 1)
	b, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: routing, User: srv.User(), Password: srv.Password()})
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer b.Close()
	svcB := &agileplus.Service{Store: b, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)}
	if _, err := svcB.Project(ctx, "CORE"); err != nil {
		t.Fatalf("project through the second store: %v", err)
	}

	nodes := func(s *neo4jstore.Store) int {
		t.Helper()
		var n int
		if err := s.ReadGraph(ctx, func(g agileplus.GraphIndex) error { n = g.Len(); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := nodes(a); n != 0 {
		t.Fatalf("graph of the first store: got %d WPs, want 0", n)
	}
	for i, svc := range []*agileplus.Service{svcB, svcA, svcB} {
		if _, err := svc.CreateWP(ctx, "alpha", agileplus.WPCreate{Title: fmt.Sprint("wp ", i)}); err != nil {
			t.Fatal(err)
		}
		if na, nb := nodes(a), nodes(b); na != i+1 || nb != i+1 {
			t.Fatalf("after wp %d: got graphs of %d and %d WPs, want %d", i+1, na, nb, i+1)
		}
	}
	if _, err := svcA.AddDependency(ctx, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-1"}); err != nil {
		t.Fatal(err)
	}
	var blockers int
	err = b.ReadGraph(ctx, func(g agileplus.GraphIndex) error {
		r, err := g.Blockers("CORE-3", false, 0)
		if err == nil {
			blockers = len(r.WPs)
		}
		return err
	})
	if err != nil || blockers != 1 {
		t.Fatalf("blockers of CORE-3 in the second store's graph: got %d, %v, want 1", blockers, err)
	}

	var all []*agileplus.Event
	err = a.View(ctx, func(tx agileplus.ReadTx) (err error) {
		all, err = tx.Events(ctx, agileplus.EventFilter{Limit: -1}) // no limit
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("got %d events, want 6", len(all))
	}
	for i, e := range all {
		if e.GlobalSeq != int64(i+1) {
			t.Errorf("event %d (%s): got global sequence %d, want %d", i, e.Type, e.GlobalSeq, i+1)
		}
	}
}

// TestKilled kills Neo4j in the middle of an Update: the Update returns
// EUNAVAILABLE, so do reads, Ping and Open while it is down, and after a
// restart nothing of the interrupted Update is there and the same store
// works again.
func TestKilled(t *testing.T) {
	srv := neo4jtest.Shared(t)
	s := open(t, srv)
	ctx := agileplus.WithActor(t.Context(), "test")
	svc := &agileplus.Service{Store: s, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)}
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	pending := func() int64 {
		t.Helper()
		n, err := s.PendingCount(ctx)
		if err != nil {
			t.Fatalf("pending count: %v", err)
		}
		return n
	}
	if n := pending(); n != 1 {
		t.Fatalf("got %d pending events, want 1", n)
	}

	now := time.Now()
	start := time.Now()
	killed := false
	err := s.Update(ctx, func(tx agileplus.Tx) error {
		p := &agileplus.Project{ID: "prj_halfwritten00000000000000", Key: "HALF", Name: "Half", Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertProject(ctx, p); err != nil {
			return err
		}
		if !killed {
			srv.Kill()
			killed = true
		}
		e := &agileplus.Event{ID: "evt_halfwritten00000000000000", Type: "project.created", EntityKind: agileplus.KindProject,
			EntityID: p.ID, ProjectKey: p.Key, Seq: 1, Time: now, Actor: "test", Data: []byte(`{}`)}
		e.Hash = e.ComputeHash()
		return tx.AppendEvent(ctx, e)
	})
	if !killed {
		t.Fatal("the Update's function did not run")
	}
	mustUnavailable(t, err, srv.URL())
	t.Logf("Update while Neo4j was killed: %v", err)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Update took %s with Neo4j killed, want an answer within 15s", d)
	}

	down := func(what string, err error) {
		t.Helper()
		t.Run(what+" while down", func(t *testing.T) { mustUnavailable(t, err, srv.URL()) })
	}
	down("Update", s.Update(ctx, func(tx agileplus.Tx) error { return nil }))
	_, err = svc.Project(ctx, "CORE")
	down("View", err)
	down("Ping", s.Ping(ctx))
	_, err = s.PendingCount(ctx)
	down("PendingCount", err)
	down("MarkPublished", s.MarkPublished(ctx, []string{"evt_x"}))
	down("ReadGraph", s.ReadGraph(ctx, func(agileplus.GraphIndex) error { return nil }))
	_, err = neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
	down("Open", err)

	srv.Restart()
	for i := range 3 { // the pool's connections died with the server
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("ping %d after restart: %v", i, err)
		}
	}
	if _, err := svc.Project(ctx, "HALF"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("project of the interrupted Update: got error %v, want %s", err, agileplus.ENOTFOUND)
	}
	es, err := svc.Events(ctx, agileplus.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Errorf("got %d events after restart, want 1 (the interrupted Update's is not there)", len(es))
	}
	if n := pending(); n != 1 {
		t.Errorf("got %d pending events after restart, want 1", n)
	}
	// The same store writes again, with the next global sequence.
	p, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "OPS", Name: "Ops"})
	if err != nil {
		t.Fatalf("create after restart: %v", err)
	}
	es, err = svc.Events(ctx, agileplus.EventQuery{Entity: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].GlobalSeq != 2 {
		t.Errorf("got events %v of the new project, want one with global sequence 2", fmt.Sprint(es))
	}
	if err := s.ReadGraph(ctx, func(agileplus.GraphIndex) error { return nil }); err != nil {
		t.Errorf("ReadGraph after restart: %v", err)
	}
}

// TestMarkPublishedConcurrently has several relays mark overlapping sets
// of events at once, as the relays of several replicas do: none fails and
// each event leaves the outbox once.
func TestMarkPublishedConcurrently(t *testing.T) {
	s := open(t, neo4jtest.Shared(t))
	ctx := agileplus.WithActor(t.Context(), "test")
	svc := &agileplus.Service{Store: s, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)}
	for i := range 20 {
		if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: fmt.Sprintf("P%d", i), Name: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.PendingEvents(ctx, 0, 100)
	if err != nil || len(es) != 20 {
		t.Fatalf("got %d pending events, %v, want 20", len(es), err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		// Relay i marks the first 15, the last 15, or all, in some order.
		mine := ids[:15]
		switch i % 3 {
		case 1:
			mine = ids[5:]
		case 2:
			mine = slices.Clone(ids)
			slices.Reverse(mine)
		}
		wg.Go(func() { errs[i] = s.MarkPublished(ctx, mine) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("relay %d: %v", i, err)
		}
	}
	if n, err := s.PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("got %d pending, %v, want 0", n, err)
	}
}

// TestViewCannotWrite checks that a read transaction refuses writes even
// when its ReadTx is used as a Tx: writes go through Update, which takes
// the write lock.
func TestViewCannotWrite(t *testing.T) {
	s := open(t, neo4jtest.Shared(t))
	ctx := t.Context()
	now := time.Now()
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		return rt.(agileplus.Tx).InsertProject(ctx, &agileplus.Project{ID: "prj_readonly000000000000000000", Key: "RO", Name: "ro", Version: 1, CreatedAt: now, UpdatedAt: now})
	})
	if err == nil {
		t.Fatal("a write in a View: got nil error, want one")
	}
	t.Logf("write in a View: %v", err)
	err = s.View(ctx, func(rt agileplus.ReadTx) error {
		_, err := rt.Project(ctx, "RO")
		return err
	})
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Fatalf("project written in a View: got %v, want %s", err, agileplus.ENOTFOUND)
	}
}

// TestChainsAcrossStores writes one WP's event chain and one feature's
// audit chain from two stores, in turns and then at once, with refused
// commands in between: writers of one chain wait for each other's locks
// (or lose a race for the next link and run again), so every write must
// succeed and both chains and the global sequence must come out whole.
func TestChainsAcrossStores(t *testing.T) {
	srv := neo4jtest.Shared(t)
	a := open(t, srv)
	ctx := agileplus.WithActor(t.Context(), "test")
	b, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	svcs := []*agileplus.Service{
		{Store: a, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)},
		{Store: b, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)},
	}
	if _, err := svcs[0].CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[0].CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "alpha", Title: "Alpha"}); err != nil {
		t.Fatal(err)
	}
	w, err := svcs[1].CreateWP(ctx, "alpha", agileplus.WPCreate{Title: "wp"})
	if err != nil {
		t.Fatal(err)
	}
	update := func(svc *agileplus.Service, i int) error {
		title := fmt.Sprint("title ", i)
		_, err := svc.UpdateWP(ctx, w.Key, agileplus.WPUpdate{Title: &title}, 0)
		return err
	}
	updates := 0
	for i, who := range []int{0, 0, 1, 0, 1, 1, 0, 0} {
		if err := update(svcs[who], i); err != nil {
			t.Fatalf("update %d through store %d: %v", i, who, err)
		}
		updates++
		// A refused command rolls back; what the store remembers stays true.
		title := "stale"
		if _, err := svcs[who].UpdateWP(ctx, w.Key, agileplus.WPUpdate{Title: &title}, 1); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Fatalf("update with a stale version: got %v, want ECONFLICT", err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				errs <- update(svcs[g%2], 100+g*10+i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
		updates++
	}

	// Many writers in one process, all in one feature: they queue on the
	// feature's audit trail and share sequencer runs.
	created := 0
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, 16*10)
		for g := range 16 {
			wg.Go(func() {
				for i := range 10 {
					_, err := svcs[round%2].CreateWP(ctx, "alpha", agileplus.WPCreate{Title: fmt.Sprint("many ", round, g, i)})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: create: %v", round, err)
			}
			created++
		}
	}

	var all, chain []*agileplus.Event
	err = b.View(ctx, func(tx agileplus.ReadTx) (err error) {
		if all, err = tx.Events(ctx, agileplus.EventFilter{Limit: -1}); err != nil {
			return err
		}
		chain, err = tx.Events(ctx, agileplus.EventFilter{EntityID: w.ID, Limit: -1})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		if e.GlobalSeq != int64(i+1) {
			t.Fatalf("event %d: global sequence %d, want %d", i, e.GlobalSeq, i+1)
		}
	}
	if len(chain) != 1+updates {
		t.Fatalf("got %d events of the WP, want %d", len(chain), 1+updates)
	}
	for i, e := range chain {
		if e.Seq != int64(i+1) || (i > 0 && e.PrevHash != chain[i-1].Hash) || e.Hash != e.ComputeHash() {
			t.Fatalf("event %d of the WP: seq %d, chain broken or hash wrong", i, e.Seq)
		}
	}
	v, err := svcs[0].VerifyAudit(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid || v.Entries != int64(2+updates+created) {
		t.Fatalf("audit of alpha: %+v, want OK with %d entries", v, 2+updates+created)
	}
}
