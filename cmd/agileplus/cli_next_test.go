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

	t.Run("bad usage", func(t *testing.T) {
		if err := cliFails(t, url, "next", "--agent", "bot"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--claim") {
			t.Errorf("--agent without --claim: got %v, want a usage error naming --claim", err)
		}
		if err := cliFails(t, url, "next", "--project", "NOPE"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("unknown project: got %v, want not found", err)
		}
	})
}
