// Package storetest is the contract suite every agileplus.Store adapter
// runs unchanged: it drives the domain Service over the store and checks
// every rule, the event and audit chains, the outbox and atomicity.
//
// RunThrough runs the same suite with every command and query going through
// a transport in front of the Service (the HTTP client and server), which
// proves the transport equivalent to the Service.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// Clock is a controllable clock: leases expire when the test says so.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// start has nanoseconds so that stores must keep full time precision: event
// and audit hashes cover it.
var start = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// tick is an awkward step so that stored times never round to a whole unit.
const tick = time.Second + 7*time.Nanosecond

// Run runs the contract suite. open returns a new, empty store; it is called
// once per subtest and the subtests run one after another, so an adapter may
// reset and reuse one database. open should register the store's Close with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) agileplus.Store) {
	RunThrough(t, open, Transport{})
}

// Transport is a way to reach the Service other than calling it.
type Transport struct {
	// Tracker returns a Tracker that reaches svc, the Service the suite
	// builds over each store, for the duration of t. It must attribute
	// changes to Actor, whatever the context says. Nil is svc itself.
	Tracker func(t *testing.T, svc *agileplus.Service) agileplus.Tracker
	// OwnSpan says the transport is a span of its own in a trace, as an
	// HTTP server is: an event then records the caller's trace id and flags
	// under the transport's new parent id, or a new sampled trace when the
	// caller sent no valid traceparent, instead of the caller's traceparent
	// as it is.
	OwnSpan bool
}

// RunThrough runs the contract suite with every command and query sent
// through the transport; the checks that read the store directly (events,
// outbox, transactions) still do.
// RunSearch runs the text search part of the suite alone, for a store
// whose search has more than one way to answer.
func RunSearch(t *testing.T, open func(t *testing.T) agileplus.Store) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{{"Search", testSearch}, {"SearchRefusals", testSearchRefusals}} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newFixture(t, open, Transport{})) })
	}
}

func RunThrough(t *testing.T, open func(t *testing.T) agileplus.Store, transport Transport) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"Projects", testProjects},
		{"ProjectPaging", testProjectPaging},
		{"Features", testFeatures},
		{"FeaturePaging", testFeaturePaging},
		{"WorkPackages", testWorkPackages},
		{"SnapshotPort", testSnapshotPort},
		{"TimeTravel", testTimeTravel},
		{"WPListing", testWPListing},
		{"FeatureTransitions", testFeatureTransitions},
		{"WPStateMachine", testWPStateMachine},
		{"Dependencies", testDependencies},
		{"DependencyCycles", testDependencyCycles},
		{"RemoveDependency", testRemoveDependency},
		{"Plan", testPlan},
		{"StartRule", testStartRule},
		{"Claims", testClaims},
		{"ClaimRace", testClaimRace},
		{"Ready", testReady},
		{"Next", testNext},
		{"NextRace", testNextRace},
		{"Priorities", testPriorities},
		{"PriorityOrder", testPriorityOrder},
		{"FeatureLists", testFeatureLists},
		{"ReadyEverywhere", testReadyEverywhere},
		{"Labels", testLabels},
		{"Owners", testOwners},
		{"LabelDefinitions", testLabelDefinitions},
		{"Flags", testFlags},
		{"WIPLimits", testWIPLimits},
		{"WIPRaces", testWIPRaces},
		{"Artifacts", testArtifacts},
		{"Search", testSearch},
		{"SearchRefusals", testSearchRefusals},
		{"References", testReferences},
		{"Comments", testComments},
		{"CommentAuthor", testCommentAuthor},
		{"Archive", testArchive},
		{"DeleteWP", testDeleteWP},
		{"GraphIndex", testGraphIndex},
		{"EventPerCommand", testEventPerCommand},
		{"EventChains", testEventChains},
		{"Outbox", testOutbox},
		{"EventTraceParent", testEventTraceParent},
		{"Audit", testAudit},
		{"RefusalsChangeNothing", testRefusalsChangeNothing},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"ConcurrentRollbacks", testConcurrentRollbacks},
		{"VersionGuard", testVersionGuard},
		{"FenceToken", testFenceToken},
		{"APIKeys", testAPIKeys},
		{"APIKeyUpdates", testAPIKeyUpdates},
		{"APIKeyRollback", testAPIKeyRollback},
		{"APIKeyImport", testAPIKeyImport},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newFixture(t, open, transport))
		})
	}
}

// fixture is one fresh store with a Service over it, reached directly or
// through a transport.
type fixture struct {
	ctx   context.Context
	store agileplus.Store
	clock *Clock
	svc   agileplus.Tracker
	// ownSpan: see Transport.OwnSpan.
	ownSpan bool
}

// Actor is who the suite's changes are attributed to; events and audit
// entries must record it.
const Actor = "storetest"

func newFixture(t *testing.T, open func(t *testing.T) agileplus.Store, transport Transport) *fixture {
	t.Helper()
	store := open(t)
	if store == nil {
		t.Fatal("open returned a nil store")
	}
	clock := NewClock(start)
	svc := &agileplus.Service{Store: store, Now: clock.Now, IDs: agileplus.NewIDGenerator(clock.Now)}
	f := &fixture{
		ctx:     agileplus.WithActor(t.Context(), Actor),
		store:   store,
		clock:   clock,
		svc:     svc,
		ownSpan: transport.OwnSpan,
	}
	if transport.Tracker != nil {
		f.svc = transport.Tracker(t, svc)
	}
	return f
}

// ---- assertions ----

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
}

// mustCode fails t unless err carries code.
func mustCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := agileplus.ErrorCode(err); got != code {
		t.Fatalf("got code %q (err %v), want %q", got, err, code)
	}
}

// mustField fails t unless err carries code and names field.
func mustField(t *testing.T, err error, code, field string) {
	t.Helper()
	mustCode(t, err, code)
	if got := agileplus.ErrorField(err); got != field {
		t.Fatalf("got field %q (err %v), want %q", got, err, field)
	}
}

// mustMention fails t unless err's message contains each of subs.
func mustMention(t *testing.T, err error, subs ...string) {
	t.Helper()
	msg := agileplus.ErrorMessage(err)
	for _, s := range subs {
		if !strings.Contains(msg, s) {
			t.Errorf("got message %q, want it to mention %q", msg, s)
		}
	}
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func mustTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %s, want %s", what, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
	}
}

// mustSame compares two values field by field (times by instant, nil and
// empty byte slices alike) and reports each difference.
func mustSame(t *testing.T, what string, got, want any) {
	t.Helper()
	for _, d := range diff("", reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Errorf("%s: %s", what, d)
	}
}

var timeType = reflect.TypeFor[time.Time]()

func diff(path string, got, want reflect.Value) []string {
	if !got.IsValid() || !want.IsValid() {
		if got.IsValid() != want.IsValid() {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano))}
		}
		return nil
	case got.Kind() == reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %v, want %v", path, fmtPtr(got), fmtPtr(want))}
			}
			return nil
		}
		return diff(path, got.Elem(), want.Elem())
	case got.Kind() == reflect.Struct:
		var out []string
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := f.Name
			if path != "" && !f.Anonymous {
				p = path + "." + f.Name
			} else if path != "" {
				p = path
			}
			out = append(out, diff(p, got.Field(i), want.Field(i))...)
		}
		return out
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, got.Bytes(), want.Bytes())}
		}
		return nil
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: got %d items, want %d", path, got.Len(), want.Len())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got.Interface(), want.Interface())}
	}
	return nil
}

func fmtPtr(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("%+v", v.Elem().Interface())
}

// ---- fixture helpers ----

func (f *fixture) project(t *testing.T, key string) *agileplus.Project {
	t.Helper()
	p, err := f.svc.CreateProject(f.ctx, agileplus.ProjectCreate{Key: key, Name: "Project " + key})
	mustOK(t, err)
	return p
}

func (f *fixture) feature(t *testing.T, projectRef, slug string) *agileplus.Feature {
	t.Helper()
	fe, err := f.svc.CreateFeature(f.ctx, projectRef, agileplus.FeatureCreate{Slug: slug, Title: "Feature " + slug})
	mustOK(t, err)
	return fe
}

func (f *fixture) wp(t *testing.T, featureRef, title string) *agileplus.WP {
	t.Helper()
	w, err := f.svc.CreateWP(f.ctx, featureRef, agileplus.WPCreate{Title: title})
	mustOK(t, err)
	return w
}

// wps creates n work packages in a feature.
func (f *fixture) wps(t *testing.T, featureRef string, n int) []*agileplus.WP {
	t.Helper()
	var ws []*agileplus.WP
	for i := range n {
		ws = append(ws, f.wp(t, featureRef, fmt.Sprintf("%s wp %d", featureRef, i+1)))
	}
	return ws
}

func (f *fixture) dep(t *testing.T, from, to, kind string) *agileplus.Dependency {
	t.Helper()
	d, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: from, To: to, Kind: kind})
	mustOK(t, err)
	return d
}

// move walks a WP through states, without a token.
func (f *fixture) move(t *testing.T, ref string, states ...string) *agileplus.WP {
	t.Helper()
	var w *agileplus.WP
	for _, s := range states {
		var err error
		w, err = f.svc.TransitionWP(f.ctx, ref, agileplus.Transition{To: s}, 0)
		if err != nil {
			t.Fatalf("move %s to %s: got error %v, want nil", ref, s, err)
		}
	}
	return w
}

// finish moves a planned WP to done.
func (f *fixture) finish(t *testing.T, ref string) {
	t.Helper()
	f.move(t, ref, agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone)
}

func (f *fixture) getWP(t *testing.T, ref string) *agileplus.WP {
	t.Helper()
	w, err := f.svc.WP(f.ctx, ref)
	mustOK(t, err)
	return w
}

func (f *fixture) getFeature(t *testing.T, ref string) *agileplus.Feature {
	t.Helper()
	fe, err := f.svc.Feature(f.ctx, ref)
	mustOK(t, err)
	return fe
}

// events returns all events of one entity (or of all entities for "").
func (f *fixture) events(t *testing.T, entity string) []*agileplus.Event {
	t.Helper()
	var all []*agileplus.Event
	for after := int64(0); ; {
		page, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: after, Entity: entity, Limit: agileplus.MaxPageLimit})
		mustOK(t, err)
		all = append(all, page...)
		if len(page) < agileplus.MaxPageLimit {
			return all
		}
		after = page[len(page)-1].GlobalSeq
	}
}

func (f *fixture) audit(t *testing.T, featureRef string) []*agileplus.AuditEntry {
	t.Helper()
	var all []*agileplus.AuditEntry
	for after := int64(0); ; {
		page, err := f.svc.Audit(f.ctx, featureRef, after, agileplus.MaxPageLimit)
		mustOK(t, err)
		all = append(all, page...)
		if len(page) < agileplus.MaxPageLimit {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

func (f *fixture) lastAudit(t *testing.T, featureRef string) *agileplus.AuditEntry {
	t.Helper()
	as := f.audit(t, featureRef)
	if len(as) == 0 {
		t.Fatalf("feature %s: got no audit entries, want some", featureRef)
	}
	return as[len(as)-1]
}

func (f *fixture) outbox(t *testing.T) agileplus.Outbox {
	t.Helper()
	o, ok := f.store.(agileplus.Outbox)
	if !ok {
		t.Fatalf("store %T does not implement agileplus.Outbox", f.store)
	}
	return o
}

func (f *fixture) pending(t *testing.T) int64 {
	t.Helper()
	n, err := f.outbox(t).PendingCount(f.ctx)
	mustOK(t, err)
	return n
}

func (f *fixture) edges(t *testing.T, ref string) []*agileplus.Edge {
	t.Helper()
	es, err := f.svc.Dependencies(f.ctx, ref)
	mustOK(t, err)
	return es
}

// edge returns the edge of dependency id among es.
func edge(t *testing.T, es []*agileplus.Edge, id string) *agileplus.Edge {
	t.Helper()
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("got no edge for dependency %s among %d edges, want one", id, len(es))
	return nil
}

func (f *fixture) allProjects(t *testing.T) []*agileplus.Project {
	t.Helper()
	var all []*agileplus.Project
	for after := ""; ; {
		page, err := f.svc.Projects(f.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit, Archived: agileplus.ArchivedInclude})
		mustOK(t, err)
		all = append(all, page...)
		if len(page) < agileplus.MaxPageLimit {
			return all
		}
		after = page[len(page)-1].ID
	}
}

func (f *fixture) allFeatures(t *testing.T) []*agileplus.Feature {
	t.Helper()
	var all []*agileplus.Feature
	for _, p := range f.allProjects(t) {
		fs, err := f.svc.Features(f.ctx, p.ID, agileplus.FeatureQuery{Page: agileplus.Page{Limit: agileplus.MaxPageLimit, Archived: agileplus.ArchivedInclude}})
		mustOK(t, err)
		all = append(all, fs...)
	}
	return all
}

// auditCounts returns the length of every feature's audit trail.
func (f *fixture) auditCounts(t *testing.T) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, fe := range f.allFeatures(t) {
		m[fe.ID] = len(f.audit(t, fe.ID))
	}
	return m
}

// fingerprint describes everything the store holds, to compare before and
// after a refused command.
func (f *fixture) fingerprint(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range f.allProjects(t) {
		fmt.Fprintf(&b, "project %s %s %q v%d archived %v\n", p.ID, p.Key, p.Name, p.Version, p.ArchivedAt != nil)
		fs, err := f.svc.Features(f.ctx, p.ID, agileplus.FeatureQuery{Page: agileplus.Page{Limit: agileplus.MaxPageLimit, Archived: agileplus.ArchivedInclude}})
		mustOK(t, err)
		for _, fe := range fs {
			fmt.Fprintf(&b, "feature %s %s %s %q v%d %s %v archived %v\n", fe.ID, fe.Slug, fe.State, fe.Title, fe.Version, fe.Priority, fe.Labels, fe.ArchivedAt != nil)
			f.commentPrint(t, &b, fe.ID)
			fmt.Fprintf(&b, "  audit %d\n", len(f.audit(t, fe.ID)))
			for _, e := range f.edges(t, fe.ID) {
				fmt.Fprintf(&b, "  edge %s %s %s\n", e.ID, e.Direction, e.Other)
			}
		}
		ls, err := f.svc.Labels(f.ctx, p.ID, agileplus.Page{Limit: agileplus.MaxPageLimit})
		mustOK(t, err)
		for _, l := range ls {
			fmt.Fprintf(&b, "label %s %s %q v%d\n", l.Name, l.Color, l.Description, l.Version)
		}
		ws, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: p.ID, Page: agileplus.Page{Limit: agileplus.MaxPageLimit, Archived: agileplus.ArchivedInclude}})
		mustOK(t, err)
		for _, w := range ws {
			f.commentPrint(t, &b, w.ID)
			fmt.Fprintf(&b, "wp %s %s %s %q v%d %s %v %q archived %v", w.ID, w.Key, w.State, w.Title, w.Version, w.Priority, w.Labels, w.Owner, w.ArchivedAt != nil)
			if w.Lease != nil {
				fmt.Fprintf(&b, " lease %s %d %s", w.Lease.Agent, w.Lease.Token, w.Lease.ExpiresAt.UTC().Format(time.RFC3339Nano))
			}
			b.WriteByte('\n')
			for _, e := range f.edges(t, w.ID) {
				fmt.Fprintf(&b, "  edge %s %s %s\n", e.ID, e.Direction, e.Other)
			}
		}
	}
	es := f.events(t, "")
	fmt.Fprintf(&b, "events %d\n", len(es))
	if len(es) > 0 {
		fmt.Fprintf(&b, "last event %s %d\n", es[len(es)-1].ID, es[len(es)-1].GlobalSeq)
	}
	fmt.Fprintf(&b, "pending %d\n", f.pending(t))
	return b.String()
}

// ---- projects, features, work packages ----

func testProjects(t *testing.T, f *fixture) {
	p, err := f.svc.CreateProject(f.ctx, agileplus.ProjectCreate{Key: "CORE", Name: "  Core platform "})
	mustOK(t, err)
	if !strings.HasPrefix(p.ID, agileplus.PrefixProject) {
		t.Errorf("id: got %q, want prefix %q", p.ID, agileplus.PrefixProject)
	}
	mustEqual(t, "key", p.Key, "CORE")
	mustEqual(t, "name", p.Name, "Core platform")
	mustEqual(t, "version", p.Version, int64(1))
	mustTime(t, "created_at", p.CreatedAt, start)
	mustTime(t, "updated_at", p.UpdatedAt, start)

	for _, ref := range []string{p.ID, "CORE"} {
		got, err := f.svc.Project(f.ctx, ref)
		mustOK(t, err)
		mustSame(t, "project by "+ref, got, p)
	}
	for _, ref := range []string{"NOPE", "prj_00000000000000000000000000", "core", ""} {
		_, err := f.svc.Project(f.ctx, ref)
		mustCode(t, err, agileplus.ENOTFOUND)
	}

	_, err = f.svc.CreateProject(f.ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Another"})
	mustCode(t, err, agileplus.ECONFLICT)
	_, err = f.svc.CreateProject(f.ctx, agileplus.ProjectCreate{Key: "core", Name: "Bad key"})
	mustField(t, err, agileplus.EINVALID, "key")

	f.clock.Advance(tick)
	name := "Core"
	up, err := f.svc.UpdateProject(f.ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 1)
	mustOK(t, err)
	mustEqual(t, "name after update", up.Name, "Core")
	mustEqual(t, "version after update", up.Version, int64(2))
	mustTime(t, "updated_at after update", up.UpdatedAt, f.clock.Now())
	mustTime(t, "created_at after update", up.CreatedAt, start)
	got, err := f.svc.Project(f.ctx, p.ID)
	mustOK(t, err)
	mustSame(t, "project after update", got, up)

	stale := "Stale"
	_, err = f.svc.UpdateProject(f.ctx, "CORE", agileplus.ProjectUpdate{Name: &stale}, 1)
	mustField(t, err, agileplus.ECONFLICT, "version")
	got, err = f.svc.Project(f.ctx, p.ID)
	mustOK(t, err)
	mustSame(t, "project after stale update", got, up)

	// ifVersion 0 means unconditional.
	up, err = f.svc.UpdateProject(f.ctx, p.ID, agileplus.ProjectUpdate{Name: &stale}, 0)
	mustOK(t, err)
	mustEqual(t, "version after unconditional update", up.Version, int64(3))

	_, err = f.svc.UpdateProject(f.ctx, "NOPE", agileplus.ProjectUpdate{Name: &name}, 0)
	mustCode(t, err, agileplus.ENOTFOUND)
}

func testProjectPaging(t *testing.T, f *fixture) {
	var want []string
	for _, k := range []string{"PA", "PB", "PC", "PD", "PE"} {
		want = append(want, f.project(t, k).ID)
		f.clock.Advance(time.Millisecond)
	}
	var got []string
	after := ""
	for i, n := range []int{2, 2, 1, 0} {
		page, err := f.svc.Projects(f.ctx, agileplus.Page{After: after, Limit: 2})
		mustOK(t, err)
		if len(page) != n {
			t.Fatalf("page %d: got %d projects, want %d", i+1, len(page), n)
		}
		for _, p := range page {
			got = append(got, p.ID)
			after = p.ID
		}
	}
	mustEqual(t, "paged ids", strings.Join(got, ","), strings.Join(want, ","))

	all, err := f.svc.Projects(f.ctx, agileplus.Page{})
	mustOK(t, err)
	mustEqual(t, "projects with the default limit", len(all), 5)
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("got %s after %s, want projects ordered by id", all[i].ID, all[i-1].ID)
		}
	}
	page, err := f.svc.Projects(f.ctx, agileplus.Page{After: want[4]})
	mustOK(t, err)
	mustEqual(t, "projects after the last id", len(page), 0)
	_, err = f.svc.Projects(f.ctx, agileplus.Page{Limit: -1})
	mustField(t, err, agileplus.EINVALID, "limit")
}

func testFeatures(t *testing.T, f *fixture) {
	p := f.project(t, "CORE")
	f.project(t, "OPS")
	f.clock.Advance(tick)
	fe, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "login-flow", Title: " Login ", Description: "line 1\nline 2"})
	mustOK(t, err)
	if !strings.HasPrefix(fe.ID, agileplus.PrefixFeature) {
		t.Errorf("id: got %q, want prefix %q", fe.ID, agileplus.PrefixFeature)
	}
	mustEqual(t, "project_id", fe.ProjectID, p.ID)
	mustEqual(t, "project_key", fe.ProjectKey, "CORE")
	mustEqual(t, "slug", fe.Slug, "login-flow")
	mustEqual(t, "title", fe.Title, "Login")
	mustEqual(t, "description", fe.Description, "line 1\nline 2")
	mustEqual(t, "state", fe.State, agileplus.FeatureCreated)
	mustEqual(t, "version", fe.Version, int64(1))
	mustTime(t, "created_at", fe.CreatedAt, f.clock.Now())

	for _, ref := range []string{fe.ID, "login-flow"} {
		got, err := f.svc.Feature(f.ctx, ref)
		mustOK(t, err)
		mustSame(t, "feature by "+ref, got, fe)
	}
	for _, ref := range []string{"nope", "fea_00000000000000000000000000", "CORE", p.ID} {
		_, err := f.svc.Feature(f.ctx, ref)
		mustCode(t, err, agileplus.ENOTFOUND)
	}

	// Slugs are unique across projects.
	_, err = f.svc.CreateFeature(f.ctx, "OPS", agileplus.FeatureCreate{Slug: "login-flow", Title: "Again"})
	mustCode(t, err, agileplus.ECONFLICT)
	_, err = f.svc.CreateFeature(f.ctx, "NOPE", agileplus.FeatureCreate{Slug: "orphan", Title: "Orphan"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "Bad Slug", Title: "x"})
	mustField(t, err, agileplus.EINVALID, "slug")

	f.clock.Advance(tick)
	title, desc := "Login v2", ""
	up, err := f.svc.UpdateFeature(f.ctx, "login-flow", agileplus.FeatureUpdate{Title: &title, Description: &desc}, 1)
	mustOK(t, err)
	mustEqual(t, "title after update", up.Title, "Login v2")
	mustEqual(t, "description after update", up.Description, "")
	mustEqual(t, "version after update", up.Version, int64(2))
	mustTime(t, "updated_at after update", up.UpdatedAt, f.clock.Now())
	mustSame(t, "feature after update", f.getFeature(t, fe.ID), up)

	_, err = f.svc.UpdateFeature(f.ctx, fe.ID, agileplus.FeatureUpdate{Title: &title}, 1)
	mustField(t, err, agileplus.ECONFLICT, "version")
	_, err = f.svc.TransitionFeature(f.ctx, fe.ID, agileplus.Transition{To: agileplus.FeatureSpecified}, 1)
	mustField(t, err, agileplus.ECONFLICT, "version")
	mustSame(t, "feature after stale updates", f.getFeature(t, fe.ID), up)
	_, err = f.svc.UpdateFeature(f.ctx, "nope", agileplus.FeatureUpdate{Title: &title}, 0)
	mustCode(t, err, agileplus.ENOTFOUND)

	// Creating features does not change the project.
	got, err := f.svc.Project(f.ctx, "CORE")
	mustOK(t, err)
	mustSame(t, "project after features", got, p)
}

func testFeaturePaging(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	var want []string
	for i := range 5 {
		want = append(want, f.feature(t, "CORE", fmt.Sprintf("core-%d", i)).ID)
		f.feature(t, "OPS", fmt.Sprintf("ops-%d", i))
	}
	var got []string
	after := ""
	for i, n := range []int{2, 2, 1, 0} {
		page, err := f.svc.Features(f.ctx, "CORE", agileplus.FeatureQuery{Page: agileplus.Page{After: after, Limit: 2}})
		mustOK(t, err)
		if len(page) != n {
			t.Fatalf("page %d: got %d features, want %d", i+1, len(page), n)
		}
		for _, fe := range page {
			mustEqual(t, "project of listed feature", fe.ProjectKey, "CORE")
			got = append(got, fe.ID)
			after = fe.ID
		}
	}
	mustEqual(t, "paged ids", strings.Join(got, ","), strings.Join(want, ","))
	_, err := f.svc.Features(f.ctx, "NOPE", agileplus.FeatureQuery{Page: agileplus.Page{}})
	mustCode(t, err, agileplus.ENOTFOUND)
}

func testWorkPackages(t *testing.T, f *fixture) {
	p := f.project(t, "CORE")
	f.project(t, "OPS")
	fa := f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	f.feature(t, "OPS", "gamma")
	f.clock.Advance(tick)

	est := 2.5
	w1, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: " First ", Description: "do\nit", Estimate: &est})
	mustOK(t, err)
	if !strings.HasPrefix(w1.ID, agileplus.PrefixWP) {
		t.Errorf("id: got %q, want prefix %q", w1.ID, agileplus.PrefixWP)
	}
	mustEqual(t, "key", w1.Key, "CORE-1")
	mustEqual(t, "project_id", w1.ProjectID, p.ID)
	mustEqual(t, "project_key", w1.ProjectKey, "CORE")
	mustEqual(t, "feature_id", w1.FeatureID, fa.ID)
	mustEqual(t, "title", w1.Title, "First")
	mustEqual(t, "description", w1.Description, "do\nit")
	mustEqual(t, "state", w1.State, agileplus.WPPlanned)
	mustEqual(t, "estimate", w1.Estimate, 2.5)
	mustEqual(t, "version", w1.Version, int64(1))
	mustTime(t, "created_at", w1.CreatedAt, f.clock.Now())
	if w1.Lease != nil {
		t.Errorf("lease: got %+v, want nil", w1.Lease)
	}

	// Keys count per project, across features.
	for _, c := range []struct{ feature, key string }{
		{"alpha", "CORE-2"}, {"beta", "CORE-3"}, {"gamma", "OPS-1"}, {"alpha", "CORE-4"}, {"gamma", "OPS-2"},
	} {
		w := f.wp(t, c.feature, "wp in "+c.feature)
		mustEqual(t, "key of a wp in "+c.feature, w.Key, c.key)
		mustEqual(t, "default estimate", w.Estimate, agileplus.DefaultEstimate)
	}

	for _, ref := range []string{w1.ID, "CORE-1"} {
		mustSame(t, "wp by "+ref, f.getWP(t, ref), w1)
	}
	for _, ref := range []string{"CORE-99", "OPS-3", "wp_00000000000000000000000000", "core-1", "alpha"} {
		_, err := f.svc.WP(f.ctx, ref)
		mustCode(t, err, agileplus.ENOTFOUND)
	}
	_, err = f.svc.CreateWP(f.ctx, "nope", agileplus.WPCreate{Title: "orphan"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: ""})
	mustField(t, err, agileplus.EINVALID, "title")

	// Allocating WP numbers does not change the project's version.
	got, err := f.svc.Project(f.ctx, p.ID)
	mustOK(t, err)
	mustSame(t, "project after creating wps", got, p)

	f.clock.Advance(tick)
	title, desc, est2 := "First, renamed", "", 0.0
	up, err := f.svc.UpdateWP(f.ctx, "CORE-1", agileplus.WPUpdate{Title: &title, Description: &desc, Estimate: &est2}, 1)
	mustOK(t, err)
	mustEqual(t, "title after update", up.Title, title)
	mustEqual(t, "description after update", up.Description, "")
	mustEqual(t, "estimate after update", up.Estimate, 0.0)
	mustEqual(t, "version after update", up.Version, int64(2))
	mustTime(t, "updated_at after update", up.UpdatedAt, f.clock.Now())
	mustSame(t, "wp after update", f.getWP(t, w1.ID), up)

	_, err = f.svc.UpdateWP(f.ctx, "CORE-1", agileplus.WPUpdate{Title: &title}, 1)
	mustField(t, err, agileplus.ECONFLICT, "version")
	_, err = f.svc.TransitionWP(f.ctx, "CORE-1", agileplus.Transition{To: agileplus.WPDoing}, 1)
	mustField(t, err, agileplus.ECONFLICT, "version")
	mustSame(t, "wp after stale updates", f.getWP(t, w1.ID), up)
	_, err = f.svc.UpdateWP(f.ctx, "CORE-99", agileplus.WPUpdate{Title: &title}, 0)
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.TransitionWP(f.ctx, "CORE-99", agileplus.Transition{To: agileplus.WPDoing}, 0)
	mustCode(t, err, agileplus.ENOTFOUND)
}

func testWPListing(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	f.feature(t, "OPS", "gamma")
	var alpha, core []string
	for i := range 6 {
		feat := "alpha"
		if i%2 == 1 {
			feat = "beta"
		}
		w := f.wp(t, feat, fmt.Sprintf("wp %d", i))
		core = append(core, w.ID)
		if feat == "alpha" {
			alpha = append(alpha, w.ID)
		}
		f.wp(t, "gamma", fmt.Sprintf("ops wp %d", i))
	}
	f.move(t, "CORE-1", agileplus.WPDoing)
	f.move(t, "CORE-4", agileplus.WPBlocked)
	f.move(t, "OPS-1", agileplus.WPDoing)

	ids := func(q agileplus.WPQuery) string {
		t.Helper()
		ws, err := f.svc.WPs(f.ctx, q)
		mustOK(t, err)
		var out []string
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return strings.Join(out, ",")
	}
	mustEqual(t, "wps of project CORE", ids(agileplus.WPQuery{Project: "CORE"}), strings.Join(core, ","))
	mustEqual(t, "wps of feature alpha", ids(agileplus.WPQuery{Feature: "alpha"}), strings.Join(alpha, ","))
	mustEqual(t, "doing wps of CORE", ids(agileplus.WPQuery{Project: "CORE", State: agileplus.WPDoing}), core[0])
	mustEqual(t, "blocked wps of beta", ids(agileplus.WPQuery{Feature: "beta", State: agileplus.WPBlocked}), core[3])
	mustEqual(t, "planned wps of alpha", ids(agileplus.WPQuery{Feature: "alpha", State: agileplus.WPPlanned}), strings.Join(alpha[1:], ","))

	var got []string
	after := ""
	for i, n := range []int{4, 2, 0} {
		ws, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{After: after, Limit: 4}})
		mustOK(t, err)
		if len(ws) != n {
			t.Fatalf("page %d: got %d wps, want %d", i+1, len(ws), n)
		}
		for _, w := range ws {
			got = append(got, w.ID)
			after = w.ID
		}
	}
	mustEqual(t, "paged ids", strings.Join(got, ","), strings.Join(core, ","))

	_, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "NOPE"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Feature: "nope"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{State: "bogus"})
	mustField(t, err, agileplus.EINVALID, "state")
}

// ---- state machines ----

func testFeatureTransitions(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	cases := []struct {
		from, to    string
		skipped     []string
		code, field string
	}{
		{from: "created", to: "specified"},
		{from: "created", to: "planned", skipped: []string{"specified", "researched"}},
		{from: "specified", to: "implementing", skipped: []string{"researched", "planned"}},
		{from: "created", to: "retrospected", skipped: []string{"specified", "researched", "planned", "implementing", "validated", "shipped"}},
		{from: "implementing", to: "validated"},
		{from: "shipped", to: "retrospected"},
		{from: "planned", to: "specified", code: agileplus.ERULE, field: "to"},
		{from: "planned", to: "planned", code: agileplus.ERULE, field: "to"},
		{from: "created", to: "created", code: agileplus.ERULE, field: "to"},
		{from: "retrospected", to: "shipped", code: agileplus.ERULE, field: "to"},
		{from: "created", to: "bogus", code: agileplus.EINVALID, field: "to"},
		{from: "planned", to: "", code: agileplus.EINVALID, field: "to"},
	}
	for i, c := range cases {
		t.Run(c.from+"->"+c.to, func(t *testing.T) {
			fe := f.feature(t, "CORE", fmt.Sprintf("feature-%d", i))
			if c.from != agileplus.FeatureCreated {
				_, err := f.svc.TransitionFeature(f.ctx, fe.ID, agileplus.Transition{To: c.from}, 0)
				mustOK(t, err)
			}
			before := f.getFeature(t, fe.ID)
			nEvents, nAudit := len(f.events(t, fe.ID)), len(f.audit(t, fe.ID))
			f.clock.Advance(tick)

			got, err := f.svc.TransitionFeature(f.ctx, fe.Slug, agileplus.Transition{To: c.to}, before.Version)
			if c.code != "" {
				mustField(t, err, c.code, c.field)
				mustSame(t, "feature after a refused transition", f.getFeature(t, fe.ID), before)
				mustEqual(t, "events after a refused transition", len(f.events(t, fe.ID)), nEvents)
				mustEqual(t, "audit entries after a refused transition", len(f.audit(t, fe.ID)), nAudit)
				return
			}
			mustOK(t, err)
			mustEqual(t, "state", got.State, c.to)
			mustEqual(t, "version", got.Version, before.Version+1)
			mustTime(t, "updated_at", got.UpdatedAt, f.clock.Now())
			mustSame(t, "stored feature", f.getFeature(t, fe.ID), got)

			es := f.events(t, fe.ID)
			mustEqual(t, "events", len(es), nEvents+1)
			e := es[len(es)-1]
			mustEqual(t, "event type", e.Type, "feature.transitioned")
			var data struct {
				From, To string
				Skipped  []string
			}
			decode(t, e.Data, &data)
			mustEqual(t, "event from", data.From, c.from)
			mustEqual(t, "event to", data.To, c.to)
			mustEqual(t, "event skipped", strings.Join(data.Skipped, ","), strings.Join(c.skipped, ","))

			as := f.audit(t, fe.ID)
			mustEqual(t, "audit entries", len(as), nAudit+1)
			a := as[len(as)-1]
			mustEqual(t, "audit event id", a.EventID, e.ID)
			for _, s := range c.skipped {
				if !strings.Contains(a.Summary, s) {
					t.Errorf("audit summary %q: want it to record skipped state %q", a.Summary, s)
				}
			}
			if len(c.skipped) == 0 && strings.Contains(a.Summary, "skipped") {
				t.Errorf("audit summary %q: want no skipped states", a.Summary)
			}
			if len(c.skipped) > 0 && !strings.Contains(a.Summary, "skipped") {
				t.Errorf("audit summary %q: want it to say states were skipped", a.Summary)
			}
		})
	}
	_, err := f.svc.TransitionFeature(f.ctx, "nope", agileplus.Transition{To: "specified"}, 0)
	mustCode(t, err, agileplus.ENOTFOUND)
}

// wpPath is how a new (planned) WP reaches each state.
var wpPath = map[string][]string{
	agileplus.WPPlanned: nil,
	agileplus.WPDoing:   {agileplus.WPDoing},
	agileplus.WPReview:  {agileplus.WPDoing, agileplus.WPReview},
	agileplus.WPDone:    {agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone},
	agileplus.WPBlocked: {agileplus.WPBlocked},
}

func testWPStateMachine(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "machine")
	allowed := map[[2]string]bool{
		{"planned", "doing"}: true, {"planned", "blocked"}: true,
		{"doing", "review"}: true, {"doing", "blocked"}: true,
		{"review", "done"}: true, {"review", "doing"}: true,
		{"blocked", "planned"}: true, {"blocked", "doing"}: true,
	}
	states := []string{"planned", "doing", "review", "done", "blocked"}
	for _, from := range states {
		for _, to := range append(states, "bogus") {
			t.Run(from+"->"+to, func(t *testing.T) {
				w := f.wp(t, "machine", from+" to "+to)
				f.move(t, w.ID, wpPath[from]...)
				before := f.getWP(t, w.ID)
				mustEqual(t, "state before", before.State, from)
				f.clock.Advance(tick)
				got, err := f.svc.TransitionWP(f.ctx, w.Key, agileplus.Transition{To: to}, before.Version)
				switch {
				case to == "bogus":
					mustField(t, err, agileplus.EINVALID, "to")
				case allowed[[2]string{from, to}]:
					mustOK(t, err)
					mustEqual(t, "state", got.State, to)
					mustEqual(t, "version", got.Version, before.Version+1)
					mustSame(t, "stored wp", f.getWP(t, w.ID), got)
					return
				default:
					mustCode(t, err, agileplus.ERULE)
				}
				mustSame(t, "wp after a refused transition", f.getWP(t, w.ID), before)
			})
		}
	}
}

// ---- dependencies ----

func testDependencies(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	alpha := f.feature(t, "CORE", "alpha")
	beta := f.feature(t, "CORE", "beta")
	gamma := f.feature(t, "OPS", "gamma")
	ab := f.wps(t, "alpha", 3) // CORE-1..3
	a, b, c := ab[0], ab[1], ab[2]
	d := f.wp(t, "beta", "d")  // CORE-4
	e := f.wp(t, "gamma", "e") // OPS-1
	f.clock.Advance(tick)

	t.Run("depends_on", func(t *testing.T) {
		dep, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-1", To: b.ID})
		mustOK(t, err)
		if !strings.HasPrefix(dep.ID, agileplus.PrefixDependency) {
			t.Errorf("id: got %q, want prefix %q", dep.ID, agileplus.PrefixDependency)
		}
		mustSame(t, "dependency", dep, &agileplus.Dependency{ID: dep.ID, EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
			From: a.ID, To: b.ID, FromKey: "CORE-1", ToKey: "CORE-2", Version: 1, CreatedAt: f.clock.Now()})

		ea := edge(t, f.edges(t, "CORE-1"), dep.ID)
		mustSame(t, "dependency seen from CORE-1", &ea.Dependency, dep)
		mustEqual(t, "direction from CORE-1", ea.Direction, agileplus.DependsOn)
		mustEqual(t, "other from CORE-1", ea.Other, b.ID)
		mustEqual(t, "other key from CORE-1", ea.OtherKey, "CORE-2")
		mustEqual(t, "other state from CORE-1", ea.OtherState, agileplus.WPPlanned)

		eb := edge(t, f.edges(t, b.ID), dep.ID)
		mustSame(t, "dependency seen from CORE-2", &eb.Dependency, dep)
		mustEqual(t, "direction from CORE-2", eb.Direction, agileplus.Blocks)
		mustEqual(t, "other from CORE-2", eb.Other, a.ID)
		mustEqual(t, "other key from CORE-2", eb.OtherKey, "CORE-1")
		mustEqual(t, "other state from CORE-2", eb.OtherState, agileplus.WPPlanned)

		// Edges show the other end's current state.
		f.move(t, "CORE-2", agileplus.WPDoing)
		mustEqual(t, "other state after CORE-2 started", edge(t, f.edges(t, a.ID), dep.ID).OtherState, agileplus.WPDoing)
		f.move(t, "CORE-1", agileplus.WPBlocked)
		mustEqual(t, "other state after CORE-1 blocked", edge(t, f.edges(t, b.ID), dep.ID).OtherState, agileplus.WPBlocked)
	})

	t.Run("blocks is stored as the inverse depends_on", func(t *testing.T) {
		dep := f.dep(t, "CORE-3", "CORE-4", agileplus.Blocks) // CORE-3 blocks CORE-4 (another feature)
		mustSame(t, "dependency", dep, &agileplus.Dependency{ID: dep.ID, EntityKind: agileplus.KindWP, Kind: agileplus.DependsOn,
			From: d.ID, To: c.ID, FromKey: "CORE-4", ToKey: "CORE-3", Version: 1, CreatedAt: f.clock.Now()})
		mustEqual(t, "direction from CORE-3", edge(t, f.edges(t, c.ID), dep.ID).Direction, agileplus.Blocks)
		mustEqual(t, "direction from CORE-4", edge(t, f.edges(t, d.ID), dep.ID).Direction, agileplus.DependsOn)
		mustEqual(t, "other key from CORE-4", edge(t, f.edges(t, d.ID), dep.ID).OtherKey, "CORE-3")
	})

	t.Run("across projects", func(t *testing.T) {
		dep := f.dep(t, "CORE-4", "OPS-1", "")
		mustEqual(t, "kind", dep.Kind, agileplus.DependsOn)
		mustEqual(t, "from", dep.From, d.ID)
		mustEqual(t, "to", dep.To, e.ID)
		ee := edge(t, f.edges(t, "OPS-1"), dep.ID)
		mustEqual(t, "direction from OPS-1", ee.Direction, agileplus.Blocks)
		mustEqual(t, "other key from OPS-1", ee.OtherKey, "CORE-4")
	})

	t.Run("relates_to", func(t *testing.T) {
		dep := f.dep(t, a.ID, "OPS-1", agileplus.RelatesTo)
		mustSame(t, "dependency", dep, &agileplus.Dependency{ID: dep.ID, EntityKind: agileplus.KindWP, Kind: agileplus.RelatesTo,
			From: a.ID, To: e.ID, FromKey: "CORE-1", ToKey: "OPS-1", Version: 1, CreatedAt: f.clock.Now()})
		for _, c := range []struct{ ref, other string }{{"CORE-1", e.ID}, {"OPS-1", a.ID}} {
			ed := edge(t, f.edges(t, c.ref), dep.ID)
			mustEqual(t, "direction from "+c.ref, ed.Direction, agileplus.RelatesTo)
			mustEqual(t, "other from "+c.ref, ed.Other, c.other)
		}
	})

	t.Run("between features", func(t *testing.T) {
		dep := f.dep(t, "alpha", beta.ID, agileplus.DependsOn)
		mustSame(t, "dependency", dep, &agileplus.Dependency{ID: dep.ID, EntityKind: agileplus.KindFeature, Kind: agileplus.DependsOn,
			From: alpha.ID, To: beta.ID, FromKey: "alpha", ToKey: "beta", Version: 1, CreatedAt: f.clock.Now()})
		ea := edge(t, f.edges(t, "alpha"), dep.ID)
		mustEqual(t, "direction from alpha", ea.Direction, agileplus.DependsOn)
		mustEqual(t, "other key from alpha", ea.OtherKey, "beta")
		mustEqual(t, "other state from alpha", ea.OtherState, agileplus.FeatureCreated)
		eb := edge(t, f.edges(t, beta.ID), dep.ID)
		mustEqual(t, "direction from beta", eb.Direction, agileplus.Blocks)
		mustEqual(t, "other key from beta", eb.OtherKey, "alpha")

		_, err := f.svc.TransitionFeature(f.ctx, "beta", agileplus.Transition{To: agileplus.FeaturePlanned}, 0)
		mustOK(t, err)
		mustEqual(t, "other state after beta moved", edge(t, f.edges(t, "alpha"), dep.ID).OtherState, agileplus.FeaturePlanned)

		cross := f.dep(t, "beta", "gamma", agileplus.Blocks) // gamma depends_on beta, across projects
		mustEqual(t, "from", cross.From, gamma.ID)
		mustEqual(t, "to", cross.To, beta.ID)
		mustEqual(t, "entity kind", cross.EntityKind, agileplus.KindFeature)
		rel := f.dep(t, "gamma", "alpha", agileplus.RelatesTo)
		mustEqual(t, "relates_to kind", rel.Kind, agileplus.RelatesTo)
		mustEqual(t, "edges of beta", len(f.edges(t, "beta")), 2)
		mustEqual(t, "edges of gamma", len(f.edges(t, "gamma")), 2)
	})

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name, from, to, kind string
			code, field          string
		}{
			// Both ends exist: a pair the graph does not take is a rule's refusal.
			{"wp to feature", "CORE-1", "alpha", "", agileplus.ERULE, "to"},
			{"feature to wp", "beta", "CORE-2", agileplus.RelatesTo, agileplus.ERULE, "to"},
			{"wp to itself", "CORE-1", "CORE-1", "", agileplus.ERULE, "to"},
			{"wp key to its id", "CORE-2", b.ID, agileplus.Blocks, agileplus.ERULE, "to"},
			{"relates to itself", "CORE-2", "CORE-2", agileplus.RelatesTo, agileplus.ERULE, "to"},
			{"feature to itself", "alpha", alpha.ID, "", agileplus.ERULE, "to"},
			{"unknown from", "CORE-99", "CORE-1", "", agileplus.ENOTFOUND, "from"},
			{"unknown to", "CORE-1", "nope", "", agileplus.ENOTFOUND, "to"},
			{"unknown kind", "CORE-1", "CORE-2", "bogus", agileplus.EINVALID, "kind"},
			{"not a reference", "CORE-1", "Core 2", "", agileplus.EINVALID, "to"},
			{"no from", "", "CORE-2", "", agileplus.EINVALID, "from"},
		} {
			before := f.fingerprint(t)
			_, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: c.from, To: c.to, Kind: c.kind})
			t.Run(c.name, func(t *testing.T) { mustField(t, err, c.code, c.field) })
			if after := f.fingerprint(t); after != before {
				t.Errorf("%s: the refused dependency changed the store:\nbefore:\n%s\nafter:\n%s", c.name, before, after)
			}
		}
		_, err := f.svc.Dependencies(f.ctx, "nope")
		mustCode(t, err, agileplus.ENOTFOUND)
	})
}

func testDependencyCycles(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	f.feature(t, "OPS", "gamma")
	f.wps(t, "alpha", 6)  // CORE-1..6
	f.wp(t, "gamma", "x") // OPS-1

	f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-2", "CORE-3", agileplus.DependsOn)

	refuse := func(t *testing.T, c agileplus.DependencyCreate, cycle string) {
		t.Helper()
		before := f.fingerprint(t)
		_, err := f.svc.AddDependency(f.ctx, c)
		mustCode(t, err, agileplus.ERULE)
		mustMention(t, err, cycle)
		if after := f.fingerprint(t); after != before {
			t.Errorf("the refused dependency changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
	t.Run("three", func(t *testing.T) {
		refuse(t, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-1"}, "CORE-3 -> CORE-1 -> CORE-2 -> CORE-3")
	})
	t.Run("blocks", func(t *testing.T) {
		// CORE-1 blocks CORE-3 is CORE-3 depends_on CORE-1.
		refuse(t, agileplus.DependencyCreate{From: "CORE-1", To: "CORE-3", Kind: agileplus.Blocks}, "CORE-3 -> CORE-1 -> CORE-2 -> CORE-3")
	})
	t.Run("two", func(t *testing.T) {
		refuse(t, agileplus.DependencyCreate{From: "CORE-2", To: "CORE-1"}, "CORE-2 -> CORE-1 -> CORE-2")
	})
	t.Run("relates_to never closes a cycle", func(t *testing.T) {
		// A loop of relates_to edges beside the depends_on chain.
		f.dep(t, "CORE-3", "CORE-1", agileplus.RelatesTo)
		f.dep(t, "CORE-1", "CORE-2", agileplus.RelatesTo)
		f.dep(t, "CORE-2", "CORE-3", agileplus.RelatesTo)
		// relates_to has no direction: the reverse of one is a duplicate.
		before := f.fingerprint(t)
		_, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-1", To: "CORE-3", Kind: agileplus.RelatesTo})
		mustField(t, err, agileplus.ECONFLICT, "to")
		if after := f.fingerprint(t); after != before {
			t.Errorf("the refused dependency changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		// CORE-4 relates to CORE-5, which depends on CORE-6: CORE-6 may
		// depend on CORE-4, relates_to edges are not followed.
		f.dep(t, "CORE-4", "CORE-5", agileplus.RelatesTo)
		f.dep(t, "CORE-5", "CORE-6", agileplus.DependsOn)
		f.dep(t, "CORE-6", "CORE-4", agileplus.DependsOn)
	})
	t.Run("shortest cycle", func(t *testing.T) {
		f.dep(t, "CORE-1", "CORE-3", agileplus.DependsOn)
		refuse(t, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-1"}, "CORE-3 -> CORE-1 -> CORE-3")
	})
	t.Run("across projects", func(t *testing.T) {
		f.dep(t, "CORE-3", "OPS-1", agileplus.DependsOn)
		refuse(t, agileplus.DependencyCreate{From: "OPS-1", To: "CORE-1"}, "OPS-1 -> CORE-1 -> CORE-3 -> OPS-1")
	})
	t.Run("features", func(t *testing.T) {
		f.dep(t, "alpha", "beta", agileplus.DependsOn)
		f.dep(t, "beta", "gamma", agileplus.DependsOn)
		refuse(t, agileplus.DependencyCreate{From: "gamma", To: "alpha"}, "gamma -> alpha -> beta -> gamma")
		refuse(t, agileplus.DependencyCreate{From: "alpha", To: "beta", Kind: agileplus.Blocks}, "beta -> alpha -> beta")
		f.dep(t, "gamma", "alpha", agileplus.RelatesTo)
	})
}

func testRemoveDependency(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	fe := f.feature(t, "CORE", "alpha")
	f.wps(t, "alpha", 2)
	dep := f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	other := f.dep(t, "CORE-2", "CORE-1", agileplus.RelatesTo)
	f.clock.Advance(tick)

	mustOK(t, f.svc.RemoveDependency(f.ctx, dep.ID))
	for _, ref := range []string{"CORE-1", "CORE-2"} {
		es := f.edges(t, ref)
		if len(es) != 1 || es[0].ID != other.ID {
			t.Errorf("edges of %s after removal: got %d edges, want only %s", ref, len(es), other.ID)
		}
	}
	events := f.events(t, dep.ID)
	if len(events) != 2 {
		t.Fatalf("events of the dependency: got %d, want 2 (added, removed)", len(events))
	}
	mustEqual(t, "first event", events[0].Type, "dependency.added")
	mustEqual(t, "second event", events[1].Type, "dependency.removed")
	mustEqual(t, "removed event seq", events[1].Seq, int64(2))
	mustTime(t, "removed event time", events[1].Time, f.clock.Now())
	mustOK(t, agileplus.VerifyEventChain(events))
	a := f.lastAudit(t, fe.ID)
	mustEqual(t, "audit event type", a.EventType, "dependency.removed")
	mustEqual(t, "audit event id", a.EventID, events[1].ID)

	mustCode(t, f.svc.RemoveDependency(f.ctx, dep.ID), agileplus.ENOTFOUND)
	mustCode(t, f.svc.RemoveDependency(f.ctx, "dep_00000000000000000000000000"), agileplus.ENOTFOUND)

	// The removed edge no longer blocks or closes cycles.
	f.move(t, "CORE-1", agileplus.WPDoing)
	f.dep(t, "CORE-2", "CORE-1", agileplus.DependsOn)
}

// ---- start rule ----

func testStartRule(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	fe := f.feature(t, "CORE", "alpha")
	f.feature(t, "OPS", "gamma")
	f.wps(t, "alpha", 6)  // CORE-1..6
	f.wp(t, "gamma", "x") // OPS-1
	f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-3", "CORE-4", agileplus.RelatesTo)
	f.dep(t, "CORE-5", "CORE-2", agileplus.DependsOn)
	f.dep(t, "OPS-1", "CORE-6", agileplus.DependsOn)

	refuse := func(t *testing.T, ref string, tr agileplus.Transition, code, field string, mention ...string) {
		t.Helper()
		before := f.fingerprint(t)
		_, err := f.svc.TransitionWP(f.ctx, ref, tr, 0)
		mustField(t, err, code, field)
		mustMention(t, err, mention...)
		if after := f.fingerprint(t); after != before {
			t.Errorf("the refused start changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}

	t.Run("open dependency refuses", func(t *testing.T) {
		refuse(t, "CORE-1", agileplus.Transition{To: agileplus.WPDoing}, agileplus.ERULE, "", "CORE-2")
	})
	t.Run("across projects", func(t *testing.T) {
		refuse(t, "OPS-1", agileplus.Transition{To: agileplus.WPDoing}, agileplus.ERULE, "", "CORE-6")
	})
	t.Run("from blocked", func(t *testing.T) {
		f.move(t, "CORE-5", agileplus.WPBlocked)
		refuse(t, "CORE-5", agileplus.Transition{To: agileplus.WPDoing}, agileplus.ERULE, "", "CORE-2")
	})
	t.Run("force needs a reason", func(t *testing.T) {
		refuse(t, "CORE-1", agileplus.Transition{To: agileplus.WPDoing, Force: true}, agileplus.EINVALID, "reason")
	})
	t.Run("relates_to does not block", func(t *testing.T) {
		f.move(t, "CORE-3", agileplus.WPDoing)
		mustEqual(t, "forced", f.lastAudit(t, fe.ID).Forced, false)
	})
	t.Run("forced with a reason", func(t *testing.T) {
		f.clock.Advance(tick)
		w, err := f.svc.TransitionWP(f.ctx, "CORE-1", agileplus.Transition{To: agileplus.WPDoing, Force: true, Reason: "hotfix for the outage"}, 0)
		mustOK(t, err)
		mustEqual(t, "state", w.State, agileplus.WPDoing)
		a := f.lastAudit(t, fe.ID)
		mustEqual(t, "audit event type", a.EventType, "wp.transitioned")
		mustEqual(t, "audit entity", a.EntityID, w.ID)
		mustEqual(t, "audit forced", a.Forced, true)
		mustEqual(t, "audit reason", a.Reason, "hotfix for the outage")
		mustTime(t, "audit time", a.Time, f.clock.Now())
		if !strings.Contains(a.Summary, "CORE-2") {
			t.Errorf("audit summary %q: want it to name the open dependency CORE-2", a.Summary)
		}
		es := f.events(t, w.ID)
		var data struct {
			Forced bool
			Reason string
		}
		decode(t, es[len(es)-1].Data, &data)
		mustEqual(t, "event forced", data.Forced, true)
		mustEqual(t, "event reason", data.Reason, "hotfix for the outage")
		v, err := f.svc.VerifyAudit(f.ctx, fe.ID)
		mustOK(t, err)
		mustEqual(t, "audit valid", v.Valid, true)
	})
	t.Run("done dependency allows", func(t *testing.T) {
		f.finish(t, "CORE-2")
		w, err := f.svc.TransitionWP(f.ctx, "CORE-5", agileplus.Transition{To: agileplus.WPDoing}, 0)
		mustOK(t, err)
		mustEqual(t, "state", w.State, agileplus.WPDoing)
		a := f.lastAudit(t, fe.ID)
		mustEqual(t, "audit forced", a.Forced, false)
		mustEqual(t, "audit reason", a.Reason, "")
	})
}

// ---- claims ----

func testClaims(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "claimed") // CORE-1
	f.clock.Advance(tick)

	claim := func(agent string, ttl int64) (*agileplus.Lease, error) {
		return f.svc.Claim(f.ctx, "CORE-1", agileplus.ClaimRequest{Agent: agent, TTLSeconds: ttl})
	}
	transition := func(to string, token int64) (*agileplus.WP, error) {
		return f.svc.TransitionWP(f.ctx, "CORE-1", agileplus.Transition{To: to, Token: token}, 0)
	}

	l1, err := claim("agent-1", 60)
	mustOK(t, err)
	mustSame(t, "first lease", l1, &agileplus.Lease{WPID: w.ID, Agent: "agent-1", Token: 1,
		ClaimedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(60 * time.Second)})
	got := f.getWP(t, w.ID)
	mustSame(t, "lease of the claimed wp", got.Lease, l1)
	mustEqual(t, "version after claim", got.Version, int64(2))

	_, err = claim("agent-2", 60)
	mustCode(t, err, agileplus.ECONFLICT)
	_, err = claim("agent-1", 60)
	mustCode(t, err, agileplus.ECONFLICT)
	_, err = f.svc.Claim(f.ctx, "CORE-1", agileplus.ClaimRequest{})
	mustField(t, err, agileplus.EINVALID, "agent")
	_, err = f.svc.Claim(f.ctx, "CORE-99", agileplus.ClaimRequest{Agent: "agent-1"})
	mustCode(t, err, agileplus.ENOTFOUND)

	// While claimed, a transition needs the live token.
	_, err = transition(agileplus.WPDoing, 0)
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPDoing, 7)
	mustField(t, err, agileplus.ECONFLICT, "token")

	// Just before expiry the lease still holds; at expiry another agent wins.
	f.clock.Advance(60*time.Second - time.Nanosecond)
	_, err = claim("agent-2", 60)
	mustCode(t, err, agileplus.ECONFLICT)
	f.clock.Advance(time.Nanosecond)
	if got := f.getWP(t, w.ID); got.Lease != nil {
		t.Errorf("lease after expiry: got %+v, want nil", got.Lease)
	}
	l2, err := claim("agent-2", 120)
	mustOK(t, err)
	mustEqual(t, "token of the second claim", l2.Token, int64(2))
	mustEqual(t, "agent of the second claim", l2.Agent, "agent-2")
	mustTime(t, "expiry of the second claim", l2.ExpiresAt, f.clock.Now().Add(120*time.Second))

	// The first holder's token is stale everywhere.
	_, err = f.svc.Renew(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 1})
	mustField(t, err, agileplus.ECONFLICT, "token")
	mustField(t, f.svc.Release(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 1}), agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPDoing, 1)
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPDoing, 0)
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = f.svc.Renew(f.ctx, "CORE-1", agileplus.ClaimRequest{})
	mustField(t, err, agileplus.EINVALID, "token")

	f.clock.Advance(30 * time.Second)
	renewed, err := f.svc.Renew(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 2, TTLSeconds: 300})
	mustOK(t, err)
	mustSame(t, "renewed lease", renewed, &agileplus.Lease{WPID: w.ID, Agent: "agent-2", Token: 2,
		ClaimedAt: l2.ClaimedAt, ExpiresAt: f.clock.Now().Add(300 * time.Second)})
	mustSame(t, "stored lease after renew", f.getWP(t, w.ID).Lease, renewed)

	// With the live token the transition succeeds.
	moved, err := transition(agileplus.WPDoing, 2)
	mustOK(t, err)
	mustEqual(t, "state", moved.State, agileplus.WPDoing)
	mustSame(t, "lease after a transition", moved.Lease, renewed)

	mustOK(t, f.svc.Release(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 2}))
	if got := f.getWP(t, w.ID); got.Lease != nil {
		t.Errorf("lease after release: got %+v, want nil", got.Lease)
	}
	mustField(t, f.svc.Release(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 2}), agileplus.ECONFLICT, "token")
	_, err = f.svc.Renew(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 2})
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPReview, 2)
	mustField(t, err, agileplus.ECONFLICT, "token")

	// Released, it can be claimed again with a higher token.
	l3, err := claim("agent-3", 0)
	mustOK(t, err)
	mustEqual(t, "token after release", l3.Token, int64(3))
	mustTime(t, "default expiry", l3.ExpiresAt, f.clock.Now().Add(agileplus.DefaultLeaseTTL))

	// An expired lease: the old token is stale, no token is fine.
	f.clock.Advance(agileplus.DefaultLeaseTTL)
	_, err = f.svc.Renew(f.ctx, "CORE-1", agileplus.ClaimRequest{Token: 3})
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPReview, 3)
	mustField(t, err, agileplus.ECONFLICT, "token")
	_, err = transition(agileplus.WPReview, 0)
	mustOK(t, err)

	l4, err := claim("agent-4", 60)
	mustOK(t, err)
	mustEqual(t, "token after expiry", l4.Token, int64(4))
	done, err := transition(agileplus.WPDone, 4)
	mustOK(t, err)
	if done.Lease != nil || f.getWP(t, w.ID).Lease != nil {
		t.Errorf("lease of a done wp: got %+v, want nil", done.Lease)
	}
	_, err = claim("agent-5", 60)
	mustCode(t, err, agileplus.ERULE)

	var types []string
	for _, e := range f.events(t, w.ID) {
		types = append(types, e.Type)
	}
	mustEqual(t, "event types", strings.Join(types, " "),
		"wp.created wp.claimed wp.claimed wp.renewed wp.transitioned wp.released wp.claimed wp.transitioned wp.claimed wp.transitioned")
}

func testClaimRace(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "contended")
	const n = 50
	var (
		wg    sync.WaitGroup
		ready = make(chan struct{})
		errs  = make([]error, n)
		wins  = make([]*agileplus.Lease, n)
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			wins[i], errs[i] = f.svc.Claim(f.ctx, w.Key, agileplus.ClaimRequest{Agent: fmt.Sprintf("agent-%d", i), TTLSeconds: 60})
		})
	}
	close(ready)
	wg.Wait()

	var winner *agileplus.Lease
	conflicts := 0
	for i, err := range errs {
		switch code := agileplus.ErrorCode(err); {
		case err == nil:
			if winner != nil {
				t.Errorf("agent-%d also won the claim (token %d) after %s (token %d)", i, wins[i].Token, winner.Agent, winner.Token)
			}
			winner = wins[i]
		case code == agileplus.ECONFLICT:
			conflicts++
		default:
			t.Errorf("agent-%d: got error %v (code %q), want nil or %q", i, err, code, agileplus.ECONFLICT)
		}
	}
	if winner == nil {
		t.Fatal("got no winner, want exactly one")
	}
	mustEqual(t, "conflicts", conflicts, n-1)
	mustEqual(t, "winning token", winner.Token, int64(1))
	mustSame(t, "stored lease", f.getWP(t, w.ID).Lease, winner)
	events := f.events(t, w.ID)
	mustEqual(t, "events of the wp", len(events), 2)
	mustOK(t, agileplus.VerifyEventChain(events))
}

// ---- ready ----

func testReady(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "OPS", "gamma")
	f.wps(t, "alpha", 11) // CORE-1..11: key numbers sort numerically, not as text
	f.wps(t, "gamma", 2)  // OPS-1..2

	ready := func(t *testing.T, project string, want ...int) {
		t.Helper()
		ws, err := f.svc.Ready(f.ctx, project, "", agileplus.Page{})
		mustOK(t, err)
		var got, keys []string
		for _, w := range ws {
			got = append(got, w.Key)
			if w.Lease != nil {
				t.Errorf("ready %s has a lease %+v, want none", w.Key, w.Lease)
			}
			if w.State != agileplus.WPPlanned {
				t.Errorf("ready %s is %s, want planned", w.Key, w.State)
			}
		}
		for _, n := range want {
			keys = append(keys, fmt.Sprintf("%s-%d", project, n))
		}
		if g, w := strings.Join(got, " "), strings.Join(keys, " "); g != w {
			t.Errorf("ready in %s: got [%s], want [%s]", project, g, w)
		}
	}

	ready(t, "CORE", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-3", "CORE-4", agileplus.RelatesTo)
	f.dep(t, "CORE-5", "CORE-6", agileplus.Blocks) // CORE-6 depends_on CORE-5
	f.dep(t, "CORE-9", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-9", "CORE-10", agileplus.DependsOn)
	f.dep(t, "OPS-1", "CORE-5", agileplus.DependsOn)
	t.Run("open depends_on targets exclude", func(t *testing.T) {
		ready(t, "CORE", 2, 3, 4, 5, 7, 8, 10, 11)
		ready(t, "OPS", 2)
	})

	t.Run("claimed excluded until expiry", func(t *testing.T) {
		_, err := f.svc.Claim(f.ctx, "CORE-7", agileplus.ClaimRequest{Agent: "agent-1", TTLSeconds: 60})
		mustOK(t, err)
		ready(t, "CORE", 2, 3, 4, 5, 8, 10, 11)
		f.clock.Advance(60*time.Second - time.Nanosecond)
		ready(t, "CORE", 2, 3, 4, 5, 8, 10, 11)
		f.clock.Advance(time.Nanosecond)
		ready(t, "CORE", 2, 3, 4, 5, 7, 8, 10, 11)
		_, err = f.svc.Claim(f.ctx, "CORE-8", agileplus.ClaimRequest{Agent: "agent-1", TTLSeconds: 60})
		mustOK(t, err)
		l, err := f.svc.Claim(f.ctx, "CORE-11", agileplus.ClaimRequest{Agent: "agent-2", TTLSeconds: 60})
		mustOK(t, err)
		mustOK(t, f.svc.Release(f.ctx, "CORE-11", agileplus.ClaimRequest{Token: l.Token}))
		ready(t, "CORE", 2, 3, 4, 5, 7, 10, 11)
	})

	t.Run("only planned", func(t *testing.T) {
		f.move(t, "CORE-3", agileplus.WPBlocked)
		f.move(t, "CORE-4", agileplus.WPDoing)
		ready(t, "CORE", 2, 5, 7, 10, 11)
		f.move(t, "CORE-3", agileplus.WPPlanned)
		ready(t, "CORE", 2, 3, 5, 7, 10, 11)
	})

	t.Run("done targets release", func(t *testing.T) {
		f.move(t, "CORE-2", agileplus.WPDoing, agileplus.WPReview)
		ready(t, "CORE", 3, 5, 7, 10, 11)
		f.move(t, "CORE-2", agileplus.WPDone)
		ready(t, "CORE", 1, 3, 5, 7, 10, 11) // CORE-9 still waits on CORE-10
		f.finish(t, "CORE-10")
		ready(t, "CORE", 1, 3, 5, 7, 9, 11)
		f.finish(t, "CORE-5")
		ready(t, "CORE", 1, 3, 6, 7, 9, 11)
		ready(t, "OPS", 1, 2)
	})

	t.Run("pages by key number", func(t *testing.T) {
		var got []string
		pg := agileplus.Page{Limit: 2}
		for {
			ws, err := f.svc.Ready(f.ctx, "CORE", "", pg)
			mustOK(t, err)
			for _, w := range ws {
				got = append(got, w.Key)
			}
			if len(ws) < pg.Limit {
				break
			}
			pg.After = ws[len(ws)-1].Key
		}
		mustEqual(t, "ready pages", strings.Join(got, " "), "CORE-1 CORE-3 CORE-6 CORE-7 CORE-9 CORE-11")
		_, err := f.svc.Ready(f.ctx, "CORE", "", agileplus.Page{After: "not-a-key"})
		mustField(t, err, agileplus.EINVALID, "after")
	})

	_, err := f.svc.Ready(f.ctx, "NOPE", "", agileplus.Page{})
	mustCode(t, err, agileplus.ENOTFOUND)
}

// ---- events ----

// stepResult is what a command touched: its entity, the entity's project,
// and the features whose audit trails record it (first = Event.FeatureID).
type stepResult struct {
	entity   string
	project  string
	features []string
}

// step runs one successful command and checks that it appended exactly one
// event of type typ on its entity's chain, put that event in the outbox and
// added one audit entry to each of the features it names and none elsewhere.
func (f *fixture) step(t *testing.T, typ string, run func() stepResult) *agileplus.Event {
	t.Helper()
	before := f.events(t, "")
	pending := f.pending(t)
	audits := f.auditCounts(t)
	f.clock.Advance(tick)

	r := run()

	after := f.events(t, "")
	if len(after) != len(before)+1 {
		t.Fatalf("%s: got %d new events, want 1", typ, len(after)-len(before))
	}
	for i := range before {
		if after[i].ID != before[i].ID || after[i].Hash != before[i].Hash {
			t.Fatalf("%s: earlier event %d changed: got %s, want %s", typ, i, after[i].ID, before[i].ID)
		}
	}
	e := after[len(after)-1]
	kind, _, _ := strings.Cut(typ, ".")
	mustEqual(t, typ+": event type", e.Type, typ)
	mustEqual(t, typ+": entity", e.EntityID, r.entity)
	mustEqual(t, typ+": entity kind", e.EntityKind, kind)
	mustEqual(t, typ+": project key", e.ProjectKey, r.project)
	mustEqual(t, typ+": actor", e.Actor, Actor)
	mustTime(t, typ+": time", e.Time, f.clock.Now())
	mustEqual(t, typ+": hash", e.Hash, e.ComputeHash())
	if !strings.HasPrefix(e.ID, agileplus.PrefixEvent) {
		t.Errorf("%s: event id %q, want prefix %q", typ, e.ID, agileplus.PrefixEvent)
	}
	if len(before) > 0 && e.GlobalSeq <= before[len(before)-1].GlobalSeq {
		t.Errorf("%s: got global seq %d, want more than %d", typ, e.GlobalSeq, before[len(before)-1].GlobalSeq)
	}
	wantFeature := ""
	if len(r.features) > 0 {
		wantFeature = r.features[0]
	}
	mustEqual(t, typ+": feature id", e.FeatureID, wantFeature)

	chain := f.events(t, r.entity)
	if len(chain) == 0 || chain[len(chain)-1].ID != e.ID {
		t.Fatalf("%s: the events of %s do not end with the new event", typ, r.entity)
	}
	mustEqual(t, typ+": seq", e.Seq, int64(len(chain)))
	if err := agileplus.VerifyEventChain(chain); err != nil {
		t.Errorf("%s: chain of %s: %v", typ, r.entity, err)
	}
	mustEqual(t, typ+": pending events", f.pending(t), pending+1)

	for fid, n := range f.auditCounts(t) {
		want := audits[fid]
		if slices.Contains(r.features, fid) {
			want++
			a := f.lastAudit(t, fid)
			mustEqual(t, typ+": audit event id", a.EventID, e.ID)
			mustEqual(t, typ+": audit event type", a.EventType, typ)
			mustEqual(t, typ+": audit entity", a.EntityID, r.entity)
			mustEqual(t, typ+": audit actor", a.Actor, Actor)
			mustTime(t, typ+": audit time", a.Time, e.Time)
		}
		if n != want {
			t.Errorf("%s: feature %s has %d audit entries, want %d", typ, fid, n, want)
		}
	}
	return e
}

func testEventPerCommand(t *testing.T, f *fixture) {
	ctx, svc := f.ctx, f.svc
	var (
		core, ops  *agileplus.Project
		fa, fb     *agileplus.Feature
		w1, w2, w3 *agileplus.WP
		dep, fdep  *agileplus.Dependency
		lease      *agileplus.Lease
		err        error
	)
	name, title := "Renamed", "Renamed"

	f.step(t, "project.created", func() stepResult {
		core, err = svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"})
		mustOK(t, err)
		return stepResult{core.ID, "CORE", nil}
	})
	f.step(t, "project.created", func() stepResult {
		ops, err = svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "OPS", Name: "Ops"})
		mustOK(t, err)
		return stepResult{ops.ID, "OPS", nil}
	})
	f.step(t, "project.updated", func() stepResult {
		_, err = svc.UpdateProject(ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 0)
		mustOK(t, err)
		return stepResult{core.ID, "CORE", nil}
	})
	f.step(t, "feature.created", func() stepResult {
		fa, err = svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "alpha", Title: "Alpha"})
		mustOK(t, err)
		return stepResult{fa.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "feature.created", func() stepResult {
		fb, err = svc.CreateFeature(ctx, "OPS", agileplus.FeatureCreate{Slug: "beta", Title: "Beta"})
		mustOK(t, err)
		return stepResult{fb.ID, "OPS", []string{fb.ID}}
	})
	// With features present, project changes still add no audit entry.
	f.step(t, "project.updated", func() stepResult {
		_, err = svc.UpdateProject(ctx, "OPS", agileplus.ProjectUpdate{Name: &name}, 0)
		mustOK(t, err)
		return stepResult{ops.ID, "OPS", nil}
	})
	f.step(t, "feature.updated", func() stepResult {
		_, err = svc.UpdateFeature(ctx, "alpha", agileplus.FeatureUpdate{Title: &title}, 0)
		mustOK(t, err)
		return stepResult{fa.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "feature.transitioned", func() stepResult {
		_, err = svc.TransitionFeature(ctx, "alpha", agileplus.Transition{To: agileplus.FeaturePlanned}, 0)
		mustOK(t, err)
		return stepResult{fa.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.created", func() stepResult {
		w1, err = svc.CreateWP(ctx, "alpha", agileplus.WPCreate{Title: "one"})
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.created", func() stepResult {
		w2, err = svc.CreateWP(ctx, "alpha", agileplus.WPCreate{Title: "two"})
		mustOK(t, err)
		return stepResult{w2.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.created", func() stepResult {
		w3, err = svc.CreateWP(ctx, "beta", agileplus.WPCreate{Title: "three"})
		mustOK(t, err)
		return stepResult{w3.ID, "OPS", []string{fb.ID}}
	})
	f.step(t, "wp.updated", func() stepResult {
		_, err = svc.UpdateWP(ctx, w1.Key, agileplus.WPUpdate{Title: &title}, 0)
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.claimed", func() stepResult {
		lease, err = svc.Claim(ctx, w1.Key, agileplus.ClaimRequest{Agent: "agent-1", TTLSeconds: 60})
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.renewed", func() stepResult {
		_, err = svc.Renew(ctx, w1.Key, agileplus.ClaimRequest{Token: lease.Token})
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.transitioned", func() stepResult {
		_, err = svc.TransitionWP(ctx, w1.Key, agileplus.Transition{To: agileplus.WPDoing, Token: lease.Token}, 0)
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "wp.released", func() stepResult {
		mustOK(t, svc.Release(ctx, w1.Key, agileplus.ClaimRequest{Token: lease.Token}))
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "dependency.added", func() stepResult {
		dep, err = svc.AddDependency(ctx, agileplus.DependencyCreate{From: w2.Key, To: w1.Key})
		mustOK(t, err)
		return stepResult{dep.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "dependency.added", func() stepResult {
		// CORE-2 blocks OPS-1: stored as OPS-1 depends_on CORE-2, so it is
		// recorded from OPS-1's side first.
		d, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: w2.Key, To: w3.Key, Kind: agileplus.Blocks})
		mustOK(t, err)
		return stepResult{d.ID, "OPS", []string{fb.ID, fa.ID}}
	})
	f.step(t, "dependency.added", func() stepResult {
		d, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: w1.Key, To: w3.Key, Kind: agileplus.RelatesTo})
		mustOK(t, err)
		return stepResult{d.ID, "CORE", []string{fa.ID, fb.ID}}
	})
	f.step(t, "dependency.added", func() stepResult {
		fdep, err = svc.AddDependency(ctx, agileplus.DependencyCreate{From: "alpha", To: "beta"})
		mustOK(t, err)
		return stepResult{fdep.ID, "CORE", []string{fa.ID, fb.ID}}
	})
	f.step(t, "dependency.removed", func() stepResult {
		mustOK(t, svc.RemoveDependency(ctx, dep.ID))
		return stepResult{dep.ID, "CORE", []string{fa.ID}}
	})
	f.step(t, "dependency.removed", func() stepResult {
		mustOK(t, svc.RemoveDependency(ctx, fdep.ID))
		return stepResult{fdep.ID, "CORE", []string{fa.ID, fb.ID}}
	})
	f.step(t, "wp.transitioned", func() stepResult {
		_, err = svc.TransitionWP(ctx, w1.Key, agileplus.Transition{To: agileplus.WPReview}, 0)
		mustOK(t, err)
		return stepResult{w1.ID, "CORE", []string{fa.ID}}
	})

	// Each entity's chain has the commands in order.
	types := func(id string) string {
		var out []string
		for _, e := range f.events(t, id) {
			out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Action()))
		}
		return strings.Join(out, " ")
	}
	mustEqual(t, "chain of CORE", types(core.ID), "1:created 2:updated")
	mustEqual(t, "chain of alpha", types(fa.ID), "1:created 2:updated 3:transitioned")
	mustEqual(t, "chain of CORE-1", types(w1.ID), "1:created 2:updated 3:claimed 4:renewed 5:transitioned 6:released 7:transitioned")
	mustEqual(t, "chain of the removed dependency", types(dep.ID), "1:added 2:removed")
}

// history runs a mixed set of commands over two projects.
func (f *fixture) history(t *testing.T) {
	t.Helper()
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "OPS", "beta")
	f.wps(t, "alpha", 3)
	f.wp(t, "beta", "ops")
	for i := range 3 {
		f.clock.Advance(tick)
		title := fmt.Sprintf("title %d", i)
		_, err := f.svc.UpdateWP(f.ctx, "CORE-1", agileplus.WPUpdate{Title: &title}, 0)
		mustOK(t, err)
		_, err = f.svc.UpdateWP(f.ctx, "OPS-1", agileplus.WPUpdate{Title: &title}, 0)
		mustOK(t, err)
		_, err = f.svc.UpdateFeature(f.ctx, "alpha", agileplus.FeatureUpdate{Title: &title}, 0)
		mustOK(t, err)
	}
	f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-3", "OPS-1", agileplus.Blocks)
	f.move(t, "CORE-2", agileplus.WPDoing, agileplus.WPReview)
	_, err := f.svc.TransitionFeature(f.ctx, "beta", agileplus.Transition{To: agileplus.FeatureShipped}, 0)
	mustOK(t, err)
}

func testEventChains(t *testing.T, f *fixture) {
	f.history(t)
	all := f.events(t, "")
	if len(all) < 20 {
		t.Fatalf("got %d events, want at least 20", len(all))
	}

	byEntity := map[string][]*agileplus.Event{}
	seen := map[string]bool{}
	for i, e := range all {
		if i > 0 && e.GlobalSeq <= all[i-1].GlobalSeq {
			t.Errorf("event %s: got global seq %d after %d, want strictly increasing", e.ID, e.GlobalSeq, all[i-1].GlobalSeq)
		}
		if seen[e.ID] {
			t.Errorf("event %s listed twice", e.ID)
		}
		seen[e.ID] = true
		if !json.Valid(e.Data) {
			t.Errorf("event %s: data %q is not JSON", e.ID, e.Data)
		}
		byEntity[e.EntityID] = append(byEntity[e.EntityID], e)
	}
	for id, want := range byEntity {
		got := f.events(t, id)
		mustSame(t, "events of "+id, got, want)
		if err := agileplus.VerifyEventChain(got); err != nil {
			t.Errorf("chain of %s: %v", id, err)
		}
	}

	// Entities can be named by key as well as by id.
	for _, c := range []struct{ key, id string }{
		{"CORE", f.mustProject(t, "CORE").ID},
		{"alpha", f.getFeature(t, "alpha").ID},
		{"CORE-1", f.getWP(t, "CORE-1").ID},
	} {
		mustSame(t, "events of "+c.key, f.events(t, c.key), f.events(t, c.id))
	}

	// Paging by global sequence.
	var paged []*agileplus.Event
	for after := int64(0); ; {
		page, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: after, Limit: 3})
		mustOK(t, err)
		if len(page) > 3 {
			t.Fatalf("got a page of %d events, want at most 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].GlobalSeq
	}
	mustSame(t, "paged events", paged, all)
	mid := all[len(all)/2].GlobalSeq
	rest, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: mid, Limit: agileplus.MaxPageLimit})
	mustOK(t, err)
	mustSame(t, "events after the middle", rest, all[len(all)/2+1:])
	var wantRest []*agileplus.Event
	for _, e := range byEntity[f.getWP(t, "CORE-1").ID] {
		if e.GlobalSeq > mid {
			wantRest = append(wantRest, e)
		}
	}
	gotRest, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: mid, Entity: "CORE-1"})
	mustOK(t, err)
	mustSame(t, "events of CORE-1 after the middle", gotRest, wantRest)
	none, err := f.svc.Events(f.ctx, agileplus.EventQuery{After: all[len(all)-1].GlobalSeq})
	mustOK(t, err)
	mustEqual(t, "events after the last", len(none), 0)

	_, err = f.svc.Events(f.ctx, agileplus.EventQuery{Entity: "nope"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.Events(f.ctx, agileplus.EventQuery{After: -1})
	mustField(t, err, agileplus.EINVALID, "after")
	_, err = f.svc.Events(f.ctx, agileplus.EventQuery{Limit: agileplus.MaxPageLimit + 1})
	mustField(t, err, agileplus.EINVALID, "limit")

	// Event data is what the command wrote.
	created := byEntity[f.getWP(t, "CORE-3").ID][0]
	var w agileplus.WP
	decode(t, created.Data, &w)
	mustEqual(t, "key in the wp.created data", w.Key, "CORE-3")
}

func (f *fixture) mustProject(t *testing.T, ref string) *agileplus.Project {
	t.Helper()
	p, err := f.svc.Project(f.ctx, ref)
	mustOK(t, err)
	return p
}

func testOutbox(t *testing.T, f *fixture) {
	o := f.outbox(t)
	ctx := f.ctx
	ids := func(es []*agileplus.Event) string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return strings.Join(out, " ")
	}
	pendingEvents := func(limit int) []*agileplus.Event {
		t.Helper()
		es, err := o.PendingEvents(ctx, 0, limit)
		mustOK(t, err)
		return es
	}

	mustEqual(t, "pending in an empty store", f.pending(t), int64(0))
	mustEqual(t, "pending events in an empty store", len(pendingEvents(10)), 0)

	f.history(t)
	all := f.events(t, "")
	n := int64(len(all))
	mustEqual(t, "pending", f.pending(t), n)
	mustSame(t, "pending events", pendingEvents(1000), all)
	mustEqual(t, "first 3 pending", ids(pendingEvents(3)), ids(all[:3]))
	after, err := o.PendingEvents(ctx, all[1].GlobalSeq, 3)
	mustOK(t, err)
	mustEqual(t, "3 pending after the second", ids(after), ids(all[2:5]))
	after, err = o.PendingEvents(ctx, all[n-1].GlobalSeq, 3)
	mustOK(t, err)
	mustEqual(t, "pending after the last", len(after), 0)

	mustOK(t, o.MarkPublished(ctx, []string{all[0].ID, all[1].ID, all[2].ID}))
	mustEqual(t, "pending after marking 3", f.pending(t), n-3)
	mustEqual(t, "pending events after marking 3", ids(pendingEvents(1000)), ids(all[3:]))

	// Marking is idempotent; unknown ids are fine.
	mustOK(t, o.MarkPublished(ctx, []string{all[1].ID, all[0].ID, "evt_00000000000000000000000000"}))
	mustOK(t, o.MarkPublished(ctx, nil))
	mustEqual(t, "pending after marking again", f.pending(t), n-3)

	// Out of order: the rest keep their order.
	mustOK(t, o.MarkPublished(ctx, []string{all[5].ID}))
	want := append(append([]*agileplus.Event{}, all[3:5]...), all[6:]...)
	mustEqual(t, "pending events after marking one in the middle", ids(pendingEvents(1000)), ids(want))
	mustEqual(t, "pending after marking one in the middle", f.pending(t), n-4)

	// A new command adds its event at the end.
	f.wp(t, "alpha", "late")
	all = f.events(t, "")
	last := all[len(all)-1]
	got := pendingEvents(1000)
	mustEqual(t, "pending after a command", f.pending(t), n-3)
	mustSame(t, "last pending event", got[len(got)-1], last)

	mustOK(t, o.MarkPublished(ctx, strings.Fields(ids(got))))
	mustEqual(t, "pending after marking all", f.pending(t), int64(0))
	mustEqual(t, "pending events after marking all", len(pendingEvents(1000)), 0)
	mustEqual(t, "events after publishing", len(f.events(t, "")), len(all))
}

// testEventTraceParent checks that an event keeps the traceparent of the
// command that recorded it, through Events and PendingEvents, and that the
// hash chain does not depend on it.
func testEventTraceParent(t *testing.T, f *fixture) {
	const (
		tp1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		tp2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	traced := func(tp string) context.Context { return agileplus.WithTraceParent(f.ctx, tp) }

	p, err := f.svc.CreateProject(traced(tp1), agileplus.ProjectCreate{Key: "CORE", Name: "Core"})
	mustOK(t, err)
	name := "Renamed"
	_, err = f.svc.UpdateProject(f.ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 0)
	mustOK(t, err)
	fe, err := f.svc.CreateFeature(traced(tp2), "CORE", agileplus.FeatureCreate{Slug: "alpha", Title: "Alpha"})
	mustOK(t, err)
	// Not a valid traceparent (upper-case hex): the event gets none.
	_, err = f.svc.UpdateFeature(traced(strings.ToUpper(tp1)), "alpha", agileplus.FeatureUpdate{Title: &name}, 0)
	mustOK(t, err)
	_, err = f.svc.BulkImport(traced(tp2), strings.NewReader(`{"type":"project","key":"OPS","name":"Ops"}`+"\n"), agileplus.ImportOptions{})
	mustOK(t, err)
	ops := f.mustProject(t, "OPS")

	want := map[string][]string{ // entity id -> traceparent of each event, by seq
		p.ID:   {tp1, ""},
		fe.ID:  {tp2, ""},
		ops.ID: {tp2},
	}
	all := f.events(t, "")
	wantAll := map[string]string{} // event id -> traceparent
	for id, tps := range want {
		es := f.events(t, id)
		if len(es) != len(tps) {
			t.Fatalf("events of %s: got %d, want %d", id, len(es), len(tps))
		}
		for i, e := range es {
			what := fmt.Sprintf("traceparent of %s (seq %d) from Events", e.Type, e.Seq)
			if f.ownSpan {
				mustContinueTrace(t, what, e.TraceParent, tps[i], tp1, tp2)
				wantAll[e.ID] = e.TraceParent
				continue
			}
			mustEqual(t, what, e.TraceParent, tps[i])
			wantAll[e.ID] = tps[i]
		}
		if err := agileplus.VerifyEventChain(es); err != nil {
			t.Errorf("chain of %s: %v", id, err)
		}
	}
	for _, e := range all {
		if tp, ok := wantAll[e.ID]; ok {
			mustEqual(t, fmt.Sprintf("traceparent of %s (seq %d) from all Events", e.Type, e.Seq), e.TraceParent, tp)
		}
	}

	pending, err := f.outbox(t).PendingEvents(f.ctx, 0, 1000)
	mustOK(t, err)
	mustSame(t, "pending events", pending, all)
	seen := 0
	for _, e := range pending {
		if tp, ok := wantAll[e.ID]; ok {
			seen++
			mustEqual(t, fmt.Sprintf("traceparent of %s (seq %d) from PendingEvents", e.Type, e.Seq), e.TraceParent, tp)
		}
	}
	mustEqual(t, "pending events checked", seen, len(wantAll))
}

// mustContinueTrace fails t unless got is the traceparent of a span of its
// own that a caller sending caller started: caller's trace id and flags with
// another parent id, or, when caller is "", a new sampled trace, none of
// others'.
func mustContinueTrace(t *testing.T, what, got, caller string, others ...string) {
	t.Helper()
	if !agileplus.ValidTraceParent(got) {
		t.Errorf("%s: got %q, want a valid traceparent", what, got)
		return
	}
	if caller == "" {
		for _, o := range others {
			if got[3:35] == o[3:35] {
				t.Errorf("%s: got %q, want a new trace, not the trace of %q", what, got, o)
			}
		}
		mustEqual(t, what+": flags of a new trace", got[53:], "01")
		return
	}
	mustEqual(t, what+": trace id", got[3:35], caller[3:35])
	mustEqual(t, what+": flags", got[53:], caller[53:])
	if got[36:52] == caller[36:52] {
		t.Errorf("%s: got %q, want a parent id of its own, not the caller's %q", what, got, caller)
	}
}

func testAudit(t *testing.T, f *fixture) {
	f.history(t)
	_, err := f.svc.Claim(f.ctx, "CORE-3", agileplus.ClaimRequest{Agent: "agent-1"})
	mustOK(t, err)
	_, err = f.svc.TransitionWP(f.ctx, "CORE-1", agileplus.Transition{To: agileplus.WPDoing, Force: true, Reason: "demo tomorrow"}, 0)
	mustOK(t, err)

	events := map[string]*agileplus.Event{}
	for _, e := range f.events(t, "") {
		events[e.ID] = e
	}
	for _, slug := range []string{"alpha", "beta"} {
		fe := f.getFeature(t, slug)
		as := f.audit(t, slug)
		if len(as) < 2 {
			t.Fatalf("%s: got %d audit entries, want at least 2", slug, len(as))
		}
		prev := ""
		for i, a := range as {
			mustEqual(t, slug+": audit feature", a.FeatureID, fe.ID)
			mustEqual(t, slug+": audit seq", a.Seq, int64(i+1))
			mustEqual(t, slug+": audit prev_hash", a.PrevHash, prev)
			mustEqual(t, slug+": audit hash", a.Hash, a.ComputeHash())
			prev = a.Hash
			e := events[a.EventID]
			if e == nil {
				t.Errorf("%s: audit entry %d names event %s, which does not exist", slug, a.Seq, a.EventID)
				continue
			}
			mustEqual(t, slug+": audit event type", a.EventType, e.Type)
			mustEqual(t, slug+": audit entity", a.EntityID, e.EntityID)
			mustEqual(t, slug+": audit actor", a.Actor, e.Actor)
			mustTime(t, slug+": audit time", a.Time, e.Time)
			if !bytes.Equal(a.Detail, e.Data) {
				t.Errorf("%s: audit entry %d detail: got %s, want the event data %s", slug, a.Seq, a.Detail, e.Data)
			}
			if a.Summary == "" {
				t.Errorf("%s: audit entry %d has no summary", slug, a.Seq)
			}
		}
		v, err := f.svc.VerifyAudit(f.ctx, slug)
		mustOK(t, err)
		mustSame(t, slug+": verification", v, &agileplus.AuditVerification{FeatureID: fe.ID, Entries: int64(len(as)), Valid: true, HeadHash: prev})
	}
	// The feature's own changes, its WPs' and the dependencies touching them.
	var kinds []string
	for _, a := range f.audit(t, "beta") {
		kinds = append(kinds, a.EventType)
	}
	mustEqual(t, "audit of beta", strings.Join(kinds, " "), "feature.created wp.created wp.updated wp.updated wp.updated dependency.added feature.transitioned")

	last := f.lastAudit(t, "alpha")
	mustEqual(t, "forced entry", last.Forced, true)
	mustEqual(t, "forced reason", last.Reason, "demo tomorrow")

	// Project changes add no audit entry.
	counts := f.auditCounts(t)
	name := "Renamed"
	_, err = f.svc.UpdateProject(f.ctx, "CORE", agileplus.ProjectUpdate{Name: &name}, 0)
	mustOK(t, err)
	f.project(t, "NEW")
	for fid, n := range f.auditCounts(t) {
		mustEqual(t, "audit entries of "+fid+" after project changes", n, counts[fid])
	}

	// Paging by audit sequence.
	page, err := f.svc.Audit(f.ctx, "alpha", 2, 3)
	mustOK(t, err)
	var seqs []string
	for _, a := range page {
		seqs = append(seqs, fmt.Sprint(a.Seq))
	}
	mustEqual(t, "audit page after 2", strings.Join(seqs, ","), "3,4,5")
	n := int64(len(f.audit(t, "alpha")))
	page, err = f.svc.Audit(f.ctx, "alpha", n, 0)
	mustOK(t, err)
	mustEqual(t, "audit entries after the last", len(page), 0)

	_, err = f.svc.Audit(f.ctx, "nope", 0, 0)
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.VerifyAudit(f.ctx, "nope")
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.Audit(f.ctx, "alpha", -1, 0)
	mustField(t, err, agileplus.EINVALID, "after")
}

// ---- atomicity ----

func testRefusalsChangeNothing(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	f.wps(t, "alpha", 4) // CORE-1..4
	f.dep(t, "CORE-1", "CORE-2", agileplus.DependsOn)
	title := "v2"
	_, err := f.svc.UpdateWP(f.ctx, "CORE-1", agileplus.WPUpdate{Title: &title}, 1)
	mustOK(t, err)
	lease, err := f.svc.Claim(f.ctx, "CORE-3", agileplus.ClaimRequest{Agent: "agent-1", TTLSeconds: 60})
	mustOK(t, err)
	f.finish(t, "CORE-4")
	_, err = f.svc.TransitionFeature(f.ctx, "alpha", agileplus.Transition{To: agileplus.FeaturePlanned}, 0)
	mustOK(t, err)

	stale := "stale"
	for _, c := range []struct {
		name string
		code string
		run  func() error
	}{
		{"cycle", agileplus.ERULE, func() error {
			_, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-2", To: "CORE-1"})
			return err
		}},
		{"stale wp version", agileplus.ECONFLICT, func() error {
			_, err := f.svc.UpdateWP(f.ctx, "CORE-1", agileplus.WPUpdate{Title: &stale}, 1)
			return err
		}},
		{"stale feature version", agileplus.ECONFLICT, func() error {
			_, err := f.svc.UpdateFeature(f.ctx, "alpha", agileplus.FeatureUpdate{Title: &stale}, 1)
			return err
		}},
		{"stale project version", agileplus.ECONFLICT, func() error {
			_, err := f.svc.UpdateProject(f.ctx, "CORE", agileplus.ProjectUpdate{Name: &stale}, 7)
			return err
		}},
		{"duplicate project key", agileplus.ECONFLICT, func() error {
			_, err := f.svc.CreateProject(f.ctx, agileplus.ProjectCreate{Key: "CORE", Name: "again"})
			return err
		}},
		{"duplicate slug", agileplus.ECONFLICT, func() error {
			_, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "alpha", Title: "again"})
			return err
		}},
		{"start rule", agileplus.ERULE, func() error {
			_, err := f.svc.TransitionWP(f.ctx, "CORE-1", agileplus.Transition{To: agileplus.WPDoing}, 0)
			return err
		}},
		{"state machine", agileplus.ERULE, func() error {
			_, err := f.svc.TransitionWP(f.ctx, "CORE-2", agileplus.Transition{To: agileplus.WPDone}, 0)
			return err
		}},
		{"backward feature", agileplus.ERULE, func() error {
			_, err := f.svc.TransitionFeature(f.ctx, "alpha", agileplus.Transition{To: agileplus.FeatureSpecified}, 0)
			return err
		}},
		{"claim while claimed", agileplus.ECONFLICT, func() error {
			_, err := f.svc.Claim(f.ctx, "CORE-3", agileplus.ClaimRequest{Agent: "agent-2"})
			return err
		}},
		{"claim done", agileplus.ERULE, func() error {
			_, err := f.svc.Claim(f.ctx, "CORE-4", agileplus.ClaimRequest{Agent: "agent-2"})
			return err
		}},
		{"transition without token", agileplus.ECONFLICT, func() error {
			_, err := f.svc.TransitionWP(f.ctx, "CORE-3", agileplus.Transition{To: agileplus.WPDoing}, 0)
			return err
		}},
		{"stale renew", agileplus.ECONFLICT, func() error {
			_, err := f.svc.Renew(f.ctx, "CORE-3", agileplus.ClaimRequest{Token: lease.Token + 1})
			return err
		}},
		{"stale release", agileplus.ECONFLICT, func() error {
			return f.svc.Release(f.ctx, "CORE-3", agileplus.ClaimRequest{Token: lease.Token + 1})
		}},
		{"unknown feature", agileplus.ENOTFOUND, func() error {
			_, err := f.svc.CreateWP(f.ctx, "nope", agileplus.WPCreate{Title: "orphan"})
			return err
		}},
		{"unknown dependency", agileplus.ENOTFOUND, func() error {
			return f.svc.RemoveDependency(f.ctx, "dep_00000000000000000000000000")
		}},
		{"self dependency", agileplus.ERULE, func() error {
			_, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-2", To: "CORE-2"})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.fingerprint(t)
			mustCode(t, c.run(), c.code)
			if after := f.fingerprint(t); after != before {
				t.Errorf("the refused command changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

type errBoom struct{}

func (errBoom) Error() string { return "boom" }

func testUpdateRollsBack(t *testing.T, f *fixture) {
	p := f.project(t, "CORE")
	fe := f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "one")
	before := f.fingerprint(t)
	now := f.clock.Advance(tick)
	ctx := f.ctx

	err := f.store.Update(ctx, func(tx agileplus.Tx) error {
		np := &agileplus.Project{ID: "prj_rolledback0000000000000000", Key: "ROLL", Name: "Rolled back", Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertProject(ctx, np); err != nil {
			t.Errorf("InsertProject: %v", err)
			return err
		}
		if n, err := tx.NextWPNumber(ctx, p.ID); err != nil || n != 2 {
			t.Errorf("NextWPNumber: got %d, %v, want 2, nil", n, err)
		}
		ww, err := tx.WP(ctx, w.ID)
		if err != nil {
			t.Errorf("WP: %v", err)
			return err
		}
		ww.Title, ww.Version = "changed", ww.Version+1
		if err := tx.UpdateWP(ctx, ww); err != nil {
			t.Errorf("UpdateWP: %v", err)
		}
		e := &agileplus.Event{ID: "evt_rolledback0000000000000000", Type: "project.created", EntityKind: agileplus.KindProject,
			EntityID: np.ID, ProjectKey: np.Key, Seq: 1, Time: now, Actor: Actor, Data: []byte(`{}`)}
		e.Hash = e.ComputeHash()
		if err := tx.AppendEvent(ctx, e); err != nil {
			t.Errorf("AppendEvent: %v", err)
		}
		seq, prev, err := tx.AuditHead(ctx, fe.ID)
		if err != nil {
			t.Errorf("AuditHead: %v", err)
		}
		a := &agileplus.AuditEntry{FeatureID: fe.ID, Seq: seq + 1, EventID: e.ID, EventType: e.Type, EntityID: e.EntityID,
			Time: now, Actor: Actor, Summary: "rolled back", Detail: e.Data, PrevHash: prev}
		a.Hash = a.ComputeHash()
		if err := tx.AppendAudit(ctx, a); err != nil {
			t.Errorf("AppendAudit: %v", err)
		}
		// The transaction reads its own writes.
		if got, err := tx.Project(ctx, "ROLL"); err != nil || got.ID != np.ID {
			t.Errorf("Project inside the transaction: got %v, %v, want %s", got, err, np.ID)
		}
		if seq, hash, err := tx.EventHead(ctx, np.ID); err != nil || seq != 1 || hash != e.Hash {
			t.Errorf("EventHead inside the transaction: got %d, %q, %v, want 1, %q, nil", seq, hash, err, e.Hash)
		}
		if got, err := tx.WP(ctx, w.ID); err != nil || got.Title != "changed" {
			t.Errorf("WP inside the transaction: got %v, %v, want title changed", got, err)
		}
		return errBoom{}
	})
	if !errors.As(err, new(errBoom)) {
		t.Errorf("Update: got error %v, want the error fn returned", err)
	}
	if after := f.fingerprint(t); after != before {
		t.Errorf("the rolled back transaction left changes:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	_, err = f.svc.Project(ctx, "ROLL")
	mustCode(t, err, agileplus.ENOTFOUND)
	mustEqual(t, "key after a rolled back allocation", f.wp(t, "alpha", "two").Key, "CORE-2")

	// Domain errors from fn keep their code and field.
	err = f.store.Update(ctx, func(tx agileplus.Tx) error { return agileplus.FieldErrorf("title", "bad") })
	mustField(t, err, agileplus.EINVALID, "title")
	err = f.store.View(ctx, func(tx agileplus.ReadTx) error { return errBoom{} })
	if !errors.As(err, new(errBoom)) {
		t.Errorf("View: got error %v, want the error fn returned", err)
	}
}

// testConcurrentRollbacks runs many writers at once, half of which fail
// after writing: adapters that batch commands into one transaction must undo
// exactly the failed ones.
func testConcurrentRollbacks(t *testing.T, f *fixture) {
	const n = 40
	ctx := f.ctx
	now := f.clock.Now()
	ids := agileplus.NewIDGenerator(f.clock.Now)
	var wg sync.WaitGroup
	errs := make([]error, n)
	appended := make([]*agileplus.Event, n)
	ready := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-ready
			errs[i] = f.store.Update(ctx, func(tx agileplus.Tx) error {
				p := &agileplus.Project{ID: ids.New(agileplus.PrefixProject), Key: fmt.Sprintf("P%d", i), Name: "p", Version: 1, CreatedAt: now, UpdatedAt: now}
				if err := tx.InsertProject(ctx, p); err != nil {
					return err
				}
				e := &agileplus.Event{ID: ids.New(agileplus.PrefixEvent), Type: "project.created", EntityKind: agileplus.KindProject,
					EntityID: p.ID, ProjectKey: p.Key, Seq: 1, Time: now, Actor: Actor, Data: []byte(`{}`)}
				e.Hash = e.ComputeHash()
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				appended[i] = e
				if i%2 == 0 {
					return errBoom{}
				}
				return nil
			})
		})
	}
	close(ready)
	wg.Wait()

	for i, err := range errs {
		key := fmt.Sprintf("P%d", i)
		_, perr := f.svc.Project(ctx, key)
		if i%2 == 0 {
			if !errors.As(err, new(errBoom)) {
				t.Errorf("writer %d: got error %v, want the error fn returned", i, err)
			}
			if code := agileplus.ErrorCode(perr); code != agileplus.ENOTFOUND {
				t.Errorf("project %s of failed writer %d: got code %q (err %v), want %q: its writes were kept", key, i, code, perr, agileplus.ENOTFOUND)
			}
			continue
		}
		if err != nil {
			t.Errorf("writer %d: got error %v, want nil", i, err)
		}
		if perr != nil {
			t.Errorf("project %s: got error %v, want it stored", key, perr)
		}
	}
	events := f.events(t, "")
	mustEqual(t, "events", len(events), n/2)
	mustEqual(t, "pending", f.pending(t), int64(n/2))
	// Each committed event has its global sequence by the time Update
	// returned (a store may number events at commit).
	listed := map[string]int64{}
	for _, e := range events {
		listed[e.ID] = e.GlobalSeq
	}
	for i, e := range appended {
		if i%2 == 1 && (e == nil || e.GlobalSeq == 0 || listed[e.ID] != e.GlobalSeq) {
			t.Errorf("writer %d: event after Update returned: %+v, want the global sequence listed (%d)", i, e, listed[e.ID])
		}
	}
	for _, e := range events {
		if _, err := f.svc.Project(ctx, e.EntityID); err != nil {
			t.Errorf("event %s of project %s: the project is missing: %v", e.ID, e.ProjectKey, err)
		}
	}
}

func testVersionGuard(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "one")
	before := f.fingerprint(t)
	ctx := f.ctx

	for _, c := range []struct {
		name  string
		write func(tx agileplus.Tx) error
	}{
		{"project, same version", func(tx agileplus.Tx) error {
			p, err := tx.Project(ctx, "CORE")
			if err != nil {
				return err
			}
			p.Name = "guarded"
			return tx.UpdateProject(ctx, p)
		}},
		{"feature, version skipped", func(tx agileplus.Tx) error {
			fe, err := tx.Feature(ctx, "alpha")
			if err != nil {
				return err
			}
			fe.Title, fe.Version = "guarded", fe.Version+2
			return tx.UpdateFeature(ctx, fe)
		}},
		{"wp, same version", func(tx agileplus.Tx) error {
			ww, err := tx.WP(ctx, w.ID)
			if err != nil {
				return err
			}
			ww.Title = "guarded"
			return tx.UpdateWP(ctx, ww)
		}},
		{"wp, older version", func(tx agileplus.Tx) error {
			ww, err := tx.WP(ctx, w.ID)
			if err != nil {
				return err
			}
			ww.Title, ww.Version = "guarded", ww.Version-1
			return tx.UpdateWP(ctx, ww)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustCode(t, f.store.Update(ctx, c.write), agileplus.ECONFLICT)
			if after := f.fingerprint(t); after != before {
				t.Errorf("the guarded write changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	mustOK(t, f.store.Update(ctx, func(tx agileplus.Tx) error {
		ww, err := tx.WP(ctx, w.ID)
		if err != nil {
			return err
		}
		ww.Title, ww.Version = "next", ww.Version+1
		return tx.UpdateWP(ctx, ww)
	}))
	got := f.getWP(t, w.ID)
	mustEqual(t, "title after a guarded write", got.Title, "next")
	mustEqual(t, "version after a guarded write", got.Version, int64(2))
}

func testFenceToken(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "fenced")
	ctx := f.ctx
	now := f.clock.Now()

	write := func(t *testing.T, lease *agileplus.Lease, wantFence int64) {
		t.Helper()
		mustOK(t, f.store.Update(ctx, func(tx agileplus.Tx) error {
			ww, err := tx.WP(ctx, w.ID)
			if err != nil {
				return err
			}
			ww.Lease, ww.Version = lease, ww.Version+1
			if err := tx.UpdateWP(ctx, ww); err != nil {
				return err
			}
			if fence, err := tx.FenceToken(ctx, w.ID); err != nil || fence != wantFence {
				t.Errorf("fence token: got %d, %v, want %d, nil", fence, err, wantFence)
			}
			return nil
		}))
		mustOK(t, f.store.View(ctx, func(tx agileplus.ReadTx) error {
			ww, err := tx.WP(ctx, w.ID)
			if err != nil {
				return err
			}
			mustSame(t, "stored lease", ww.Lease, lease)
			return nil
		}))
	}

	mustOK(t, f.store.Update(ctx, func(tx agileplus.Tx) error {
		if fence, err := tx.FenceToken(ctx, w.ID); err != nil || fence != 0 {
			t.Errorf("fence token of a new wp: got %d, %v, want 0, nil", fence, err)
		}
		return nil
	}))
	write(t, &agileplus.Lease{WPID: w.ID, Agent: "a", Token: 5, ClaimedAt: now, ExpiresAt: now.Add(time.Minute)}, 5)
	write(t, nil, 5)
	// An expired lease with a lower token: stored and returned as is, and
	// the counter does not go down.
	write(t, &agileplus.Lease{WPID: w.ID, Agent: "b", Token: 3, ClaimedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Second)}, 5)

	l, err := f.svc.Claim(ctx, w.ID, agileplus.ClaimRequest{Agent: "c"})
	mustOK(t, err)
	mustEqual(t, "token after the fence", l.Token, int64(6))

	// RaiseFence only raises, and a claim continues above it.
	mustOK(t, f.svc.Release(ctx, w.ID, agileplus.ClaimRequest{Token: l.Token}))
	raise := func(to, want int64) {
		t.Helper()
		mustOK(t, f.store.Update(ctx, func(tx agileplus.Tx) error {
			if err := tx.RaiseFence(ctx, w.ID, to); err != nil {
				return err
			}
			fence, err := tx.FenceToken(ctx, w.ID)
			mustOK(t, err)
			mustEqual(t, fmt.Sprintf("fence after RaiseFence(%d)", to), fence, want)
			return nil
		}))
	}
	raise(40, 40)
	raise(7, 40)
	before := f.getWP(t, w.ID)
	mustEqual(t, "lease after RaiseFence", before.Lease == nil, true)
	l, err = f.svc.Claim(ctx, w.ID, agileplus.ClaimRequest{Agent: "d"})
	mustOK(t, err)
	mustEqual(t, "token after RaiseFence(40)", l.Token, int64(41))
	err = f.store.Update(ctx, func(tx agileplus.Tx) error { return tx.RaiseFence(ctx, "wp_nope", 3) })
	mustCode(t, err, agileplus.ENOTFOUND)
}

func testPing(t *testing.T, f *fixture) {
	p, ok := f.store.(agileplus.Pinger)
	if !ok {
		t.Fatalf("store %T does not implement agileplus.Pinger", f.store)
	}
	mustOK(t, p.Ping(f.ctx))
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// ---- references ----

func testReferences(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "one")
	before := len(f.events(t, w.ID))

	c, err := f.svc.AddReference(f.ctx, "CORE-1", agileplus.ReferenceCreate{SHA: "3F2A9C1", Repo: "github.com/acme/api"})
	mustOK(t, err)
	mustEqual(t, "kind", c.Kind, agileplus.RefCommit)
	mustEqual(t, "sha", c.SHA, "3f2a9c1")
	again, err := f.svc.AddReference(f.ctx, "CORE-1", agileplus.ReferenceCreate{SHA: "3f2a9c1", Repo: "github.com/acme/api"})
	mustOK(t, err)
	mustEqual(t, "same commit id", again.ID, c.ID)

	pr, err := f.svc.AddReference(f.ctx, w.ID, agileplus.ReferenceCreate{URL: "https://github.com/acme/api/pull/7"})
	mustOK(t, err)
	mustEqual(t, "pr state", pr.State, "open")
	merged, err := f.svc.AddReference(f.ctx, "CORE-1", agileplus.ReferenceCreate{URL: "https://github.com/acme/api/pull/7", State: "merged"})
	mustOK(t, err)
	mustEqual(t, "same pr id", merged.ID, pr.ID)
	mustEqual(t, "merged state", merged.State, "merged")

	got := f.getWP(t, "CORE-1")
	mustEqual(t, "references", len(got.References), 2)
	mustEqual(t, "second reference state", got.References[1].State, "merged")
	evs := f.events(t, w.ID)
	mustEqual(t, "new events (commit, pr, pr merged)", len(evs)-before, 3)
	mustEqual(t, "last event", evs[len(evs)-1].Type, "wp.reference_updated")
	mustEqual(t, "audit entry", f.lastAudit(t, "alpha").EventType, "wp.reference_updated")

	// Another WP names the same pull request with another repo: each
	// reference keeps its own.
	w2 := f.wp(t, "alpha", "two")
	other, err := f.svc.AddReference(f.ctx, w2.ID, agileplus.ReferenceCreate{URL: "https://github.com/acme/api/pull/7", Repo: "github.com/fork/api"})
	mustOK(t, err)
	mustEqual(t, "repo of the other WP's pr", other.Repo, "github.com/fork/api")
	mustEqual(t, "repo of the other WP's pr, read back", f.getWP(t, w2.Key).References[0].Repo, "github.com/fork/api")
	mustEqual(t, "repo of the first WP's pr, read back", f.getWP(t, "CORE-1").References[1].Repo, "")
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) error {
		rs, err := tx.AllReferences(f.ctx, agileplus.Page{Limit: 10})
		if err != nil {
			return err
		}
		repos := map[string]string{}
		for _, r := range rs {
			repos[r.ID] = r.Repo
		}
		mustEqual(t, "repos from AllReferences", fmt.Sprint(repos), fmt.Sprint(map[string]string{c.ID: "github.com/acme/api", pr.ID: "", other.ID: "github.com/fork/api"}))
		return nil
	}))
	_, err = f.svc.AddReference(f.ctx, "CORE-9", agileplus.ReferenceCreate{SHA: "3f2a9c1", Repo: "r"})
	mustCode(t, err, agileplus.ENOTFOUND)
	_, err = f.svc.AddReference(f.ctx, "CORE-1", agileplus.ReferenceCreate{URL: "mailto:x@y"})
	mustField(t, err, agileplus.EINVALID, "url")
}

// ---- graph index ----

// testGraphIndex checks that a store's graph index follows its commits:
// WPs, state changes, added and removed depends_on edges.
func testGraphIndex(t *testing.T, f *fixture) {
	gr, ok := f.store.(agileplus.GraphReader)
	if !ok {
		t.Fatal("store keeps no graph index (does not implement agileplus.GraphReader)")
	}
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	f.wps(t, "alpha", 3)
	d := f.dep(t, "CORE-3", "CORE-2", agileplus.DependsOn)
	f.dep(t, "CORE-2", "CORE-1", agileplus.DependsOn)
	f.dep(t, "CORE-1", "CORE-3", agileplus.RelatesTo)
	path := func() string {
		var keys []string
		err := gr.ReadGraph(f.ctx, func(g agileplus.GraphIndex) error {
			p, err := g.Path("CORE-3", "CORE-1")
			for _, n := range p {
				keys = append(keys, n.Key+":"+n.State)
			}
			if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
				return nil
			}
			return err
		})
		mustOK(t, err)
		return strings.Join(keys, " ")
	}
	mustEqual(t, "path", path(), "CORE-3:planned CORE-2:planned CORE-1:planned")
	f.finish(t, "CORE-1")
	mustEqual(t, "path after CORE-1 is done", path(), "CORE-3:planned CORE-2:planned CORE-1:done")
	mustOK(t, f.svc.RemoveDependency(f.ctx, d.ID))
	mustEqual(t, "path after removing CORE-3 -> CORE-2", path(), "")
	// A refused command leaves the index alone.
	_, err := f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-1", To: "CORE-3"})
	mustOK(t, err)
	_, err = f.svc.AddDependency(f.ctx, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-1"})
	mustCode(t, err, agileplus.ERULE)
	mustEqual(t, "path after a refused cycle", path(), "")
}
