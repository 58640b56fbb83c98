package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// Priority, labels, owners and label definitions (triage.go, label.go).

func ptr[T any](v T) *T { return &v }

// keysOf joins the keys of ws.
func keysOf(ws []*agileplus.WP) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Key)
	}
	return strings.Join(out, " ")
}

func (f *fixture) wpKeys(t *testing.T, q agileplus.WPQuery) string {
	t.Helper()
	ws, err := f.svc.WPs(f.ctx, q)
	mustOK(t, err)
	return keysOf(ws)
}

// refused checks that a command failed with EINVALID on field and wrote
// nothing.
func (f *fixture) refused(t *testing.T, field string, call func() error) {
	t.Helper()
	before := f.fingerprint(t)
	mustField(t, call(), agileplus.EINVALID, field)
	if after := f.fingerprint(t); after != before {
		t.Errorf("a refused command changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func testPriorities(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	fe := f.feature(t, "CORE", "alpha")
	mustEqual(t, "default feature priority", fe.Priority, agileplus.PriorityNormal)
	w := f.wp(t, "alpha", "plain")
	mustEqual(t, "default wp priority", w.Priority, agileplus.PriorityNormal)
	mustEqual(t, "stored default", f.getWP(t, w.Key).Priority, agileplus.PriorityNormal)

	hot, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "hot", Priority: agileplus.PriorityUrgent})
	mustOK(t, err)
	mustEqual(t, "created priority", f.getWP(t, hot.Key).Priority, agileplus.PriorityUrgent)
	hf, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "beta", Title: "B", Priority: agileplus.PriorityLow})
	mustOK(t, err)
	mustEqual(t, "created feature priority", f.getFeature(t, hf.Slug).Priority, agileplus.PriorityLow)

	t.Run("update records an event and an audit entry", func(t *testing.T) {
		before := len(f.audit(t, "alpha"))
		up, err := f.svc.UpdateWP(f.ctx, w.Key, agileplus.WPUpdate{Priority: ptr(agileplus.PriorityHigh)}, w.Version)
		mustOK(t, err)
		mustEqual(t, "updated priority", f.getWP(t, w.Key).Priority, agileplus.PriorityHigh)
		mustEqual(t, "version", up.Version, w.Version+1)
		es := f.events(t, w.Key)
		mustEqual(t, "last event", es[len(es)-1].Type, "wp.updated")
		if !strings.Contains(string(es[len(es)-1].Data), `"priority":"high"`) {
			t.Errorf("event data %s does not carry the priority", es[len(es)-1].Data)
		}
		mustEqual(t, "audit entries", len(f.audit(t, "alpha")), before+1)
		// The same priority again changes nothing.
		same, err := f.svc.UpdateWP(f.ctx, w.Key, agileplus.WPUpdate{Priority: ptr(agileplus.PriorityHigh)}, 0)
		mustOK(t, err)
		mustEqual(t, "unchanged version", same.Version, up.Version)
		fu, err := f.svc.UpdateFeature(f.ctx, "beta", agileplus.FeatureUpdate{Priority: ptr(agileplus.PriorityUrgent)}, 0)
		mustOK(t, err)
		mustEqual(t, "feature priority", f.getFeature(t, "beta").Priority, agileplus.PriorityUrgent)
		mustEqual(t, "feature version", fu.Version, hf.Version+1)
	})

	t.Run("unknown priorities are refused", func(t *testing.T) {
		f.refused(t, "priority", func() error {
			_, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "x", Priority: "p1"})
			return err
		})
		f.refused(t, "priority", func() error {
			_, err := f.svc.UpdateWP(f.ctx, w.Key, agileplus.WPUpdate{Title: ptr("renamed"), Priority: ptr("URGENT")}, 0)
			return err
		})
		f.refused(t, "priority", func() error {
			_, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "x", Title: "x", Priority: "soon"})
			return err
		})
		f.refused(t, "priority", func() error {
			_, err := f.svc.UpdateFeature(f.ctx, "alpha", agileplus.FeatureUpdate{Priority: ptr("")}, 0)
			return err
		})
		_, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Priorities: []string{"bogus"}})
		mustField(t, err, agileplus.EINVALID, "priority")
	})

	t.Run("filter", func(t *testing.T) {
		mustEqual(t, "urgent", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Priorities: []string{agileplus.PriorityUrgent}}), hot.Key)
		mustEqual(t, "urgent or high", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Priorities: []string{agileplus.PriorityHigh, agileplus.PriorityUrgent}}), w.Key+" "+hot.Key)
		mustEqual(t, "low", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Priorities: []string{agileplus.PriorityLow}}), "")
	})
}

// testReadyEverywhere lists the ready set without a project: every
// unarchived project's, by project key then key number or by priority,
// project key and key number, paged with the cursors the answers give.
func testReadyEverywhere(t *testing.T, f *fixture) {
	for _, p := range []struct {
		key   string
		prios []string
	}{
		{"OPS", []string{"high", "low", "urgent"}},
		{"CORE", []string{"low", "high", "normal", "high"}},
		{"ARC", []string{"urgent"}},
	} {
		f.project(t, p.key)
		fe := f.feature(t, p.key, strings.ToLower(p.key))
		for i, pr := range p.prios {
			_, err := f.svc.CreateWP(f.ctx, fe.Slug, agileplus.WPCreate{Title: fmt.Sprintf("w%d", i+1), Priority: pr})
			mustOK(t, err)
		}
	}
	f.move(t, "CORE-3", agileplus.WPDoing)
	_, err := f.svc.ArchiveProject(f.ctx, "ARC")
	mustOK(t, err)

	all := func(t *testing.T, order string, limit int) string {
		t.Helper()
		var got []*agileplus.WP
		pg := agileplus.Page{Limit: limit}
		for {
			ws, err := f.svc.Ready(f.ctx, "", order, pg)
			mustOK(t, err)
			got = append(got, ws...)
			if len(ws) < limit {
				return keysOf(got)
			}
			pg.After = agileplus.ReadyCursor(ws[len(ws)-1], order)
		}
	}
	byKey := "CORE-1 CORE-2 CORE-4 OPS-1 OPS-2 OPS-3"
	byPriority := "OPS-3 CORE-2 CORE-4 OPS-1 CORE-1 OPS-2"
	for _, limit := range []int{1, 2, 4, agileplus.MaxPageLimit} {
		t.Run(fmt.Sprint("pages of ", limit), func(t *testing.T) {
			mustEqual(t, "by key", all(t, agileplus.OrderKey, limit), byKey)
			mustEqual(t, "by priority", all(t, agileplus.OrderPriority, limit), byPriority)
		})
	}

	t.Run("cursors", func(t *testing.T) {
		for _, c := range []struct{ order, after, want string }{
			{agileplus.OrderKey, "CORE-2", "CORE-4 OPS-1 OPS-2 OPS-3"},
			{agileplus.OrderKey, "high:OPS-1", "OPS-2 OPS-3"},
			{agileplus.OrderKey, "BB-9", byKey}, // no such project: a position all the same
			{agileplus.OrderKey, "ZZ-1", ""},
			{agileplus.OrderPriority, "CORE-4", "OPS-1 CORE-1 OPS-2"},
			{agileplus.OrderPriority, "high:CORE-9", "OPS-1 CORE-1 OPS-2"},
			{agileplus.OrderPriority, "urgent:ARC-1", byPriority},
			{agileplus.OrderPriority, "urgent:PZ-1", "CORE-2 CORE-4 OPS-1 CORE-1 OPS-2"},
		} {
			ws, err := f.svc.Ready(f.ctx, "", c.order, agileplus.Page{After: c.after})
			mustOK(t, err)
			mustEqual(t, c.order+" after "+c.after, keysOf(ws), c.want)
		}
		_, err := f.svc.Ready(f.ctx, "", agileplus.OrderPriority, agileplus.Page{After: "CORE-99"})
		mustField(t, err, agileplus.ENOTFOUND, "after")
		for _, bad := range []string{"soon:CORE-2", "high:", "wp_01", "CORE"} {
			_, err = f.svc.Ready(f.ctx, "", agileplus.OrderKey, agileplus.Page{After: bad})
			mustField(t, err, agileplus.EINVALID, "after")
		}
		_, err = f.svc.Ready(f.ctx, "", "fastest", agileplus.Page{})
		mustField(t, err, agileplus.EINVALID, "order")
	})
}

// testPriorityOrder sorts WP lists, the ready set and the layers by
// priority, paging with the cursors the answers give.
func testPriorityOrder(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	prios := []string{"low", "urgent", "normal", "high", "urgent", "low", "normal", "high", "urgent"}
	for i, p := range prios {
		_, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: fmt.Sprintf("w%d", i+1), Priority: p})
		mustOK(t, err)
	}
	// CORE-10 waits on CORE-2: layer 1, not ready.
	_, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "w10", Priority: agileplus.PriorityUrgent})
	mustOK(t, err)
	f.dep(t, "CORE-10", "CORE-2", agileplus.DependsOn)
	want := "CORE-2 CORE-5 CORE-9 CORE-4 CORE-8 CORE-3 CORE-7 CORE-1 CORE-6"

	t.Run("ready by priority, paged", func(t *testing.T) {
		var got []*agileplus.WP
		pg := agileplus.Page{Limit: 2}
		for {
			ws, err := f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, pg)
			mustOK(t, err)
			got = append(got, ws...)
			if len(ws) < pg.Limit {
				break
			}
			pg.After = agileplus.ReadyCursor(ws[len(ws)-1], agileplus.OrderPriority)
		}
		mustEqual(t, "ready by priority", keysOf(got), want)
		ws, err := f.svc.Ready(f.ctx, "CORE", agileplus.OrderKey, agileplus.Page{})
		mustOK(t, err)
		mustEqual(t, "ready by key", keysOf(ws), "CORE-1 CORE-2 CORE-3 CORE-4 CORE-5 CORE-6 CORE-7 CORE-8 CORE-9")
		// A cursor of either order is read in either: in priority order a
		// bare key is the position of that WP, in key order only the key
		// of a priority cursor counts.
		ws, err = f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, agileplus.Page{After: "CORE-4"})
		mustOK(t, err)
		mustEqual(t, "by priority after a bare key", keysOf(ws), "CORE-8 CORE-3 CORE-7 CORE-1 CORE-6")
		ws, err = f.svc.Ready(f.ctx, "CORE", agileplus.OrderKey, agileplus.Page{After: "urgent:CORE-7"})
		mustOK(t, err)
		mustEqual(t, "by key after a priority cursor", keysOf(ws), "CORE-8 CORE-9")
		_, err = f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, agileplus.Page{After: "CORE-99"})
		mustField(t, err, agileplus.ENOTFOUND, "after")
		for _, bad := range []string{"soon:CORE-2", "high:", "wp_01", "CORE"} {
			_, err = f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, agileplus.Page{After: bad})
			mustField(t, err, agileplus.EINVALID, "after")
		}
		_, err = f.svc.Ready(f.ctx, "CORE", "fastest", agileplus.Page{})
		mustField(t, err, agileplus.EINVALID, "order")
	})

	t.Run("lists by priority, paged", func(t *testing.T) {
		var got []*agileplus.WP
		q := agileplus.WPQuery{Project: "CORE", Sort: agileplus.OrderPriority, Page: agileplus.Page{Limit: 3}}
		for {
			ws, err := f.svc.WPs(f.ctx, q)
			mustOK(t, err)
			got = append(got, ws...)
			if len(ws) < q.Limit {
				break
			}
			q.After = agileplus.WPCursor(ws[len(ws)-1], agileplus.OrderPriority)
		}
		// Ids grow with creation, so ties keep key order.
		mustEqual(t, "wps by priority", keysOf(got), "CORE-2 CORE-5 CORE-9 CORE-10 CORE-4 CORE-8 CORE-3 CORE-7 CORE-1 CORE-6")
		_, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Sort: "title"})
		mustField(t, err, agileplus.EINVALID, "sort")
		// A cursor of either order is read in either.
		ws, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Sort: agileplus.OrderPriority, Page: agileplus.Page{After: got[7].ID}})
		mustOK(t, err)
		mustEqual(t, "by priority after a bare id", keysOf(ws), "CORE-1 CORE-6")
		ws, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{After: agileplus.WPCursor(got[8], agileplus.OrderPriority)}})
		mustOK(t, err)
		mustEqual(t, "by id after a priority cursor", keysOf(ws), "CORE-2 CORE-3 CORE-4 CORE-5 CORE-6 CORE-7 CORE-8 CORE-9 CORE-10")
		_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Sort: agileplus.OrderPriority, Page: agileplus.Page{After: "wp_0"}})
		mustField(t, err, agileplus.ENOTFOUND, "after")
		for _, bad := range []string{"soon:" + got[0].ID, "CORE-1", "high:CORE-1"} {
			_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Sort: agileplus.OrderPriority, Page: agileplus.Page{After: bad}})
			mustField(t, err, agileplus.EINVALID, "after")
		}
	})

	t.Run("layers by priority", func(t *testing.T) {
		l, err := f.svc.Layers(f.ctx, "CORE", agileplus.OrderPriority)
		mustOK(t, err)
		if len(l.Layers) != 2 {
			t.Fatalf("got %d layers, want 2", len(l.Layers))
		}
		var got []string
		for _, n := range l.Layers[0] {
			got = append(got, n.Key)
			if n.Priority != f.getWP(t, n.Key).Priority {
				t.Errorf("layer node %s has priority %q, want its WP's", n.Key, n.Priority)
			}
		}
		mustEqual(t, "layer 0 by priority", strings.Join(got, " "), want)
		l, err = f.svc.Layers(f.ctx, "CORE", "")
		mustOK(t, err)
		mustEqual(t, "layer 0 by key", l.Layers[0][0].Key+" "+l.Layers[0][1].Key, "CORE-1 CORE-2")
		_, err = f.svc.Layers(f.ctx, "CORE", "bogus")
		mustField(t, err, agileplus.EINVALID, "order")
	})

	t.Run("a new priority moves a WP in the ready set", func(t *testing.T) {
		_, err := f.svc.UpdateWP(f.ctx, "CORE-6", agileplus.WPUpdate{Priority: ptr(agileplus.PriorityUrgent)}, 0)
		mustOK(t, err)
		ws, err := f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, agileplus.Page{Limit: 4})
		mustOK(t, err)
		mustEqual(t, "ready by priority", keysOf(ws), "CORE-2 CORE-5 CORE-6 CORE-9")
	})
}

func testLabels(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	a, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "a", Labels: []string{"Go", "db", "go", "area/api"}})
	mustOK(t, err)
	mustSame(t, "normalized labels", a.Labels, []string{"area/api", "db", "go"})
	mustSame(t, "stored labels", f.getWP(t, a.Key).Labels, []string{"area/api", "db", "go"})
	b, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "b", Labels: []string{"go"}})
	mustOK(t, err)
	c, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "c", Labels: []string{"frontend", "db"}})
	mustOK(t, err)
	plain := f.wp(t, "alpha", "plain")
	if l := f.getWP(t, plain.Key).Labels; len(l) != 0 {
		t.Errorf("a WP created without labels has %v", l)
	}
	fe, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: "beta", Title: "B", Labels: []string{"UX"}})
	mustOK(t, err)
	mustSame(t, "feature labels", f.getFeature(t, fe.Slug).Labels, []string{"ux"})

	t.Run("filter all and any", func(t *testing.T) {
		q := func(mode string, ls ...string) string {
			return f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Labels: ls, LabelsMode: mode})
		}
		mustEqual(t, "go", q("", "go"), a.Key+" "+b.Key)
		mustEqual(t, "GO (case does not matter)", q("", "GO"), a.Key+" "+b.Key)
		mustEqual(t, "go and db", q(agileplus.LabelsAll, "go", "db"), a.Key)
		mustEqual(t, "go or frontend", q(agileplus.LabelsAny, "go", "frontend"), a.Key+" "+b.Key+" "+c.Key)
		mustEqual(t, "a prefix is not a label", q("", "g"), "")
		mustEqual(t, "area/api", q("", "area/api"), a.Key)
		_, err := f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Labels: []string{"go"}, LabelsMode: "some"})
		mustField(t, err, agileplus.EINVALID, "labels_mode")
		_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Labels: []string{"no space"}})
		mustField(t, err, agileplus.EINVALID, "label")
	})

	t.Run("update replaces and clears", func(t *testing.T) {
		up, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Labels: &[]string{"Rust", "go"}}, 0)
		mustOK(t, err)
		mustSame(t, "replaced", up.Labels, []string{"go", "rust"})
		mustSame(t, "stored", f.getWP(t, b.Key).Labels, []string{"go", "rust"})
		same, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Labels: &[]string{"rust", "GO"}}, 0)
		mustOK(t, err)
		mustEqual(t, "the same set changes nothing", same.Version, up.Version)
		cl, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Labels: &[]string{}}, 0)
		mustOK(t, err)
		if len(cl.Labels) != 0 || len(f.getWP(t, b.Key).Labels) != 0 {
			t.Errorf("cleared labels: got %v, stored %v", cl.Labels, f.getWP(t, b.Key).Labels)
		}
		fu, err := f.svc.UpdateFeature(f.ctx, "beta", agileplus.FeatureUpdate{Labels: &[]string{"ux", "Web"}}, 0)
		mustOK(t, err)
		mustSame(t, "feature labels", fu.Labels, []string{"ux", "web"})
		mustSame(t, "stored feature labels", f.getFeature(t, "beta").Labels, []string{"ux", "web"})
	})

	t.Run("bad labels are refused", func(t *testing.T) {
		many := make([]string, agileplus.MaxLabels+1)
		for i := range many {
			many[i] = fmt.Sprintf("l%d", i)
		}
		for name, ls := range map[string][]string{
			"21 labels": many, "a space": {"needs review"}, "a comma": {"a,b"}, "empty": {""},
			"too long": {strings.Repeat("x", agileplus.MaxLabelLen+1)}, "leading dash": {"-x"}, "unicode": {"café"},
		} {
			t.Run(name, func(t *testing.T) {
				f.refused(t, "labels", func() error {
					_, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "x", Labels: ls})
					return err
				})
				f.refused(t, "labels", func() error {
					_, err := f.svc.UpdateWP(f.ctx, a.Key, agileplus.WPUpdate{Title: ptr("renamed"), Labels: &ls}, 0)
					return err
				})
				f.refused(t, "labels", func() error {
					_, err := f.svc.UpdateFeature(f.ctx, "beta", agileplus.FeatureUpdate{Labels: &ls}, 0)
					return err
				})
			})
		}
		ok := many[:agileplus.MaxLabels]
		w, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "twenty", Labels: ok})
		mustOK(t, err)
		mustEqual(t, "20 labels", len(f.getWP(t, w.Key).Labels), agileplus.MaxLabels)
	})
}

func testOwners(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	a, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "a", Owner: " ann "})
	mustOK(t, err)
	mustEqual(t, "owner trimmed", f.getWP(t, a.Key).Owner, "ann")
	mine, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "mine", Owner: Actor})
	mustOK(t, err)
	b := f.wp(t, "alpha", "nobody's")
	mustEqual(t, "no owner", f.getWP(t, b.Key).Owner, "")

	mustEqual(t, "owner ann", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Owner: "ann"}), a.Key)
	mustEqual(t, "mine", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Mine: true}), mine.Key)
	mustEqual(t, "mine across projects", f.wpKeys(t, agileplus.WPQuery{Mine: true}), mine.Key)
	// mine and owner both hold: nothing unless the owner is the caller.
	mustEqual(t, "mine and another owner", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Mine: true, Owner: "ann"}), "")
	mustEqual(t, "mine and owner me", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Mine: true, Owner: Actor}), mine.Key)

	t.Run("the owner is not the claim", func(t *testing.T) {
		_, err := f.svc.Claim(f.ctx, a.Key, agileplus.ClaimRequest{Agent: "bot-7"})
		mustOK(t, err)
		w := f.getWP(t, a.Key)
		mustEqual(t, "owner after a claim", w.Owner, "ann")
		mustEqual(t, "claim holder", w.Lease.Agent, "bot-7")
	})

	t.Run("update and clear", func(t *testing.T) {
		up, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Owner: ptr("bob")}, 0)
		mustOK(t, err)
		mustEqual(t, "new owner", f.getWP(t, b.Key).Owner, "bob")
		es := f.events(t, b.Key)
		mustEqual(t, "last event", es[len(es)-1].Type, "wp.updated")
		cl, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Owner: ptr("")}, 0)
		mustOK(t, err)
		mustEqual(t, "cleared owner", f.getWP(t, b.Key).Owner, "")
		mustEqual(t, "version", cl.Version, up.Version+1)
	})

	t.Run("bad owners are refused", func(t *testing.T) {
		for name, o := range map[string]string{"blank": "   ", "control": "a\x01b", "two lines": "a\nb", "too long": strings.Repeat("o", 201)} {
			t.Run(name, func(t *testing.T) {
				f.refused(t, "owner", func() error {
					_, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "x", Owner: o})
					return err
				})
				f.refused(t, "owner", func() error {
					_, err := f.svc.UpdateWP(f.ctx, b.Key, agileplus.WPUpdate{Owner: ptr(o)}, 0)
					return err
				})
			})
		}
	})
}

func testLabelDefinitions(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	w, err := f.svc.CreateWP(f.ctx, "alpha", agileplus.WPCreate{Title: "a", Labels: []string{"go"}})
	mustOK(t, err)

	goDef, err := f.svc.CreateLabel(f.ctx, "CORE", agileplus.LabelCreate{Name: "Go", Color: "#00ADD8", Description: "Go code"})
	mustOK(t, err)
	mustEqual(t, "name", goDef.Name, "go")
	mustEqual(t, "colour", goDef.Color, "#00add8")
	mustEqual(t, "version", goDef.Version, int64(1))
	mustEqual(t, "project", goDef.ProjectKey, "CORE")
	_, err = f.svc.CreateLabel(f.ctx, "CORE", agileplus.LabelCreate{Name: "db"})
	mustOK(t, err)
	_, err = f.svc.CreateLabel(f.ctx, "OPS", agileplus.LabelCreate{Name: "go"}) // another project: its own
	mustOK(t, err)

	t.Run("read", func(t *testing.T) {
		got, err := f.svc.Label(f.ctx, "CORE", "GO")
		mustOK(t, err)
		mustSame(t, "label", got, goDef)
		ls, err := f.svc.Labels(f.ctx, "CORE", agileplus.Page{})
		mustOK(t, err)
		var names []string
		for _, l := range ls {
			names = append(names, l.Name)
		}
		mustEqual(t, "labels by name", strings.Join(names, " "), "db go")
		ls, err = f.svc.Labels(f.ctx, "CORE", agileplus.Page{After: "db", Limit: 1})
		mustOK(t, err)
		if len(ls) != 1 || ls[0].Name != "go" {
			t.Errorf("page after db: got %v, want go", ls)
		}
		_, err = f.svc.Label(f.ctx, "CORE", "rust")
		mustField(t, err, agileplus.ENOTFOUND, "label")
		_, err = f.svc.Labels(f.ctx, "NOPE", agileplus.Page{})
		mustCode(t, err, agileplus.ENOTFOUND)
	})

	t.Run("events", func(t *testing.T) {
		es := f.events(t, goDef.ID)
		if len(es) != 1 || es[0].Type != "label.created" || es[0].ProjectKey != "CORE" || es[0].EntityKind != agileplus.KindLabel {
			t.Fatalf("events of the label: %+v", es)
		}
	})

	t.Run("update", func(t *testing.T) {
		up, err := f.svc.UpdateLabel(f.ctx, "CORE", "go", agileplus.LabelUpdate{Color: ptr("#112233"), Description: ptr("Go, all of it")}, goDef.Version)
		mustOK(t, err)
		mustEqual(t, "colour", up.Color, "#112233")
		mustEqual(t, "version", up.Version, int64(2))
		got, err := f.svc.Label(f.ctx, "CORE", "go")
		mustOK(t, err)
		mustSame(t, "stored", got, up)
		_, err = f.svc.UpdateLabel(f.ctx, "CORE", "go", agileplus.LabelUpdate{Color: ptr("#445566")}, 1)
		mustField(t, err, agileplus.ECONFLICT, "version")
		same, err := f.svc.UpdateLabel(f.ctx, "CORE", "go", agileplus.LabelUpdate{Color: ptr("#112233")}, 0)
		mustOK(t, err)
		mustEqual(t, "unchanged version", same.Version, int64(2))
		cl, err := f.svc.UpdateLabel(f.ctx, "CORE", "go", agileplus.LabelUpdate{Color: ptr("")}, 0)
		mustOK(t, err)
		mustEqual(t, "no colour", cl.Color, "")
		es := f.events(t, goDef.ID)
		mustEqual(t, "last event", es[len(es)-1].Type, "label.updated")
	})

	t.Run("refused", func(t *testing.T) {
		before := f.fingerprint(t)
		_, err := f.svc.CreateLabel(f.ctx, "CORE", agileplus.LabelCreate{Name: "DB"})
		mustField(t, err, agileplus.ECONFLICT, "name")
		for _, c := range []struct {
			in    agileplus.LabelCreate
			field string
		}{
			{agileplus.LabelCreate{Name: "x", Color: "red"}, "color"},
			{agileplus.LabelCreate{Name: "x", Color: "#12345"}, "color"},
			{agileplus.LabelCreate{Name: "x", Color: "#12345g"}, "color"},
			{agileplus.LabelCreate{Name: "no space"}, "name"},
			{agileplus.LabelCreate{Name: ""}, "name"},
			{agileplus.LabelCreate{Name: "x", Description: "a\x00b"}, "description"},
			{agileplus.LabelCreate{Name: "x", Description: strings.Repeat("d", agileplus.MaxLabelDescription+1)}, "description"},
		} {
			_, err := f.svc.CreateLabel(f.ctx, "CORE", c.in)
			mustField(t, err, agileplus.EINVALID, c.field)
		}
		_, err = f.svc.UpdateLabel(f.ctx, "CORE", "db", agileplus.LabelUpdate{Color: ptr("#GGGGGG")}, 0)
		mustField(t, err, agileplus.EINVALID, "color")
		_, err = f.svc.UpdateLabel(f.ctx, "CORE", "rust", agileplus.LabelUpdate{Color: ptr("#123456")}, 0)
		mustField(t, err, agileplus.ENOTFOUND, "label")
		mustField(t, f.svc.DeleteLabel(f.ctx, "CORE", "rust"), agileplus.ENOTFOUND, "label")
		mustField(t, f.svc.DeleteLabel(f.ctx, "CORE", "bad label"), agileplus.EINVALID, "label")
		if after := f.fingerprint(t); after != before {
			t.Errorf("refused label commands changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("delete keeps the label on WPs", func(t *testing.T) {
		mustOK(t, f.svc.DeleteLabel(f.ctx, "CORE", "go"))
		_, err := f.svc.Label(f.ctx, "CORE", "go")
		mustCode(t, err, agileplus.ENOTFOUND)
		mustSame(t, "wp labels", f.getWP(t, w.Key).Labels, []string{"go"})
		es := f.events(t, goDef.ID)
		mustEqual(t, "last event", es[len(es)-1].Type, "label.deleted")
		// The name is free again.
		again, err := f.svc.CreateLabel(f.ctx, "CORE", agileplus.LabelCreate{Name: "go"})
		mustOK(t, err)
		if again.ID == goDef.ID {
			t.Errorf("a new definition reuses the id %s", again.ID)
		}
		ops, err := f.svc.Label(f.ctx, "OPS", "go")
		mustOK(t, err)
		mustEqual(t, "OPS keeps its own", ops.ProjectKey, "OPS")
	})
}

// testFeatureLists filters a project's features by priority and labels and
// sorts them by priority, paging with the cursors the answers give.
func testFeatureLists(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	specs := []struct {
		slug, prio string
		labels     []string
	}{
		{"a", "low", []string{"api"}}, {"b", "urgent", nil}, {"c", "normal", []string{"api", "ui"}},
		{"d", "high", []string{"ui"}}, {"e", "urgent", []string{"api"}}, {"f", "", nil},
	}
	for _, s := range specs {
		_, err := f.svc.CreateFeature(f.ctx, "CORE", agileplus.FeatureCreate{Slug: s.slug, Title: s.slug, Priority: s.prio, Labels: s.labels})
		mustOK(t, err)
	}
	slugs := func(q agileplus.FeatureQuery) string {
		t.Helper()
		fs, err := f.svc.Features(f.ctx, "CORE", q)
		mustOK(t, err)
		var out []string
		for _, fe := range fs {
			out = append(out, fe.Slug)
		}
		return strings.Join(out, " ")
	}
	mustEqual(t, "by id", slugs(agileplus.FeatureQuery{}), "a b c d e f")
	mustEqual(t, "urgent or high", slugs(agileplus.FeatureQuery{Priorities: []string{"urgent", "high"}}), "b d e")
	mustEqual(t, "normal (the default)", slugs(agileplus.FeatureQuery{Priorities: []string{"normal"}}), "c f")
	mustEqual(t, "labels api and ui", slugs(agileplus.FeatureQuery{Labels: []string{"API", "ui"}}), "c")
	mustEqual(t, "label api or ui", slugs(agileplus.FeatureQuery{Labels: []string{"api", "ui"}, LabelsMode: agileplus.LabelsAny}), "a c d e")
	mustEqual(t, "urgent with api", slugs(agileplus.FeatureQuery{Priorities: []string{"urgent"}, Labels: []string{"api"}}), "e")

	t.Run("by priority, paged", func(t *testing.T) {
		var got []string
		q := agileplus.FeatureQuery{Sort: agileplus.OrderPriority, Page: agileplus.Page{Limit: 2}}
		for {
			fs, err := f.svc.Features(f.ctx, "CORE", q)
			mustOK(t, err)
			for _, fe := range fs {
				got = append(got, fe.Slug)
			}
			if len(fs) < q.Limit {
				break
			}
			q.After = agileplus.FeatureCursor(fs[len(fs)-1], agileplus.OrderPriority)
		}
		mustEqual(t, "features by priority", strings.Join(got, " "), "b e d c f a")
		// A filtered list pages too, and a cursor of either order is read
		// in either.
		d := f.getFeature(t, "d")
		mustEqual(t, "by priority after a bare id", slugs(agileplus.FeatureQuery{Sort: agileplus.OrderPriority, Page: agileplus.Page{After: d.ID}}), "c f a")
		mustEqual(t, "by id after a priority cursor", slugs(agileplus.FeatureQuery{Page: agileplus.Page{After: agileplus.FeatureCursor(d, agileplus.OrderPriority)}}), "e f")
		mustEqual(t, "filtered, after", slugs(agileplus.FeatureQuery{Labels: []string{"api"}, Page: agileplus.Page{After: f.getFeature(t, "a").ID, Limit: 1}}), "c")
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			code, field string
			q           agileplus.FeatureQuery
		}{
			{agileplus.EINVALID, "priority", agileplus.FeatureQuery{Priorities: []string{"soon"}}},
			{agileplus.EINVALID, "label", agileplus.FeatureQuery{Labels: []string{"no spaces"}}},
			{agileplus.EINVALID, "labels_mode", agileplus.FeatureQuery{LabelsMode: "some"}},
			{agileplus.EINVALID, "sort", agileplus.FeatureQuery{Sort: "title"}},
			{agileplus.EINVALID, "after", agileplus.FeatureQuery{Page: agileplus.Page{After: "wp_1"}}},
			{agileplus.EINVALID, "after", agileplus.FeatureQuery{Sort: agileplus.OrderPriority, Page: agileplus.Page{After: "soon:fea_1"}}},
			{agileplus.ENOTFOUND, "after", agileplus.FeatureQuery{Sort: agileplus.OrderPriority, Page: agileplus.Page{After: "fea_0"}}},
		} {
			_, err := f.svc.Features(f.ctx, "CORE", c.q)
			mustField(t, err, c.code, c.field)
		}
	})
}
