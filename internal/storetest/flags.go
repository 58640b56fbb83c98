package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// flagsText describes the flags in force in a scope as "name=value(source)"
// in name order.
func (f *fixture) flagsText(t *testing.T, project string) string {
	t.Helper()
	fs, err := f.svc.Flags(f.ctx, project)
	mustOK(t, err)
	return flagSetText(fs)
}

func flagSetText(fs *agileplus.FlagSet) string {
	var out []string
	for _, fl := range fs.Flags {
		out = append(out, fmt.Sprintf("%s=%s(%s)", fl.Name, fl.Value, fl.Source))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// storedFlags reads a scope's flag values from the store itself.
func (f *fixture) storedFlags(t *testing.T, scope string) map[string]string {
	t.Helper()
	var vals map[string]string
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) (err error) {
		vals, err = tx.FlagValues(f.ctx, scope)
		return err
	}))
	return vals
}

func (f *fixture) setFlags(t *testing.T, project string, set map[string]string, unset ...string) *agileplus.FlagSet {
	t.Helper()
	u := agileplus.FlagsUpdate{Set: map[string]json.RawMessage{}, Unset: unset}
	for k, v := range set {
		u.Set[k] = json.RawMessage(v)
	}
	fs, err := f.svc.SetFlags(f.ctx, project, u)
	mustOK(t, err)
	return fs
}

const (
	defaultFlags = "wip.max_claims_per_agent=0(default) wip.max_doing_per_project=0(default) workflow.require_review=true(default)"
)

func testFlags(t *testing.T, f *fixture) {
	p := f.project(t, "CORE")
	f.project(t, "OPS")

	t.Run("defaults", func(t *testing.T) {
		mustEqual(t, "global flags", f.flagsText(t, ""), defaultFlags)
		mustEqual(t, "CORE's flags", f.flagsText(t, "CORE"), defaultFlags)
		fs, err := f.svc.Flags(f.ctx, "")
		mustOK(t, err)
		if fl := fs.Get(agileplus.FlagMaxClaimsPerAgent); fl == nil || fl.Type != agileplus.FlagInteger || fl.Minimum == nil || *fl.Minimum != 0 || fl.Maximum == nil || *fl.Maximum != 1000 {
			t.Errorf("got %+v, want an integer flag bounded 0 to 1000", fl)
		}
		if fl := fs.Get(agileplus.FlagRequireReview); fl == nil || fl.Type != agileplus.FlagBool || string(fl.Default) != "true" {
			t.Errorf("got %+v, want a bool flag defaulting to true", fl)
		}
	})

	t.Run("global then project values", func(t *testing.T) {
		fs := f.setFlags(t, "", map[string]string{agileplus.FlagMaxClaimsPerAgent: "3", agileplus.FlagRequireReview: "false"})
		want := "wip.max_claims_per_agent=3(global) wip.max_doing_per_project=0(default) workflow.require_review=false(global)"
		mustEqual(t, "answer", flagSetText(fs), want)
		mustEqual(t, "global flags", f.flagsText(t, ""), want)
		mustEqual(t, "OPS's flags", f.flagsText(t, "OPS"), want)

		// An integer may be written as JSON Schema counts integers.
		fs = f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxClaimsPerAgent: "5.0", agileplus.FlagMaxDoingPerProject: "2"})
		want = "wip.max_claims_per_agent=5(project) wip.max_doing_per_project=2(project) workflow.require_review=false(global)"
		mustEqual(t, "answer", flagSetText(fs), want)
		mustEqual(t, "answer's project", fs.Project, "CORE")
		mustEqual(t, "CORE's flags", f.flagsText(t, p.ID), want)
		mustEqual(t, "OPS's flags", f.flagsText(t, "OPS"), "wip.max_claims_per_agent=3(global) wip.max_doing_per_project=0(default) workflow.require_review=false(global)")

		got := f.storedFlags(t, p.ID)
		if want := map[string]string{agileplus.FlagMaxClaimsPerAgent: "5", agileplus.FlagMaxDoingPerProject: "2"}; !maps.Equal(got, want) {
			t.Errorf("stored CORE flags: got %v, want %v", got, want)
		}
		if got := f.storedFlags(t, ""); len(got) != 2 {
			t.Errorf("stored global flags: got %v, want two", got)
		}
	})

	t.Run("events", func(t *testing.T) {
		es := f.events(t, "")
		var flagEvents []*agileplus.Event
		for _, e := range es {
			if e.EntityKind == agileplus.KindFlag {
				flagEvents = append(flagEvents, e)
			}
		}
		if len(flagEvents) != 2 {
			t.Fatalf("got %d flag events, want 2", len(flagEvents))
		}
		g, c := flagEvents[0], flagEvents[1]
		mustEqual(t, "type", g.Type, "flag.set")
		mustEqual(t, "global entity", g.EntityID, agileplus.FlagSetID(""))
		mustEqual(t, "global event's project", g.ProjectKey, agileplus.SystemProject)
		mustEqual(t, "project entity", c.EntityID, agileplus.FlagSetID(p.ID))
		mustEqual(t, "project event's project", c.ProjectKey, "CORE")
		mustEqual(t, "actor", c.Actor, Actor)
		var data struct {
			Project string                     `json:"project"`
			Set     map[string]json.RawMessage `json:"set"`
		}
		mustOK(t, json.Unmarshal(c.Data, &data))
		mustEqual(t, "data project", data.Project, "CORE")
		mustEqual(t, "data set", string(data.Set[agileplus.FlagMaxClaimsPerAgent]), "5")
	})

	t.Run("the same values again record nothing", func(t *testing.T) {
		before := len(f.events(t, ""))
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxDoingPerProject: "2"})
		f.setFlags(t, "OPS", nil, agileplus.FlagMaxDoingPerProject) // not stored there
		mustEqual(t, "events", len(f.events(t, "")), before)
	})

	t.Run("unset returns to the value above", func(t *testing.T) {
		fs := f.setFlags(t, "CORE", nil, agileplus.FlagMaxClaimsPerAgent)
		mustEqual(t, "answer", flagSetText(fs), "wip.max_claims_per_agent=3(global) wip.max_doing_per_project=2(project) workflow.require_review=false(global)")
		fs = f.setFlags(t, "", nil, agileplus.FlagMaxClaimsPerAgent, agileplus.FlagRequireReview)
		mustEqual(t, "global", flagSetText(fs), defaultFlags)
		mustEqual(t, "CORE's flags", f.flagsText(t, "CORE"), "wip.max_claims_per_agent=0(default) wip.max_doing_per_project=2(project) workflow.require_review=true(default)")
		es := f.events(t, agileplus.FlagSetID(p.ID))
		mustEqual(t, "CORE flag events", len(es), 2)
		mustOK(t, agileplus.VerifyEventChain(es))
	})

	t.Run("refusals write nothing", func(t *testing.T) {
		before := f.flagsText(t, "") + "|" + f.flagsText(t, "CORE") + fmt.Sprint(len(f.events(t, "")))
		for _, tt := range []struct {
			name, project, field string
			u                    agileplus.FlagsUpdate
		}{
			{"nothing", "", "set", agileplus.FlagsUpdate{}},
			{"unknown name", "", "set.wip.max_claims", agileplus.FlagsUpdate{Set: map[string]json.RawMessage{"wip.max_claims": json.RawMessage("1")}}},
			{"a string for an integer", "CORE", "set." + agileplus.FlagMaxClaimsPerAgent, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxClaimsPerAgent: json.RawMessage(`"2"`)}}},
			{"a fraction", "CORE", "set." + agileplus.FlagMaxClaimsPerAgent, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxClaimsPerAgent: json.RawMessage(`2.5`)}}},
			{"a number for a bool", "", "set." + agileplus.FlagRequireReview, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagRequireReview: json.RawMessage(`1`)}}},
			{"a negative limit", "", "set." + agileplus.FlagMaxDoingPerProject, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxDoingPerProject: json.RawMessage(`-1`)}}},
			{"over the maximum", "", "set." + agileplus.FlagMaxClaimsPerAgent, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxClaimsPerAgent: json.RawMessage(`1001`)}}},
			{"one bad among good", "CORE", "set." + agileplus.FlagRequireReview, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{
				agileplus.FlagMaxClaimsPerAgent: json.RawMessage(`1`), agileplus.FlagRequireReview: json.RawMessage(`"yes"`)}}},
			{"unset unknown", "CORE", "unset[1]", agileplus.FlagsUpdate{Unset: []string{agileplus.FlagMaxDoingPerProject, "nope"}}},
			{"set and unset", "CORE", "unset[0]", agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxDoingPerProject: json.RawMessage(`1`)}, Unset: []string{agileplus.FlagMaxDoingPerProject}}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.svc.SetFlags(f.ctx, tt.project, tt.u)
				mustField(t, err, agileplus.EINVALID, tt.field)
			})
		}
		_, err := f.svc.SetFlags(f.ctx, "NOPE", agileplus.FlagsUpdate{Unset: []string{agileplus.FlagMaxDoingPerProject}})
		mustCode(t, err, agileplus.ENOTFOUND)
		_, err = f.svc.Flags(f.ctx, "NOPE")
		mustCode(t, err, agileplus.ENOTFOUND)
		after := f.flagsText(t, "") + "|" + f.flagsText(t, "CORE") + fmt.Sprint(len(f.events(t, "")))
		mustEqual(t, "flags and events", after, before)
	})
}

func (f *fixture) claim(agent, ref string) error {
	_, err := f.svc.Claim(f.ctx, ref, agileplus.ClaimRequest{Agent: agent, TTLSeconds: 60})
	return err
}

func testWIPLimits(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "OPS", "gamma")
	ws := f.wps(t, "alpha", 6)  // CORE-1..6
	ops := f.wps(t, "gamma", 2) // OPS-1..2

	t.Run("claims per agent", func(t *testing.T) {
		f.setFlags(t, "", map[string]string{agileplus.FlagMaxClaimsPerAgent: "2"})
		mustOK(t, f.claim("ann", ws[0].Key))
		mustOK(t, f.claim("ann", ops[0].Key)) // every project counts
		err := f.claim("ann", ws[1].Key)
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxClaimsPerAgent)
		mustMention(t, err, "ann", "2", "the global value")
		if w := f.getWP(t, ws[1].Key); w.Lease != nil {
			t.Errorf("refused claim left lease %+v", w.Lease)
		}
		mustOK(t, f.claim("bob", ws[1].Key)) // another agent's count

		// Next with claim obeys it too, and takes nothing.
		before := len(f.events(t, ""))
		_, err = f.svc.Next(f.ctx, agileplus.NextRequest{Project: "CORE", Claim: true, Agent: "ann", TTLSeconds: 60})
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxClaimsPerAgent)
		mustEqual(t, "events after a refused next", len(f.events(t, "")), before)

		// A project's own value overrides the global one there.
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxClaimsPerAgent: "3"})
		mustOK(t, f.claim("ann", ws[2].Key))
		err = f.claim("ann", ws[3].Key)
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxClaimsPerAgent)
		mustMention(t, err, "the project's value")
		mustField(t, f.claim("ann", ops[1].Key), agileplus.ERULE, agileplus.FlagMaxClaimsPerAgent)

		// A released or expired lease no longer counts.
		w := f.getWP(t, ws[2].Key)
		mustOK(t, f.svc.Release(f.ctx, w.Key, agileplus.ClaimRequest{Token: w.Lease.Token}))
		mustOK(t, f.claim("ann", ws[3].Key))
		f.clock.Advance(2 * time.Minute)
		mustOK(t, f.claim("ann", ws[4].Key))

		// 0 is no limit.
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxClaimsPerAgent: "0"})
		mustOK(t, f.claim("ann", ws[5].Key))
		mustOK(t, f.claim("ann", ws[0].Key))
		f.setFlags(t, "CORE", nil, agileplus.FlagMaxClaimsPerAgent)
		f.setFlags(t, "", nil, agileplus.FlagMaxClaimsPerAgent)
	})

	t.Run("doing per project", func(t *testing.T) {
		f.clock.Advance(2 * time.Minute) // every lease has expired
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxDoingPerProject: "1"})
		f.move(t, ws[0].Key, agileplus.WPDoing)
		_, err := f.svc.TransitionWP(f.ctx, ws[1].Key, agileplus.Transition{To: agileplus.WPDoing}, 0)
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxDoingPerProject)
		mustMention(t, err, "CORE", ws[1].Key)
		// Force passes open dependencies, not the limit.
		_, err = f.svc.TransitionWP(f.ctx, ws[1].Key, agileplus.Transition{To: agileplus.WPDoing, Force: true, Reason: "urgent"}, 0)
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxDoingPerProject)
		mustEqual(t, "refused wp's state", f.getWP(t, ws[1].Key).State, agileplus.WPPlanned)
		f.move(t, ops[0].Key, agileplus.WPDoing) // another project

		f.move(t, ws[0].Key, agileplus.WPReview)
		f.move(t, ws[1].Key, agileplus.WPDoing)
		_, err = f.svc.TransitionWP(f.ctx, ws[0].Key, agileplus.Transition{To: agileplus.WPDoing}, 0)
		mustField(t, err, agileplus.ERULE, agileplus.FlagMaxDoingPerProject)
		f.move(t, ws[1].Key, agileplus.WPBlocked)
		f.move(t, ws[0].Key, agileplus.WPDoing)
		f.setFlags(t, "CORE", nil, agileplus.FlagMaxDoingPerProject)
		f.move(t, ws[1].Key, agileplus.WPDoing)
	})

	t.Run("review", func(t *testing.T) {
		// CORE-1 and CORE-2 are in doing.
		_, err := f.svc.TransitionWP(f.ctx, ws[0].Key, agileplus.Transition{To: agileplus.WPDone}, 0)
		mustField(t, err, agileplus.ERULE, agileplus.FlagRequireReview)
		mustMention(t, err, "the default", "review")
		f.setFlags(t, "", map[string]string{agileplus.FlagRequireReview: "false"})
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagRequireReview: "true"})
		_, err = f.svc.TransitionWP(f.ctx, ws[0].Key, agileplus.Transition{To: agileplus.WPDone}, 0)
		mustField(t, err, agileplus.ERULE, agileplus.FlagRequireReview)
		mustMention(t, err, "the project's value")
		f.move(t, ops[0].Key, agileplus.WPDone) // the global value in OPS

		f.setFlags(t, "CORE", nil, agileplus.FlagRequireReview)
		l, err := f.svc.Claim(f.ctx, ws[0].Key, agileplus.ClaimRequest{Agent: "cat", TTLSeconds: 60})
		mustOK(t, err)
		w, err := f.svc.TransitionWP(f.ctx, ws[0].Key, agileplus.Transition{To: agileplus.WPDone, Token: l.Token}, 0)
		mustOK(t, err)
		if w.Lease != nil {
			t.Errorf("done wp keeps lease %+v", w.Lease)
		}
		// Only doing may skip review: the rest of the state machine holds.
		_, err = f.svc.TransitionWP(f.ctx, ws[2].Key, agileplus.Transition{To: agileplus.WPDone}, 0)
		mustField(t, err, agileplus.ERULE, "to")
		f.setFlags(t, "", nil, agileplus.FlagRequireReview)
	})
}

// testWIPRaces: concurrent writes cannot pass a limit, because it is
// checked in the transaction that writes.
func testWIPRaces(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	const n, k = 12, 3
	ws := f.wps(t, "alpha", 2*n)

	race := func(t *testing.T, do func(i int) error) (wins int) {
		t.Helper()
		var (
			wg    sync.WaitGroup
			ready = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-ready
				errs[i] = do(i)
			})
		}
		close(ready)
		wg.Wait()
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case agileplus.ErrorCode(err) != agileplus.ERULE:
				t.Errorf("attempt %d: got %v, want nil or a %s error", i, err, agileplus.ERULE)
			}
		}
		return wins
	}

	t.Run("claims by one agent", func(t *testing.T) {
		f.setFlags(t, "", map[string]string{agileplus.FlagMaxClaimsPerAgent: fmt.Sprint(k)})
		wins := race(t, func(i int) error { return f.claim("racer", ws[i].Key) })
		mustEqual(t, "claims won", wins, k)
		var live int
		mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) (err error) {
			live, err = tx.LiveLeases(f.ctx, "racer", f.clock.Now())
			return err
		}))
		mustEqual(t, "live leases", live, k)
	})

	t.Run("moves into doing", func(t *testing.T) {
		f.setFlags(t, "CORE", map[string]string{agileplus.FlagMaxDoingPerProject: fmt.Sprint(k)})
		wins := race(t, func(i int) error {
			_, err := f.svc.TransitionWP(f.ctx, ws[n+i].Key, agileplus.Transition{To: agileplus.WPDoing}, 0)
			return err
		})
		mustEqual(t, "moves won", wins, k)
		var doing int
		mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) (err error) {
			doing, err = tx.CountWPs(f.ctx, f.getWP(t, ws[0].Key).ProjectID, agileplus.WPDoing)
			return err
		}))
		mustEqual(t, "WPs in doing", doing, k)
	})
}
