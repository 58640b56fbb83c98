package agileplus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// Bad input to the bulk import: each is refused, naming what is wrong in
// the words of the file; a malformed record as EINVALID, a file of
// well-formed records that contradicts itself or the store as ECONFLICT
// (TestImportErrorCode).

func openImportService(t *testing.T) *agileplus.Service {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return agileplus.NewService(s)
}

func mustImport(t *testing.T, svc *agileplus.Service, file string, opts agileplus.ImportOptions) *agileplus.ImportResult {
	t.Helper()
	res, err := svc.BulkImport(context.Background(), strings.NewReader(file), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

// importProblems imports file and returns the problems it is refused with;
// it fails t if the file is not refused with an ImportError.
func importProblems(t *testing.T, svc *agileplus.Service, file string, opts agileplus.ImportOptions) []agileplus.ImportProblem {
	t.Helper()
	_, err := svc.BulkImport(context.Background(), strings.NewReader(file), opts)
	var ie *agileplus.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an import error", err)
	}
	return ie.Problems
}

// hasProblem fails t unless one of probs is at line, names field and says
// msg (a substring).
func hasProblem(t *testing.T, probs []agileplus.ImportProblem, line int, field, msg string) {
	t.Helper()
	for _, p := range probs {
		if p.Line == line && p.Field == field && strings.Contains(p.Message, msg) {
			return
		}
	}
	t.Fatalf("got problems %+v, want one at line %d, field %q, saying %q", probs, line, field, msg)
}

const importBase = `{"type":"project","key":"CORE","name":"Core"}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth"}
{"type":"wp","key":"CORE-1","feature":"auth","title":"One"}
{"type":"wp","key":"CORE-2","feature":"auth","title":"Two"}
`

func TestParseRecordsUnreadableBody(t *testing.T) {
	lines := `{"type":"project","key":"CORE","name":"Core"}` + "\n" + `{"type":"proj`
	for _, readErr := range []error{io.ErrUnexpectedEOF, &http.MaxBytesError{Limit: 10}} {
		t.Run(readErr.Error(), func(t *testing.T) {
			_, _, err := agileplus.ParseRecords(io.MultiReader(strings.NewReader(lines), iotest.ErrReader(readErr)))
			if got := agileplus.ErrorCode(err); got != agileplus.EINVALID {
				t.Fatalf("got code %q (%v), want %q", got, err, agileplus.EINVALID)
			}
			if got := agileplus.ErrorField(err); got != "body" {
				t.Fatalf("got field %q, want body", got)
			}
			if got, want := agileplus.ErrorMessage(err), "cannot read the body: "+readErr.Error(); got != want {
				t.Fatalf("got message %q, want %q", got, want)
			}
			if !errors.Is(err, readErr) {
				t.Fatalf("got %v, want it to unwrap to the read error", err)
			}
			// The HTTP handler reports an oversized body by this.
			var big *http.MaxBytesError
			if _, isBig := readErr.(*http.MaxBytesError); isBig && !errors.As(err, &big) {
				t.Fatalf("got %v, want it to unwrap to *http.MaxBytesError", err)
			}
		})
	}
	t.Run("through BulkImport", func(t *testing.T) {
		svc := openImportService(t)
		_, err := svc.BulkImport(context.Background(), io.MultiReader(strings.NewReader(lines), iotest.ErrReader(io.ErrUnexpectedEOF)), agileplus.ImportOptions{})
		if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != "body" {
			t.Fatalf("got %v, want EINVALID naming the body", err)
		}
	})
}

func TestParseRecordsProblemWords(t *testing.T) {
	tests := []struct {
		line, field, msg string
	}{
		{`{"type":1}`, "type", "type must be a string, not a number"},
		{`{"type":"wp","key":["CORE-1"]}`, "key", "key must be a string, not an array"},
		{`{"type":"project","name":{"x":1}}`, "name", "name must be a string, not an object"},
		{`{"type":true}`, "type", "type must be a string, not a boolean"},
		{`{"type":"wp","estimate":"3"}`, "estimate", "estimate must be a number, not a string"},
		{`{"type":"wp","estimate":1e400}`, "estimate", "estimate is out of range: 1e400"},
		{`[]`, "", "a line must be a JSON object, not an array"},
		{`12`, "", "a line must be a JSON object, not a number"},
		{`"text"`, "", "a line must be a JSON object, not a string"},
		{`{"type":"project","key":"A","nope":1}`, "nope", `"nope" is not a field of a project record`},
		{`{"nope":1,"type":"wp"}`, "nope", `"nope" is not a field of a wp record`},
		{`{"nope":1}`, "nope", `"nope" is not a field of any record`},
		{`{"type":"project",`, "", "not a valid record: the line ends inside the JSON value"},
		{`{not json`, "", "not a valid record: invalid character"},
		{`{"type":"project","key":"A","name":"a"} trailing`, "", "text after the JSON object"},
		{`{"type":"project","key":"A","name":"a"}{"type":"project","key":"B","name":"b"}`, "", "text after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			// Both ways of decoding: alone, and after a line that starts
			// the decoder shared by the lines of a chunk.
			for _, file := range []string{tt.line + "\n", `{"type":"project","key":"OK","name":"ok"}` + "\n" + tt.line + "\n"} {
				recs, probs, err := agileplus.ParseRecords(strings.NewReader(file))
				if err != nil {
					t.Fatal(err)
				}
				line := strings.Count(file, "\n")
				if len(probs) != 1 || len(recs) != line-1 {
					t.Fatalf("got %d records, problems %+v; want %d records and one problem", len(recs), probs, line-1)
				}
				p := probs[0]
				if p.Line != line || p.Field != tt.field || !strings.Contains(p.Message, tt.msg) {
					t.Fatalf("got problem %+v, want line %d, field %q, saying %q", p, line, tt.field, tt.msg)
				}
				for _, goWord := range []string{"Go ", "agileplus.", "Record", "float64", "unmarshal"} {
					if strings.Contains(p.Message, goWord) {
						t.Fatalf("problem %q speaks of Go (%q)", p.Message, goWord)
					}
				}
			}
		})
	}
}

func TestImportRefusesStrayFields(t *testing.T) {
	svc := openImportService(t)
	t.Run("project", func(t *testing.T) {
		probs := importProblems(t, svc, `{"type":"project","key":"IMD","name":"x","slug":"abc","url":"http://x","estimate":3}`+"\n", agileplus.ImportOptions{})
		if len(probs) != 3 {
			t.Fatalf("got problems %+v, want 3", probs)
		}
		hasProblem(t, probs, 1, "slug", "slug is not a field of a project record")
		hasProblem(t, probs, 1, "estimate", "estimate is not a field of a project record")
		hasProblem(t, probs, 1, "url", "url is not a field of a project record")
	})
	tests := []struct {
		name, line, field string
	}{
		{"feature with a key", `{"type":"feature","project":"CORE","slug":"f","title":"F","key":"CORE-1"}`, "key"},
		{"wp with a name", `{"type":"wp","key":"CORE-3","feature":"auth","title":"Three","name":"n"}`, "name"},
		{"dependency with a title", `{"type":"dependency","from":"CORE-2","to":"CORE-1","title":"t"}`, "title"},
		{"reference with a description", `{"type":"reference","wp":"CORE-1","sha":"abcdef1","repo":"r","description":"d"}`, "description"},
		{"commit with an estimate", `{"type":"reference","wp":"CORE-1","sha":"abcdef1","repo":"r","estimate":1}`, "estimate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := importProblems(t, svc, importBase+tt.line+"\n", agileplus.ImportOptions{})
			if len(probs) != 1 {
				t.Fatalf("got problems %+v, want only the stray field", probs)
			}
			hasProblem(t, probs, 5, tt.field, tt.field+" is not a field of a")
		})
	}
	t.Run("the records naming a refused one are checked as usual", func(t *testing.T) {
		probs := importProblems(t, svc, `{"type":"project","key":"IMD","name":"x","slug":"abc"}
{"type":"feature","project":"IMD","slug":"imd","title":"F"}
`, agileplus.ImportOptions{})
		if len(probs) != 1 {
			t.Fatalf("got problems %+v, want only the stray field", probs)
		}
	})
}

func TestImportExportRoundTripKeepsEveryField(t *testing.T) {
	ctx := context.Background()
	file := importBase + `{"type":"feature","project":"CORE","slug":"web","title":"Web","description":"d","state":"planned"}
{"type":"wp","key":"CORE-3","feature":"web","title":"Three","description":"d","state":"doing","estimate":2.5}
{"type":"dependency","from":"CORE-2","to":"CORE-1","kind":"depends_on"}
{"type":"dependency","from":"web","to":"auth","kind":"relates_to"}
{"type":"reference","kind":"commit","wp":"CORE-1","repo":"github.com/acme/core","sha":"3f2a9c1"}
{"type":"reference","kind":"pull_request","wp":"CORE-2","repo":"github.com/acme/core","url":"https://github.com/acme/core/pull/9","state":"merged"}
`
	var exported bytes.Buffer
	svc := openImportService(t)
	mustImport(t, svc, file, agileplus.ImportOptions{})
	if err := svc.BulkExport(ctx, &exported, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	again := openImportService(t)
	mustImport(t, again, exported.String(), agileplus.ImportOptions{})
	res := mustImport(t, svc, exported.String(), agileplus.ImportOptions{})
	if len(res.Created) != 0 {
		t.Fatalf("got %+v re-importing the export, want nothing created", res)
	}
}

func TestImportReferenceByKeyAndByID(t *testing.T) {
	ctx := context.Background()
	svc := openImportService(t)
	mustImport(t, svc, importBase, agileplus.ImportOptions{})
	w, err := svc.WP(ctx, "CORE-1")
	if err != nil {
		t.Fatal(err)
	}
	ref := func(wp, sha string) string {
		return fmt.Sprintf(`{"type":"reference","wp":%q,"sha":%q,"repo":"r"}`+"\n", wp, sha)
	}
	t.Run("in one file", func(t *testing.T) {
		probs := importProblems(t, svc, ref("CORE-1", "abcdef1")+ref(w.ID, "abcdef1"), agileplus.ImportOptions{})
		if len(probs) != 1 || probs[0].Field != "wp" || !strings.Contains(probs[0].Message, "reference of CORE-1 appears twice") {
			t.Fatalf("got problems %+v, want the reference refused as appearing twice", probs)
		}
	})
	t.Run("against a stored one", func(t *testing.T) {
		mustImport(t, svc, ref("CORE-1", "abcdef2"), agileplus.ImportOptions{})
		res := mustImport(t, svc, ref(w.ID, "abcdef2"), agileplus.ImportOptions{})
		if res.Unchanged[agileplus.RecReference] != 1 || len(res.Created) != 0 {
			t.Fatalf("got %+v, want the reference found unchanged", res)
		}
	})
	t.Run("the export imports again", func(t *testing.T) {
		var out bytes.Buffer
		if err := svc.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), `"abcdef2"`); n != 1 {
			t.Fatalf("got the reference %d times in the export, want once:\n%s", n, out.String())
		}
		mustImport(t, openImportService(t), out.String(), agileplus.ImportOptions{})
	})
}

// Records that name what they point at by id instead of by key: they are
// stored with the key, so that the export moves to another installation.
func TestImportNamesByID(t *testing.T) {
	ctx := context.Background()
	svc := openImportService(t)
	mustImport(t, svc, importBase, agileplus.ImportOptions{})
	w1, err := svc.WP(ctx, "CORE-1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := svc.Feature(ctx, "auth")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dependency", func(t *testing.T) {
		file := fmt.Sprintf(`{"type":"feature","project":"CORE","slug":"web","title":"Web"}
{"type":"dependency","from":"CORE-2","to":%q}
{"type":"dependency","from":"web","to":%q}
`, w1.ID, f.ID)
		mustImport(t, svc, file, agileplus.ImportOptions{})
		var out bytes.Buffer
		if err := svc.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`{"type":"dependency","from":"CORE-2","to":"CORE-1","kind":"depends_on"}`, `{"type":"dependency","from":"web","to":"auth","kind":"depends_on"}`} {
			if !strings.Contains(out.String(), want+"\n") {
				t.Fatalf("export does not hold %s:\n%s", want, out.String())
			}
		}
		// Subscribers see the dependency as the store has it.
		evs, err := svc.Events(ctx, agileplus.EventQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range evs {
			if e.Type == "dependency.imported" {
				var d agileplus.Dependency
				if err := json.Unmarshal(e.Data, &d); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, d.FromKey+" "+d.ToKey)
			}
		}
		if got := strings.Join(keys, ", "); got != "CORE-2 CORE-1, web auth" {
			t.Fatalf("got imported dependencies %s, want CORE-2 CORE-1, web auth", got)
		}
	})
	t.Run("an existing feature's project", func(t *testing.T) {
		file := fmt.Sprintf(`{"type":"feature","project":%q,"slug":"auth","title":"Auth"}`+"\n", f.ProjectID)
		if res := mustImport(t, svc, file, agileplus.ImportOptions{}); res.Unchanged[agileplus.RecFeature] != 1 {
			t.Fatalf("got %+v, want the feature unchanged", res)
		}
	})
}

func TestImportRefusesFeatureCycles(t *testing.T) {
	ctx := context.Background()
	features := `{"type":"project","key":"FCZ","name":"f"}
{"type":"feature","project":"FCZ","slug":"fcz-a","title":"A"}
{"type":"feature","project":"FCZ","slug":"fcz-b","title":"B"}
{"type":"feature","project":"FCZ","slug":"fcz-c","title":"C"}
{"type":"feature","project":"FCZ","slug":"fcz-d","title":"D"}
`
	dep := func(from, to string) string {
		return fmt.Sprintf(`{"type":"dependency","from":%q,"to":%q}`+"\n", from, to)
	}
	t.Run("in one file", func(t *testing.T) {
		svc := openImportService(t)
		probs := importProblems(t, svc, features+dep("fcz-a", "fcz-b")+dep("fcz-b", "fcz-a"), agileplus.ImportOptions{})
		if len(probs) != 1 {
			t.Fatalf("got problems %+v, want one cycle", probs)
		}
		p := probs[0]
		if p.Field != "to" || (p.Line != 6 && p.Line != 7) || !strings.Contains(p.Message, "cycle: fcz-") {
			t.Fatalf("got %+v, want the cycle refused at line 6 or 7", p)
		}
		if !strings.Contains(p.Message, "fcz-a -> fcz-b -> fcz-a") && !strings.Contains(p.Message, "fcz-b -> fcz-a -> fcz-b") {
			t.Fatalf("got %q, want the cycle named", p.Message)
		}
	})
	t.Run("closing a stored chain", func(t *testing.T) {
		svc := openImportService(t)
		mustImport(t, svc, features+dep("fcz-a", "fcz-b"), agileplus.ImportOptions{})
		if _, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: "fcz-b", To: "fcz-c"}); err != nil {
			t.Fatal(err)
		}
		// The API refuses the closing edge ...
		_, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: "fcz-c", To: "fcz-a"})
		if agileplus.ErrorCode(err) != agileplus.ERULE {
			t.Fatalf("got %v, want the API to refuse the cycle", err)
		}
		// ... and so does the import, whatever the file names the features by.
		c, err := svc.Feature(ctx, "fcz-c")
		if err != nil {
			t.Fatal(err)
		}
		probs := importProblems(t, svc, dep("fcz-d", "fcz-a")+dep(c.ID, "fcz-a"), agileplus.ImportOptions{})
		if len(probs) != 1 {
			t.Fatalf("got problems %+v, want one cycle", probs)
		}
		hasProblem(t, probs, 2, "to", "dependencies close a cycle: fcz-c -> fcz-a -> fcz-b -> fcz-c")
	})
	t.Run("allowed", func(t *testing.T) {
		svc := openImportService(t)
		mustImport(t, svc, features+dep("fcz-a", "fcz-b")+dep("fcz-b", "fcz-a"), agileplus.ImportOptions{AllowCycles: true})
		es, err := svc.Dependencies(ctx, "fcz-a")
		if err != nil || len(es) != 2 {
			t.Fatalf("got %d edges of fcz-a, %v; want both imported", len(es), err)
		}
		t.Run("an earlier cycle does not block unrelated edges", func(t *testing.T) {
			mustImport(t, svc, dep("fcz-c", "fcz-a")+dep("fcz-d", "fcz-c"), agileplus.ImportOptions{})
		})
		t.Run("a new cycle through it is refused", func(t *testing.T) {
			probs := importProblems(t, svc, dep("fcz-a", "fcz-d"), agileplus.ImportOptions{})
			hasProblem(t, probs, 1, "to", "dependencies close a cycle: fcz-a -> fcz-d -> fcz-c -> fcz-a")
		})
	})
	t.Run("WP edges between the features do not count", func(t *testing.T) {
		svc := openImportService(t)
		file := features + `{"type":"wp","key":"FCZ-1","feature":"fcz-a","title":"1"}
{"type":"wp","key":"FCZ-2","feature":"fcz-b","title":"2"}
` + dep("FCZ-1", "FCZ-2") + dep("fcz-b", "fcz-a")
		mustImport(t, svc, file, agileplus.ImportOptions{})
	})
}

func TestImportPullRequestStateConflict(t *testing.T) {
	svc := openImportService(t)
	pr := func(state string) string {
		return importBase + `{"type":"reference","kind":"pull_request","wp":"CORE-2","url":"https://github.com/acme/core/pull/9","state":"` + state + `"}` + "\n"
	}
	mustImport(t, svc, pr("open"), agileplus.ImportOptions{})
	t.Run("same state", func(t *testing.T) {
		res := mustImport(t, svc, pr("open"), agileplus.ImportOptions{})
		if res.Unchanged[agileplus.RecReference] != 1 {
			t.Fatalf("got %+v, want the reference unchanged", res)
		}
	})
	t.Run("other state", func(t *testing.T) {
		probs := importProblems(t, svc, pr("merged"), agileplus.ImportOptions{})
		hasProblem(t, probs, 5, "state", `exists with the state "open"`)
	})
	t.Run("a commit has no state to differ", func(t *testing.T) {
		commit := importBase + `{"type":"reference","wp":"CORE-1","sha":"abcdef1","repo":"r"}` + "\n"
		mustImport(t, svc, commit, agileplus.ImportOptions{})
		if res := mustImport(t, svc, commit, agileplus.ImportOptions{}); res.Unchanged[agileplus.RecReference] != 1 {
			t.Fatalf("got %+v, want the commit unchanged", res)
		}
	})
}

// Text written before control characters were refused (a tab pasted into a
// name, a colour code in a description, a line separator in a title) is in
// older exports: the import takes it, and takes the file again unchanged,
// while the API refuses such text in new writes.
func TestImportTakesTextOfOlderExports(t *testing.T) {
	svc := openImportService(t)
	file := `{"type":"project","key":"OLD","name":"tab\there"}
{"type":"feature","project":"OLD","slug":"old","title":"line\u2028separator","description":"colour \u001b[31mred\u001b[0m"}
{"type":"wp","key":"OLD-1","feature":"old","title":"bell\u0007","description":"nul \u0000 inside"}
{"type":"reference","wp":"OLD-1","kind":"commit","repo":"acme\u001b/repo","sha":"abc1234"}
`
	res := mustImport(t, svc, file, agileplus.ImportOptions{})
	if res.Created[agileplus.RecWP] != 1 || res.Created[agileplus.RecReference] != 1 {
		t.Fatalf("import: %+v", res)
	}
	again := mustImport(t, svc, file, agileplus.ImportOptions{})
	if len(again.Created) != 0 {
		t.Errorf("second import created %v, want nothing", again.Created)
	}
	w, err := svc.WP(context.Background(), "OLD-1")
	if err != nil || w.Title != "bell\a" || w.Description != "nul \x00 inside" {
		t.Fatalf("WP read back as %+v, %v", w, err)
	}
	// New writes still follow the rules.
	_, err = svc.CreateWP(context.Background(), "old", agileplus.WPCreate{Title: "bell\a"})
	if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != "title" {
		t.Errorf("API create with a control character: %v, want invalid title", err)
	}
	// Length and line rules hold for imports too.
	probs := importProblems(t, svc, `{"type":"project","key":"NEW","name":"two\nlines"}`+"\n", agileplus.ImportOptions{})
	hasProblem(t, probs, 1, "name", "single line")
}

// TestImportErrorCode: a file is EINVALID when a line is not a record of
// its type (what the OpenAPI document's schema of the file says), whatever
// else is wrong with it, and ECONFLICT when every record is well formed but
// one names nothing, repeats another with other content, contradicts what
// is stored or closes a cycle.
func TestImportErrorCode(t *testing.T) {
	svc := openImportService(t)
	mustImport(t, svc, importBase, agileplus.ImportOptions{})
	const missingProject = `{"type":"feature","project":"NOPE","slug":"orphan","title":"Orphan"}`
	for _, tt := range []struct {
		name, file, code, field string
	}{
		{"not JSON", `{not json`, agileplus.EINVALID, ""},
		{"a field the type does not take", `{"type":"project","key":"WEB","name":"Web","slug":"web"}`, agileplus.EINVALID, "slug"},
		{"an unknown type", `{"type":"epic","key":"WEB"}`, agileplus.EINVALID, "type"},
		{"a project key of lower case", `{"type":"project","key":"web","name":"Web"}`, agileplus.EINVALID, "key"},
		{"an unknown state", `{"type":"feature","project":"CORE","slug":"web","title":"Web","state":"done"}`, agileplus.EINVALID, "state"},
		{"a null field", `{"type":"project","key":"WEB","name":null}`, agileplus.EINVALID, "name"},
		{"a null line", `null`, agileplus.EINVALID, ""},
		{"a null in a list", `{"type":"key","name":"k","prefix":"aaaaaaaa","scope":"read","projects":[null]}`, agileplus.EINVALID, "projects"},
		{"an empty state", `{"type":"wp","key":"CORE-3","feature":"auth","title":"Three","state":""}`, agileplus.EINVALID, "state"},
		{"an empty description on a project", `{"type":"project","key":"WEB","name":"Web","description":""}`, agileplus.EINVALID, "description"},
		{"no feature", `{"type":"wp","key":"CORE-3","title":"Three"}`, agileplus.EINVALID, "feature"},
		{"a WP number with a leading zero", `{"type":"wp","key":"CORE-03","feature":"auth","title":"Three"}`, agileplus.EINVALID, "key"},
		{"a WP number over the bound", `{"type":"wp","key":"CORE-1099511627776","feature":"auth","title":"Three"}`, agileplus.EINVALID, "key"},
		{"no dependency end", `{"type":"dependency","from":"CORE-1"}`, agileplus.EINVALID, "to"},
		{"a key record without a hash, malformed", `{"type":"key","name":"k","prefix":"abc","scope":"read"}`, agileplus.EINVALID, "prefix"},
		{"malformed and inconsistent", missingProject + "\n" + `{"type":"project","key":"web","name":"Web"}`, agileplus.EINVALID, "key"},

		{"a project that does not exist", missingProject, agileplus.ECONFLICT, "project"},
		{"a WP of another project's key", `{"type":"wp","key":"WEB-1","feature":"auth","title":"Three"}`, agileplus.ECONFLICT, "key"},
		{"a project twice", `{"type":"project","key":"WEB","name":"Web"}` + "\n" + `{"type":"project","key":"WEB","name":"Web"}`, agileplus.ECONFLICT, "key"},
		{"a project stored with another name", `{"type":"project","key":"CORE","name":"Kernel"}`, agileplus.ECONFLICT, "name"},
		{"a dependency on nothing", `{"type":"dependency","from":"CORE-1","to":"CORE-99"}`, agileplus.ECONFLICT, "to"},
		{"a dependency on itself", `{"type":"dependency","from":"CORE-1","to":"CORE-1"}`, agileplus.ECONFLICT, "to"},
		{"a cycle", `{"type":"dependency","from":"CORE-1","to":"CORE-2"}` + "\n" + `{"type":"dependency","from":"CORE-2","to":"CORE-1"}`, agileplus.ECONFLICT, "to"},
		{"a key of a project that does not exist", `{"type":"key","name":"k","prefix":"aaaaaaaa","scope":"read","projects":["NOPE"],"hash":"` + strings.Repeat("a", 64) + `"}`, agileplus.ECONFLICT, "projects"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.BulkImport(context.Background(), strings.NewReader(tt.file+"\n"), agileplus.ImportOptions{})
			var ie *agileplus.ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an import error", err)
			}
			if got := agileplus.ErrorCode(err); got != tt.code {
				t.Errorf("got code %q, want %q (%v)", got, tt.code, err)
			}
			if ie.Code != tt.code {
				t.Errorf("got ImportError.Code %q, want %q", ie.Code, tt.code)
			}
			if !slices.ContainsFunc(ie.Problems, func(p agileplus.ImportProblem) bool { return p.Field == tt.field }) {
				t.Errorf("got problems %+v, want one naming field %q", ie.Problems, tt.field)
			}
		})
	}
	t.Run("malformed and inconsistent lists both", func(t *testing.T) {
		probs := importProblems(t, svc, missingProject+"\n"+`{"type":"project","key":"web","name":"Web"}`+"\n", agileplus.ImportOptions{})
		hasProblem(t, probs, 1, "project", `no project "NOPE"`)
		hasProblem(t, probs, 2, "key", "upper-case")
	})
}

func TestWPKeyPattern(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want bool
	}{
		{"CORE-1", true}, {"CORE-9", true}, {"CORE-10", true}, {"AB-999999999999", true}, {"AB-1000000000000", true},
		{fmt.Sprintf("CORE-%d", agileplus.MaxWPNumber), true}, {fmt.Sprintf("CORE-%d", agileplus.MaxWPNumber-1), true},
		{fmt.Sprintf("CORE-%d", agileplus.MaxWPNumber+1), false}, {"CORE-1099511627780", false}, {"CORE-10000000000000", false},
		{"CORE-0", false}, {"CORE-01", false}, {"CORE-", false}, {"core-1", false}, {"C-1", false}, {"CORE-1a", false},
	} {
		if got := agileplus.IsWPKey(tt.key); got != tt.want {
			t.Errorf("IsWPKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	// Every number up to the bound and beyond it, near the bound's digits.
	for n := int64(agileplus.MaxWPNumber) - 2000; n < agileplus.MaxWPNumber+2000; n++ {
		if got, want := agileplus.IsWPKey(fmt.Sprintf("CORE-%d", n)), n <= agileplus.MaxWPNumber; got != want {
			t.Fatalf("IsWPKey(CORE-%d) = %v, want %v", n, got, want)
		}
	}
}
