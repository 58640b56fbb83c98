package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// graphProject builds a small project with known graph answers:
//
//	CORE-1 Schema   2h  done
//	CORE-2 API      3h  depends on CORE-1
//	CORE-3 UI       5h  depends on CORE-2
//	CORE-4 Docs     1h  depends on CORE-2
//	CORE-5 Release  1h  depends on CORE-3 and CORE-4
//	CORE-6 Spike    4h  depends on nothing
//	WEB-1  Site     2h  depends on CORE-5, in another project
//
// Open work of CORE by layer: [CORE-2 CORE-6] [CORE-3 CORE-4] [CORE-5]. Its
// critical path is CORE-2 -> CORE-3 -> CORE-5, 9h; CORE-4 has 4h of slack
// and CORE-6 5h.
func graphProject(t *testing.T) string {
	t.Helper()
	url := startTestServer(t)
	cliOK(t, url, "project", "create", "CORE", "--name", "Core")
	cliOK(t, url, "project", "create", "WEB", "--name", "Web")
	cliOK(t, url, "feature", "create", "CORE", "core-api", "--title", "API")
	cliOK(t, url, "feature", "create", "WEB", "web-site", "--title", "Site")
	for _, w := range []struct{ feature, title, est string }{
		{"core-api", "Schema", "2"}, {"core-api", "API", "3"}, {"core-api", "UI", "5"},
		{"core-api", "Docs", "1"}, {"core-api", "Release", "1"}, {"core-api", "Spike", "4"},
		{"web-site", "Site", "2"},
	} {
		cliOK(t, url, "wp", "create", w.feature, "--title", w.title, "--estimate", w.est)
	}
	for _, d := range [][2]string{
		{"CORE-2", "CORE-1"}, {"CORE-3", "CORE-2"}, {"CORE-4", "CORE-2"},
		{"CORE-5", "CORE-3"}, {"CORE-5", "CORE-4"}, {"WEB-1", "CORE-5"},
	} {
		cliOK(t, url, "dep", "add", d[0], d[1])
	}
	for _, to := range []string{"doing", "review", "done"} {
		cliOK(t, url, "wp", "move", "CORE-1", to)
	}
	return url
}

// tableRows splits a table into its lines' fields, header first.
func tableRows(out string) [][]string {
	var rs [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rs = append(rs, strings.Fields(line))
	}
	return rs
}

func graphKeys(ns []agileplus.GraphNode) []string {
	ks := []string{}
	for _, n := range ns {
		ks = append(ks, n.Key)
	}
	return ks
}

func hopKeys(hs []agileplus.GraphHop) []string {
	ks := []string{}
	for _, h := range hs {
		ks = append(ks, h.Key+"@"+strconv.Itoa(h.Depth))
	}
	return ks
}

func sameRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("%s: got rows\n%q\nwant\n%q", what, got, want)
	}
}

func TestCLIGraph(t *testing.T) {
	url := graphProject(t)

	t.Run("layers", func(t *testing.T) {
		sameRows(t, "graph layers CORE", tableRows(cliOK(t, url, "graph", "layers", "CORE")), [][]string{
			{"LAYER", "KEY", "STATE", "PRIORITY", "EST"},
			{"0", "CORE-2", "planned", "normal", "3h"},
			{"0", "CORE-6", "planned", "normal", "4h"},
			{"1", "CORE-3", "planned", "normal", "5h"},
			{"1", "CORE-4", "planned", "normal", "1h"},
			{"2", "CORE-5", "planned", "normal", "1h"},
		})
		l := cliJSON[agileplus.GraphLayers](t, url, "graph", "layers", "CORE")
		var got [][]string
		for _, layer := range l.Layers {
			got = append(got, graphKeys(layer))
		}
		want := [][]string{{"CORE-2", "CORE-6"}, {"CORE-3", "CORE-4"}, {"CORE-5"}}
		if !slices.EqualFunc(got, want, slices.Equal) || l.Open != 5 || len(l.Cyclic) != 0 {
			t.Errorf("layers --json: got %v (open %d, cyclic %v), want %v (open 5)", got, l.Open, l.Cyclic, want)
		}
		if n := l.Layers[0][0]; n.State != agileplus.WPPlanned || n.Estimate != 3 || n.FeatureID == "" || n.ProjectID == "" {
			t.Errorf("layers --json: first node %+v, want CORE-2 planned 3h with ids", n)
		}
		// WEB-1 waits on CORE-5 in layer 2, so it is in layer 3 and the
		// earlier layers of WEB are empty.
		w := cliJSON[agileplus.GraphLayers](t, url, "graph", "layers", "WEB")
		if len(w.Layers) != 4 || len(w.Layers[0]) != 0 || len(w.Layers[2]) != 0 || !slices.Equal(graphKeys(w.Layers[3]), []string{"WEB-1"}) {
			t.Errorf("layers WEB --json: got %+v, want WEB-1 alone in layer 3", w.Layers)
		}
	})

	t.Run("blockers", func(t *testing.T) {
		sameRows(t, "graph blockers CORE-5", tableRows(cliOK(t, url, "graph", "blockers", "CORE-5")), [][]string{
			{"DEPTH", "KEY", "STATE", "EST"},
			{"1", "CORE-3", "planned", "5h"},
			{"1", "CORE-4", "planned", "1h"},
		})
		r := cliJSON[agileplus.GraphReach](t, url, "graph", "blockers", "WEB-1", "--transitive")
		if got, want := hopKeys(r.WPs), []string{"CORE-5@1", "CORE-3@2", "CORE-4@2", "CORE-2@3", "CORE-1@4"}; !slices.Equal(got, want) {
			t.Errorf("blockers WEB-1 --transitive: got %v, want %v", got, want)
		}
		if r.WP.Key != "WEB-1" || r.Direction != "blockers" || r.Depth != agileplus.MaxGraphDepth || r.Truncated {
			t.Errorf("blockers WEB-1 --transitive: got wp %s, direction %q, depth %d, truncated %v", r.WP.Key, r.Direction, r.Depth, r.Truncated)
		}
		if last := r.WPs[len(r.WPs)-1]; last.State != agileplus.WPDone {
			t.Errorf("blockers list CORE-1 as %q, want done", last.State)
		}

		out, errOut, err := runCLI(t, url, "graph", "blockers", "WEB-1", "--transitive", "--depth", "2")
		if err != nil {
			t.Fatalf("blockers --depth 2: %v", err)
		}
		sameRows(t, "graph blockers WEB-1 --transitive --depth 2", tableRows(out), [][]string{
			{"DEPTH", "KEY", "STATE", "EST"},
			{"1", "CORE-5", "planned", "1h"},
			{"2", "CORE-3", "planned", "5h"},
			{"2", "CORE-4", "planned", "1h"},
		})
		if !strings.Contains(errOut, "more beyond depth 2") {
			t.Errorf("blockers --depth 2 stderr %q, want a note that more lie beyond depth 2", errOut)
		}
		if r := cliJSON[agileplus.GraphReach](t, url, "graph", "blockers", "WEB-1", "--transitive", "--depth", "2"); !r.Truncated || r.Depth != 2 || len(r.WPs) != 3 {
			t.Errorf("blockers --depth 2 --json: truncated %v, depth %d, %d WPs; want truncated, 2, 3", r.Truncated, r.Depth, len(r.WPs))
		}
		if r := cliJSON[agileplus.GraphReach](t, url, "graph", "blockers", "CORE-6"); len(r.WPs) != 0 || r.WPs == nil {
			t.Errorf("blockers CORE-6 --json: got %#v, want an empty list", r.WPs)
		}
	})

	t.Run("dependents", func(t *testing.T) {
		sameRows(t, "graph dependents CORE-2", tableRows(cliOK(t, url, "graph", "dependents", "CORE-2")), [][]string{
			{"DEPTH", "KEY", "STATE", "EST"},
			{"1", "CORE-3", "planned", "5h"},
			{"1", "CORE-4", "planned", "1h"},
		})
		r := cliJSON[agileplus.GraphReach](t, url, "graph", "dependents", "CORE-1", "--transitive", "--depth", "3")
		if got, want := hopKeys(r.WPs), []string{"CORE-2@1", "CORE-3@2", "CORE-4@2", "CORE-5@3"}; !slices.Equal(got, want) {
			t.Errorf("dependents CORE-1 --transitive --depth 3: got %v, want %v", got, want)
		}
		if r.Direction != "dependents" || !r.Truncated {
			t.Errorf("dependents --depth 3: direction %q, truncated %v; want dependents, truncated (WEB-1 is at depth 4)", r.Direction, r.Truncated)
		}
		r = cliJSON[agileplus.GraphReach](t, url, "graph", "dependents", "CORE-1", "--transitive")
		if got := hopKeys(r.WPs); len(got) != 5 || got[4] != "WEB-1@4" || r.Truncated {
			t.Errorf("dependents CORE-1 --transitive: got %v (truncated %v), want WEB-1 last at depth 4", got, r.Truncated)
		}
	})

	t.Run("path", func(t *testing.T) {
		out := cliOK(t, url, "graph", "path", "CORE-5", "CORE-1")
		if want := "CORE-5 (planned) -> CORE-3 (planned) -> CORE-2 (planned) -> CORE-1 (done)\n3 hops\n"; out != want {
			t.Errorf("graph path CORE-5 CORE-1 printed %q, want %q", out, want)
		}
		p := cliJSON[[]agileplus.GraphNode](t, url, "graph", "path", "WEB-1", "CORE-1")
		if got, want := graphKeys(p), []string{"WEB-1", "CORE-5", "CORE-3", "CORE-2", "CORE-1"}; !slices.Equal(got, want) {
			t.Errorf("path WEB-1 CORE-1 --json: got %v, want %v", got, want)
		}
		if out := cliOK(t, url, "graph", "path", "CORE-3", "CORE-2"); !strings.HasSuffix(out, "\n1 hop\n") {
			t.Errorf("graph path of a direct edge printed %q", out)
		}
	})

	t.Run("critical", func(t *testing.T) {
		out := cliOK(t, url, "graph", "critical", "--project", "CORE")
		head, table, ok := strings.Cut(out, "\n\n")
		if !ok || head != "critical path (9h): CORE-2 -> CORE-3 -> CORE-5" {
			t.Fatalf("graph critical printed\n%s\nwant a first line naming CORE-2 -> CORE-3 -> CORE-5 of 9h", out)
		}
		// Columns: KEY STATE EST EARLIEST START, LATEST START, SLACK.
		rows := [][]string{
			{"CORE-2", "planned", "3h", "0h", "0h", "0h"},
			{"CORE-3", "planned", "5h", "3h", "3h", "0h"},
			{"CORE-4", "planned", "1h", "3h", "7h", "4h"},
			{"CORE-5", "planned", "1h", "8h", "8h", "0h"},
			{"CORE-6", "planned", "4h", "0h", "5h", "5h"},
		}
		sameRows(t, "graph critical --project CORE", tableRows(table)[1:], rows)

		// Pages of two: the path line on each, a hint while more follow.
		pages := []struct {
			args []string
			rows [][]string
			hint string
		}{
			{[]string{"--limit", "2"}, rows[:2], "showing 2 of 5 open WPs; --all or --after CORE-3 for more\n"},
			{[]string{"--limit", "2", "--after", "CORE-3"}, rows[2:4], "showing 2 of 5 open WPs; --all or --after CORE-5 for more\n"},
			{[]string{"--limit", "2", "--after", "CORE-5"}, rows[4:], ""},
			{[]string{"--limit", "2", "--all"}, rows, ""},
			{[]string{"--after", "CORE-1"}, rows, ""}, // CORE-1 is done: the page starts after it all the same
		}
		for _, pg := range pages {
			args := append([]string{"graph", "critical", "--project", "CORE"}, pg.args...)
			out, errOut, err := runCLI(t, url, args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			head, table, _ := strings.Cut(out, "\n\n")
			if head != "critical path (9h): CORE-2 -> CORE-3 -> CORE-5" {
				t.Errorf("%v: got first line %q, want the whole path", args, head)
			}
			sameRows(t, strings.Join(args, " "), tableRows(table)[1:], pg.rows)
			if errOut != pg.hint {
				t.Errorf("%v: got stderr %q, want %q", args, errOut, pg.hint)
			}
		}
		all := cliJSON[agileplus.GraphCriticalPath](t, url, "graph", "critical", "--project", "CORE", "--all", "--limit", "2")
		if all.Total != 5 || len(all.WPs) != 5 || all.Next != "" || all.WPs[4].Key != "CORE-6" || len(all.Path) != 3 {
			t.Errorf("critical --all --json: got total %d, %d WPs, next %q, path %v; want every one of 5 in one object", all.Total, len(all.WPs), all.Next, graphKeys(all.Path))
		}
		page := cliJSON[agileplus.GraphCriticalPath](t, url, "graph", "critical", "--project", "CORE", "--limit", "3")
		if page.Total != 5 || len(page.WPs) != 3 || page.Next != "CORE-4" {
			t.Errorf("critical --limit 3 --json: got total %d, %d WPs, next %q; want 5, 3, CORE-4", page.Total, len(page.WPs), page.Next)
		}

		cp := cliJSON[agileplus.GraphCriticalPath](t, url, "graph", "critical", "--feature", "core-api")
		if cp.Length != 9 || !slices.Equal(graphKeys(cp.Path), []string{"CORE-2", "CORE-3", "CORE-5"}) || len(cp.WPs) != 5 {
			t.Errorf("critical --feature --json: length %v, path %v, %d WPs; want 9, [CORE-2 CORE-3 CORE-5], 5", cp.Length, graphKeys(cp.Path), len(cp.WPs))
		}
		if s := cp.WPs[2]; s.Key != "CORE-4" || s.EarliestStart != 3 || s.EarliestFinish != 4 || s.LatestStart != 7 || s.LatestFinish != 8 || s.Slack != 4 {
			t.Errorf("critical --json: CORE-4 scheduled %+v, want ES 3, EF 4, LS 7, LF 8, slack 4", s)
		}
		// Only WEB-1 is considered: edges to other projects are ignored.
		if cp := cliJSON[agileplus.GraphCriticalPath](t, url, "graph", "critical", "--project", "WEB"); cp.Length != 2 || !slices.Equal(graphKeys(cp.Path), []string{"WEB-1"}) {
			t.Errorf("critical --project WEB: length %v, path %v; want 2h, [WEB-1]", cp.Length, graphKeys(cp.Path))
		}
	})

	t.Run("impact", func(t *testing.T) {
		out := cliOK(t, url, "graph", "impact", "CORE-2")
		first, table, _ := strings.Cut(out, "\n")
		if want := "CORE-2: 4 work packages wait on it, 4 open, 9h of open work slips"; first != want {
			t.Errorf("graph impact CORE-2 first line %q, want %q", first, want)
		}
		sameRows(t, "graph impact CORE-2", tableRows(table), [][]string{
			{"DEPTH", "KEY", "STATE", "EST"},
			{"1", "CORE-3", "planned", "5h"},
			{"1", "CORE-4", "planned", "1h"},
			{"2", "CORE-5", "planned", "1h"},
			{"3", "WEB-1", "planned", "2h"},
		})
		im := cliJSON[agileplus.GraphImpact](t, url, "graph", "impact", "CORE-1", "--limit", "2")
		if im.WP.Key != "CORE-1" || im.Count != 5 || im.Open != 5 || im.Estimate != 12 || !im.Truncated {
			t.Errorf("impact CORE-1 --json: %+v, want 5 waiting, 5 open, 12h, truncated", im)
		}
		if got, want := hopKeys(im.WPs), []string{"CORE-2@1", "CORE-3@2"}; !slices.Equal(got, want) {
			t.Errorf("impact CORE-1 --limit 2: listed %v, want %v", got, want)
		}
		_, errOut, err := runCLI(t, url, "graph", "impact", "CORE-1", "--limit", "2")
		if err != nil || !strings.Contains(errOut, "2 listed of 5") {
			t.Errorf("impact --limit 2: err %v, stderr %q; want a note that 2 of 5 are listed", err, errOut)
		}
		if out := cliOK(t, url, "graph", "impact", "WEB-1"); out != "WEB-1: 0 work packages wait on it, 0 open, 0h of open work slips\n" {
			t.Errorf("impact of a leaf printed %q", out)
		}
	})

	t.Run("cycles", func(t *testing.T) {
		if out := cliOK(t, url, "graph", "cycles", "CORE"); out != "no cycles in CORE\n" {
			t.Errorf("graph cycles CORE printed %q", out)
		}
		cy := cliJSON[agileplus.GraphCycles](t, url, "graph", "cycles", "CORE")
		if cy.ProjectID == "" || cy.Cycles == nil || len(cy.Cycles) != 0 {
			t.Errorf("cycles --json: %+v, want the project id and an empty list", cy)
		}
	})

	t.Run("export", func(t *testing.T) {
		out := cliOK(t, url, "graph", "export", "CORE")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		want := []string{
			"CORE-1 [done 2h]",
			"CORE-2 [planned 3h] -> waits on: nothing (done: CORE-1)",
			"CORE-3 [planned 5h] -> waits on: CORE-2",
			"CORE-4 [planned 1h] -> waits on: CORE-2",
			"CORE-5 [planned 1h] -> waits on: CORE-3, CORE-4",
			"CORE-6 [planned 4h]",
		}
		if len(lines) != 7 || !strings.HasPrefix(lines[0], "# project CORE: 6 WPs.") || !slices.Equal(lines[1:], want) {
			t.Errorf("graph export CORE (compact) printed\n%s\nwant a header and\n%s", out, strings.Join(want, "\n"))
		}
		if out := cliOK(t, url, "graph", "export", "WEB", "--format", "compact"); !strings.Contains(out, "\nWEB-1 [planned 2h] -> waits on: CORE-5\n") {
			t.Errorf("graph export WEB printed\n%s", out)
		}

		dot := cliOK(t, url, "graph", "export", "WEB", "--format", "dot")
		for _, w := range []string{`digraph "`, `"WEB-1" [label="WEB-1\nplanned 2h"];`, `"CORE-5" [label="CORE-5\nplanned 1h", style="dashed"];`, `"CORE-5" -> "WEB-1";`} {
			if !strings.Contains(dot, w) {
				t.Errorf("export --format dot lacks %q:\n%s", w, dot)
			}
		}
		mermaid := cliOK(t, url, "graph", "export", "CORE", "--format", "mermaid")
		for _, w := range []string{"flowchart LR\n", `CORE_1["CORE-1 done 2h"]:::done`, "CORE_2 --> CORE_3", "CORE_4 --> CORE_5"} {
			if !strings.Contains(mermaid, w) {
				t.Errorf("export --format mermaid lacks %q:\n%s", w, mermaid)
			}
		}

		var x agileplus.GraphExport
		raw := cliOK(t, url, "graph", "export", "WEB", "--format", "json")
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("export --format json does not decode into GraphExport: %v\n%s", err, raw)
		}
		if got := graphKeys(x.WPs); !slices.Equal(got, []string{"WEB-1", "CORE-5"}) || len(x.Edges) != 1 ||
			x.Edges[0].FromKey != "WEB-1" || x.Edges[0].ToKey != "CORE-5" || x.Edges[0].From != x.WPs[0].ID || x.Edges[0].To != x.WPs[1].ID {
			t.Errorf("export WEB --format json: wps %v, edges %+v; want [WEB-1 CORE-5] and WEB-1 -> CORE-5", got, x.Edges)
		}
	})
}

func TestCLIGraphBadInput(t *testing.T) {
	url := graphProject(t)

	tests := []struct {
		name  string
		args  []string
		want  []string // substrings of the error
		code  string   // domain error code, "" for a command line mistake
		usage bool     // exit status 2
	}{
		{"no subcommand", []string{"graph"}, []string{"missing command", "layers", "blockers", "export"}, "", true},
		{"unknown subcommand", []string{"graph", "layer", "CORE"}, []string{`unknown command "layer"`, "did you mean layers"}, "", true},
		{"layers without project", []string{"graph", "layers"}, []string{"missing PROJECT", "usage: agileplus graph layers PROJECT"}, "", true},
		{"blockers without wp", []string{"graph", "blockers"}, []string{"missing WP"}, "", true},
		{"dependents without wp", []string{"graph", "dependents"}, []string{"missing WP"}, "", true},
		{"path without to", []string{"graph", "path", "CORE-5"}, []string{"missing TO", "usage: agileplus graph path FROM TO"}, "", true},
		{"path without both", []string{"graph", "path"}, []string{"missing FROM and TO"}, "", true},
		{"impact without wp", []string{"graph", "impact"}, []string{"missing WP"}, "", true},
		{"cycles without project", []string{"graph", "cycles"}, []string{"missing PROJECT"}, "", true},
		{"export without project", []string{"graph", "export"}, []string{"missing PROJECT"}, "", true},
		{"extra argument", []string{"graph", "layers", "CORE", "WEB"}, []string{`unexpected argument "WEB"`}, "", true},
		{"critical with an argument", []string{"graph", "critical", "CORE"}, []string{`unexpected argument "CORE"`}, "", true},
		{"critical without project or feature", []string{"graph", "critical"}, []string{"exactly one of --project and --feature"}, "", true},
		{"critical with both", []string{"graph", "critical", "--project", "CORE", "--feature", "core-api"}, []string{"exactly one of --project and --feature"}, "", true},
		{"critical with after and all", []string{"graph", "critical", "--project", "CORE", "--after", "CORE-2", "--all"}, []string{"--after or --all"}, "", true},
		{"critical after not a key", []string{"graph", "critical", "--project", "CORE", "--after", "core"}, []string{"after must be the last WP key"}, agileplus.EINVALID, true},
		{"critical limit too large", []string{"graph", "critical", "--project", "CORE", "--limit", "1001"}, []string{"--limit must be between 1 and 1000"}, "", true},
		{"bad format", []string{"graph", "export", "CORE", "--format", "png"}, []string{`unknown format "png"`, "json, dot, mermaid or compact"}, agileplus.EINVALID, true},
		{"empty format", []string{"graph", "export", "CORE", "--format", ""}, []string{"format is required"}, agileplus.EINVALID, true},
		{"depth without transitive", []string{"graph", "blockers", "CORE-5", "--depth", "2"}, []string{"--depth needs --transitive"}, "", true},
		{"depth too deep", []string{"graph", "dependents", "CORE-1", "--transitive", "--depth", "101"}, []string{"depth must be an integer between 1 and 100"}, agileplus.EINVALID, true},
		{"depth not a number", []string{"graph", "blockers", "CORE-5", "--transitive", "--depth", "deep"}, []string{"--depth"}, "", true},
		{"impact limit too large", []string{"graph", "impact", "CORE-1", "--limit", "5000"}, []string{"--limit must be between 1 and 1000"}, "", true},
		{"no path", []string{"graph", "path", "CORE-1", "CORE-5"}, []string{"no blocking path from CORE-1 to CORE-5"}, agileplus.ENOTFOUND, false},
		{"path from an unknown wp", []string{"graph", "path", "CORE-99", "CORE-1"}, []string{"CORE-99"}, agileplus.ENOTFOUND, false},
		{"unknown feature", []string{"graph", "blockers", "nope"}, []string{`no feature "nope"`}, agileplus.ENOTFOUND, false},
		{"feature depth too deep", []string{"graph", "dependents", "core-api", "--transitive", "--depth", "101"}, []string{"depth must be an integer between 1 and 100"}, agileplus.EINVALID, true},
		{"feature path to a wp", []string{"graph", "path", "core-api", "CORE-1"}, []string{"two work packages or two features"}, "", true},
		{"no feature path", []string{"graph", "path", "core-api", "web-site"}, []string{"no blocking path from feature core-api to feature web-site"}, agileplus.ENOTFOUND, false},
		{"unknown wp", []string{"graph", "impact", "CORE-99"}, []string{"CORE-99"}, agileplus.ENOTFOUND, false},
		{"unknown project", []string{"graph", "layers", "NOPE"}, []string{"NOPE"}, agileplus.ENOTFOUND, false},
		{"unknown feature", []string{"graph", "critical", "--feature", "nope"}, []string{"nope"}, agileplus.ENOTFOUND, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cliFails(t, url, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.code != "" && agileplus.ErrorCode(err) != tt.code {
				t.Errorf("error %q has code %s, want %s", err, agileplus.ErrorCode(err), tt.code)
			}
			if got, want := exitCode(err) == 2, tt.usage; got != want {
				t.Errorf("exit code %d for %q, want usage status: %v", exitCode(err), err, want)
			}
		})
	}
}

// TestCLIGraphFeatures asks the feature variants of blockers, dependents,
// impact and path. On top of graphProject (web-site waits on core-api
// through WEB-1 -> CORE-5), core-docs depends_on web-site at feature level
// and has no WPs, and misc only relates to core-api.
func TestCLIGraphFeatures(t *testing.T) {
	url := graphProject(t)
	cliOK(t, url, "feature", "create", "CORE", "core-docs", "--title", "Docs")
	cliOK(t, url, "feature", "create", "WEB", "misc", "--title", "Misc")
	cliOK(t, url, "dep", "add", "core-docs", "web-site")
	cliOK(t, url, "dep", "add", "misc", "core-api", "--kind", "relates_to")

	sameRows(t, "graph blockers core-docs --transitive", tableRows(cliOK(t, url, "graph", "blockers", "core-docs", "--transitive")), [][]string{
		{"DEPTH", "FEATURE", "OPEN", "OPEN", "EST"},
		{"1", "web-site", "1", "2h"},
		{"2", "core-api", "5", "14h"},
	})
	out, errOut, err := runCLI(t, url, "graph", "blockers", "core-docs", "--transitive", "--depth", "1")
	if err != nil || !strings.Contains(errOut, "more beyond depth 1") {
		t.Errorf("blockers core-docs --depth 1: err %v, stderr %q; want a note that there is more", err, errOut)
	}
	sameRows(t, "graph blockers core-docs --transitive --depth 1", tableRows(out), [][]string{
		{"DEPTH", "FEATURE", "OPEN", "OPEN", "EST"},
		{"1", "web-site", "1", "2h"},
	})
	sameRows(t, "graph dependents core-api", tableRows(cliOK(t, url, "graph", "dependents", "core-api")), [][]string{
		{"DEPTH", "FEATURE", "OPEN", "OPEN", "EST"},
		{"1", "web-site", "1", "2h"},
	})
	r := cliJSON[agileplus.GraphFeatureReach](t, url, "graph", "dependents", "core-api", "--transitive")
	var got []string
	for _, h := range r.Features {
		got = append(got, h.Slug+"@"+strconv.Itoa(h.Depth))
	}
	if !slices.Equal(got, []string{"web-site@1", "core-docs@2"}) || r.Feature.Slug != "core-api" || r.Feature.Open != 5 || r.Feature.OpenEstimate != 14 ||
		r.Direction != "dependents" || r.Truncated {
		t.Errorf("dependents core-api --transitive --json: got %v, %+v", got, r)
	}

	im := cliOK(t, url, "graph", "impact", "core-api")
	if !strings.HasPrefix(im, "core-api: 2 features wait on it, 1 with open work, 2h of open work slips\n") {
		t.Errorf("impact core-api: got\n%s", im)
	}
	if p := cliOK(t, url, "graph", "path", "core-docs", "core-api"); p != "core-docs (0 open) -> web-site (1 open) -> core-api (5 open)\n2 hops\n" {
		t.Errorf("path core-docs core-api: got %q", p)
	}
	fp := cliJSON[[]agileplus.GraphFeatureNode](t, url, "graph", "path", "web-site", "core-api")
	if len(fp) != 2 || fp[0].Slug != "web-site" || fp[1].Slug != "core-api" {
		t.Errorf("path web-site core-api --json: got %+v", fp)
	}
	err = cliFails(t, url, "graph", "path", "misc", "core-api")
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND || !strings.Contains(err.Error(), "no blocking path") {
		t.Errorf("path misc core-api (relates_to only): got %v, want no blocking path", err)
	}
	// WP keys still ask about WPs.
	if out := cliOK(t, url, "graph", "impact", "CORE-5"); !strings.HasPrefix(out, "CORE-5: 1 work packages wait on it") {
		t.Errorf("impact CORE-5: got\n%s", out)
	}
}
