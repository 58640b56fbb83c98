package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestCLIFind(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "FIND", "--name", "Find")
	cliOK(t, url, "feature", "create", "FIND", "sign-in", "--title", "Sign in", "--description", "login with a password")
	cliOK(t, url, "wp", "create", "sign-in", "--title", "Login form", "--label", "web")
	cliOK(t, url, "wp", "create", "sign-in", "--title", "Password reset", "--description", "after a failed login")

	t.Run("table", func(t *testing.T) {
		out := cliOK(t, url, "find", "login")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[1], "FIND-1") || !strings.HasPrefix(lines[2], "sign-in") || !strings.HasPrefix(lines[3], "FIND-2") {
			t.Errorf("find login printed %q, want FIND-1 (title), then sign-in and FIND-2 (text)", out)
		}
		if out := cliOK(t, url, "find", "zebra"); !strings.Contains(out, "nothing found") {
			t.Errorf("find zebra printed %q", out)
		}
	})

	t.Run("json pages", func(t *testing.T) {
		page := cliJSON[pageJSON[*agileplus.SearchHit]](t, url, "find", "login", "--limit", "2")
		if len(page.Items) != 2 || page.Items[0].Key != "FIND-1" || page.Next != "text:sign-in" {
			t.Fatalf("first page: %+v, want FIND-1, sign-in and next text:sign-in", page)
		}
		page = cliJSON[pageJSON[*agileplus.SearchHit]](t, url, "find", "login", "--limit", "2", "--after", page.Next)
		if len(page.Items) != 1 || page.Items[0].Key != "FIND-2" || page.Next != "" {
			t.Errorf("second page: %+v, want FIND-2 and no next", page)
		}
	})

	t.Run("filters and syntax", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"find", "FIND-2"}, "FIND-2"},
			{[]string{"find", `"login`, "--kind", "wp", "--label", "web"}, "FIND-1"},
			{[]string{"find", "login", "--kind", "feature", "--state", "created"}, "sign-in"},
			{[]string{"find", "(login)", "NEAR", "--project", "FIND"}, ""},
		} {
			page := cliJSON[pageJSON[*agileplus.SearchHit]](t, url, tc.args...)
			var keys []string
			for _, h := range page.Items {
				keys = append(keys, h.Key)
			}
			if got := strings.Join(keys, " "); got != tc.want {
				t.Errorf("%v: got %q, want %q", tc.args, got, tc.want)
			}
		}
	})

	t.Run("bad usage", func(t *testing.T) {
		if err := cliFails(t, url, "find"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "QUERY") {
			t.Errorf("no query: got %v, want a usage error naming QUERY", err)
		}
		if err := cliFails(t, url, "find", `"*`); agileplus.ErrorField(err) != "q" {
			t.Errorf("no word: got %v, want an error naming q", err)
		}
		if err := cliFails(t, url, "find", "x", "--kind", "bug"); agileplus.ErrorField(err) != "kind" {
			t.Errorf("bad kind: got %v, want an error naming kind", err)
		}
	})
}
