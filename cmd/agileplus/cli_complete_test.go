package main

import (
	"slices"
	"strings"
	"testing"
)

func TestArgKinds(t *testing.T) {
	for use, want := range map[string]string{
		"show WP":                           "wp",
		"move WP STATE [--token N]":         "wp,",
		"impact (WP | FEATURE) [--limit N]": "wp+feature",
		"add FROM TO [--kind depends_on]":   "wp+feature,wp+feature",
		"create PROJECT SLUG --title TITLE": "project,",
		"list":                              "",
		"version":                           "",
		"tail [--project P]":                "",
	} {
		var parts []string
		for _, ks := range argKinds(use) {
			parts = append(parts, strings.Join(ks, "+"))
		}
		if got := strings.Join(parts, ","); got != want {
			t.Errorf("argKinds(%q) = %q, want %q", use, got, want)
		}
	}
}

// Completion asks the server for its names: project keys, feature slugs
// and WP keys, for positional arguments and for --project and --feature.
func TestCompletionOfNames(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "seed", "--sample-data")
	complete := func(args ...string) []string {
		t.Helper()
		out := cliOK(t, url, append([]string{"__complete"}, args...)...)
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				names = append(names, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return names
	}
	if got := complete("ready", ""); !slices.Contains(got, "CORE") || !slices.Contains(got, "WEB") {
		t.Errorf("ready <TAB>: %v, want the project keys", got)
	}
	if got := complete("wp", "show", "CO"); !slices.Equal(got, []string{"CORE-"}) {
		t.Errorf("wp show CO<TAB>: %v, want CORE-", got)
	}
	got := complete("wp", "show", "CORE-1")
	if !slices.Contains(got, "CORE-1") || slices.ContainsFunc(got, func(s string) bool { return !strings.HasPrefix(s, "CORE-1") }) {
		t.Errorf("wp show CORE-1<TAB>: %v, want CORE-1 and CORE-1x keys only", got)
	}
	if got := complete("wp", "move", "CORE-1", ""); !slices.Contains(got, "doing") {
		t.Errorf("wp move CORE-1 <TAB>: %v, want the states", got)
	}
	if got := complete("wp", "list", "--project", "W"); !slices.Equal(got, []string{"WEB"}) {
		t.Errorf("wp list --project W<TAB>: %v, want WEB", got)
	}
	if got := complete("feature", "show", "offline"); !slices.Contains(got, "offline-sync") {
		t.Errorf("feature show offline<TAB>: %v, want offline-sync", got)
	}
	// A server that does not answer completes nothing, quickly.
	out := cliOK(t, "http://127.0.0.1:1", "__complete", "wp", "show", "")
	if strings.Contains(out, "CORE") {
		t.Errorf("completion without a server: %q", out)
	}
}
