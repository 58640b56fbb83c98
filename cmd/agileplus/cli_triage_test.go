package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// TestCLITriage drives priority, labels, owners and label definitions
// through the CLI.
func TestCLITriage(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "TRI", "--name", "Triage")
	cliOK(t, url, "feature", "create", "TRI", "tri-f", "--title", "F", "--priority", "high", "--label", "UX,web")
	cliOK(t, url, "wp", "create", "tri-f", "--title", "one", "--priority", "low", "--label", "go", "--label", "DB")
	// --mine matches the actor as the server records it (with keys, the
	// key's name and the --as name).
	ann := cliJSON[httpapi.Whoami](t, url, "whoami", "--as", "ann").Actor
	cliOK(t, url, "wp", "create", "tri-f", "--title", "two", "--priority", "urgent", "--owner", ann)
	cliOK(t, url, "wp", "create", "tri-f", "--title", "three", "--label", "go")

	t.Run("create", func(t *testing.T) {
		f := cliJSON[agileplus.Feature](t, url, "feature", "show", "tri-f")
		if f.Priority != agileplus.PriorityHigh || !slices.Equal(f.Labels, []string{"ux", "web"}) {
			t.Errorf("feature: priority %q, labels %v", f.Priority, f.Labels)
		}
		w := cliJSON[wpWithDependencies](t, url, "wp", "show", "TRI-1")
		if w.Priority != agileplus.PriorityLow || !slices.Equal(w.Labels, []string{"db", "go"}) || w.Owner != "" {
			t.Errorf("TRI-1: priority %q, labels %v, owner %q", w.Priority, w.Labels, w.Owner)
		}
		out := cliOK(t, url, "wp", "show", "TRI-2")
		for _, want := range []string{"Priority:", "urgent", "Owner:", "ann"} {
			if !strings.Contains(out, want) {
				t.Errorf("wp show lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("list filters and sort", func(t *testing.T) {
		list := func(args ...string) []string {
			return keysOf(cliItems[*agileplus.WP](t, url, append([]string{"wp", "list", "--project", "TRI"}, args...)...))
		}
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"--label", "go"}, []string{"TRI-1", "TRI-3"}},
			{[]string{"--label", "go,db"}, []string{"TRI-1"}},
			{[]string{"--label", "db", "--label", "nope", "--any-label"}, []string{"TRI-1"}},
			{[]string{"--priority", "urgent", "--priority", "low"}, []string{"TRI-1", "TRI-2"}},
			{[]string{"--owner", ann}, []string{"TRI-2"}},
			{[]string{"--mine", "--as", "ann"}, []string{"TRI-2"}},
			{[]string{"--mine"}, nil},
			{[]string{"--sort", "priority"}, []string{"TRI-2", "TRI-3", "TRI-1"}},
		} {
			if got := list(c.args...); !slices.Equal(got, c.want) {
				t.Errorf("wp list %v: got %v, want %v", c.args, got, c.want)
			}
		}
		out, errOut, err := runCLI(t, url, "wp", "list", "--project", "TRI", "--sort", "priority", "--limit", "1")
		if err != nil || !strings.Contains(out, "PRIORITY") || !strings.Contains(errOut, "--after urgent:wp_") {
			t.Errorf("wp list --sort priority --limit 1: %v\n%s\n%s", err, out, errOut)
		}
		next := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(errOut), "(more: pass --after "), ")")
		if got := list("--sort", "priority", "--after", next); !slices.Equal(got, []string{"TRI-3", "TRI-1"}) {
			t.Errorf("the page after %s: got %v", next, got)
		}
		if err := cliFails(t, url, "wp", "list", "--priority", "asap"); !strings.Contains(err.Error(), "priority") {
			t.Errorf("unknown priority: %v", err)
		}
		if err := cliFails(t, url, "wp", "list", "--owner", ann, "--mine"); err == nil {
			t.Error("--owner with --mine succeeded")
		}
	})

	t.Run("ready and layers by priority", func(t *testing.T) {
		ws := cliItems[*agileplus.WP](t, url, "ready", "TRI", "--order", "priority")
		if got := keysOf(ws); !slices.Equal(got, []string{"TRI-2", "TRI-3", "TRI-1"}) {
			t.Errorf("ready --order priority: %v", got)
		}
		_, errOut, err := runCLI(t, url, "ready", "TRI", "--order", "priority", "--limit", "1")
		if err != nil || !strings.Contains(errOut, "--after urgent:TRI-2") {
			t.Errorf("ready --order priority --limit 1: %v, %s", err, errOut)
		}
		l := cliJSON[agileplus.GraphLayers](t, url, "graph", "layers", "TRI", "--order", "priority")
		if len(l.Layers) != 1 || l.Layers[0][0].Key != "TRI-2" || l.Layers[0][0].Priority != agileplus.PriorityUrgent {
			t.Errorf("layers --order priority: %+v", l)
		}
		if out := cliOK(t, url, "graph", "layers", "TRI"); !strings.Contains(out, "PRIORITY") {
			t.Errorf("graph layers lacks the priority column:\n%s", out)
		}
	})

	t.Run("update", func(t *testing.T) {
		w := cliJSON[agileplus.WP](t, url, "wp", "update", "TRI-3", "--priority", "high", "--label", "rust", "--owner", "bob")
		if w.Priority != agileplus.PriorityHigh || !slices.Equal(w.Labels, []string{"rust"}) || w.Owner != "bob" {
			t.Errorf("updated: %+v", w)
		}
		w = cliJSON[agileplus.WP](t, url, "wp", "update", "TRI-3", "--clear-labels", "--owner", "")
		if len(w.Labels) != 0 || w.Owner != "" {
			t.Errorf("cleared: labels %v, owner %q", w.Labels, w.Owner)
		}
		f := cliJSON[agileplus.Feature](t, url, "feature", "update", "tri-f", "--priority", "low", "--clear-labels")
		if f.Priority != agileplus.PriorityLow || len(f.Labels) != 0 {
			t.Errorf("feature updated: %+v", f)
		}
		err := cliFails(t, url, "wp", "update", "TRI-3", "--label", "has space")
		if !strings.Contains(err.Error(), "label") {
			t.Errorf("bad label: %v", err)
		}
		if err := cliFails(t, url, "wp", "update", "TRI-3", "--label", "a", "--clear-labels"); err == nil {
			t.Error("--label with --clear-labels succeeded")
		}
	})

	t.Run("label definitions", func(t *testing.T) {
		if out := cliOK(t, url, "label", "create", "TRI", "Go", "--color", "#00ADD8", "--description", "Go code"); !strings.Contains(out, "defined label go in TRI") {
			t.Errorf("label create printed %q", out)
		}
		cliOK(t, url, "label", "create", "TRI", "db")
		ls := cliItems[*agileplus.LabelDef](t, url, "label", "list", "TRI")
		if len(ls) != 2 || ls[0].Name != "db" || ls[1].Color != "#00add8" {
			t.Errorf("label list: %+v", ls)
		}
		if out := cliOK(t, url, "label", "list", "TRI"); !strings.Contains(out, "#00add8") || !strings.Contains(out, "Go code") {
			t.Errorf("label list table:\n%s", out)
		}
		l := cliJSON[agileplus.LabelDef](t, url, "label", "update", "TRI", "go", "--color", "")
		if l.Color != "" || l.Version != 2 {
			t.Errorf("label update: %+v", l)
		}
		if out := cliOK(t, url, "label", "show", "TRI", "GO"); !strings.Contains(out, "Go code") {
			t.Errorf("label show:\n%s", out)
		}
		if err := cliFails(t, url, "label", "create", "TRI", "x", "--color", "blue"); !strings.Contains(err.Error(), "--color") {
			t.Errorf("bad colour: %v", err)
		}
		if err := cliFails(t, url, "label", "create", "TRI", "db"); !strings.Contains(err.Error(), "already defined") {
			t.Errorf("a second db: %v", err)
		}
		cliOK(t, url, "label", "delete", "TRI", "go")
		if err := cliFails(t, url, "label", "show", "TRI", "go"); !strings.Contains(err.Error(), "not defined") {
			t.Errorf("deleted label: %v", err)
		}
	})
}
