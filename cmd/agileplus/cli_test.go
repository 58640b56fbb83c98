package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// cliOK runs a command that must succeed and returns its stdout.
func cliOK(t *testing.T, url string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, url, args...)
	if err != nil {
		t.Fatalf("agileplus %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// cliJSON runs a command with --json and decodes its stdout into T.
func cliJSON[T any](t *testing.T, url string, args ...string) T {
	t.Helper()
	out := cliOK(t, url, append(args, "--json")...)
	var v T
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("agileplus %s --json: decode into %T: %v\n%s", strings.Join(args, " "), v, err, out)
	}
	return v
}

// cliItems runs a list command with --json and returns the items of the
// page it prints.
func cliItems[T any](t *testing.T, url string, args ...string) []T {
	t.Helper()
	return cliJSON[pageJSON[T]](t, url, args...).Items
}

// cliFails runs a command that must fail and returns its error.
func cliFails(t *testing.T, url string, args ...string) error {
	t.Helper()
	out, _, err := runCLI(t, url, args...)
	if err == nil {
		t.Fatalf("agileplus %s succeeded, want an error; stdout:\n%s", strings.Join(args, " "), out)
	}
	return err
}

func keysOf(ws []*agileplus.WP) []string {
	var ks []string
	for _, w := range ws {
		ks = append(ks, w.Key)
	}
	return ks
}

func TestCLITour(t *testing.T) {
	url := startTestServer(t)
	var token int64

	t.Run("create project, feature and work packages", func(t *testing.T) {
		if out := cliOK(t, url, "project", "create", "TOUR", "--name", "Tour project"); !strings.Contains(out, "created project TOUR") {
			t.Errorf("project create printed %q", out)
		}
		if out := cliOK(t, url, "feature", "create", "TOUR", "tour-widget", "--title", "Widget", "--description", "A widget."); !strings.Contains(out, "tour-widget") {
			t.Errorf("feature create printed %q", out)
		}
		for i, title := range []string{"Schema", "API", "Docs"} {
			out := cliOK(t, url, "wp", "create", "tour-widget", "--title", title, "--estimate", "2.5")
			if want := "created TOUR-" + strconv.Itoa(i+1) + ": " + title + " (planned, 2.5h)"; !strings.Contains(out, want) {
				t.Errorf("wp create printed %q, want %q", out, want)
			}
		}
		out := cliOK(t, url, "wp", "list", "--project", "TOUR")
		for _, want := range []string{"KEY", "STATE", "EST", "CLAIMED BY", "TOUR-1", "TOUR-3", "tour-widget", "Docs"} {
			if !strings.Contains(out, want) {
				t.Errorf("wp list lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("dependencies shape what is ready", func(t *testing.T) {
		if out := cliOK(t, url, "dep", "add", "TOUR-2", "TOUR-1"); !strings.Contains(out, "TOUR-2 depends_on TOUR-1") {
			t.Errorf("dep add printed %q", out)
		}
		if out := cliOK(t, url, "dep", "add", "TOUR-3", "TOUR-1", "--kind", "relates_to"); !strings.Contains(out, "relates_to") {
			t.Errorf("dep add --kind relates_to printed %q", out)
		}
		ready := cliItems[*agileplus.WP](t, url, "ready", "TOUR")
		if got, want := keysOf(ready), []string{"TOUR-1", "TOUR-3"}; !slices.Equal(got, want) {
			t.Errorf("ready: got %v, want %v", got, want)
		}
		if out := cliOK(t, url, "ready", "TOUR"); !strings.Contains(out, "TOUR-1") || strings.Contains(out, "TOUR-2") {
			t.Errorf("ready table:\n%s", out)
		}
		err := cliFails(t, url, "dep", "add", "TOUR-1", "TOUR-2")
		if !strings.Contains(err.Error(), "cycle") {
			t.Errorf("cyclic dep add: got %v, want a cycle error", err)
		}
	})

	t.Run("claim take, renew and move with the token", func(t *testing.T) {
		out := cliOK(t, url, "claim", "take", "TOUR-1", "--agent", "bot-1", "--ttl", "10m")
		if !strings.Contains(out, "claimed TOUR-1 for bot-1: token ") {
			t.Fatalf("claim take printed %q", out)
		}
		w := cliJSON[wpWithDependencies](t, url, "wp", "show", "TOUR-1")
		if w.WP.Lease == nil || w.Lease.Agent != "bot-1" {
			t.Fatalf("wp show: lease %+v, want one held by bot-1", w.Lease)
		}
		token = w.Lease.Token
		if !strings.Contains(out, "token "+strconv.FormatInt(token, 10)) {
			t.Errorf("claim take printed %q, want token %d", out, token)
		}
		if got := keysOf(cliItems[*agileplus.WP](t, url, "ready", "TOUR")); slices.Contains(got, "TOUR-1") {
			t.Errorf("ready lists the claimed TOUR-1: %v", got)
		}
		if err := cliFails(t, url, "claim", "take", "TOUR-1", "--agent", "bot-2"); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Errorf("second claim: got %v, want a conflict", err)
		}

		renewed := cliJSON[agileplus.Lease](t, url, "claim", "renew", "TOUR-1", "--token", strconv.FormatInt(token, 10), "--ttl", "1h")
		if left := time.Until(renewed.ExpiresAt); left < 50*time.Minute || renewed.Token != token {
			t.Errorf("renewed lease %+v: expires in %s, want about 1h with token %d", renewed, left, token)
		}

		err := cliFails(t, url, "wp", "move", "TOUR-1", "doing")
		if agileplus.ErrorCode(err) != agileplus.ECONFLICT || !strings.Contains(err.Error(), "token") {
			t.Errorf("move without token: got %v, want a conflict about the token", err)
		}
		if out := cliOK(t, url, "wp", "move", "TOUR-1", "doing", "--token", strconv.FormatInt(token, 10)); !strings.Contains(out, "TOUR-1 is now doing") {
			t.Errorf("wp move printed %q", out)
		}
	})

	t.Run("move past open dependencies only with force", func(t *testing.T) {
		err := cliFails(t, url, "wp", "move", "TOUR-2", "doing")
		if agileplus.ErrorCode(err) != agileplus.ERULE || !strings.Contains(err.Error(), "TOUR-1") {
			t.Errorf("move with open dependency: got %v, want a rule error naming TOUR-1", err)
		}
		err = cliFails(t, url, "wp", "move", "TOUR-2", "doing", "--force")
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--reason") {
			t.Errorf("--force without --reason: got %v, want a usage error asking for --reason", err)
		}
		w := cliJSON[agileplus.WP](t, url, "wp", "move", "TOUR-2", "doing", "--force", "--reason", "API contract agreed")
		if w.State != agileplus.WPDoing {
			t.Errorf("forced move: state %q, want doing", w.State)
		}
		out := cliOK(t, url, "wp", "show", "TOUR-2")
		for _, want := range []string{"waits on", "TOUR-1", "State:", "doing"} {
			if !strings.Contains(out, want) {
				t.Errorf("wp show lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("release", func(t *testing.T) {
		tok := strconv.FormatInt(token, 10)
		if out := cliOK(t, url, "claim", "release", "TOUR-1", "--token", tok); !strings.Contains(out, "released TOUR-1") {
			t.Errorf("claim release printed %q", out)
		}
		if err := cliFails(t, url, "claim", "release", "TOUR-1", "--token", tok); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Errorf("second release: got %v, want a conflict", err)
		}
		if w := cliJSON[agileplus.WP](t, url, "wp", "move", "TOUR-1", "review"); w.State != agileplus.WPReview {
			t.Errorf("move after release: state %q, want review", w.State)
		}
	})

	t.Run("feature move records skipped states", func(t *testing.T) {
		f := cliJSON[agileplus.Feature](t, url, "feature", "move", "tour-widget", "planned", "--reason", "spike done")
		if f.State != agileplus.FeaturePlanned {
			t.Errorf("feature state %q, want planned", f.State)
		}
		if err := cliFails(t, url, "feature", "move", "tour-widget", "specified"); agileplus.ErrorCode(err) != agileplus.ERULE {
			t.Errorf("feature move backwards: got %v, want a rule error", err)
		}
	})

	t.Run("events", func(t *testing.T) {
		es := cliItems[*agileplus.Event](t, url, "events", "--entity", "TOUR-1")
		var types []string
		for _, e := range es {
			types = append(types, e.Type)
		}
		for _, want := range []string{"wp.created", "wp.claimed", "wp.renewed", "wp.transitioned", "wp.released"} {
			if !slices.Contains(types, want) {
				t.Errorf("events of TOUR-1: %v lack %s", types, want)
			}
		}
		if es[0].Actor != "tester" {
			t.Errorf("event actor %q, want tester (from USER)", es[0].Actor)
		}
		after := es[0].GlobalSeq
		for _, e := range cliItems[*agileplus.Event](t, url, "events", "--after", strconv.FormatInt(after, 10), "--limit", "3") {
			if e.GlobalSeq <= after {
				t.Errorf("events --after %d returned seq %d", after, e.GlobalSeq)
			}
		}
		out := cliOK(t, url, "events", "--entity", "TOUR-1")
		if !strings.Contains(out, "wp.claimed") || !strings.Contains(out, "TOUR-1") {
			t.Errorf("events table:\n%s", out)
		}
	})

	t.Run("audit", func(t *testing.T) {
		out := cliOK(t, url, "audit", "show", "tour-widget")
		for _, want := range []string{"FORCED: API contract agreed", "skipped specified, researched", "claimed by bot-1"} {
			if !strings.Contains(out, want) {
				t.Errorf("audit show lacks %q:\n%s", want, out)
			}
		}
		if out := cliOK(t, url, "audit", "verify", "tour-widget"); !strings.Contains(out, "intact") {
			t.Errorf("audit verify printed %q", out)
		}
		v := cliJSON[agileplus.AuditVerification](t, url, "audit", "verify", "tour-widget")
		if !v.Valid || v.Entries < 10 {
			t.Errorf("audit verify: %+v, want a valid chain of at least 10 entries", v)
		}
	})
}

func TestCLIJSONDecodesIntoDomainTypes(t *testing.T) {
	url := startTestServer(t)

	p := cliJSON[agileplus.Project](t, url, "project", "create", "JS", "--name", "JSON")
	if p.Key != "JS" || p.ID == "" || p.Version != 1 {
		t.Errorf("project: %+v", p)
	}
	p = cliJSON[agileplus.Project](t, url, "project", "update", "JS", "--name", "JSON 2", "--if-version", "1")
	if p.Name != "JSON 2" || p.Version != 2 {
		t.Errorf("updated project: %+v", p)
	}
	if err := cliFails(t, url, "project", "update", "JS", "--name", "stale", "--if-version", "1"); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
		t.Errorf("stale --if-version: got %v, want a conflict", err)
	}
	if ps := cliItems[*agileplus.Project](t, url, "project", "list"); len(ps) != 1 || ps[0].Key != "JS" {
		t.Errorf("project list: %+v", ps)
	}
	if got := cliJSON[agileplus.Project](t, url, "project", "show", "JS"); got.ID != p.ID {
		t.Errorf("project show: id %s, want %s", got.ID, p.ID)
	}

	f := cliJSON[agileplus.Feature](t, url, "feature", "create", "JS", "js-feature", "--title", "Feature")
	if f.Slug != "js-feature" || f.ProjectKey != "JS" || f.State != agileplus.FeatureCreated {
		t.Errorf("feature: %+v", f)
	}
	f = cliJSON[agileplus.Feature](t, url, "feature", "update", "js-feature", "--description", "Now described.")
	if f.Description != "Now described." || f.Title != "Feature" {
		t.Errorf("updated feature: %+v", f)
	}
	if fs := cliItems[*agileplus.Feature](t, url, "feature", "list", "JS"); len(fs) != 1 || fs[0].ID != f.ID {
		t.Errorf("feature list: %+v", fs)
	}
	if got := cliJSON[agileplus.Feature](t, url, "feature", "show", "js-feature"); got.Version != f.Version {
		t.Errorf("feature show: version %d, want %d", got.Version, f.Version)
	}

	if empty := strings.Join(strings.Fields(cliOK(t, url, "wp", "list", "--project", "JS", "--json")), ""); empty != `{"items":[]}` {
		t.Errorf("empty wp list printed %q, want {\"items\": []}", empty)
	}
	a := cliJSON[agileplus.WP](t, url, "wp", "create", "js-feature", "--title", "First", "--estimate", "4")
	b := cliJSON[agileplus.WP](t, url, "wp", "create", "js-feature", "--title", "Second")
	if a.Key != "JS-1" || a.Estimate != 4 || b.Estimate != agileplus.DefaultEstimate {
		t.Errorf("wps: %+v, %+v", a, b)
	}
	a = cliJSON[agileplus.WP](t, url, "wp", "update", "JS-1", "--estimate", "6", "--title", "First, bigger")
	if a.Estimate != 6 || a.Title != "First, bigger" {
		t.Errorf("updated wp: %+v", a)
	}
	d := cliJSON[agileplus.Dependency](t, url, "dep", "add", "JS-1", "JS-2", "--kind", "blocks")
	if d.FromKey != "JS-2" || d.ToKey != "JS-1" || d.Kind != agileplus.DependsOn {
		t.Errorf("blocks dependency stored as %s %s %s, want JS-2 depends_on JS-1", d.FromKey, d.Kind, d.ToKey)
	}
	edges := cliItems[*agileplus.Edge](t, url, "dep", "list", "JS-1")
	if len(edges) != 1 || edges[0].Direction != agileplus.Blocks || edges[0].OtherKey != "JS-2" {
		t.Errorf("dep list JS-1: %+v", edges)
	}
	// wp show --json is the WP plus its dependencies.
	var shown agileplus.WP
	out := cliOK(t, url, "wp", "show", "JS-2", "--json")
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.Key != "JS-2" {
		t.Errorf("wp show --json does not decode into a WP: %v\n%s", err, out)
	}
	if sw := cliJSON[wpWithDependencies](t, url, "wp", "show", "JS-2"); len(sw.Dependencies) != 1 || sw.Dependencies[0].OtherKey != "JS-1" {
		t.Errorf("wp show dependencies: %+v", sw.Dependencies)
	}
	if ws := cliItems[*agileplus.WP](t, url, "wp", "list", "--feature", "js-feature", "--state", "planned"); len(ws) != 2 {
		t.Errorf("wp list --feature --state: %d wps, want 2", len(ws))
	}
	if ws := cliItems[*agileplus.WP](t, url, "wp", "list", "--project", "JS", "--limit", "1"); len(ws) != 1 {
		t.Errorf("wp list --limit 1: %d wps", len(ws))
	}
	rm := cliJSON[map[string]any](t, url, "dep", "rm", d.ID)
	if rm["removed"] != true {
		t.Errorf("dep rm --json: %v", rm)
	}
	if edges := cliItems[*agileplus.Edge](t, url, "dep", "list", "JS-1"); len(edges) != 0 {
		t.Errorf("dep list after rm: %+v", edges)
	}

	l := cliJSON[agileplus.Lease](t, url, "claim", "take", "JS-1")
	if l.Agent != "tester" || l.Token <= 0 || time.Until(l.ExpiresAt) > agileplus.DefaultLeaseTTL {
		t.Errorf("claim take without --agent: %+v, want tester's 15m lease", l)
	}
	rel := cliJSON[map[string]any](t, url, "claim", "release", "JS-1", "--token", strconv.FormatInt(l.Token, 10))
	if rel["released"] != true {
		t.Errorf("claim release --json: %v", rel)
	}
	if as := cliItems[*agileplus.AuditEntry](t, url, "audit", "show", "js-feature", "--after", "2"); len(as) == 0 || as[0].Seq != 3 {
		t.Errorf("audit show --after 2: %+v", as)
	}
}

func TestSeedSampleData(t *testing.T) {
	url := startTestServer(t)

	sum := cliJSON[seedSummary](t, url, "seed", "--sample-data")
	if got, want := sum.Projects, []string{"CORE", "WEB", "MOB"}; !slices.Equal(got, want) {
		t.Errorf("seeded projects %v, want %v", got, want)
	}

	ps := cliItems[*agileplus.Project](t, url, "project", "list")
	if len(ps) != 3 {
		t.Fatalf("%d projects, want 3", len(ps))
	}
	ws := cliItems[*agileplus.WP](t, url, "wp", "list", "--limit", "1000")
	if len(ws) < 55 || len(ws) > 65 || len(ws) != sum.WPs {
		t.Errorf("%d work packages (summary says %d), want about 60", len(ws), sum.WPs)
	}
	states := map[string]int{}
	claimed := 0
	for _, w := range ws {
		states[w.State]++
		if w.Lease != nil {
			claimed++
		}
	}
	for _, s := range agileplus.WPStates {
		if states[s] == 0 {
			t.Errorf("no work package is %s: %v", s, states)
		}
		if states[s] != sum.WPStates[s] {
			t.Errorf("%d work packages are %s, summary says %d", states[s], s, sum.WPStates[s])
		}
	}
	if claimed < 2 || claimed != len(sum.Claims) {
		t.Errorf("%d live claims (summary says %d), want at least 2", claimed, len(sum.Claims))
	}

	// The web app's PKCE login waits on the core token endpoint.
	i := slices.IndexFunc(ws, func(w *agileplus.WP) bool { return strings.Contains(w.Title, "PKCE") })
	if i < 0 {
		t.Fatal("no PKCE work package in the sample")
	}
	edges := cliItems[*agileplus.Edge](t, url, "dep", "list", ws[i].Key)
	if !slices.ContainsFunc(edges, func(e *agileplus.Edge) bool {
		return e.Direction == agileplus.DependsOn && strings.HasPrefix(e.OtherKey, "CORE-") && e.OtherState == agileplus.WPDone
	}) {
		t.Errorf("%s (%s) has no cross-project dependency on a done CORE work package: %+v", ws[i].Key, ws[i].ProjectKey, edges)
	}
	if fe := cliItems[*agileplus.Edge](t, url, "dep", "list", "login-flow"); !slices.ContainsFunc(fe, func(e *agileplus.Edge) bool { return e.OtherKey == "auth-service" }) {
		t.Errorf("login-flow has no feature dependency on auth-service: %+v", fe)
	}

	featureStates := map[string]bool{}
	skipped := false
	for _, p := range ps {
		for _, f := range cliItems[*agileplus.Feature](t, url, "feature", "list", p.Key) {
			featureStates[f.State] = true
			if v := cliJSON[agileplus.AuditVerification](t, url, "audit", "verify", f.Slug); !v.Valid || v.Entries == 0 {
				t.Errorf("audit of %s: %+v", f.Slug, v)
			}
			for _, a := range cliItems[*agileplus.AuditEntry](t, url, "audit", "show", f.Slug, "--limit", "1000") {
				skipped = skipped || strings.Contains(a.Summary, "skipped")
			}
		}
	}
	if len(featureStates) < 4 {
		t.Errorf("features are in only %d states: %v", len(featureStates), featureStates)
	}
	if !skipped {
		t.Error("no feature skipped a state")
	}

	if ready := keysOf(cliItems[*agileplus.WP](t, url, "ready", "CORE")); len(ready) == 0 {
		t.Error("nothing is ready in CORE")
	}
	for _, args := range [][]string{{"wp", "list", "--project", "WEB"}, {"ready", "MOB"}, {"project", "show", "CORE"}, {"feature", "show", "offline-sync"}, {"events", "--limit", "20"}} {
		if out := cliOK(t, url, args...); strings.Count(out, "\n") < 2 {
			t.Errorf("agileplus %s printed little:\n%s", strings.Join(args, " "), out)
		}
	}

	t.Run("second seed fails", func(t *testing.T) {
		err := cliFails(t, url, "seed", "--sample-data")
		if !strings.Contains(err.Error(), "already loaded") || !strings.Contains(err.Error(), "CORE") {
			t.Errorf("second seed: got %v, want it to say the sample is already loaded", err)
		}
		if n := len(cliItems[*agileplus.WP](t, url, "wp", "list", "--limit", "1000")); n != len(ws) {
			t.Errorf("second seed changed the work package count: %d, want %d", n, len(ws))
		}
	})
	t.Run("second seed with --once succeeds", func(t *testing.T) {
		out := cliOK(t, url, "seed", "--sample-data", "--once")
		if !strings.Contains(out, "already loaded") || !strings.Contains(out, "nothing to do") {
			t.Errorf("seed --once on a seeded server printed %q, want it to say the sample is already loaded", out)
		}
		if n := len(cliItems[*agileplus.WP](t, url, "wp", "list", "--limit", "1000")); n != len(ws) {
			t.Errorf("seed --once changed the work package count: %d, want %d", n, len(ws))
		}
	})
}

func TestSeedSampleIsConsistent(t *testing.T) {
	data := sampleData()
	order, err := data.startOrder()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(order); n < 55 || n > 65 {
		t.Errorf("sample has %d work packages, want about 60", n)
	}
	// A cycle among depends_on edges is caught before anything is sent.
	data.records = append(data.records, agileplus.Record{Type: agileplus.RecDependency, From: "CORE-1", To: "CORE-3", Kind: agileplus.DependsOn})
	if _, err := data.startOrder(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("sample with a cycle: got %v, want a cycle error", err)
	}
}

func TestCLIBadInput(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "BAD", "--name", "Bad input")
	cliOK(t, url, "feature", "create", "BAD", "bad-feature", "--title", "Feature")
	cliOK(t, url, "wp", "create", "bad-feature", "--title", "One")
	cliOK(t, url, "wp", "create", "bad-feature", "--title", "Two")

	tests := []struct {
		name  string
		args  []string
		want  []string // substrings of the error
		usage bool     // exit status 2
	}{
		{"unknown command", []string{"bogus"}, []string{`unknown command "bogus"`}, true},
		{"unknown subcommand", []string{"project", "creat"}, []string{`unknown command "creat"`, "did you mean create"}, true},
		{"missing subcommand", []string{"wp"}, []string{"missing command", "create", "move"}, true},
		{"missing argument", []string{"project", "create"}, []string{"missing KEY", "usage: agileplus project create KEY"}, true},
		{"missing arguments", []string{"dep", "add"}, []string{"missing FROM and TO"}, true},
		{"extra argument", []string{"ready", "BAD", "MORE"}, []string{`unexpected argument "MORE"`}, true},
		{"missing required flag", []string{"project", "create", "NEW"}, []string{"--name is required"}, true},
		{"unknown flag", []string{"wp", "list", "--limt", "3"}, []string{"unknown flag: --limt", "usage: agileplus wp list"}, true},
		{"bad flag value", []string{"wp", "create", "bad-feature", "--title", "X", "--estimate", "lots"}, []string{"--estimate"}, true},
		{"bad kind", []string{"dep", "add", "BAD-1", "BAD-2", "--kind", "sideways"}, []string{`unknown dependency kind "sideways"`, "depends_on, blocks, relates_to"}, true},
		{"bad wp state", []string{"wp", "move", "BAD-1", "finished"}, []string{`unknown work package state "finished"`, "planned"}, true},
		{"illegal wp move", []string{"wp", "move", "BAD-1", "done"}, []string{`wp BAD-1 cannot move from planned to done: from planned it can move to doing or blocked`}, false},
		{"bad feature state", []string{"feature", "move", "bad-feature", "nowhere"}, []string{`unknown feature state "nowhere"`, "specified"}, true},
		{"bad list state", []string{"wp", "list", "--state", "finished"}, []string{`unknown work package state "finished"`}, true},
		{"unknown wp", []string{"wp", "show", "BAD-99"}, []string{"BAD-99"}, false},
		{"renew without token", []string{"claim", "renew", "BAD-1"}, []string{"--token is required"}, true},
		{"ttl too short", []string{"claim", "take", "BAD-1", "--ttl", "10ms"}, []string{"--ttl 10ms is too short"}, true},
		{"ttl too long", []string{"claim", "take", "BAD-1", "--ttl", "800h"}, []string{"--ttl 800h is too long", "1s to 168h"}, true},
		{"nothing to update", []string{"wp", "update", "BAD-1"}, []string{"nothing to update"}, true},
		{"seed without flag", []string{"seed"}, []string{"--sample-data"}, true},
		{"bad limit", []string{"project", "list", "--limit", "5000"}, []string{"limit"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cliFails(t, url, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got, want := exitCode(err) == 2, tt.usage; got != want {
				t.Errorf("exit code %d for %q, want usage status: %v", exitCode(err), err, want)
			}
		})
	}
}
