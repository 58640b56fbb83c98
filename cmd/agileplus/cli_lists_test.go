package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/spf13/cobra"
)

// listPage is what a list command prints with --json, its items kept as
// they came so that pages can be compared whole.
type listPage struct {
	Items []json.RawMessage `json:"items"`
	Next  *string           `json:"next"`
}

func decodePage(t *testing.T, what, out string) listPage {
	t.Helper()
	var p listPage
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Items == nil {
		t.Fatalf("%s --json: %v; want {\"items\": [...], \"next\": ...}, got\n%s", what, err, out)
	}
	return p
}

// Every list command prints {"items":[...],"next":"..."} with --json: next
// when the page came back full, and next as --after gives the page after;
// a list the API does not page prints items alone. An error is JSON on
// stderr with the exit status of the same error without --json.
func TestCLIListsJSON(t *testing.T) {
	url := startTestServerIn(t, t.TempDir(), "--consumer-max-deliver", "1", "--consumer-backoff", "50ms")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	hook := cliJSON[map[string]any](t, url, "webhook", "create", failing.URL+"/hook")["id"].(string)
	for _, p := range []string{"LC", "LD"} {
		cliOK(t, url, "project", "create", p, "--name", p)
		cliOK(t, url, "feature", "create", p, strings.ToLower(p)+"-one", "--title", "One")
		cliOK(t, url, "feature", "create", p, strings.ToLower(p)+"-two", "--title", "Two")
		cliOK(t, url, "wp", "create", strings.ToLower(p)+"-one", "--title", "alpha first")
		cliOK(t, url, "wp", "create", strings.ToLower(p)+"-one", "--title", "alpha second", "--priority", "high")
	}
	cliOK(t, url, "dep", "add", "LC-1", "LD-1", "--kind", "relates_to")
	cliOK(t, url, "dep", "add", "LC-1", "LD-2", "--kind", "relates_to")
	for _, name := range []string{"go", "db"} {
		cliOK(t, url, "label", "create", "LC", name)
	}
	for _, body := range []string{"first", "second"} {
		cliOK(t, url, "wp", "comment", "add", "LC-1", "--body", body)
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		file := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(file, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		cliOK(t, url, "artifact", "put", "--wp", "LC-1", file)
	}
	poll.Until(t, "2 dead letters and 2 deliveries", func() bool {
		return len(cliItems[*agileplus.DeadLetter](t, url, "deadletters", "list")) >= 2 &&
			len(cliItems[*agileplus.WebhookDelivery](t, url, "webhook", "deliveries", hook)) >= 2
	})

	tests := []struct {
		name  string
		args  []string
		paged bool
		bad   []string // the same command gone wrong
	}{
		{"project list", []string{"project", "list"}, true, []string{"project", "list", "--after", "x", "extra"}},
		{"feature list", []string{"feature", "list", "LC"}, true, []string{"feature", "list", "NOPE"}},
		{"label list", []string{"label", "list", "LC"}, true, []string{"label", "list", "NOPE"}},
		{"wp list", []string{"wp", "list", "--project", "LC"}, true, []string{"wp", "list", "--state", "flying"}},
		{"wp list by priority", []string{"wp", "list", "--sort", "priority"}, true, []string{"wp", "list", "--sort", "priority", "--after", "soon:x"}},
		{"ready", []string{"ready", "LC"}, true, []string{"ready", "NOPE"}},
		{"ready of every project", []string{"ready", "--order", "priority"}, true, []string{"ready", "--after", "LC"}},
		{"find", []string{"find", "alpha"}, true, []string{"find", "alpha", "--kind", "bug"}},
		{"events", []string{"events"}, true, []string{"events", "--entity", "NOPE-1"}},
		{"audit show", []string{"audit", "show", "lc-one"}, true, []string{"audit", "show", "nope"}},
		{"comment list", []string{"wp", "comment", "list", "LC-1"}, true, []string{"wp", "comment", "list", "LC-99"}},
		{"artifact ls", []string{"artifact", "ls", "--wp", "LC-1"}, true, []string{"artifact", "ls"}},
		{"webhook deliveries", []string{"webhook", "deliveries", hook}, true, []string{"webhook", "deliveries", "whk_nope"}},
		{"deadletters list", []string{"deadletters", "list"}, true, []string{"deadletters", "list", "--limit", "0"}},
		{"dep list", []string{"dep", "list", "LC-1"}, false, []string{"dep", "list", "LC-99"}},
		{"webhook list", []string{"webhook", "list"}, false, []string{"webhook", "list", "extra"}},
		{"key list", []string{"key", "list"}, false, []string{"key", "list", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			what := "agileplus " + strings.Join(tt.args, " ")
			if !tt.paged {
				p := decodePage(t, what, cliOK(t, url, append(tt.args, "--json")...))
				if len(p.Items) == 0 || p.Next != nil {
					t.Errorf("%s: %d items, next %v; want every item and no next", what, len(p.Items), p.Next)
				}
			} else {
				two := decodePage(t, what, cliOK(t, url, append(tt.args, "--json", "--limit", "2")...))
				one := decodePage(t, what, cliOK(t, url, append(tt.args, "--json", "--limit", "1")...))
				if len(two.Items) != 2 || len(one.Items) != 1 || one.Next == nil || *one.Next == "" {
					t.Fatalf("%s: %d items with --limit 2, %d with --limit 1 and next %v; want 2, 1 and a next", what, len(two.Items), len(one.Items), one.Next)
				}
				after := decodePage(t, what, cliOK(t, url, append(tt.args, "--json", "--limit", "1", "--after", *one.Next)...))
				if len(after.Items) != 1 || !bytes.Equal(after.Items[0], two.Items[1]) || !bytes.Equal(one.Items[0], two.Items[0]) {
					t.Errorf("%s: --after %s gave %s, want the second item %s", what, *one.Next, after.Items, two.Items[1])
				}
				all := decodePage(t, what, cliOK(t, url, append(tt.args, "--json", "--limit", "1000")...))
				if all.Next != nil {
					t.Errorf("%s --limit 1000: next %q on a page that is not full", what, *all.Next)
				}
			}

			plain := against(t, url, tt.bad...)
			js := against(t, url, append([]string{"--json"}, tt.bad...)...)
			if plain.code == 0 || js.code != plain.code {
				t.Fatalf("agileplus %s: exit %d plain, %d with --json; want the same failure\n%s", strings.Join(tt.bad, " "), plain.code, js.code, plain.stderr)
			}
			var body struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(js.stderr), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
				t.Errorf("agileplus --json %s: stderr %q, want {\"error\":{\"code\",\"message\",\"field\"}}", strings.Join(tt.bad, " "), js.stderr)
			}
			if js.stdout != "" {
				t.Errorf("agileplus --json %s printed %q on stdout", strings.Join(tt.bad, " "), js.stdout)
			}
		})
	}

	t.Run("ready without a project lists every project", func(t *testing.T) {
		got := keysOf(cliItems[*agileplus.WP](t, url, "ready"))
		if want := []string{"LC-1", "LC-2", "LD-1", "LD-2"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ready: %v, want %v", got, want)
		}
		got = keysOf(cliItems[*agileplus.WP](t, url, "ready", "--order", "priority"))
		if want := []string{"LC-2", "LD-2", "LC-1", "LD-1"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ready --order priority: %v, want %v", got, want)
		}
		if out := cliOK(t, url, "ready", "--limit", "1"); !strings.Contains(out, "LC-1") {
			t.Errorf("ready --limit 1: %q, want LC-1", out)
		}
	})
}

// Every --after of a list takes the next its previous page gave, and says so.
func TestCLIAfterHelpNamesNext(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	n := 0
	walk(newRootCmd(e), func(c *cobra.Command) {
		f := c.Flags().Lookup("after")
		if f == nil || c.Name() == "tail" { // tail's --after is where a replay starts
			return
		}
		n++
		if !strings.Contains(f.Usage, "the next of the previous page") {
			t.Errorf("%s --after: %q does not say it takes the next of the previous page", c.CommandPath(), f.Usage)
		}
	})
	if n < 12 {
		t.Errorf("only %d commands with --after", n)
	}
}
