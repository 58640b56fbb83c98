package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// Comments, archive, restore and delete (comment.go, archive.go).

// commentPrint writes the comments on a WP or feature for fingerprint.
func (f *fixture) commentPrint(t *testing.T, b *strings.Builder, ref string) {
	t.Helper()
	cs, err := f.svc.Comments(f.ctx, ref, agileplus.Page{Limit: agileplus.MaxPageLimit})
	mustOK(t, err)
	for _, c := range cs {
		fmt.Fprintf(b, "  comment %s %q v%d history %d\n", c.ID, c.Body, c.Version, len(c.History))
	}
}

func (f *fixture) comments(t *testing.T, ref string) []*agileplus.Comment {
	t.Helper()
	cs, err := f.svc.Comments(f.ctx, ref, agileplus.Page{Limit: agileplus.MaxPageLimit})
	mustOK(t, err)
	return cs
}

// refusedWith checks that a command failed with code on field and wrote
// nothing; mentions are words its message must hold.
func (f *fixture) refusedWith(t *testing.T, code, field string, call func() error, mentions ...string) {
	t.Helper()
	before := f.fingerprint(t)
	err := call()
	mustField(t, err, code, field)
	mustMention(t, err, mentions...)
	if after := f.fingerprint(t); after != before {
		t.Errorf("a refused command changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func lastEvent(t *testing.T, es []*agileplus.Event) *agileplus.Event {
	t.Helper()
	if len(es) == 0 {
		t.Fatal("got no events, want some")
	}
	return es[len(es)-1]
}

func testComments(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "one")

	body := "Looks good to **me**, @ana.\n\n- one\n\t- two"
	c1, err := f.svc.AddComment(f.ctx, w.Key, agileplus.CommentCreate{Body: body})
	mustOK(t, err)
	if !strings.HasPrefix(c1.ID, agileplus.PrefixComment) {
		t.Errorf("id %q, want prefix %s", c1.ID, agileplus.PrefixComment)
	}
	mustEqual(t, "author", c1.Author, Actor)
	mustEqual(t, "entity", c1.EntityKey, w.Key)
	mustEqual(t, "version", c1.Version, int64(1))
	f.clock.Advance(tick)
	c2, err := f.svc.AddComment(f.ctx, w.ID, agileplus.CommentCreate{Body: "second"})
	mustOK(t, err)
	fc, err := f.svc.AddComment(f.ctx, "alpha", agileplus.CommentCreate{Body: "on the feature"})
	mustOK(t, err)
	mustEqual(t, "feature comment kind", fc.EntityKind, agileplus.KindFeature)

	t.Run("listed oldest first, by WP and by feature", func(t *testing.T) {
		cs := f.comments(t, w.Key)
		if len(cs) != 2 || cs[0].ID != c1.ID || cs[1].ID != c2.ID {
			t.Fatalf("comments %v, want %s then %s", cs, c1.ID, c2.ID)
		}
		mustEqual(t, "body kept as written", cs[0].Body, body)
		mustTime(t, "created_at", cs[0].CreatedAt, c1.CreatedAt)
		page, err := f.svc.Comments(f.ctx, w.Key, agileplus.Page{Limit: 1, After: c1.ID})
		mustOK(t, err)
		if len(page) != 1 || page[0].ID != c2.ID {
			t.Errorf("page after %s: %v, want %s", c1.ID, page, c2.ID)
		}
		fcs := f.comments(t, "alpha")
		if len(fcs) != 1 || fcs[0].ID != fc.ID {
			t.Errorf("feature comments %v, want %s", fcs, fc.ID)
		}
	})

	t.Run("each an event and an audit entry", func(t *testing.T) {
		ev := lastEvent(t, f.events(t, "alpha"))
		mustEqual(t, "feature event", ev.Type, "feature.commented")
		we := lastEvent(t, f.events(t, w.Key))
		mustEqual(t, "wp event", we.Type, "wp.commented")
		if !strings.Contains(string(we.Data), c2.ID) {
			t.Errorf("event data %s does not name the comment", we.Data)
		}
		a := f.lastAudit(t, "alpha")
		mustEqual(t, "audit type", a.EventType, "feature.commented")
		if !strings.Contains(a.Summary, fc.ID) || !strings.Contains(a.Summary, Actor) {
			t.Errorf("audit summary %q, want the comment and its author named", a.Summary)
		}
	})

	t.Run("edit keeps history", func(t *testing.T) {
		f.clock.Advance(tick)
		before := len(f.audit(t, "alpha"))
		e, err := f.svc.EditComment(f.ctx, c1.ID, agileplus.CommentEdit{Body: "changed my mind"}, c1.Version)
		mustOK(t, err)
		mustEqual(t, "version", e.Version, int64(2))
		got := f.comments(t, w.Key)[0]
		mustEqual(t, "body", got.Body, "changed my mind")
		if len(got.History) != 1 || got.History[0].Body != body {
			t.Fatalf("history %+v, want the first body", got.History)
		}
		mustTime(t, "replaced_at", got.History[0].ReplacedAt, f.clock.Now())
		mustEqual(t, "event", lastEvent(t, f.events(t, w.Key)).Type, "wp.comment_edited")
		mustEqual(t, "audit", len(f.audit(t, "alpha")), before+1)
		// The same body again records nothing.
		same, err := f.svc.EditComment(f.ctx, c1.ID, agileplus.CommentEdit{Body: "changed my mind"}, 0)
		mustOK(t, err)
		mustEqual(t, "unchanged version", same.Version, int64(2))
		mustEqual(t, "no audit", len(f.audit(t, "alpha")), before+1)
	})

	t.Run("refused", func(t *testing.T) {
		f.refusedWith(t, agileplus.EINVALID, "body", func() error {
			_, err := f.svc.AddComment(f.ctx, w.Key, agileplus.CommentCreate{Body: strings.Repeat("é", agileplus.MaxCommentLen+1)})
			return err
		}, "10000")
		f.refusedWith(t, agileplus.EINVALID, "body", func() error {
			_, err := f.svc.AddComment(f.ctx, w.Key, agileplus.CommentCreate{Body: "bell \a"})
			return err
		}, "control character")
		f.refusedWith(t, agileplus.EINVALID, "body", func() error {
			_, err := f.svc.AddComment(f.ctx, w.Key, agileplus.CommentCreate{Body: "  \n"})
			return err
		})
		f.refusedWith(t, agileplus.ENOTFOUND, "ref", func() error {
			_, err := f.svc.AddComment(f.ctx, "CORE-99", agileplus.CommentCreate{Body: "x"})
			return err
		})
		f.refusedWith(t, agileplus.EINVALID, "body", func() error {
			_, err := f.svc.EditComment(f.ctx, c2.ID, agileplus.CommentEdit{Body: strings.Repeat("x", agileplus.MaxCommentLen+1)}, 0)
			return err
		})
		f.refusedWith(t, agileplus.ECONFLICT, "version", func() error {
			_, err := f.svc.EditComment(f.ctx, c2.ID, agileplus.CommentEdit{Body: "stale"}, 7)
			return err
		})
		f.refusedWith(t, agileplus.ENOTFOUND, "comment", func() error {
			_, err := f.svc.EditComment(f.ctx, "cmt_nope", agileplus.CommentEdit{Body: "x"}, 0)
			return err
		})
	})
}

// testCommentAuthor runs directly on the Service: a transport attributes
// every change to Actor.
func testCommentAuthor(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	c, err := f.svc.AddComment(f.ctx, "alpha", agileplus.CommentCreate{Body: "mine"})
	mustOK(t, err)
	svc, ok := f.svc.(*agileplus.Service)
	if !ok {
		return // through a transport every caller is Actor
	}
	other := agileplus.WithActor(f.ctx, "someone-else")
	f.refusedWith(t, agileplus.EFORBIDDEN, "comment", func() error {
		_, err := svc.EditComment(other, c.ID, agileplus.CommentEdit{Body: "theirs"}, 0)
		return err
	}, Actor, "someone-else")
}

func testArchive(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.project(t, "OPS")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	a, b, c := f.wp(t, "alpha", "a"), f.wp(t, "alpha", "b"), f.wp(t, "beta", "c")
	f.dep(t, c.Key, a.Key, agileplus.DependsOn) // c waits on a

	t.Run("wp", func(t *testing.T) {
		f.clock.Advance(tick)
		auditBefore := len(f.audit(t, "alpha"))
		got, err := f.svc.ArchiveWP(f.ctx, a.Key)
		mustOK(t, err)
		if got.ArchivedAt == nil || !got.ArchivedAt.Equal(f.clock.Now()) {
			t.Fatalf("archived_at %v, want %v", got.ArchivedAt, f.clock.Now())
		}
		mustEqual(t, "version", got.Version, a.Version+1)
		mustEqual(t, "event", lastEvent(t, f.events(t, a.Key)).Type, "wp.archived")
		mustEqual(t, "audit", len(f.audit(t, "alpha")), auditBefore+1)
		mustEqual(t, "audit type", f.lastAudit(t, "alpha").EventType, "wp.archived")
		// Still readable by key.
		if f.getWP(t, a.Key).ArchivedAt == nil {
			t.Error("read by key: not archived")
		}
		mustEqual(t, "default list", f.wpKeys(t, agileplus.WPQuery{Project: "CORE"}), b.Key+" "+c.Key)
		mustEqual(t, "archived=true", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{Archived: agileplus.ArchivedOnly}}), a.Key)
		mustEqual(t, "archived=include", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{Archived: agileplus.ArchivedInclude}}), a.Key+" "+b.Key+" "+c.Key)
		mustEqual(t, "by feature", f.wpKeys(t, agileplus.WPQuery{Feature: "alpha"}), b.Key)
		// Not ready, and what waits on it keeps waiting, and says why.
		ready, err := f.svc.Ready(f.ctx, "CORE", "", agileplus.Page{})
		mustOK(t, err)
		mustEqual(t, "ready", keysOf(ready), b.Key)
		ready, err = f.svc.Ready(f.ctx, "CORE", agileplus.OrderPriority, agileplus.Page{})
		mustOK(t, err)
		mustEqual(t, "ready by priority", keysOf(ready), b.Key)
		es := f.edges(t, c.Key)
		if len(es) != 1 || !es[0].OtherArchived || es[0].OtherKey != a.Key {
			t.Errorf("edges of %s: %+v, want %s shown archived", c.Key, es, a.Key)
		}
		if es := f.edges(t, a.Key); len(es) != 1 || es[0].OtherArchived {
			t.Errorf("edges of %s: %+v, want %s not archived", a.Key, es, c.Key)
		}
		_, err = f.svc.TransitionWP(f.ctx, c.Key, agileplus.Transition{To: agileplus.WPDoing}, 0)
		mustCode(t, err, agileplus.ERULE)
		mustMention(t, err, a.Key, "archived")

		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.ArchiveWP(f.ctx, a.Key)
			return err
		}, a.Key, "already archived")

		f.clock.Advance(tick)
		back, err := f.svc.RestoreWP(f.ctx, a.Key)
		mustOK(t, err)
		if back.ArchivedAt != nil || f.getWP(t, a.Key).ArchivedAt != nil {
			t.Error("restored WP is still archived")
		}
		mustEqual(t, "restore event", lastEvent(t, f.events(t, a.Key)).Type, "wp.restored")
		mustEqual(t, "restore audit", f.lastAudit(t, "alpha").EventType, "wp.restored")
		mustEqual(t, "listed again", f.wpKeys(t, agileplus.WPQuery{Project: "CORE"}), a.Key+" "+b.Key+" "+c.Key)
		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.RestoreWP(f.ctx, a.Key)
			return err
		}, a.Key, "not archived")
	})

	t.Run("feature", func(t *testing.T) {
		got, err := f.svc.ArchiveFeature(f.ctx, "beta")
		mustOK(t, err)
		if got.ArchivedAt == nil || f.getFeature(t, "beta").ArchivedAt == nil {
			t.Fatal("feature not archived")
		}
		mustEqual(t, "event", lastEvent(t, f.events(t, "beta")).Type, "feature.archived")
		mustEqual(t, "audit", f.lastAudit(t, "beta").EventType, "feature.archived")
		list := func(a string) string {
			fs, err := f.svc.Features(f.ctx, "CORE", agileplus.FeatureQuery{Page: agileplus.Page{Archived: a}})
			mustOK(t, err)
			var out []string
			for _, fe := range fs {
				out = append(out, fe.Slug)
			}
			return strings.Join(out, " ")
		}
		mustEqual(t, "default", list(""), "alpha")
		mustEqual(t, "only", list(agileplus.ArchivedOnly), "beta")
		mustEqual(t, "include", list(agileplus.ArchivedInclude), "alpha beta")
		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.ArchiveFeature(f.ctx, "beta")
			return err
		}, "beta")
		_, err = f.svc.RestoreFeature(f.ctx, "beta")
		mustOK(t, err)
		mustEqual(t, "restored", list(""), "alpha beta")
		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.RestoreFeature(f.ctx, "beta")
			return err
		}, "beta")
	})

	t.Run("project", func(t *testing.T) {
		before := map[string]int{"alpha": len(f.audit(t, "alpha")), "beta": len(f.audit(t, "beta"))}
		got, err := f.svc.ArchiveProject(f.ctx, "OPS")
		mustOK(t, err)
		if got.ArchivedAt == nil || f.mustProject(t, "OPS").ArchivedAt == nil {
			t.Fatal("project not archived")
		}
		ev := lastEvent(t, f.events(t, "OPS"))
		mustEqual(t, "event", ev.Type, "project.archived")
		mustEqual(t, "event feature", ev.FeatureID, "")
		list := func(a string) string {
			ps, err := f.svc.Projects(f.ctx, agileplus.Page{Archived: a})
			mustOK(t, err)
			var out []string
			for _, p := range ps {
				out = append(out, p.Key)
			}
			return strings.Join(out, " ")
		}
		mustEqual(t, "default", list(""), "CORE")
		mustEqual(t, "only", list(agileplus.ArchivedOnly), "OPS")
		mustEqual(t, "include", list(agileplus.ArchivedInclude), "CORE OPS")
		// CORE's features record its archive in their audit trails.
		_, err = f.svc.ArchiveProject(f.ctx, "CORE")
		mustOK(t, err)
		for slug, n := range before {
			mustEqual(t, slug+" audit", len(f.audit(t, slug)), n+1)
			mustEqual(t, slug+" audit type", f.lastAudit(t, slug).EventType, "project.archived")
		}
		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.ArchiveProject(f.ctx, "OPS")
			return err
		}, "OPS")
		_, err = f.svc.RestoreProject(f.ctx, "OPS")
		mustOK(t, err)
		mustEqual(t, "restore event", lastEvent(t, f.events(t, "OPS")).Type, "project.restored")
		f.refusedWith(t, agileplus.ECONFLICT, "archived", func() error {
			_, err := f.svc.RestoreProject(f.ctx, "OPS")
			return err
		}, "OPS")
	})

	t.Run("bad option", func(t *testing.T) {
		_, err := f.svc.Projects(f.ctx, agileplus.Page{Archived: "yes"})
		mustField(t, err, agileplus.EINVALID, "archived")
		_, err = f.svc.WPs(f.ctx, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{Archived: "maybe"}})
		mustField(t, err, agileplus.EINVALID, "archived")
	})
}

func testDeleteWP(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	f.feature(t, "CORE", "alpha")
	f.feature(t, "CORE", "beta")
	a, b, c, d := f.wp(t, "alpha", "a"), f.wp(t, "alpha", "b"), f.wp(t, "beta", "c"), f.wp(t, "alpha", "d")
	f.dep(t, c.Key, a.Key, agileplus.DependsOn) // c waits on a
	own := f.dep(t, a.Key, b.Key, agileplus.DependsOn)
	rel := f.dep(t, a.Key, d.Key, agileplus.RelatesTo)
	_, err := f.svc.AddComment(f.ctx, a.Key, agileplus.CommentCreate{Body: "note"})
	mustOK(t, err)
	_, err = f.svc.AddReference(f.ctx, a.Key, agileplus.ReferenceCreate{SHA: "abcdef1", Repo: "github.com/acme/api"})
	mustOK(t, err)

	t.Run("refused while others depend on it", func(t *testing.T) {
		f.refusedWith(t, agileplus.ECONFLICT, "wp", func() error { return f.svc.DeleteWP(f.ctx, a.Key) }, a.Key, c.Key, "depend on it")
	})
	t.Run("refused once started", func(t *testing.T) {
		f.move(t, d.Key, agileplus.WPDoing)
		f.refusedWith(t, agileplus.ERULE, "wp", func() error { return f.svc.DeleteWP(f.ctx, d.Key) }, d.Key, "doing")
		f.move(t, d.Key, agileplus.WPBlocked, agileplus.WPPlanned)
		f.refusedWith(t, agileplus.ERULE, "wp", func() error { return f.svc.DeleteWP(f.ctx, d.Key) }, d.Key, "started before")
	})
	t.Run("refused while claimed", func(t *testing.T) {
		l, err := f.svc.Claim(f.ctx, b.Key, agileplus.ClaimRequest{Agent: "bot"})
		mustOK(t, err)
		f.refusedWith(t, agileplus.ECONFLICT, "wp", func() error { return f.svc.DeleteWP(f.ctx, b.Key) }, b.Key, "claimed by bot")
		mustOK(t, f.svc.Release(f.ctx, b.Key, agileplus.ClaimRequest{Token: l.Token}))
	})
	t.Run("refused for an unknown WP", func(t *testing.T) {
		f.refusedWith(t, agileplus.ENOTFOUND, "wp", func() error { return f.svc.DeleteWP(f.ctx, "CORE-99") })
	})

	t.Run("deleted with its own dependencies, references and comments", func(t *testing.T) {
		f.dep(t, c.Key, b.Key, agileplus.DependsOn) // keep c waiting once a is gone
		mustOK(t, f.svc.RemoveDependency(f.ctx, f.edges(t, c.Key)[0].ID))
		auditBefore := len(f.audit(t, "alpha"))
		mustOK(t, f.svc.DeleteWP(f.ctx, a.Key))
		_, err := f.svc.WP(f.ctx, a.Key)
		mustField(t, err, agileplus.ENOTFOUND, "wp")
		mustEqual(t, "listed", f.wpKeys(t, agileplus.WPQuery{Project: "CORE", Page: agileplus.Page{Archived: agileplus.ArchivedInclude}}), b.Key+" "+c.Key+" "+d.Key)
		if es := f.edges(t, b.Key); len(es) != 1 || es[0].OtherKey != c.Key {
			t.Errorf("edges of %s: %+v, want only %s's", b.Key, es, c.Key)
		}
		if es := f.edges(t, d.Key); len(es) != 0 {
			t.Errorf("edges of %s: %+v, want none", d.Key, es)
		}
		var types []string
		for _, e := range f.events(t, "") {
			if e.EntityID == a.ID || e.EntityID == own.ID || e.EntityID == rel.ID {
				types = append(types, e.Type)
			}
		}
		mustEqual(t, "last events", strings.Join(types[len(types)-3:], " "), "dependency.removed dependency.removed wp.deleted")
		// Two removed edges and the deletion.
		mustEqual(t, "audit", len(f.audit(t, "alpha")), auditBefore+3)
		mustEqual(t, "audit type", f.lastAudit(t, "alpha").EventType, "wp.deleted")
		// The graph index forgets it.
		_, err = f.svc.Blockers(f.ctx, a.Key, false, 0)
		mustField(t, err, agileplus.ENOTFOUND, "wp")
		ready, err := f.svc.Ready(f.ctx, "CORE", "", agileplus.Page{})
		mustOK(t, err)
		mustEqual(t, "ready", keysOf(ready), b.Key+" "+d.Key)
		// Its number is not handed out again.
		e := f.wp(t, "alpha", "e")
		mustEqual(t, "next key", e.Key, "CORE-5")
		layers, err := f.svc.Layers(f.ctx, "CORE", "")
		mustOK(t, err)
		n := 0
		for _, l := range layers.Layers {
			n += len(l)
		}
		mustEqual(t, "WPs in the layers", n, 4)
	})
}
