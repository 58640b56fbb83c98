package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
)

// Bad input to the CLI: each is refused with a message in the CLI's words
// (flags, not API fields) and the exit status main gives.

// mainResult is what a user of the binary sees: both streams, stderr ending
// with the line main prints for an error, and the exit status.
type mainResult struct {
	stdout, stderr string
	code           int
}

// runMain runs the CLI in-process as main does, with only env in the
// environment.
func runMain(t *testing.T, env map[string]string, args ...string) mainResult {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), append([]string{"agileplus"}, args...), getenv, strings.NewReader(""), &out, &errb)
	r := mainResult{stdout: out.String()}
	if err != nil {
		r.code = report(&errb, err)
	}
	r.stderr = errb.String()
	return r
}

// against runs a client command against url as the user tester.
func against(t *testing.T, url string, args ...string) mainResult {
	t.Helper()
	return runMain(t, nil, append([]string{"--server", url, "--as", "tester"}, args...)...)
}

// deadServer returns the URL of a port nothing listens on.
func deadServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

func TestCLIUsageErrorsExit2(t *testing.T) {
	dead := deadServer(t)
	maxSeq := strconv.FormatUint(math.MaxUint64, 10)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of stderr
	}{
		{"unknown root flag", nil, []string{"--bogus"}, []string{"unknown flag: --bogus"}},
		{"unknown serve flag", nil, []string{"serve", "--bogus"}, []string{"unknown flag: --bogus", "agileplus serve"}},
		{"unknown migrate flag", nil, []string{"migrate", "--bogus"}, []string{"unknown flag: --bogus"}},
		{"export two files", nil, []string{"--server", dead, "export", "a", "b"}, []string{`unexpected argument "b"`}},
		{"discard nothing", nil, []string{"--server", dead, "deadletters", "discard"}, []string{"missing SEQ", "usage: agileplus deadletters discard SEQ..."}},
		{"discard checks every seq first", nil, []string{"--server", dead, "deadletters", "discard", "2", "abc"}, []string{`"abc" is not a dead letter seq`}},
		{"help on nothing", nil, []string{"help", "bogus"}, []string{`unknown help topic "bogus"`}},
		{"help on no subcommand", nil, []string{"help", "project", "lst"}, []string{`unknown help topic "project lst"`, "did you mean list?"}},
		{"completion for no shell", nil, []string{"completion", "bogus"}, []string{`unknown command "bogus"`, "bash"}},
		{"version takes no argument", nil, []string{"version", "extra"}, []string{`unexpected argument "extra"`}},
		{"webhook list takes no argument", nil, []string{"--server", dead, "webhook", "list", "extra"}, []string{`unexpected argument "extra"`}},
		{"serve takes no argument", nil, []string{"serve", "extra"}, []string{`unexpected argument "extra"`}},
		{"typo in a subcommand", nil, []string{"project", "lst"}, []string{`unknown command "lst"`, "did you mean list?"}},
		{"transposed subcommand", nil, []string{"wp", "mvoe"}, []string{`unknown command "mvoe"`, "did you mean move?"}},
		{"typo in a command", nil, []string{"prject"}, []string{`unknown command "prject"`, "did you mean project?"}},

		{"NaN estimate", nil, []string{"--server", dead, "wp", "create", "f", "--title", "t", "--estimate", "NaN"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"Inf estimate", nil, []string{"--server", dead, "wp", "create", "f", "--title", "t", "--estimate", "Inf"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"+Inf estimate", nil, []string{"--server", dead, "wp", "create", "f", "--title", "t", "--estimate", "+Inf"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"-Inf estimate", nil, []string{"--server", dead, "wp", "update", "X-1", "--estimate", "-Inf"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"NaN estimate update", nil, []string{"--server", dead, "wp", "update", "X-1", "--estimate", "NaN"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"huge estimate", nil, []string{"--server", dead, "wp", "update", "X-1", "--estimate", "20001"}, []string{"--estimate must be a number of hours between 0 and 20000"}},
		{"negative if-version", nil, []string{"--server", dead, "wp", "update", "X-1", "--title", "t", "--if-version", "-5"}, []string{"--if-version must be a version, 1 or more"}},
		{"zero if-version", nil, []string{"--server", dead, "project", "update", "X", "--name", "n", "--if-version", "0"}, []string{"--if-version must be"}},
		{"ttl too long", nil, []string{"--server", dead, "claim", "take", "X-1", "--agent", "a", "--ttl", "10000h"}, []string{"--ttl 10000h is too long", "1s to 168h"}},
		{"ref without flags", nil, []string{"--server", dead, "wp", "ref", "X-1"}, []string{"missing --sha and --repo (a commit) or --pr (a pull request)"}},
		{"ref with only repo", nil, []string{"--server", dead, "wp", "ref", "X-1", "--repo", "r"}, []string{"missing --sha and --repo (a commit) or --pr (a pull request)"}},
		{"ref with sha and pr", nil, []string{"--server", dead, "wp", "ref", "X-1", "--sha", "abcdef1", "--repo", "r", "--pr", "https://x/p/1"}, []string{"--sha and --repo for a commit, or --pr for a pull request, not both"}},
		{"ref sha without repo", nil, []string{"--server", dead, "wp", "ref", "X-1", "--sha", "abcdef1"}, []string{"--sha needs --repo"}},
		{"graph export json and dot", nil, []string{"--server", dead, "graph", "export", "CORE", "--format", "dot", "--json"}, []string{"--json", "--format dot"}},
		{"dead letters after the last seq", nil, []string{"--server", dead, "deadletters", "list", "--after", maxSeq}, []string{"--after must be a seq from 0 to 18446744073709551614"}},
		{"deliveries after the last seq", nil, []string{"--server", dead, "webhook", "deliveries", "whk_x", "--after", maxSeq}, []string{"--after must be a seq"}},
		{"zero limit", nil, []string{"--server", dead, "deadletters", "list", "--limit", "0"}, []string{"--limit must be between 1 and 1000"}},
		{"zero page limit", nil, []string{"--server", dead, "project", "list", "--limit", "0"}, []string{"--limit must be between 1 and 1000"}},
		{"big limit", nil, []string{"--server", dead, "events", "--limit", "1001"}, []string{"--limit must be between 1 and 1000"}},

		{"server without scheme", map[string]string{"AGILEPLUS_SERVER": "127.0.0.1:18932"}, []string{"project", "list"}, []string{"bad server URL", "AGILEPLUS_SERVER"}},
		{"server not a URL", map[string]string{"AGILEPLUS_SERVER": "notaurl"}, []string{"project", "list"}, []string{"bad server URL", "AGILEPLUS_SERVER"}},
		{"ftp server", nil, []string{"--server", "ftp://127.0.0.1/", "project", "list"}, []string{"bad server URL", "--server", `"ftp"`}},
		{"server without host", nil, []string{"--server", "http://", "project", "list"}, []string{"bad server URL", "no host"}},
		{"empty server", nil, []string{"--server", "", "project", "list"}, []string{"bad server URL", "empty"}},
		{"server with a query", nil, []string{"--server", dead + "/?x=1", "project", "list"}, []string{"bad server URL", "query"}},
		{"server with a fragment", nil, []string{"--server", dead + "/#top", "project", "list"}, []string{"bad server URL", "fragment"}},
		{"bad server for tail", nil, []string{"--server", "ftp://x", "events", "tail"}, []string{"bad server URL"}},
		{"actor with a newline", nil, []string{"--server", dead, "--as", "bad\nactor", "project", "list"}, []string{"--as", "control character"}},
		{"actor from the environment", map[string]string{"AGILEPLUS_ACTOR": "bad\x7factor"}, []string{"--server", dead, "project", "list"}, []string{"--as", "AGILEPLUS_ACTOR"}},
		{"long actor", nil, []string{"--server", dead, "--as", strings.Repeat("x", 201), "project", "list"}, []string{"--as", "201 bytes", "at most 200"}},
		{"import a directory", nil, []string{"--server", dead, "import", t.TempDir()}, []string{"is a directory", "import file"}},
		{"subcommand typo", nil, []string{"--server", dead, "graph", "expor"}, []string{`unknown command "expor" for "agileplus graph"; did you mean export? (usage:`}},
		{"import a missing file", nil, []string{"--server", dead, "import", filepath.Join(t.TempDir(), "nope.jsonl")}, []string{"nope.jsonl", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMain(t, tt.env, tt.args...)
			if r.code != 2 {
				t.Errorf("exit status %d, want 2\nstderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if n := strings.Count(r.stderr, "did you mean"); n > 1 {
				t.Errorf("%d suggestions:\n%s", n, r.stderr)
			}
			for _, bad := range []string{"cannot reach", "agileplus: agileplus", "Unknown help topic", "Usage:"} {
				if strings.Contains(r.stderr, bad) {
					t.Errorf("stderr has %q:\n%s", bad, r.stderr)
				}
			}
		})
	}
}

func TestCLIVersionJSON(t *testing.T) {
	r := runMain(t, nil, "--json", "version")
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] != version {
		t.Errorf("--json version printed %q (%v), want {\"version\": %q}", r.stdout, err, version)
	}
	if r := runMain(t, nil, "version"); r.stdout != "agileplus "+version+"\n" {
		t.Errorf("version printed %q", r.stdout)
	}
}

func TestCLIRefusalsInFlagWords(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "CORE", "--name", "Core")
	cliOK(t, url, "feature", "create", "CORE", "core-api", "--title", "API")
	cliOK(t, url, "wp", "create", "core-api", "--title", "One")
	cliOK(t, url, "wp", "create", "core-api", "--title", "Two")
	cliOK(t, url, "dep", "add", "CORE-1", "CORE-2")

	tests := []struct {
		name string
		args []string
		code int
		want []string
		not  []string
	}{
		{"force hint", []string{"wp", "move", "CORE-1", "doing"}, 1, []string{"--force --reason"}, []string{"pass force with a reason"}},
		{"dep list of no feature", []string{"dep", "list", "nope"}, 1, []string{`feature "nope" not found`}, []string{"no feature", "ref:"}},
		{"dep list of no work package", []string{"dep", "list", "CORE-99"}, 1, []string{`work package "CORE-99" not found`}, []string{"no work package"}},
		{"pull request URL", []string{"wp", "ref", "CORE-1", "--pr", "ftp://example.com/pr/1"}, 2, []string{"(--pr)"}, []string{"field url"}},
		{"commit sha", []string{"wp", "ref", "CORE-1", "--sha", "xyz", "--repo", "r"}, 2, []string{"(--sha)"}, []string{"field sha"}},
		{"NaN estimate", []string{"wp", "create", "core-api", "--title", "t", "--estimate", "NaN"}, 2, []string{"--estimate"}, []string{"json", "encode"}},
		{"ttl too long", []string{"claim", "take", "CORE-1", "--ttl", "200h"}, 2, []string{"--ttl 200h is too long: a lease lasts 1s to 168h"}, []string{"ttl_seconds"}},
		{"negative if-version", []string{"wp", "update", "CORE-1", "--title", "x", "--if-version", "-5"}, 2, []string{"--if-version"}, []string{"If-Match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := against(t, url, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", r.code, tt.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(r.stderr, n) {
					t.Errorf("stderr has %q:\n%s", n, r.stderr)
				}
			}
		})
	}
	if ws := cliItems[*agileplus.WP](t, url, "wp", "list", "--project", "CORE"); len(ws) != 2 {
		t.Errorf("%d work packages after the refusals, want 2", len(ws))
	}
}

func TestCLIImportRefusal(t *testing.T) {
	url := startTestServer(t)
	dir := t.TempDir()
	write := func(name string, lines int) string {
		path := filepath.Join(dir, name)
		b := bytes.Repeat([]byte(`{"type":"bogus"}`+"\n"), lines)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("more problems than listed", func(t *testing.T) {
		r := against(t, url, "import", write("many.jsonl", agileplus.MaxImportProblems+50))
		if r.code != 2 {
			t.Errorf("exit status %d, want 2 (invalid input)", r.code)
		}
		if want := fmt.Sprintf("at least %d problems; the first %d:", agileplus.MaxImportProblems, agileplus.MaxImportProblems); !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
		if n := strings.Count(r.stderr, "\nline "); n != agileplus.MaxImportProblems {
			t.Errorf("%d problem lines, want %d", n, agileplus.MaxImportProblems)
		}
		if strings.Contains(r.stderr, "\r") {
			t.Errorf("progress line on a stderr that is not a terminal:\n%q", r.stderr[:min(200, len(r.stderr))])
		}
	})
	t.Run("one problem", func(t *testing.T) {
		r := against(t, url, "import", write("one.jsonl", 1))
		if r.code != 2 || !strings.Contains(r.stderr, "1 problem:") || strings.Contains(r.stderr, "at least") {
			t.Errorf("exit status %d, stderr:\n%s\nwant 2 and 1 problem", r.code, r.stderr)
		}
	})
	// Well-formed records the store contradicts: the server answers 409,
	// and the CLI exits as for any refused file.
	t.Run("in conflict", func(t *testing.T) {
		path := filepath.Join(dir, "conflict.jsonl")
		if err := os.WriteFile(path, []byte(`{"type":"feature","project":"NOPE","slug":"orphan","title":"Orphan"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := against(t, url, "import", path)
		if r.code != 2 || !strings.Contains(r.stderr, "1 problem:") || !strings.Contains(r.stderr, `line 1: feature orphan: no project "NOPE"`) {
			t.Errorf("exit status %d, stderr:\n%s\nwant 2 and the problem of line 1", r.code, r.stderr)
		}
	})
}

func TestCLIExportKeepsFileOnFailure(t *testing.T) {
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "EXP", "--name", "Export")
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.jsonl")
	const old = "the previous export\n"
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	onlyFile := func(t *testing.T) {
		t.Helper()
		es, _ := os.ReadDir(dir)
		if len(es) != 1 || es[0].Name() != "plan.jsonl" {
			var names []string
			for _, e := range es {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %v, want only plan.jsonl", names)
		}
	}

	t.Run("server down", func(t *testing.T) {
		r := against(t, deadServer(t), "export", file)
		if r.code != 1 || !strings.Contains(r.stderr, "cannot reach") {
			t.Errorf("exit status %d, stderr:\n%s\nwant 1 and cannot reach", r.code, r.stderr)
		}
		if b, _ := os.ReadFile(file); string(b) != old {
			t.Errorf("after a failed export the file holds %q, want %q", b, old)
		}
		onlyFile(t)
	})
	t.Run("succeeds", func(t *testing.T) {
		if r := against(t, url, "export", file); r.code != 0 {
			t.Fatalf("export: exit status %d\n%s", r.code, r.stderr)
		}
		b, _ := os.ReadFile(file)
		if !strings.HasPrefix(string(b), `{"type":"project","key":"EXP"`) {
			t.Errorf("exported file starts %q", b[:min(80, len(b))])
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("exported file mode %v (%v), want the old file's 0600", st.Mode(), err)
		}
		onlyFile(t)
	})
	t.Run("to a directory", func(t *testing.T) {
		if r := against(t, url, "export", dir); r.code != 2 || !strings.Contains(r.stderr, "is a directory") {
			t.Errorf("exit status %d, stderr:\n%s\nwant 2 and is a directory", r.code, r.stderr)
		}
	})
	t.Run("through a symlink", func(t *testing.T) {
		other := t.TempDir()
		target := filepath.Join(other, "real.jsonl")
		if err := os.WriteFile(target, []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(other, "link.jsonl")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if r := against(t, url, "export", link); r.code != 0 {
			t.Fatalf("export: exit status %d\n%s", r.code, r.stderr)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symlink was replaced: %v %v", st.Mode(), err)
		}
		if b, _ := os.ReadFile(target); !strings.HasPrefix(string(b), `{"type":"project"`) {
			t.Errorf("the link's target holds %q", b[:min(80, len(b))])
		}
	})
	t.Run("to a pipe", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte)
		go func() {
			b, _ := os.ReadFile(fifo) // blocks until the export opens it
			got <- b
		}()
		if r := against(t, url, "export", fifo); r.code != 0 {
			t.Fatalf("export: exit status %d\n%s", r.code, r.stderr)
		}
		if b := <-got; !strings.HasPrefix(string(b), `{"type":"project"`) {
			t.Errorf("the reader got %q", b[:min(80, len(b))])
		}
		if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the pipe was replaced: %v %v", st.Mode(), err)
		}
	})
	t.Run("new file follows the umask", func(t *testing.T) {
		old := syscall.Umask(0o077)
		defer syscall.Umask(old)
		file := filepath.Join(t.TempDir(), "new.jsonl")
		if r := against(t, url, "export", file); r.code != 0 {
			t.Fatalf("export: exit status %d\n%s", r.code, r.stderr)
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("new export file mode %v (%v), want 0600 under umask 077", st.Mode(), err)
		}
	})
}

func TestCLIDeadLettersInput(t *testing.T) {
	url := startTestServerIn(t, t.TempDir(), "--consumer-max-deliver", "1", "--consumer-backoff", "50ms")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	cliOK(t, url, "webhook", "create", failing.URL+"/hook")
	cliOK(t, url, "project", "create", "DL", "--name", "Dead letters")
	cliOK(t, url, "feature", "create", "DL", "dl-feature", "--title", "F")
	for range 3 {
		cliOK(t, url, "wp", "create", "dl-feature", "--title", "W")
	}
	var seqs []string
	poll.Until(t, "4 dead letters", func() bool {
		seqs = seqs[:0]
		for _, d := range cliItems[*agileplus.DeadLetter](t, url, "deadletters", "list") {
			seqs = append(seqs, strconv.FormatUint(d.Seq, 10))
		}
		return len(seqs) >= 4
	})
	listed := func() []string {
		var ss []string
		for _, d := range cliItems[*agileplus.DeadLetter](t, url, "deadletters", "list") {
			ss = append(ss, strconv.FormatUint(d.Seq, 10))
		}
		return ss
	}

	t.Run("a bad seq stops everything", func(t *testing.T) {
		r := against(t, url, "deadletters", "discard", seqs[0], "abc")
		if r.code != 2 || !strings.Contains(r.stderr, `"abc"`) {
			t.Errorf("exit status %d, stderr:\n%s\nwant 2 naming abc", r.code, r.stderr)
		}
		if !slices.Contains(listed(), seqs[0]) {
			t.Errorf("dead letter %s was discarded before abc was refused", seqs[0])
		}
	})
	t.Run("discard tries every seq", func(t *testing.T) {
		r := against(t, url, "deadletters", "discard", seqs[0], "999999", seqs[1])
		if r.code != 1 {
			t.Errorf("exit status %d, want 1", r.code)
		}
		if want := "discarded " + seqs[0] + "\ndiscarded " + seqs[1] + "\n"; r.stdout != want {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 2 || lines[0] != "agileplus: dead letter 999999 not found" || !strings.Contains(lines[1], "2 of 3 dead letters discarded") {
			t.Errorf("stderr:\n%s\nwant one line for 999999, then the count", r.stderr)
		}
		if l := listed(); slices.Contains(l, seqs[0]) || slices.Contains(l, seqs[1]) {
			t.Errorf("dead letters left %v, want %s and %s discarded", l, seqs[0], seqs[1])
		}
	})
	t.Run("discard --json prints numbers", func(t *testing.T) {
		r := against(t, url, "deadletters", "discard", seqs[2], "--json")
		var got struct {
			Discarded []uint64 `json:"discarded"`
		}
		want, _ := strconv.ParseUint(seqs[2], 10, 64)
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !slices.Equal(got.Discarded, []uint64{want}) {
			t.Errorf("discard --json printed %s (%v), want discarded [%d]", r.stdout, err, want)
		}
	})
	t.Run("redrive of missing dead letters", func(t *testing.T) {
		r := against(t, url, "deadletters", "redrive", "999", "998")
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit status %d, stdout %q; want 1 and no table", r.code, r.stdout)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 2 {
			t.Fatalf("stderr:\n%s\nwant a line per seq", r.stderr)
		}
		for i, seq := range []string{"999", "998"} {
			l := lines[i]
			if !strings.HasPrefix(l, "agileplus: dead letter "+seq+" not found") || strings.Count(l, "dead letter") != 1 || strings.Contains(l, "not_found") {
				t.Errorf("line %d: %q, want one clear not found for %s", i+1, l, seq)
			}
		}
	})
	t.Run("redrive of one missing and one present", func(t *testing.T) {
		r := against(t, url, "deadletters", "redrive", "999", seqs[3])
		if r.code != 1 || !strings.Contains(r.stdout, "0 re-driven, 1 failed, 1 could not be re-driven") {
			t.Errorf("exit status %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestCLINotAgilePlusServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(other.Close)
	for _, args := range [][]string{
		{"project", "create", "QQ", "--name", "x"},
		{"project", "show", "QQ"},
		{"wp", "show", "QQ-1"},
		{"feature", "create", "QQ", "qq", "--title", "x"},
		{"claim", "take", "QQ-1"},
		{"webhook", "create", "http://example.com/hook"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			r := against(t, other.URL, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "did not answer like an AgilePlus server") || strings.Contains(r.stdout, "created") {
				t.Errorf("exit status %d\nstdout:\n%s\nstderr:\n%s\nwant an error saying it is not an AgilePlus server", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// With --json an error is one JSON object on stderr, {"error":{"code",
// "message","field"}}, with the exit status of the same error without it;
// messages name the CLI's flags and arguments, not the API's fields.
func TestCLIErrorsAsJSON(t *testing.T) {
	url := startTestServer(t)
	against(t, url, "project", "create", "JE", "--name", "JSON errors")
	against(t, url, "feature", "create", "JE", "je", "--title", "T")
	against(t, url, "wp", "create", "je", "--title", "W")
	tests := []struct {
		name      string
		args      []string
		code      int
		errCode   string
		field     string
		inMessage string
	}{
		{"state machine", []string{"wp", "move", "JE-1", "done"}, 1, "rule", "STATE", "wp JE-1 cannot move from planned to done: from planned it can move to doing or blocked"},
		{"not found", []string{"wp", "show", "JE-99"}, 1, "not_found", "WP", "JE-99"},
		{"bad flag value", []string{"wp", "create", "je", "--title", "x", "--priority", "soon"}, 2, "invalid", "--priority", "priority"},
		{"usage", []string{"wp", "show"}, 2, "usage", "", "WP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := against(t, url, tt.args...)
			js := against(t, url, append([]string{"--json"}, tt.args...)...)
			if plain.code != tt.code || js.code != tt.code {
				t.Fatalf("exit %d plain, %d with --json; want %d both\nplain: %s\njson: %s", plain.code, js.code, tt.code, plain.stderr, js.stderr)
			}
			if !strings.Contains(plain.stderr, tt.inMessage) {
				t.Errorf("plain stderr %q does not say %q", plain.stderr, tt.inMessage)
			}
			var body struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			lines := strings.Split(strings.TrimSpace(js.stderr), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &body); err != nil {
				t.Fatalf("--json stderr is not JSON: %q", js.stderr)
			}
			if body.Error.Code != tt.errCode || body.Error.Field != tt.field || !strings.Contains(body.Error.Message, tt.inMessage) {
				t.Errorf("--json error = %+v, want code %s, field %q, a message with %q", body.Error, tt.errCode, tt.field, tt.inMessage)
			}
			if strings.Contains(js.stderr, "agileplus:") {
				t.Errorf("--json also printed the plain line: %q", js.stderr)
			}
		})
	}
}

// A server nobody answers on: the message says how to start one.
func TestCLIUnreachableServerSuggestsServe(t *testing.T) {
	r := against(t, deadServer(t), "project", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach the server") || !strings.Contains(r.stderr, "agileplus serve") {
		t.Errorf("exit %d, stderr %q; want 1 and a hint to run agileplus serve", r.code, r.stderr)
	}
}
