package storetest

import (
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// Text search (search.go): matching, ranking, filters, paging, the index
// kept in step with writes, and queries full of FTS syntax.

// searchFixture stores:
//
//	CORE  login-flow "Login flow" (users sign in with a password)
//	        CORE-1  "Login form with inline validation"
//	        CORE-2  "Rate-limit logins" (the login flow)
//	      billing "Billing" (the login audit), label audit
//	        CORE-3  "Invoice PDF" (the login user's name)
//	        CORE-4..9 fillers
//	        CORE-10 "Login audit log", label audit, owner ann
//	        CORE-11 "Cache near the edge" (Café, ÜBER)
//	WEB   web-login "Web login page"
//	        WEB-1   "Login page styles"
func searchFixture(t *testing.T, f *fixture) {
	t.Helper()
	f.project(t, "CORE")
	f.project(t, "WEB")
	feature := func(project string, c agileplus.FeatureCreate) {
		_, err := f.svc.CreateFeature(f.ctx, project, c)
		mustOK(t, err)
	}
	wp := func(feature string, c agileplus.WPCreate) {
		_, err := f.svc.CreateWP(f.ctx, feature, c)
		mustOK(t, err)
	}
	feature("CORE", agileplus.FeatureCreate{Slug: "login-flow", Title: "Login flow", Description: "Users sign in with a password"})
	feature("CORE", agileplus.FeatureCreate{Slug: "billing", Title: "Billing", Description: "Invoices, and the login audit", Labels: []string{"audit"}})
	feature("WEB", agileplus.FeatureCreate{Slug: "web-login", Title: "Web login page"})
	wp("login-flow", agileplus.WPCreate{Title: "Login form with inline validation", Description: "Show errors next to each field; see fmt.Errorf and user_id"})
	wp("login-flow", agileplus.WPCreate{Title: "Rate-limit logins", Description: "Stop brute force on the login flow"})
	wp("billing", agileplus.WPCreate{Title: "Invoice PDF", Description: "Render the login user's name"})
	for range 6 {
		f.wp(t, "billing", "Filler")
	}
	wp("billing", agileplus.WPCreate{Title: "Login audit log", Labels: []string{"audit"}, Owner: "ann"})
	wp("billing", agileplus.WPCreate{Title: "Cache near the edge", Description: "Café au lait, ÜBER alles"})
	wp("web-login", agileplus.WPCreate{Title: "Login page styles"})
}

// search returns the hits of q as their cursors ("match:key"), space-separated.
func (f *fixture) search(t *testing.T, q agileplus.SearchQuery) string {
	t.Helper()
	hs, err := f.svc.Search(f.ctx, q)
	mustOK(t, err)
	var out []string
	for _, h := range hs {
		out = append(out, agileplus.SearchCursor(h))
	}
	return strings.Join(out, " ")
}

// allLogin is every hit of "login", best first.
const allLogin = "title:login-flow title:web-login title:CORE-1 title:CORE-2 title:CORE-10 title:WEB-1 text:billing text:CORE-3"

func testSearch(t *testing.T, f *fixture) {
	searchFixture(t, f)
	q := func(s string) agileplus.SearchQuery { return agileplus.SearchQuery{Q: s} }

	t.Run("ranking", func(t *testing.T) {
		for _, tc := range []struct{ q, want string }{
			// Title matches, features first, then key order (CORE-2
			// before CORE-10), then the rest.
			{"login", allLogin},
			{"LOGIN", allLogin},
			// The query is a key: that item first.
			{"CORE-2", "key:CORE-2"},
			{"core-2", "key:CORE-2"},
			{"login-flow", "key:login-flow text:CORE-2"},
			// Every word must match; only the last is a prefix.
			{"login password", "text:login-flow"},
			{"logins", "title:CORE-2"},
			{"login rate", "text:CORE-2"},
			{"valid", "title:CORE-1"},
			{"inline valid", "title:CORE-1"},
			{"zebra", ""},
			// Words split at punctuation, in any script and case.
			{"errorf", "text:CORE-1"},
			{"user", "text:login-flow text:CORE-1 text:CORE-3"},
			{"CAFÉ", "text:CORE-11"},
			{"über", "text:CORE-11"},
		} {
			mustEqual(t, "search "+tc.q, f.search(t, q(tc.q)), tc.want)
		}
	})

	t.Run("FTS syntax is plain text", func(t *testing.T) {
		for _, tc := range []struct{ q, want string }{
			{`"login"`, allLogin},
			{`login*`, allLogin},
			{`-login`, allLogin},
			{`"login" -form*`, "title:CORE-1"},
			{`NEAR`, "title:CORE-11"},
			{`NEAR(login form)`, ""},
			{`login NEAR`, ""},
			{`title:login`, ""},
			{`{title}: login`, ""},
			{`(login OR zebra)`, ""},
			{`login AND`, "text:billing text:CORE-1"},
			{`NOT login`, ""},
			{`login^2 ~ +form`, ""},
			{`'login' \ form`, "title:CORE-1"},
			{`"unbalanced`, ""},
		} {
			mustEqual(t, "search "+tc.q, f.search(t, q(tc.q)), tc.want)
		}
	})

	t.Run("filters", func(t *testing.T) {
		f.move(t, "CORE-2", agileplus.WPDoing)
		for _, tc := range []struct {
			name string
			q    agileplus.SearchQuery
			want string
		}{
			{"project", agileplus.SearchQuery{Q: "login", Project: "WEB"}, "title:web-login title:WEB-1"},
			{"kind wp", agileplus.SearchQuery{Q: "login", Kind: agileplus.KindWP}, "title:CORE-1 title:CORE-2 title:CORE-10 title:WEB-1 text:CORE-3"},
			{"kind feature", agileplus.SearchQuery{Q: "login", Kind: agileplus.KindFeature}, "title:login-flow title:web-login text:billing"},
			{"wp state", agileplus.SearchQuery{Q: "login", State: agileplus.WPDoing}, "title:CORE-2"},
			{"feature state", agileplus.SearchQuery{Q: "login", State: agileplus.FeatureCreated}, "title:login-flow title:web-login text:billing"},
			{"label", agileplus.SearchQuery{Q: "login", Labels: []string{"AUDIT"}}, "title:CORE-10 text:billing"},
			{"any label", agileplus.SearchQuery{Q: "login", Labels: []string{"audit", "none"}, LabelsMode: agileplus.LabelsAny}, "title:CORE-10 text:billing"},
			{"all labels", agileplus.SearchQuery{Q: "login", Labels: []string{"audit", "none"}}, ""},
			{"owner", agileplus.SearchQuery{Q: "login", Owner: "ann"}, "title:CORE-10"},
			// Filters hold together: a WP in a feature's state is none.
			{"feature state of a wp", agileplus.SearchQuery{Q: "login", Kind: agileplus.KindWP, State: agileplus.FeatureCreated}, ""},
			{"wp state of a feature", agileplus.SearchQuery{Q: "login", Kind: agileplus.KindFeature, State: agileplus.WPDoing}, ""},
		} {
			mustEqual(t, tc.name, f.search(t, tc.q), tc.want)
		}
	})

	t.Run("hits", func(t *testing.T) {
		hs, err := f.svc.Search(f.ctx, agileplus.SearchQuery{Q: "audit log"})
		mustOK(t, err)
		if len(hs) != 2 {
			t.Fatalf("got %d hits, want 2", len(hs))
		}
		w, fe := hs[0], hs[1]
		got := f.getWP(t, "CORE-10")
		want := agileplus.SearchHit{Kind: agileplus.KindWP, ID: got.ID, Key: "CORE-10", ProjectKey: "CORE", Title: "Login audit log",
			State: agileplus.WPPlanned, Priority: agileplus.PriorityNormal, Labels: []string{"audit"}, Owner: "ann", Match: agileplus.MatchTitle}
		mustEqual(t, "wp hit", sprint(w), sprint(&want))
		gotF := f.getFeature(t, "billing")
		wantF := agileplus.SearchHit{Kind: agileplus.KindFeature, ID: gotF.ID, Key: "billing", ProjectKey: "CORE", Title: "Billing",
			State: agileplus.FeatureCreated, Priority: agileplus.PriorityNormal, Labels: []string{"audit"}, Match: agileplus.MatchText}
		mustEqual(t, "feature hit", sprint(fe), sprint(&wantF))
	})

	t.Run("paging", func(t *testing.T) {
		var got []string
		after := ""
		for range 10 {
			hs, err := f.svc.Search(f.ctx, agileplus.SearchQuery{Q: "login", Page: agileplus.Page{After: after, Limit: 3}})
			mustOK(t, err)
			for _, h := range hs {
				got = append(got, agileplus.SearchCursor(h))
			}
			if len(hs) < 3 {
				break
			}
			after = agileplus.SearchCursor(hs[len(hs)-1])
		}
		mustEqual(t, "pages", strings.Join(got, " "), allLogin)
		mustEqual(t, "after a key match", f.search(t, agileplus.SearchQuery{Q: "login-flow", Page: agileplus.Page{After: "key:login-flow"}}), "text:CORE-2")
	})

	t.Run("the index follows writes", func(t *testing.T) {
		w := f.getWP(t, "CORE-3")
		_, err := f.svc.UpdateWP(f.ctx, "CORE-3", agileplus.WPUpdate{Title: ptr("Invoice PDF with watermark"), Description: ptr("Render the customer's name")}, w.Version)
		mustOK(t, err)
		mustEqual(t, "new title word", f.search(t, q("watermark")), "title:CORE-3")
		mustEqual(t, "new description word", f.search(t, q("customer")), "text:CORE-3")
		mustEqual(t, "old description word", f.search(t, q("render login")), "")
		_, err = f.svc.UpdateFeature(f.ctx, "billing", agileplus.FeatureUpdate{Description: ptr("Invoices")}, 0)
		mustOK(t, err)
		mustEqual(t, "feature description gone", f.search(t, q("login")), "title:login-flow title:web-login title:CORE-1 title:CORE-2 title:CORE-10 title:WEB-1")
		_, err = f.svc.CreateWP(f.ctx, "web-login", agileplus.WPCreate{Title: "Dark mode", Description: "login screen too"})
		mustOK(t, err)
		mustEqual(t, "new wp", f.search(t, q("dark login")), "text:WEB-2")
		// A claim, a move and a release change no words.
		f.move(t, "WEB-2", agileplus.WPDoing)
		mustEqual(t, "after a move", f.search(t, q("dark")), "title:WEB-2")
	})
}

// sprint formats a hit for comparison.
func sprint(h *agileplus.SearchHit) string {
	return strings.Join([]string{h.Kind, h.ID, h.Key, h.ProjectKey, h.Title, h.State, h.Priority, strings.Join(h.Labels, ","), h.Owner, h.Match}, "|")
}

func testSearchRefusals(t *testing.T, f *fixture) {
	searchFixture(t, f)
	for _, tc := range []struct {
		name, field string
		q           agileplus.SearchQuery
	}{
		{"empty", "q", agileplus.SearchQuery{}},
		{"spaces", "q", agileplus.SearchQuery{Q: "   "}},
		{"syntax only", "q", agileplus.SearchQuery{Q: `"*-:() ^~`}},
		{"too long", "q", agileplus.SearchQuery{Q: strings.Repeat("a", agileplus.MaxSearchQuery+1)}},
		{"too many words", "q", agileplus.SearchQuery{Q: strings.Repeat("a ", agileplus.MaxSearchWords+1)}},
		{"kind", "kind", agileplus.SearchQuery{Q: "login", Kind: "bug"}},
		{"state", "state", agileplus.SearchQuery{Q: "login", State: "nope"}},
		{"label", "label", agileplus.SearchQuery{Q: "login", Labels: []string{"no spaces"}}},
		{"labels mode", "labels_mode", agileplus.SearchQuery{Q: "login", LabelsMode: "some"}},
		{"owner", "owner", agileplus.SearchQuery{Q: "login", Owner: "   "}},
		{"limit", "limit", agileplus.SearchQuery{Q: "login", Page: agileplus.Page{Limit: agileplus.MaxPageLimit + 1}}},
		{"cursor", "after", agileplus.SearchQuery{Q: "login", Page: agileplus.Page{After: "zzz"}}},
		{"cursor match", "after", agileplus.SearchQuery{Q: "login", Page: agileplus.Page{After: "best:CORE-1"}}},
		{"cursor key", "after", agileplus.SearchQuery{Q: "login", Page: agileplus.Page{After: "title:Core-1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Search(f.ctx, tc.q)
			mustField(t, err, agileplus.EINVALID, tc.field)
		})
	}
	_, err := f.svc.Search(f.ctx, agileplus.SearchQuery{Q: "login", Project: "NOPE"})
	mustField(t, err, agileplus.ENOTFOUND, "project")
}
