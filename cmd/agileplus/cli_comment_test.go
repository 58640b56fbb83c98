package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// TestCLIComments drives comments on WPs and features through the CLI.
func TestCLIComments(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "CMT", "--name", "Comments")
	cliOK(t, url, "feature", "create", "CMT", "cmt-f", "--title", "F")
	cliOK(t, url, "wp", "create", "cmt-f", "--title", "one")

	c := cliJSON[agileplus.Comment](t, url, "wp", "comment", "add", "CMT-1", "--body", "first, @ana")
	cliOK(t, url, "wp", "comment", "add", "CMT-1", "--body", "second\nline")
	cliOK(t, url, "feature", "comment", "add", "cmt-f", "--body", "on the feature")
	edited := cliJSON[agileplus.Comment](t, url, "wp", "comment", "edit", c.ID, "--body", "first, edited", "--if-version", "1")
	if edited.Version != 2 || len(edited.History) != 1 || edited.History[0].Body != "first, @ana" {
		t.Errorf("edited: version %d, history %+v", edited.Version, edited.History)
	}
	cs := cliItems[*agileplus.Comment](t, url, "wp", "comment", "list", "CMT-1")
	var bodies []string
	for _, c := range cs {
		bodies = append(bodies, c.Body)
	}
	if !slices.Equal(bodies, []string{"first, edited", "second\nline"}) {
		t.Errorf("wp comments %q", bodies)
	}
	out := cliOK(t, url, "wp", "comment", "list", "CMT-1")
	for _, want := range []string{c.ID, "(edited", "    first, edited", "    second", "    line"} {
		if !strings.Contains(out, want) {
			t.Errorf("comment list lacks %q:\n%s", want, out)
		}
	}
	if out := cliOK(t, url, "feature", "comment", "list", "cmt-f"); !strings.Contains(out, "on the feature") {
		t.Errorf("feature comment list:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"wp", "comment", "add", "CMT-1"}, "--body is required"},
		{[]string{"wp", "comment", "add", "CMT-1", "--body", strings.Repeat("x", agileplus.MaxCommentLen+1)}, "--body"},
		{[]string{"wp", "comment", "edit", c.ID, "--body", "x", "--if-version", "1"}, "version"},
	} {
		if err := cliFails(t, url, c.args...); !strings.Contains(err.Error(), c.want) {
			t.Errorf("agileplus %v: %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

// TestCLIArchive drives archive, restore and delete through the CLI.
func TestCLIArchive(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "ARC", "--name", "Archive")
	cliOK(t, url, "project", "create", "OLD", "--name", "Old")
	cliOK(t, url, "feature", "create", "ARC", "arc-f", "--title", "F")
	cliOK(t, url, "feature", "create", "ARC", "arc-g", "--title", "G")
	for _, title := range []string{"one", "two", "three"} {
		cliOK(t, url, "wp", "create", "arc-f", "--title", title)
	}
	cliOK(t, url, "dep", "add", "ARC-2", "ARC-1")

	if out := cliOK(t, url, "wp", "archive", "ARC-1"); !strings.Contains(out, "ARC-1 archived") {
		t.Errorf("wp archive: %s", out)
	}
	list := func(args ...string) []string {
		return keysOf(cliItems[*agileplus.WP](t, url, append([]string{"wp", "list", "--project", "ARC"}, args...)...))
	}
	if got := list(); !slices.Equal(got, []string{"ARC-2", "ARC-3"}) {
		t.Errorf("wp list: %v", got)
	}
	if got := list("--archived"); !slices.Equal(got, []string{"ARC-1"}) {
		t.Errorf("wp list --archived: %v", got)
	}
	if got := list("--include-archived"); !slices.Equal(got, []string{"ARC-1", "ARC-2", "ARC-3"}) {
		t.Errorf("wp list --include-archived: %v", got)
	}
	if out := cliOK(t, url, "wp", "show", "ARC-2"); !strings.Contains(out, "archived") {
		t.Errorf("wp show of a WP waiting on an archived one does not say so:\n%s", out)
	}
	if err := cliFails(t, url, "wp", "archive", "ARC-1"); !strings.Contains(err.Error(), "already archived") {
		t.Errorf("archive twice: %v", err)
	}
	cliOK(t, url, "wp", "restore", "ARC-1")
	if err := cliFails(t, url, "wp", "restore", "ARC-1"); !strings.Contains(err.Error(), "not archived") {
		t.Errorf("restore twice: %v", err)
	}

	cliOK(t, url, "feature", "archive", "arc-g")
	fs := cliItems[*agileplus.Feature](t, url, "feature", "list", "ARC")
	if len(fs) != 1 || fs[0].Slug != "arc-f" {
		t.Errorf("feature list: %v", fs)
	}
	if fs := cliItems[*agileplus.Feature](t, url, "feature", "list", "ARC", "--include-archived"); len(fs) != 2 {
		t.Errorf("feature list --include-archived: %d features", len(fs))
	}
	cliOK(t, url, "feature", "restore", "arc-g")
	cliOK(t, url, "project", "archive", "OLD")
	if ps := cliItems[*agileplus.Project](t, url, "project", "list"); len(ps) != 1 || ps[0].Key != "ARC" {
		t.Errorf("project list: %v", ps)
	}
	if ps := cliItems[*agileplus.Project](t, url, "project", "list", "--archived"); len(ps) != 1 || ps[0].Key != "OLD" {
		t.Errorf("project list --archived: %v", ps)
	}
	if out := cliOK(t, url, "project", "show", "OLD"); !strings.Contains(out, "Archived:") {
		t.Errorf("project show:\n%s", out)
	}
	cliOK(t, url, "project", "restore", "OLD")
	if err := cliFails(t, url, "project", "list", "--archived", "--include-archived"); err == nil {
		t.Error("--archived with --include-archived: no error")
	}

	if err := cliFails(t, url, "wp", "delete", "ARC-1"); !strings.Contains(err.Error(), "ARC-2") {
		t.Errorf("delete a WP another depends on: %v, want ARC-2 named", err)
	}
	if out := cliOK(t, url, "wp", "delete", "ARC-3"); !strings.Contains(out, "ARC-3 deleted") {
		t.Errorf("wp delete: %s", out)
	}
	if err := cliFails(t, url, "wp", "show", "ARC-3"); !strings.Contains(err.Error(), "not found") {
		t.Errorf("show a deleted WP: %v", err)
	}
}
