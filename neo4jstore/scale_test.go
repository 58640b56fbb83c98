package neo4jstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/relay"
)

// Several stores on one database stand for several processes: each has its
// own driver, connection pool, key allocator and sequencer.

// stores opens n stores on one emptied database, with a Service each.
func stores(t *testing.T, n int) ([]*neo4jstore.Store, []*agileplus.Service) {
	t.Helper()
	srv := neo4jtest.Shared(t)
	first := open(t, srv)
	ss := []*neo4jstore.Store{first}
	for range n - 1 {
		s, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URL: srv.URL(), User: srv.User(), Password: srv.Password()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ss = append(ss, s)
	}
	svcs := make([]*agileplus.Service, n)
	for i, s := range ss {
		svcs[i] = &agileplus.Service{Store: s, Now: time.Now, IDs: agileplus.NewIDGenerator(time.Now)}
	}
	return ss, svcs
}

func setup(t *testing.T, svc *agileplus.Service, ctx context.Context, features ...string) {
	t.Helper()
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range features {
		if _, err := svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: f, Title: f}); err != nil {
			t.Fatal(err)
		}
	}
}

func createWPs(t *testing.T, svc *agileplus.Service, ctx context.Context, feature string, n int) []*agileplus.WP {
	t.Helper()
	out := make([]*agileplus.WP, n)
	for i := range out {
		w, err := svc.CreateWP(ctx, feature, agileplus.WPCreate{Title: fmt.Sprint("wp ", i)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = w
	}
	return out
}

// TestCycleHalvesAcrossStores has two stores add the two halves of a cycle
// at the same moment, 200 times: never both may be accepted. Even rounds
// close a cycle of two (A -> B and B -> A: the ends are shared); odd rounds
// one of four (A -> B and C -> D over existing B -> C and D -> A: no end
// is shared, what each cycle check reads is).
func TestCycleHalvesAcrossStores(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	_, svcs := stores(t, 2)
	setup(t, svcs[0], ctx, "alpha")
	const rounds = 200
	ws := createWPs(t, svcs[0], ctx, "alpha", rounds/2*2+rounds/2*4)
	dep := func(svc *agileplus.Service, from, to *agileplus.WP) error {
		_, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: from.Key, To: to.Key, Kind: agileplus.DependsOn})
		return err
	}
	accepted := 0
	next := 0
	for round := range rounds {
		var halves [2][2]*agileplus.WP
		if round%2 == 0 {
			a, b := ws[next], ws[next+1]
			next += 2
			halves = [2][2]*agileplus.WP{{a, b}, {b, a}}
		} else {
			a, b, c, d := ws[next], ws[next+1], ws[next+2], ws[next+3]
			next += 4
			if err := dep(svcs[0], b, c); err != nil {
				t.Fatal(err)
			}
			if err := dep(svcs[1], d, a); err != nil {
				t.Fatal(err)
			}
			halves = [2][2]*agileplus.WP{{a, b}, {c, d}}
		}
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Go(func() {
				<-start
				errs[i] = dep(svcs[i], halves[i][0], halves[i][1])
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case agileplus.ErrorCode(err) != agileplus.ERULE:
				t.Fatalf("round %d, store %d: got %v, want nil or a refused cycle (%s)", round, i, err, agileplus.ERULE)
			}
		}
		if ok == 2 {
			t.Fatalf("round %d: both halves of the cycle were accepted", round)
		}
		if ok == 0 {
			t.Fatalf("round %d: both halves were refused, want one accepted: %v", round, errs)
		}
		accepted += ok
	}
	err := svcs[1].Store.(*neo4jstore.Store).ReadGraph(ctx, func(g agileplus.GraphIndex) error {
		if c := g.Cycles(ws[0].ProjectID); len(c) > 0 {
			return fmt.Errorf("cycles in the stored graph: %v", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustEq(t, "accepted halves", accepted, rounds)
}

// TestClaimRaceAcrossStores has 50 agents, spread over three stores, claim
// one WP at once: exactly one wins, with token 1.
func TestClaimRaceAcrossStores(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	_, svcs := stores(t, 3)
	setup(t, svcs[0], ctx, "alpha")
	w := createWPs(t, svcs[1], ctx, "alpha", 1)[0]
	const n = 50
	errs := make([]error, n)
	wins := make([]*agileplus.Lease, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			wins[i], errs[i] = svcs[i%3].Claim(ctx, w.Key, agileplus.ClaimRequest{Agent: fmt.Sprint("agent-", i), TTLSeconds: 60})
		})
	}
	close(start)
	wg.Wait()
	var winner *agileplus.Lease
	for i, err := range errs {
		switch {
		case err == nil:
			if winner != nil {
				t.Fatalf("agent-%d won too, after %s", i, winner.Agent)
			}
			winner = wins[i]
		case agileplus.ErrorCode(err) != agileplus.ECONFLICT:
			t.Fatalf("agent-%d: got %v, want nil or %s", i, err, agileplus.ECONFLICT)
		}
	}
	if winner == nil || winner.Token != 1 {
		t.Fatalf("winner %+v, want exactly one with token 1", winner)
	}
	es, err := svcs[2].Events(ctx, agileplus.EventQuery{Entity: w.ID})
	if err != nil {
		t.Fatal(err)
	}
	mustEq(t, "events of the wp", len(es), 2)
	if err := agileplus.VerifyEventChain(es); err != nil {
		t.Fatal(err)
	}
}

// streamRecorder stands in for JetStream: it keeps the first publish of
// each event id, as Nats-Msg-Id de-duplication does.
type streamRecorder struct {
	mu     sync.Mutex
	seen   map[string]bool
	stream []*agileplus.Event
}

func (r *streamRecorder) Publish(_ context.Context, es []*agileplus.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range es {
		if !r.seen[e.ID] {
			r.seen[e.ID] = true
			r.stream = append(r.stream, e)
		}
	}
	return nil
}

// TestEventsOnceInOrderAcrossStores runs a mixed workload on three stores
// while a follower reads /v1/events?after= style pages and each store's
// relay publishes: the follower never sees a gap (so never skips an event
// that commits later), it ends with every event once, global sequences
// are dense, every entity's events come in chain order, the stream holds
// each event exactly once, and the ready set matches the open
// dependencies counted from the edges (item 4 of the scale-out work).
func TestEventsOnceInOrderAcrossStores(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	ss, svcs := stores(t, 3)
	setup(t, svcs[0], ctx, "alpha", "beta")
	shared := createWPs(t, svcs[0], ctx, "alpha", 12)

	rec := &streamRecorder{seen: map[string]bool{}}
	relays := make([]*relay.Relay, len(ss))
	for i, s := range ss {
		relays[i] = &relay.Relay{Outbox: s, Publisher: rec, Interval: 20 * time.Millisecond}
		relays[i].Open()
	}

	var (
		followed []*agileplus.Event
		ferr     error
		stop     = make(chan struct{})
		fdone    = make(chan struct{})
	)
	follow := func() (int, error) {
		var after int64
		if len(followed) > 0 {
			after = followed[len(followed)-1].GlobalSeq
		}
		es, err := svcs[1].Events(ctx, agileplus.EventQuery{After: after, Limit: 100})
		if err != nil {
			return 0, err
		}
		for _, e := range es {
			if e.GlobalSeq != after+1 {
				return 0, fmt.Errorf("after %d the follower got event %d: a gap", after, e.GlobalSeq)
			}
			after = e.GlobalSeq
			followed = append(followed, e)
		}
		return len(es), nil
	}
	go func() {
		defer close(fdone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := follow(); err != nil {
				ferr = err
				return
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 9 {
		svc := svcs[g%3]
		rnd := rand.New(rand.NewPCG(uint64(g), 7))
		wg.Go(func() {
			for range 25 {
				a, b := shared[rnd.IntN(len(shared))], shared[rnd.IntN(len(shared))]
				var err error
				switch rnd.IntN(5) {
				case 0:
					_, err = svc.CreateWP(ctx, []string{"alpha", "beta"}[rnd.IntN(2)], agileplus.WPCreate{Title: "new"})
				case 1:
					title := fmt.Sprint("t", rnd.IntN(100))
					_, err = svc.UpdateWP(ctx, a.Key, agileplus.WPUpdate{Title: &title}, 0)
				case 2:
					if a.ID != b.ID {
						_, err = svc.AddDependency(ctx, agileplus.DependencyCreate{From: a.Key, To: b.Key, Kind: agileplus.DependsOn})
					}
				case 3:
					var es []*agileplus.Edge
					if es, err = svc.Dependencies(ctx, a.Key); err == nil && len(es) > 0 {
						err = svc.RemoveDependency(ctx, es[0].ID)
					}
				case 4:
					to := []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone}[rnd.IntN(3)]
					_, err = svc.TransitionWP(ctx, a.Key, agileplus.Transition{To: to, Force: true, Reason: "test"}, 0)
				}
				switch agileplus.ErrorCode(err) {
				case "", agileplus.ERULE, agileplus.ECONFLICT, agileplus.ENOTFOUND, agileplus.EINVALID:
				default:
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("workload: %v", err)
	}
	close(stop)
	<-fdone
	if ferr != nil {
		t.Fatal(ferr)
	}
	for {
		n, err := follow()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}

	var all []*agileplus.Event
	err := ss[2].AllEvents(ctx, func(e *agileplus.Event) error { all = append(all, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	mustEq(t, "events followed", len(followed), len(all))
	ids := map[string]bool{}
	last := map[string]*agileplus.Event{}
	for i, e := range all {
		if e.GlobalSeq != int64(i+1) || followed[i].ID != e.ID {
			t.Fatalf("event %d: global sequence %d, followed %s, want %d and %s", i, e.GlobalSeq, followed[i].ID, i+1, e.ID)
		}
		if ids[e.ID] {
			t.Fatalf("event %s twice", e.ID)
		}
		ids[e.ID] = true
		if p := last[e.EntityID]; (p == nil && e.Seq != 1) || (p != nil && (e.Seq != p.Seq+1 || e.PrevHash != p.Hash)) {
			t.Fatalf("event %s (seq %d of %s) out of chain order", e.ID, e.Seq, e.EntityID)
		}
		last[e.EntityID] = e
	}

	for _, r := range relays {
		r.Poke()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := ss[0].PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range relays {
		r.Close()
	}
	mustEq(t, "events on the stream", len(rec.stream), len(all))
	for i, e := range all {
		if !rec.seen[e.ID] {
			t.Fatalf("event %d (%s) never reached the stream", i, e.ID)
		}
	}

	// The ready set is the planned WPs whose depends_on targets are all done.
	ready, err := svcs[2].Ready(ctx, "CORE", "", agileplus.Page{Limit: agileplus.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, w := range ready {
		got[w.Key] = true
	}
	wps, err := svcs[0].WPs(ctx, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{Limit: agileplus.MaxPageLimit}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wps {
		es, err := svcs[0].Dependencies(ctx, w.Key)
		if err != nil {
			t.Fatal(err)
		}
		want := w.State == agileplus.WPPlanned
		for _, e := range es {
			if e.Kind == agileplus.DependsOn && e.From == w.ID && e.OtherState != agileplus.WPDone {
				want = false
			}
		}
		if got[w.Key] != want {
			t.Errorf("%s (%s): ready %v, want %v from its edges", w.Key, w.State, got[w.Key], want)
		}
	}
}

func mustEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// TestKeysAcrossStores creates WPs in one project from three stores at
// once, in three features: keys are unique and, with nothing rolled back
// or lost, dense; a create that rolls back gives its number back.
func TestKeysAcrossStores(t *testing.T) {
	ctx := agileplus.WithActor(t.Context(), "test")
	ss, svcs := stores(t, 3)
	setup(t, svcs[0], ctx, "alpha", "beta", "gamma")
	const per = 20
	var wg sync.WaitGroup
	keys := make(chan string, 3*3*per)
	errs := make(chan error, 3*3*per)
	for g := range 9 {
		wg.Go(func() {
			for range per / 3 {
				w, err := svcs[g%3].CreateWP(ctx, []string{"alpha", "beta", "gamma"}[g/3], agileplus.WPCreate{Title: "k"})
				if err != nil {
					errs <- err
					return
				}
				keys <- w.Key
			}
		})
	}
	wg.Wait()
	close(keys)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for k := range keys {
		if seen[k] {
			t.Fatalf("key %s handed out twice", k)
		}
		seen[k] = true
	}
	for i := 1; i <= len(seen); i++ {
		if !seen[fmt.Sprint("CORE-", i)] {
			t.Fatalf("keys: CORE-%d missing among %d", i, len(seen))
		}
	}

	// A create that fails after taking its number gives it back to its store.
	n := len(seen)
	err := ss[1].Update(ctx, func(tx agileplus.Tx) error {
		p, err := tx.Project(ctx, "CORE")
		if err != nil {
			return err
		}
		if num, err := tx.NextWPNumber(ctx, p.ID); err != nil || num != int64(n+1) {
			t.Errorf("NextWPNumber: %d, %v; want %d", num, err, n+1)
		}
		return fmt.Errorf("refused")
	})
	if err == nil {
		t.Fatal("the refused update committed")
	}
	w, err := svcs[1].CreateWP(ctx, "alpha", agileplus.WPCreate{Title: "after"})
	if err != nil {
		t.Fatal(err)
	}
	mustEq(t, "key after a rolled back number", w.Key, fmt.Sprint("CORE-", n+1))
}
