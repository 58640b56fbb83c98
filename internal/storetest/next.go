package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// ---- next ----

// estimated creates a WP with an estimate in hours.
func (f *fixture) estimated(t *testing.T, featureRef, title string, est float64) *agileplus.WP {
	t.Helper()
	w, err := f.svc.CreateWP(f.ctx, featureRef, agileplus.WPCreate{Title: title, Estimate: &est})
	mustOK(t, err)
	return w
}

func testNext(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	f.feature(t, "OPS", "gamma")
	// CORE-1 <- CORE-2: a 16h chain, CORE-1 on the critical path, one WP
	// waiting on it. CORE-3 <- CORE-4, CORE-5: as long, two waiting.
	// CORE-6: 1h alone, 15h of slack. CORE-7 in beta waits on CORE-6.
	f.estimated(t, "alpha", "chain head", 8)
	f.estimated(t, "alpha", "chain tail", 8)
	f.estimated(t, "alpha", "fan head", 8)
	f.estimated(t, "alpha", "fan one", 8)
	f.estimated(t, "alpha", "fan two", 8)
	f.estimated(t, "alpha", "short", 1)
	f.estimated(t, "beta", "after short", 1)
	f.estimated(t, "gamma", "ops work", 40)
	f.dep(t, "CORE-2", "CORE-1", agileplus.DependsOn)
	f.dep(t, "CORE-4", "CORE-3", agileplus.DependsOn)
	f.dep(t, "CORE-5", "CORE-3", agileplus.DependsOn)
	f.dep(t, "CORE-7", "CORE-6", agileplus.DependsOn)

	next := func(t *testing.T, q agileplus.NextRequest) *agileplus.NextResult {
		t.Helper()
		res, err := f.svc.Next(f.ctx, q)
		mustOK(t, err)
		return res
	}
	key := func(r *agileplus.NextResult) string {
		if r.WP == nil {
			return ""
		}
		return r.WP.Key
	}

	t.Run("peek picks by slack then impact and writes nothing", func(t *testing.T) {
		before := f.fingerprint(t)
		res := next(t, agileplus.NextRequest{Project: "CORE"})
		mustEqual(t, "next", key(res), "CORE-3")
		mustEqual(t, "slack", res.Slack, 0.0)
		mustEqual(t, "impact", res.Impact, 2)
		mustEqual(t, "ready", res.Ready, 3)
		if res.Lease != nil || res.WP.Lease != nil {
			t.Errorf("peek returned a lease %+v", res.Lease)
		}
		mustMention(t, agileplus.Errorf(agileplus.EINVALID, "%s", res.Message), "CORE-3", "critical path")
		mustEqual(t, "store after peek", f.fingerprint(t), before)
	})

	t.Run("claim takes the best in order", func(t *testing.T) {
		var got []string
		for i := range 3 {
			res := next(t, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: fmt.Sprintf("agent-%d", i), TTLSeconds: 60})
			if res.Lease == nil || res.WP == nil {
				t.Fatalf("claim %d: got %+v, want a WP and a lease", i, res)
			}
			mustEqual(t, "lease agent", res.Lease.Agent, fmt.Sprintf("agent-%d", i))
			mustEqual(t, "lease wp", res.Lease.WPID, res.WP.ID)
			mustSame(t, "stored lease", f.getWP(t, res.WP.Key).Lease, res.Lease)
			got = append(got, key(res))
		}
		mustEqual(t, "claim order", strings.Join(got, " "), "CORE-3 CORE-1 CORE-6")
		events := f.events(t, "CORE-3")
		mustEqual(t, "last event of CORE-3", events[len(events)-1].Type, "wp.claimed")
		mustOK(t, agileplus.VerifyEventChain(events))
	})

	t.Run("nothing ready is an answer, not an error", func(t *testing.T) {
		before := f.fingerprint(t)
		res := next(t, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: "late"})
		if res.WP != nil || res.Lease != nil {
			t.Fatalf("got %+v, want no WP", res)
		}
		mustEqual(t, "ready", res.Ready, 0)
		mustMention(t, agileplus.Errorf(agileplus.EINVALID, "%s", res.Message), "nothing is ready", "CORE")
		mustEqual(t, "store", f.fingerprint(t), before)
	})

	t.Run("an expired lease frees the WP", func(t *testing.T) {
		f.clock.Advance(61 * time.Second)
		res := next(t, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: "agent-9"})
		mustEqual(t, "next", key(res), "CORE-3")
		mustEqual(t, "token", res.Lease.Token, int64(2))
	})

	t.Run("filters", func(t *testing.T) {
		f.finish(t, "CORE-6")
		mustEqual(t, "feature beta", key(next(t, agileplus.NextRequest{Feature: "beta"})), "CORE-7")
		mustEqual(t, "project OPS", key(next(t, agileplus.NextRequest{Project: "OPS"})), "OPS-1")
		// Every project: OPS-1 is alone on a 40h path, CORE-1 has no slack
		// in CORE's: both 0; CORE-1 unblocks one WP.
		mustEqual(t, "every project", key(next(t, agileplus.NextRequest{})), "CORE-1")
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := f.fingerprint(t)
		_, err := f.svc.Next(f.ctx, agileplus.NextRequest{Project: "CORE", Claim: true})
		mustField(t, err, agileplus.EINVALID, "agent")
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "CORE", Agent: "a"})
		mustField(t, err, agileplus.EINVALID, "agent")
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: "a", TTLSeconds: -1})
		mustField(t, err, agileplus.EINVALID, "ttl_seconds")
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "NOPE"})
		mustField(t, err, agileplus.ENOTFOUND, "project")
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Feature: "nope"})
		mustField(t, err, agileplus.ENOTFOUND, "feature")
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "OPS", Feature: "alpha", Claim: true, Agent: "a"})
		mustField(t, err, agileplus.EINVALID, "feature")
		mustEqual(t, "store", f.fingerprint(t), before)
	})

	t.Run("priority comes before slack", func(t *testing.T) {
		f.project(t, "PRI")
		f.feature(t, "PRI", "pri")
		f.estimated(t, "pri", "long", 8)  // PRI-1: the critical path
		f.estimated(t, "pri", "short", 1) // PRI-2: 7h of slack
		mustEqual(t, "by slack", key(next(t, agileplus.NextRequest{Project: "PRI"})), "PRI-1")
		high, urgent := agileplus.PriorityHigh, agileplus.PriorityUrgent
		_, err := f.svc.UpdateWP(f.ctx, "PRI-2", agileplus.WPUpdate{Priority: &high}, 0)
		mustOK(t, err)
		res := next(t, agileplus.NextRequest{Project: "PRI"})
		mustEqual(t, "high over the critical path", key(res), "PRI-2")
		mustMention(t, agileplus.Errorf(agileplus.EINVALID, "%s", res.Message), "high priority")
		_, err = f.svc.UpdateWP(f.ctx, "PRI-1", agileplus.WPUpdate{Priority: &urgent}, 0)
		mustOK(t, err)
		mustEqual(t, "urgent over high", key(next(t, agileplus.NextRequest{Project: "PRI", Claim: true, Agent: "a"})), "PRI-1")
	})

	t.Run("owner and labels", func(t *testing.T) {
		f.project(t, "SKL")
		f.feature(t, "SKL", "skills")
		for _, c := range []struct {
			labels []string
			owner  string
			est    float64
		}{
			{[]string{"go", "db"}, "ann", 8}, // SKL-1: the critical path
			{[]string{"go"}, "bob", 4},
			{[]string{"frontend"}, "", 2},
			{nil, "ann", 1},
		} {
			_, err := f.svc.CreateWP(f.ctx, "skills", agileplus.WPCreate{Title: "skill work", Estimate: &c.est, Labels: c.labels, Owner: c.owner})
			mustOK(t, err)
		}
		peek := func(q agileplus.NextRequest) string {
			q.Project = "SKL"
			return key(next(t, q))
		}
		mustEqual(t, "no filter", peek(agileplus.NextRequest{}), "SKL-1")
		mustEqual(t, "label go", peek(agileplus.NextRequest{Labels: []string{"go"}}), "SKL-1")
		mustEqual(t, "label frontend", peek(agileplus.NextRequest{Labels: []string{"Frontend"}}), "SKL-3")
		mustEqual(t, "any of db, frontend", peek(agileplus.NextRequest{Labels: []string{"frontend", "db"}, LabelsMode: agileplus.LabelsAny}), "SKL-1")
		mustEqual(t, "owner bob", peek(agileplus.NextRequest{Owner: "bob"}), "SKL-2")
		mustEqual(t, "owner ann with label go", peek(agileplus.NextRequest{Owner: " ann ", Labels: []string{"go"}, LabelsMode: agileplus.LabelsAll}), "SKL-1")

		before := f.fingerprint(t)
		res := next(t, agileplus.NextRequest{Project: "SKL", Labels: []string{"db", "frontend"}, Claim: true, Agent: "a"})
		if res.WP != nil || res.Lease != nil {
			t.Fatalf("all of db, frontend: got %+v, want no WP", res)
		}
		mustMention(t, agileplus.Errorf(agileplus.EINVALID, "%s", res.Message), "nothing is ready in project SKL labelled db and frontend")
		res = next(t, agileplus.NextRequest{Project: "SKL", Owner: "carol"})
		mustMention(t, agileplus.Errorf(agileplus.EINVALID, "%s", res.Message), "owned by carol")
		mustEqual(t, "store after no match", f.fingerprint(t), before)

		res = next(t, agileplus.NextRequest{Project: "SKL", Owner: "ann", Claim: true, Agent: "ann"})
		mustEqual(t, "ann claims", key(res), "SKL-1")
		mustEqual(t, "ann's next", peek(agileplus.NextRequest{Owner: "ann"}), "SKL-4")
		mustEqual(t, "go after the claim", key(next(t, agileplus.NextRequest{Project: "SKL", Labels: []string{"go"}, Claim: true, Agent: "b"})), "SKL-2")
	})

	t.Run("bad filters change nothing", func(t *testing.T) {
		before := f.fingerprint(t)
		for _, c := range []struct {
			q     agileplus.NextRequest
			field string
		}{
			{agileplus.NextRequest{Labels: []string{"no spaces"}}, "labels"},
			{agileplus.NextRequest{Labels: []string{""}}, "labels"},
			{agileplus.NextRequest{Labels: make([]string, agileplus.MaxLabels+1)}, "labels"},
			{agileplus.NextRequest{Labels: []string{"go"}, LabelsMode: "some"}, "labels_mode"},
			{agileplus.NextRequest{Owner: "   "}, "owner"},
			{agileplus.NextRequest{Owner: strings.Repeat("o", 300), Claim: true, Agent: "a"}, "owner"},
		} {
			_, err := f.svc.Next(f.ctx, c.q)
			mustField(t, err, agileplus.EINVALID, c.field)
		}
		mustEqual(t, "store", f.fingerprint(t), before)
	})
}

// testNextRace has 20 agents ask for and claim the next WP at once on a
// project with 10 ready: each WP goes to exactly one of them, and the
// other 10 are told nothing is ready.
func testNextRace(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	f.wps(t, "alpha", 10)
	const n = 20
	var (
		wg    sync.WaitGroup
		ready = make(chan struct{})
		errs  = make([]error, n)
		res   = make([]*agileplus.NextResult, n)
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			res[i], errs[i] = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: fmt.Sprintf("agent-%d", i), TTLSeconds: 60})
		})
	}
	close(ready)
	wg.Wait()

	winners := map[string]string{} // WP key -> agent
	none := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("agent-%d: got error %v, want a WP or nothing ready", i, err)
			continue
		}
		r := res[i]
		if r.WP == nil {
			none++
			continue
		}
		if r.Lease == nil || r.Lease.Agent != fmt.Sprintf("agent-%d", i) {
			t.Errorf("agent-%d: got WP %s with lease %+v, want its own lease", i, r.WP.Key, r.Lease)
		}
		if prev, ok := winners[r.WP.Key]; ok {
			t.Errorf("%s went to both %s and agent-%d", r.WP.Key, prev, i)
		}
		winners[r.WP.Key] = fmt.Sprintf("agent-%d", i)
	}
	mustEqual(t, "distinct winners", len(winners), 10)
	mustEqual(t, "told nothing is ready", none, 10)
	for k, agent := range winners {
		w := f.getWP(t, k)
		if w.Lease == nil || w.Lease.Agent != agent || w.Lease.Token != 1 {
			t.Errorf("%s: stored lease %+v, want %s's with token 1", k, w.Lease, agent)
		}
		events := f.events(t, w.ID)
		mustEqual(t, "events of "+k, len(events), 2)
	}
}
