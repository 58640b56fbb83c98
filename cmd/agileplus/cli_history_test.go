package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// wp history lists the changes with who and why; wp show --at shows the
// WP as it was; bad --at values are refused naming the flag.
func TestCLIHistoryAndTimeTravel(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "HIS", "--name", "History")
	cliOK(t, url, "feature", "create", "HIS", "past", "--title", "The past")
	cliOK(t, url, "wp", "create", "past", "--title", "First title")
	cliOK(t, url, "wp", "update", "HIS-1", "--title", "Second title")
	cliOK(t, url, "wp", "move", "HIS-1", "blocked", "--reason", "waiting on review")

	type page struct {
		Items []*agileplus.HistoryEntry `json:"items"`
		Next  string                    `json:"next"`
	}
	all := cliJSON[page](t, url, "wp", "history", "HIS-1")
	if len(all.Items) != 3 || all.Next != "" {
		t.Fatalf("got %d entries (next %q), want 3 and no next page", len(all.Items), all.Next)
	}
	if h := all.Items[2]; h.Type != "wp.transitioned" || h.Reason != "waiting on review" || h.Actor == "" {
		t.Errorf("got last entry %+v, want the transition with its reason and actor", h)
	}
	first := cliJSON[page](t, url, "wp", "history", "HIS-1", "--limit", "2")
	if len(first.Items) != 2 || first.Next != strconv.FormatInt(first.Items[1].GlobalSeq, 10) {
		t.Fatalf("got %d entries, next %q; want 2 and the second's global sequence", len(first.Items), first.Next)
	}
	rest := cliJSON[page](t, url, "wp", "history", "HIS-1", "--after", first.Next)
	if len(rest.Items) != 1 || rest.Items[0].Seq != 3 {
		t.Fatalf("got %+v after %s, want the third change", rest.Items, first.Next)
	}
	if out := cliOK(t, url, "wp", "history", "HIS-1"); !strings.Contains(out, "waiting on review") || !strings.Contains(out, "state: planned -> blocked") {
		t.Errorf("wp history:\n%s\nwant the reason and the state change", out)
	}

	at := strconv.FormatInt(all.Items[0].GlobalSeq, 10)
	if out := cliOK(t, url, "wp", "show", "HIS-1", "--at", at); !strings.Contains(out, "First title") || !strings.Contains(out, "planned") {
		t.Errorf("wp show --at %s:\n%s\nwant the first title, planned", at, out)
	}
	if out := cliOK(t, url, "wp", "show", "HIS-1"); !strings.Contains(out, "Second title") {
		t.Errorf("wp show:\n%s\nwant the second title", out)
	}
	for _, bad := range []string{"soon", "0", strconv.FormatInt(all.Items[2].GlobalSeq+100, 10)} {
		if err := cliFails(t, url, "wp", "show", "HIS-1", "--at", bad); !strings.Contains(err.Error(), "at") {
			t.Errorf("wp show --at %s: got %v, want it to name at", bad, err)
		}
	}
	if err := cliFails(t, url, "wp", "show", "HIS-1", "--at", "2000-01-01T00:00:00Z"); !strings.Contains(err.Error(), "did not exist yet") {
		t.Errorf("wp show --at 2000: got %v, want not existing yet", err)
	}
}
