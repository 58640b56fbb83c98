package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestCLINext(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "NEXT", "--name", "Next")
	cliOK(t, url, "feature", "create", "NEXT", "next-work", "--title", "Next work")
	for _, title := range []string{"Base", "Top", "Side"} {
		cliOK(t, url, "wp", "create", "next-work", "--title", title)
	}
	cliOK(t, url, "dep", "add", "NEXT-2", "NEXT-1")

	t.Run("peek", func(t *testing.T) {
		res := cliJSON[agileplus.NextResult](t, url, "next", "--project", "NEXT")
		if res.WP == nil || res.WP.Key != "NEXT-1" || res.Lease != nil || res.Impact != 1 || res.Ready != 2 {
			t.Fatalf("next: got %+v, want NEXT-1 unclaimed, impact 1 of 2 ready", res)
		}
		if out := cliOK(t, url, "next", "--project", "NEXT"); !strings.Contains(out, "NEXT-1") || !strings.Contains(out, "Unblocks:") {
			t.Errorf("next printed %q", out)
		}
	})

	t.Run("claim", func(t *testing.T) {
		res := cliJSON[agileplus.NextResult](t, url, "next", "--project", "NEXT", "--claim", "--agent", "bot", "--ttl", "5m")
		if res.WP == nil || res.WP.Key != "NEXT-1" || res.Lease == nil || res.Lease.Agent != "bot" || res.Lease.Token != 1 {
			t.Fatalf("next --claim: got %+v, want NEXT-1 claimed by bot with token 1", res)
		}
		out := cliOK(t, url, "next", "--project", "NEXT", "--claim")
		if !strings.Contains(out, "NEXT-3") || !strings.Contains(out, "Token:") || !strings.Contains(out, "tester") {
			t.Errorf("next --claim printed %q, want NEXT-3 claimed by the --as actor", out)
		}
		if out := cliOK(t, url, "next", "--project", "NEXT", "--claim"); !strings.Contains(out, "nothing is ready in project NEXT") {
			t.Errorf("next --claim with nothing ready printed %q", out)
		}
	})

	t.Run("owner and labels", func(t *testing.T) {
		cliOK(t, url, "project", "create", "SKL", "--name", "Skills")
		cliOK(t, url, "feature", "create", "SKL", "skills", "--title", "Skills")
		cliOK(t, url, "wp", "create", "skills", "--title", "Schema", "--label", "go,db", "--owner", "ann")
		cliOK(t, url, "wp", "create", "skills", "--title", "Page", "--label", "frontend", "--owner", "bob")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--label", "frontend"}, "SKL-2"},
			{[]string{"--label", "db", "--label", "frontend", "--any-label"}, "SKL-1"},
			{[]string{"--owner", "bob"}, "SKL-2"},
			{[]string{"--owner", "ann", "--label", "go"}, "SKL-1"},
		} {
			res := cliJSON[agileplus.NextResult](t, url, append([]string{"next", "--project", "SKL"}, c.args...)...)
			if res.WP == nil || res.WP.Key != c.want {
				t.Errorf("next %v: got %+v, want %s", c.args, res.WP, c.want)
			}
		}
		res := cliJSON[agileplus.NextResult](t, url, "next", "--project", "SKL", "--label", "go", "--owner", "bob", "--claim", "--agent", "bob")
		if res.WP != nil || !strings.Contains(res.Message, "owned by bob labelled go") {
			t.Errorf("next for bob with go: got %+v, want nothing ready, naming the filters", res)
		}
		if err := cliFails(t, url, "next", "--label", "no spaces"); agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), "labels") {
			t.Errorf("bad label: got %v, want invalid naming labels", err)
		}
	})

	t.Run("bad usage", func(t *testing.T) {
		if err := cliFails(t, url, "next", "--agent", "bot"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--claim") {
			t.Errorf("--agent without --claim: got %v, want a usage error naming --claim", err)
		}
		if err := cliFails(t, url, "next", "--project", "NOPE"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("unknown project: got %v, want not found", err)
		}
	})
}
