package main

import (
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestCLIFlags(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "FLG", "--name", "Flags")
	cliOK(t, url, "feature", "create", "FLG", "flg-feature", "--title", "Feature")
	cliOK(t, url, "wp", "create", "flg-feature", "--title", "One")
	cliOK(t, url, "wp", "create", "flg-feature", "--title", "Two")

	t.Run("list and get the defaults", func(t *testing.T) {
		out := cliOK(t, url, "flag", "list")
		for _, want := range []string{"NAME", "SOURCE", agileplus.FlagMaxClaimsPerAgent, agileplus.FlagRequireReview, "default"} {
			if !strings.Contains(out, want) {
				t.Errorf("flag list lacks %q:\n%s", want, out)
			}
		}
		if out := cliOK(t, url, "flag", "get", agileplus.FlagRequireReview); out != "true\n" {
			t.Errorf("flag get printed %q, want true", out)
		}
		fs := cliJSON[agileplus.FlagSet](t, url, "flag", "list", "--project", "FLG")
		if fs.Project != "FLG" || len(fs.Flags) != len(agileplus.FlagDefs) {
			t.Errorf("flag list --json: got %+v", fs)
		}
	})

	t.Run("set globally and in a project", func(t *testing.T) {
		if out := cliOK(t, url, "flag", "set", agileplus.FlagMaxClaimsPerAgent, "1"); !strings.Contains(out, agileplus.FlagMaxClaimsPerAgent+" is 1 globally (global)") {
			t.Errorf("flag set printed %q", out)
		}
		f := cliJSON[agileplus.Flag](t, url, "flag", "set", agileplus.FlagRequireReview, "false", "--project", "FLG")
		if string(f.Value) != "false" || f.Source != agileplus.FlagFromProject {
			t.Errorf("flag set --json: got %+v", f)
		}
		if out := cliOK(t, url, "flag", "get", agileplus.FlagMaxClaimsPerAgent, "--project", "FLG"); out != "1\n" {
			t.Errorf("flag get --project printed %q, want the global 1", out)
		}
		cliOK(t, url, "claim", "take", "FLG-1", "--agent", "bot")
		err := cliFails(t, url, "claim", "take", "FLG-2", "--agent", "bot")
		if !strings.Contains(err.Error(), agileplus.FlagMaxClaimsPerAgent) {
			t.Errorf("claim over the limit: got %v, want the flag named", err)
		}
		cliOK(t, url, "flag", "unset", agileplus.FlagMaxClaimsPerAgent)
		cliOK(t, url, "claim", "take", "FLG-2", "--agent", "bot")
		if out := cliOK(t, url, "flag", "get", agileplus.FlagMaxClaimsPerAgent); out != "0\n" {
			t.Errorf("after unset: got %q, want the default 0", out)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"flag", "set", "wip.nope", "1"}, "NAME"},
			{[]string{"flag", "set", agileplus.FlagMaxDoingPerProject, "-1"}, "VALUE"},
			{[]string{"flag", "set", agileplus.FlagRequireReview, "yes"}, "VALUE"},
			{[]string{"flag", "get", "nope"}, "NAME"},
			{[]string{"flag", "unset", "nope"}, "NAME"},
		} {
			err := cliFails(t, url, tt.args...)
			if !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
				t.Errorf("%v: got %v (exit %d), want a usage error naming %s", tt.args, err, exitCode(err), tt.want)
			}
		}
		if err := cliFails(t, url, "flag", "list", "--project", "NOPE"); !strings.Contains(err.Error(), "NOPE") {
			t.Errorf("unknown project: got %v", err)
		}
	})
}
