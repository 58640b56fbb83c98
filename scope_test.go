package agileplus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// scopeFixture is two projects, PA and PB, each with features fX (WPs
// PX-1, PX-2) and fX2 (WP PX-3, claimed), the dependencies PX-1 -> PX-2
// and fX -> fX2, and two across projects: PA-2 -> PB-1 and PB-2 -> PA-3.
type scopeFixture struct {
	s      *agileplus.Service
	dep    map[string]string // x -> id of PX-1 depends_on PX-2
	token  map[string]int64  // x -> fencing token of the lease on PX-3
	admin  *agileplus.Principal
	onlyA  *agileplus.Principal
	writer *agileplus.Principal // write scope, every project
}

func proj(x string) string  { return "P" + strings.ToUpper(x) }
func feat(x string) string  { return "f" + x }
func wp(x, n string) string { return proj(x) + "-" + n }
func feat2(x string) string { return "f" + x + "2" }
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newScopeFixture(t testing.TB) *scopeFixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &scopeFixture{s: agileplus.NewService(store), dep: map[string]string{}, token: map[string]int64{},
		admin:  &agileplus.Principal{KeyID: "key_admin", Name: "root", Scope: agileplus.ScopeAdmin},
		onlyA:  &agileplus.Principal{KeyID: "key_a", Name: "ci-a", Scope: agileplus.ScopeWrite, Projects: []string{"PA"}},
		writer: &agileplus.Principal{KeyID: "key_w", Name: "dev", Scope: agileplus.ScopeWrite},
	}
	s := f.s
	for _, x := range []string{"a", "b"} {
		must(s.CreateProject(ctx, agileplus.ProjectCreate{Key: proj(x), Name: x}))
		must(s.CreateFeature(ctx, proj(x), agileplus.FeatureCreate{Slug: feat(x), Title: x}))
		must(s.CreateFeature(ctx, proj(x), agileplus.FeatureCreate{Slug: feat2(x), Title: x}))
		for _, fe := range []string{feat(x), feat(x), feat2(x)} {
			must(s.CreateWP(ctx, fe, agileplus.WPCreate{Title: "w"}))
		}
		f.dep[x] = must(s.AddDependency(ctx, agileplus.DependencyCreate{From: wp(x, "1"), To: wp(x, "2")})).ID
		must(s.AddDependency(ctx, agileplus.DependencyCreate{From: feat(x), To: feat2(x)}))
		f.token[x] = must(s.Claim(ctx, wp(x, "3"), agileplus.ClaimRequest{Agent: "bot"})).Token
		must(s.CreateLabel(ctx, proj(x), agileplus.LabelCreate{Name: "seed"}))
	}
	must(s.AddDependency(ctx, agileplus.DependencyCreate{From: "PA-2", To: "PB-1"}))
	must(s.AddDependency(ctx, agileplus.DependencyCreate{From: "PB-2", To: "PA-3"}))
	// An event of no project.
	must(s.CreateKey(ctx, agileplus.KeyCreate{Name: "ci-a", Scope: agileplus.ScopeWrite, Projects: []string{"PA"}}))
	return f
}

// events returns every event, as an unrestricted caller sees them.
func (f *scopeFixture) events(t testing.TB) []*agileplus.Event {
	t.Helper()
	var all []*agileplus.Event
	for after := int64(0); ; {
		es, err := f.s.Events(context.Background(), agileplus.EventQuery{After: after, Limit: agileplus.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
		if len(es) < agileplus.MaxPageLimit {
			return all
		}
		after = es[len(es)-1].GlobalSeq
	}
}

// scopeCase calls one Tracker method on project x ("a" or "b").
type scopeCase struct {
	name  string
	write bool
	// field is what EFORBIDDEN names for a project the key may not use.
	field string
	// whole marks an action on the whole deployment: refused to a key
	// limited to projects whatever x is. list marks a list that is
	// filtered, never refused (TestScopeLists checks what it holds).
	whole, list bool
	call        func(ctx context.Context, f *scopeFixture, x string) error
}

func ignore[T any](_ T, err error) error { return err }

var scopeCases = []scopeCase{
	{name: "CreateProject", write: true, whole: true, call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.CreateProject(ctx, agileplus.ProjectCreate{Key: "N" + strings.ToUpper(x), Name: "n"}))
	}},
	{name: "Project", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Project(ctx, proj(x)))
	}},
	{name: "Projects", list: true, call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Projects(ctx, agileplus.Page{}))
	}},
	{name: "UpdateProject", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		name := "renamed"
		return ignore(f.s.UpdateProject(ctx, proj(x), agileplus.ProjectUpdate{Name: &name}, 0))
	}},
	{name: "CreateFeature", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.CreateFeature(ctx, proj(x), agileplus.FeatureCreate{Slug: "new-" + x, Title: "n"}))
	}},
	{name: "Feature", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Feature(ctx, feat(x)))
	}},
	{name: "Features", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Features(ctx, proj(x), agileplus.FeatureQuery{}))
	}},
	{name: "UpdateFeature", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		title := "renamed"
		return ignore(f.s.UpdateFeature(ctx, feat(x), agileplus.FeatureUpdate{Title: &title}, 0))
	}},
	{name: "TransitionFeature", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.TransitionFeature(ctx, feat(x), agileplus.Transition{To: agileplus.FeatureSpecified}, 0))
	}},
	{name: "CreateWP", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.CreateWP(ctx, feat(x), agileplus.WPCreate{Title: "n"}))
	}},
	{name: "WP", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.WP(ctx, wp(x, "1")))
	}},
	{name: "WPs", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.WPs(ctx, agileplus.WPQuery{Project: proj(x)}))
	}},
	{name: "UpdateWP", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		title := "renamed"
		return ignore(f.s.UpdateWP(ctx, wp(x, "1"), agileplus.WPUpdate{Title: &title}, 0))
	}},
	{name: "TransitionWP", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.TransitionWP(ctx, wp(x, "1"), agileplus.Transition{To: agileplus.WPBlocked}, 0))
	}},
	{name: "Claim", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Claim(ctx, wp(x, "1"), agileplus.ClaimRequest{Agent: "agent"}))
	}},
	{name: "Renew", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Renew(ctx, wp(x, "3"), agileplus.ClaimRequest{Token: f.token[x]}))
	}},
	{name: "Release", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return f.s.Release(ctx, wp(x, "3"), agileplus.ClaimRequest{Token: f.token[x]})
	}},
	{name: "AddReference", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.AddReference(ctx, wp(x, "1"), agileplus.ReferenceCreate{Kind: agileplus.RefCommit, Repo: "github.com/acme/api", SHA: "abcdef1"}))
	}},
	{name: "AddComment", write: true, field: "ref", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.AddComment(ctx, wp(x, "1"), agileplus.CommentCreate{Body: "hi"}))
	}},
	// A refused AddComment leaves nothing to edit: a limited key's edit of
	// another project's comment is TestEditCommentLimited's.
	{name: "EditComment", write: true, field: "ref", call: func(ctx context.Context, f *scopeFixture, x string) error {
		c, err := f.s.AddComment(ctx, feat(x), agileplus.CommentCreate{Body: "hi"})
		if err != nil {
			return err
		}
		return ignore(f.s.EditComment(ctx, c.ID, agileplus.CommentEdit{Body: "hello"}, 0))
	}},
	{name: "Comments", field: "ref", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Comments(ctx, wp(x, "1"), agileplus.Page{}))
	}},
	{name: "ArchiveProject", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.ArchiveProject(ctx, proj(x)))
	}},
	{name: "RestoreProject", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		if _, err := f.s.ArchiveProject(ctx, proj(x)); err != nil {
			return err
		}
		return ignore(f.s.RestoreProject(ctx, proj(x)))
	}},
	{name: "ArchiveFeature", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.ArchiveFeature(ctx, feat(x)))
	}},
	{name: "RestoreFeature", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		if _, err := f.s.ArchiveFeature(ctx, feat(x)); err != nil {
			return err
		}
		return ignore(f.s.RestoreFeature(ctx, feat(x)))
	}},
	{name: "ArchiveWP", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.ArchiveWP(ctx, wp(x, "1")))
	}},
	{name: "RestoreWP", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		if _, err := f.s.ArchiveWP(ctx, wp(x, "1")); err != nil {
			return err
		}
		return ignore(f.s.RestoreWP(ctx, wp(x, "1")))
	}},
	// PB-1 has a dependent in PA, so a WP of its own is deleted too.
	{name: "DeleteWP", write: true, field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		if err := f.s.DeleteWP(ctx, wp(x, "1")); agileplus.ErrorCode(err) == agileplus.EFORBIDDEN {
			return err
		}
		w, err := f.s.CreateWP(ctx, feat2(x), agileplus.WPCreate{Title: "gone"})
		if err != nil {
			return err
		}
		return f.s.DeleteWP(ctx, w.Key)
	}},
	{name: "AddDependency", write: true, field: "from", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.AddDependency(ctx, agileplus.DependencyCreate{From: wp(x, "2"), To: wp(x, "3")}))
	}},
	{name: "WPAt", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.WPAt(ctx, wp(x, "1"), agileplus.AsOf{Time: time.Now()}))
	}},
	{name: "FeatureAt", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeatureAt(ctx, feat(x), agileplus.AsOf{Time: time.Now()}))
	}},
	{name: "History", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.History(ctx, agileplus.KindWP, wp(x, "1"), agileplus.HistoryQuery{}))
	}},
	{name: "Plan", write: true, field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Plan(ctx, agileplus.PlanRequest{Feature: feat(x), WPs: []agileplus.PlanWP{{WPCreate: agileplus.WPCreate{Title: "n"}, DependsOn: []string{wp(x, "1")}}}}))
	}},
	{name: "RemoveDependency", write: true, field: "dependency", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return f.s.RemoveDependency(ctx, f.dep[x])
	}},
	{name: "Dependencies", field: "ref", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Dependencies(ctx, wp(x, "1")))
	}},
	{name: "Ready", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Ready(ctx, proj(x), "", agileplus.Page{}))
	}},
	{name: "Next", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Next(ctx, agileplus.NextRequest{Project: proj(x), Claim: true, Agent: "a"}))
	}},
	{name: "Events", field: "entity", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Events(ctx, agileplus.EventQuery{Entity: wp(x, "1")}))
	}},
	{name: "Search", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Search(ctx, agileplus.SearchQuery{Q: "w", Project: proj(x)}))
	}},
	{name: "Audit", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Audit(ctx, feat(x), 0, 0))
	}},
	{name: "VerifyAudit", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.VerifyAudit(ctx, feat(x)))
	}},
	{name: "BulkImport", write: true, whole: true, call: func(ctx context.Context, f *scopeFixture, x string) error {
		in := `{"type":"project","key":"I` + strings.ToUpper(x) + `","name":"i"}` + "\n"
		return ignore(f.s.BulkImport(ctx, strings.NewReader(in), agileplus.ImportOptions{}))
	}},
	{name: "BulkExport", whole: true, call: func(ctx context.Context, f *scopeFixture, x string) error {
		return f.s.BulkExport(ctx, io.Discard, agileplus.ExportOptions{})
	}},
	{name: "CreateLabel", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.CreateLabel(ctx, proj(x), agileplus.LabelCreate{Name: "new"}))
	}},
	{name: "Label", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Label(ctx, proj(x), "seed"))
	}},
	{name: "Labels", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Labels(ctx, proj(x), agileplus.Page{}))
	}},
	{name: "UpdateLabel", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		c := "#112233"
		return ignore(f.s.UpdateLabel(ctx, proj(x), "seed", agileplus.LabelUpdate{Color: &c}, 0))
	}},
	{name: "DeleteLabel", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return f.s.DeleteLabel(ctx, proj(x), "seed")
	}},
	{name: "Flags", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Flags(ctx, proj(x)))
	}},
	{name: "SetFlags", write: true, field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.SetFlags(ctx, proj(x), agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxDoingPerProject: json.RawMessage("5")}}))
	}},
	{name: "Layers", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Layers(ctx, proj(x), ""))
	}},
	{name: "FeatureGraph", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeatureGraph(ctx, proj(x)))
	}},
	{name: "Blockers", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Blockers(ctx, wp(x, "1"), true, 0))
	}},
	{name: "Dependents", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Dependents(ctx, wp(x, "2"), true, 0))
	}},
	{name: "Path", field: "from", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Path(ctx, wp(x, "1"), wp(x, "2")))
	}},
	{name: "CriticalPath", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.CriticalPath(ctx, proj(x), "", agileplus.Page{}))
	}},
	{name: "Impact", field: "wp", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Impact(ctx, wp(x, "2"), 0))
	}},
	{name: "FeatureBlockers", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeatureBlockers(ctx, feat(x), true, 0))
	}},
	{name: "FeatureDependents", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeatureDependents(ctx, feat2(x), true, 0))
	}},
	{name: "FeatureImpact", field: "feature", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeatureImpact(ctx, feat2(x), 0))
	}},
	{name: "FeaturePath", field: "from", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.FeaturePath(ctx, feat(x), feat2(x)))
	}},
	{name: "Cycles", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Cycles(ctx, proj(x)))
	}},
	{name: "Export", field: "project", call: func(ctx context.Context, f *scopeFixture, x string) error {
		return ignore(f.s.Export(ctx, proj(x), agileplus.ExportJSON))
	}},
}

// TestScopeCoversTracker fails when a Tracker method has no row in
// scopeCases, so a new command cannot forget its project limits.
func TestScopeCoversTracker(t *testing.T) {
	tr := reflect.TypeFor[agileplus.Tracker]()
	var methods, rows []string
	for i := range tr.NumMethod() {
		methods = append(methods, tr.Method(i).Name)
	}
	for _, c := range scopeCases {
		rows = append(rows, c.name)
	}
	slices.Sort(methods)
	slices.Sort(rows)
	if !slices.Equal(methods, rows) {
		t.Errorf("scopeCases rows %v, want one per Tracker method %v", rows, methods)
	}
}

// TestScopeEveryMethod calls every Tracker method on project PA and on
// project PB for no principal, an admin key and a key limited to PA: the
// last is refused PB (and whole-deployment actions) with EFORBIDDEN naming
// the field, and a refused command writes nothing.
func TestScopeEveryMethod(t *testing.T) {
	reads := newScopeFixture(t) // shared by the cases that write nothing
	for _, c := range scopeCases {
		t.Run(c.name, func(t *testing.T) {
			for _, who := range []string{"none", "admin", "limited"} {
				f := reads
				if c.write {
					f = newScopeFixture(t) // both projects on one: they do not interfere
				}
				ctx := context.Background()
				switch who {
				case "admin":
					ctx = agileplus.WithPrincipal(ctx, f.admin)
				case "limited":
					ctx = agileplus.WithPrincipal(ctx, f.onlyA)
				}
				for _, x := range []string{"b", "a"} {
					allowed := who != "limited" || c.list || (x == "a" && !c.whole)
					before := len(f.events(t))
					err := c.call(ctx, f, x)
					after := len(f.events(t))
					switch {
					case allowed && err != nil:
						t.Errorf("%s on %s: %v, want success", who, proj(x), err)
					case allowed:
					case agileplus.ErrorCode(err) != agileplus.EFORBIDDEN:
						t.Errorf("%s on %s: %v (%s), want %s", who, proj(x), err, agileplus.ErrorCode(err), agileplus.EFORBIDDEN)
					case c.field != "" && agileplus.ErrorField(err) != c.field:
						t.Errorf("%s on %s: field %q, want %q (%v)", who, proj(x), agileplus.ErrorField(err), c.field, err)
					case !strings.Contains(err.Error(), "ci-a"):
						t.Errorf("%s on %s: %v, want the key named", who, proj(x), err)
					}
					if !allowed && after != before {
						t.Errorf("%s on %s: refused, but %d events were written", who, proj(x), after-before)
					}
				}
			}
		})
	}
}

// pages collects every page of a list, checking that each page but the
// last is full.
func pages[T any](t *testing.T, limit int, get func(after string) ([]T, error), cursor func(T) string) []T {
	t.Helper()
	var all []T
	for after := ""; ; {
		pg, err := get(after)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pg...)
		if len(pg) < limit {
			return all
		}
		after = cursor(pg[len(pg)-1])
	}
}

func TestScopeLists(t *testing.T) {
	f := newScopeFixture(t)
	ctx := context.Background()
	for _, k := range []string{"PC", "PD"} {
		must(f.s.CreateProject(ctx, agileplus.ProjectCreate{Key: k, Name: k}))
		must(f.s.CreateFeature(ctx, k, agileplus.FeatureCreate{Slug: "f" + strings.ToLower(k), Title: k}))
		for range 3 {
			must(f.s.CreateWP(ctx, "f"+strings.ToLower(k), agileplus.WPCreate{Title: "w"}))
		}
	}
	p := &agileplus.Principal{KeyID: "key_ac", Name: "ci-ac", Scope: agileplus.ScopeRead, Projects: []string{"PC", "PA", "GONE"}}
	lctx := agileplus.WithPrincipal(ctx, p)
	keys := func(want func(string) bool, ks []string) []string {
		return slices.DeleteFunc(ks, func(k string) bool { return !want(k) })
	}
	inAC := func(k string) bool { return k == "PA" || k == "PC" }

	t.Run("Projects", func(t *testing.T) {
		all := pages(t, agileplus.MaxPageLimit, func(after string) ([]*agileplus.Project, error) {
			return f.s.Projects(ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		}, func(p *agileplus.Project) string { return p.ID })
		var want []string
		for _, p := range all {
			want = append(want, p.Key)
		}
		want = keys(inAC, want)
		got := pages(t, 1, func(after string) ([]*agileplus.Project, error) {
			return f.s.Projects(lctx, agileplus.Page{After: after, Limit: 1})
		}, func(p *agileplus.Project) string { return p.ID })
		var gotKeys []string
		for _, p := range got {
			gotKeys = append(gotKeys, p.Key)
		}
		if !slices.Equal(gotKeys, want) {
			t.Errorf("limited projects %v, want %v", gotKeys, want)
		}
	})

	t.Run("WPs", func(t *testing.T) {
		for _, state := range []string{"", agileplus.WPPlanned} {
			all := pages(t, agileplus.MaxPageLimit, func(after string) ([]*agileplus.WP, error) {
				return f.s.WPs(ctx, agileplus.WPQuery{State: state, Page: agileplus.Page{After: after, Limit: agileplus.MaxPageLimit}})
			}, func(w *agileplus.WP) string { return w.ID })
			var want []string
			for _, w := range all {
				if inAC(w.ProjectKey) {
					want = append(want, w.Key)
				}
			}
			got := pages(t, 2, func(after string) ([]*agileplus.WP, error) {
				return f.s.WPs(lctx, agileplus.WPQuery{State: state, Page: agileplus.Page{After: after, Limit: 2}})
			}, func(w *agileplus.WP) string { return w.ID })
			var gotKeys []string
			for _, w := range got {
				gotKeys = append(gotKeys, w.Key)
			}
			if len(want) != 6 || !slices.Equal(gotKeys, want) {
				t.Errorf("state %q: limited WPs %v, want %v (6)", state, gotKeys, want)
			}
		}
	})

	t.Run("Ready", func(t *testing.T) {
		for _, tc := range []struct {
			ctx  context.Context
			want string
		}{
			{ctx, "PC-1 PC-2 PC-3 PD-1 PD-2 PD-3"},
			{lctx, "PC-1 PC-2 PC-3"},
		} {
			for _, order := range []string{agileplus.OrderKey, agileplus.OrderPriority} {
				got := pages(t, 2, func(after string) ([]*agileplus.WP, error) {
					return f.s.Ready(tc.ctx, "", order, agileplus.Page{After: after, Limit: 2})
				}, func(w *agileplus.WP) string { return agileplus.ReadyCursor(w, order) })
				var gotKeys []string
				for _, w := range got {
					gotKeys = append(gotKeys, w.Key)
				}
				if g := strings.Join(gotKeys, " "); g != tc.want {
					t.Errorf("ready of every project, %s order: %s, want %s", order, g, tc.want)
				}
			}
		}
		// A WP of a project the key may not use is no position to start after.
		if _, err := f.s.Ready(lctx, "", agileplus.OrderPriority, agileplus.Page{After: "PD-1"}); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("after a WP the key may not see: %v, want not found", err)
		}
	})

	t.Run("Events", func(t *testing.T) {
		all := f.events(t)
		for _, tc := range []struct {
			name string
			p    *agileplus.Principal
			want func(*agileplus.Event) bool
		}{
			{"limited", p, func(e *agileplus.Event) bool { return inAC(e.ProjectKey) }},
			{"writer", f.writer, func(e *agileplus.Event) bool { return e.ProjectKey != agileplus.SystemProject }},
			{"admin", f.admin, func(*agileplus.Event) bool { return true }},
		} {
			var want []string
			for _, e := range all {
				if tc.want(e) {
					want = append(want, e.ID)
				}
			}
			got := pages(t, 3, func(after string) ([]*agileplus.Event, error) {
				n, _ := strconv.ParseInt(after, 10, 64)
				return f.s.Events(agileplus.WithPrincipal(ctx, tc.p), agileplus.EventQuery{After: n, Limit: 3})
			}, func(e *agileplus.Event) string { return strconv.FormatInt(e.GlobalSeq, 10) })
			var gotIDs []string
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if len(want) == len(all) && tc.name != "admin" {
				t.Fatalf("%s: the fixture has no event to hide", tc.name)
			}
			if !slices.Equal(gotIDs, want) {
				t.Errorf("%s: %d events, want %d", tc.name, len(gotIDs), len(want))
			}
		}
	})
}

// TestScopeHidesOtherProjects checks that graph answers starting in PA
// leave out what the dependencies across projects reach in PB.
func TestScopeHidesOtherProjects(t *testing.T) {
	f := newScopeFixture(t)
	ctx := context.Background()
	lctx := agileplus.WithPrincipal(ctx, f.onlyA)
	hopKeys := func(hs []agileplus.GraphHop) (ks []string) {
		for _, h := range hs {
			ks = append(ks, h.Key)
		}
		return ks
	}
	featSlugs := func(hs []agileplus.GraphFeatureHop) (ks []string) {
		for _, h := range hs {
			ks = append(ks, h.Slug)
		}
		return ks
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}

	var others []string
	for _, e := range must(f.s.Dependencies(ctx, "PA-2")) {
		others = append(others, e.OtherKey)
	}
	slices.Sort(others)
	check("Dependencies(PA-2)", others, []string{"PA-1", "PB-1"})
	others = nil
	for _, e := range must(f.s.Dependencies(lctx, "PA-2")) {
		others = append(others, e.OtherKey)
	}
	check("limited Dependencies(PA-2)", others, []string{"PA-1"})

	check("Blockers(PA-1)", hopKeys(must(f.s.Blockers(ctx, "PA-1", true, 0)).WPs), []string{"PA-2", "PB-1", "PB-2", "PA-3"})
	check("limited Blockers(PA-1)", hopKeys(must(f.s.Blockers(lctx, "PA-1", true, 0)).WPs), []string{"PA-2", "PA-3"})
	check("limited Dependents(PA-3)", hopKeys(must(f.s.Dependents(lctx, "PA-3", true, 0)).WPs), []string{"PA-2", "PA-1"})

	im := must(f.s.Impact(ctx, "PA-3", 1))
	check("Impact(PA-3) count", im.Count, 4)
	im = must(f.s.Impact(lctx, "PA-3", 1))
	check("limited Impact(PA-3)", []any{im.Count, im.Open, im.Estimate, hopKeys(im.WPs), im.Truncated},
		[]any{2, 2, 2 * agileplus.DefaultEstimate, []string{"PA-2"}, true})

	check("Path(PA-1, PA-3)", len(must(f.s.Path(ctx, "PA-1", "PA-3"))), 5)
	_, err := f.s.Path(lctx, "PA-1", "PA-3")
	check("limited Path(PA-1, PA-3)", []string{agileplus.ErrorCode(err), agileplus.ErrorField(err)}, []string{agileplus.EFORBIDDEN, "to"})

	// Writes that would reach into PB from PA.
	before := len(f.events(t))
	_, err = f.s.AddDependency(lctx, agileplus.DependencyCreate{From: "PA-3", To: "PB-3"})
	check("limited AddDependency(PA-3 -> PB-3)", []string{agileplus.ErrorCode(err), agileplus.ErrorField(err)}, []string{agileplus.EFORBIDDEN, "to"})
	var cross string
	for _, e := range must(f.s.Dependencies(ctx, "PA-2")) {
		if e.OtherKey == "PB-1" {
			cross = e.ID
		}
	}
	err = f.s.RemoveDependency(lctx, cross)
	check("limited RemoveDependency(PA-2 -> PB-1)", []string{agileplus.ErrorCode(err), agileplus.ErrorField(err)}, []string{agileplus.EFORBIDDEN, "dependency"})
	check("events written by refused commands", len(f.events(t))-before, 0)

	dependsOn := func(fg *agileplus.GraphFeatures) (ss []string) {
		for _, fe := range fg.Features {
			for _, d := range fe.DependsOn {
				ss = append(ss, fe.Slug+">"+d.Slug)
			}
		}
		slices.Sort(ss)
		return slices.Compact(ss)
	}
	check("FeatureGraph(PA)", dependsOn(must(f.s.FeatureGraph(ctx, "PA"))), []string{"fa>fa2", "fa>fb"})
	check("limited FeatureGraph(PA)", dependsOn(must(f.s.FeatureGraph(lctx, "PA"))), []string{"fa>fa2"})

	check("FeatureBlockers(fa)", featSlugs(must(f.s.FeatureBlockers(ctx, "fa", true, 0)).Features), []string{"fa2", "fb", "fb2"})
	check("limited FeatureBlockers(fa)", featSlugs(must(f.s.FeatureBlockers(lctx, "fa", true, 0)).Features), []string{"fa2"})
	fi := must(f.s.FeatureImpact(lctx, "fa2", 0))
	check("limited FeatureImpact(fa2)", []any{fi.Count, featSlugs(fi.Features)}, []any{1, []string{"fa"}})

	x := string(must(f.s.Export(lctx, "PA", agileplus.ExportJSON)))
	if strings.Contains(x, "PB-") || !strings.Contains(x, "PA-3") {
		t.Errorf("limited json export shows PB or lacks PA-3:\n%s", x)
	}
	if x := string(must(f.s.Export(ctx, "PA", agileplus.ExportJSON))); !strings.Contains(x, "PB-1") {
		t.Errorf("json export lacks PB-1:\n%s", x)
	}
	_, err = f.s.Export(lctx, "PA", agileplus.ExportDOT)
	check("limited dot export", []string{agileplus.ErrorCode(err), agileplus.ErrorField(err)}, []string{agileplus.EFORBIDDEN, "format"})

	// A cycle through PB, which only an import can make.
	in := `{"type":"dependency","from":"PA-3","to":"PA-1","kind":"depends_on"}` + "\n"
	must(f.s.BulkImport(ctx, strings.NewReader(in), agileplus.ImportOptions{AllowCycles: true}))
	check("Cycles(PA)", len(must(f.s.Cycles(ctx, "PA")).Cycles), 1)
	_, err = f.s.Cycles(lctx, "PA")
	check("limited Cycles(PA)", []string{agileplus.ErrorCode(err), agileplus.ErrorField(err)}, []string{agileplus.EFORBIDDEN, "project"})
}

// TestScopeNotFoundUnchanged: refs that name nothing answer ENOTFOUND to a
// limited key too, whatever project they would be in.
func TestScopeNotFoundUnchanged(t *testing.T) {
	f := newScopeFixture(t)
	ctx := agileplus.WithPrincipal(context.Background(), f.onlyA)
	for name, call := range map[string]func() error{
		"Project":      func() error { return ignore(f.s.Project(ctx, "ZZ")) },
		"Feature":      func() error { return ignore(f.s.Feature(ctx, "nope")) },
		"WP":           func() error { return ignore(f.s.WP(ctx, "PB-99")) },
		"UpdateWP":     func() error { return ignore(f.s.UpdateWP(ctx, "PB-99", agileplus.WPUpdate{}, 0)) },
		"Blockers":     func() error { return ignore(f.s.Blockers(ctx, "PB-99", false, 0)) },
		"Path":         func() error { return ignore(f.s.Path(ctx, "PA-1", "PB-99")) },
		"Events":       func() error { return ignore(f.s.Events(ctx, agileplus.EventQuery{Entity: "PB-99"})) },
		"Layers":       func() error { return ignore(f.s.Layers(ctx, "ZZ", "")) },
		"FeaturePath":  func() error { return ignore(f.s.FeaturePath(ctx, "fa", "nope")) },
		"Dependencies": func() error { return ignore(f.s.Dependencies(ctx, "PB-99")) },
	} {
		if err := call(); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("%s: %v (%s), want %s", name, err, agileplus.ErrorCode(err), agileplus.ENOTFOUND)
		}
	}
}

// TestScopeKeyAdmin: key management is refused to a key limited to
// projects.
func TestScopeKeyAdmin(t *testing.T) {
	f := newScopeFixture(t)
	ctx := agileplus.WithPrincipal(context.Background(), f.onlyA)
	var buf bytes.Buffer
	for name, call := range map[string]func() error{
		"CreateKey": func() error {
			return ignore(f.s.CreateKey(ctx, agileplus.KeyCreate{Name: "x", Scope: agileplus.ScopeRead}))
		},
		"Keys":          func() error { return ignore(f.s.Keys(ctx, agileplus.Page{})) },
		"Key":           func() error { return ignore(f.s.Key(ctx, "key_x")) },
		"RevokeKey":     func() error { return ignore(f.s.RevokeKey(ctx, "key_x")) },
		"ExportRecords": func() error { return ignore(f.s.ExportRecords(ctx, agileplus.ExportOptions{})) },
		"BulkExport":    func() error { return f.s.BulkExport(ctx, &buf, agileplus.ExportOptions{}) },
	} {
		if err := call(); agileplus.ErrorCode(err) != agileplus.EFORBIDDEN {
			t.Errorf("%s: %v, want %s", name, err, agileplus.EFORBIDDEN)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("refused export wrote %d bytes", buf.Len())
	}
}

// TestEditCommentLimited: a key limited to PA cannot edit a comment in PB,
// not even one by its own name, and the refusal writes nothing.
func TestEditCommentLimited(t *testing.T) {
	f := newScopeFixture(t)
	ctx := agileplus.WithActor(context.Background(), f.onlyA.Name)
	c := must(f.s.AddComment(ctx, "PB-1", agileplus.CommentCreate{Body: "mine"}))
	before := len(f.events(t))
	_, err := f.s.EditComment(agileplus.WithPrincipal(ctx, f.onlyA), c.ID, agileplus.CommentEdit{Body: "changed"}, 0)
	if agileplus.ErrorCode(err) != agileplus.EFORBIDDEN || agileplus.ErrorField(err) != "comment" {
		t.Fatalf("edit: %v, want %s on comment", err, agileplus.EFORBIDDEN)
	}
	if after := len(f.events(t)); after != before {
		t.Errorf("refused edit wrote %d events", after-before)
	}
}

// next across projects leaves an archived project out, whether the key
// names it or not, as the ready set does.
func TestNextAcrossProjectsLeavesArchivedOut(t *testing.T) {
	f := newScopeFixture(t)
	ctx := context.Background()
	for _, k := range []string{"PC", "PD"} { // one ready WP each
		must(f.s.CreateProject(ctx, agileplus.ProjectCreate{Key: k, Name: k}))
		must(f.s.CreateFeature(ctx, k, agileplus.FeatureCreate{Slug: "f" + strings.ToLower(k), Title: k}))
		must(f.s.CreateWP(ctx, "f"+strings.ToLower(k), agileplus.WPCreate{Title: "w"}))
	}
	must(f.s.ArchiveProject(ctx, "PC"))
	both := &agileplus.Principal{KeyID: "key_cd", Name: "ci-cd", Scope: agileplus.ScopeRead, Projects: []string{"PC", "PD"}}
	for _, c := range []context.Context{ctx, agileplus.WithPrincipal(ctx, both)} {
		res, err := f.s.Next(c, agileplus.NextRequest{})
		if err != nil || res.WP == nil || res.WP.Key != "PD-1" {
			t.Errorf("next across projects: %+v, %v; want PD-1", res, err)
		}
	}
}
