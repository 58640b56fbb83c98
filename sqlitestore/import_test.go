package sqlitestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

func openService(t *testing.T) (*agileplus.Service, *sqlitestore.Store) {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return agileplus.NewService(s), s
}

const sampleFile = `{"type":"project","key":"CORE","name":"Core"}
{"type":"project","key":"WEB","name":"Web"}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth","description":"Sign in","state":"planned"}
{"type":"feature","project":"WEB","slug":"login-page","title":"Login page","state":"created"}
{"type":"wp","key":"CORE-1","feature":"auth","title":"Token service","state":"done","estimate":4}
{"type":"wp","key":"CORE-2","feature":"auth","title":"Sessions","state":"doing","estimate":3}
{"type":"wp","key":"CORE-5","feature":"auth","title":"Audit log","state":"planned","estimate":1}
{"type":"wp","key":"WEB-1","feature":"login-page","title":"Form","state":"planned","estimate":2}
{"type":"dependency","from":"CORE-2","to":"CORE-1","kind":"depends_on"}
{"type":"dependency","from":"WEB-1","to":"CORE-2","kind":"depends_on"}
{"type":"dependency","from":"WEB-1","to":"CORE-5","kind":"relates_to"}
{"type":"dependency","from":"auth","to":"login-page","kind":"relates_to"}
{"type":"reference","kind":"commit","wp":"CORE-1","repo":"github.com/acme/core","sha":"3f2a9c1"}
{"type":"reference","state":"merged","kind":"pull_request","wp":"CORE-2","url":"https://github.com/acme/core/pull/9"}
`

func TestImportExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	svc, _ := openService(t)
	res, err := svc.BulkImport(ctx, strings.NewReader(sampleFile), agileplus.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Created[agileplus.RecWP]; got != 4 {
		t.Fatalf("got %d WPs created, want 4", got)
	}
	var out bytes.Buffer
	if err := svc.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if out.String() != sampleFile {
		t.Fatalf("export differs from the imported file:\n%s\nwant\n%s", out.String(), sampleFile)
	}
	t.Run("keys continue after imported ones", func(t *testing.T) {
		w, err := svc.CreateWP(ctx, "auth", agileplus.WPCreate{Title: "next"})
		if err != nil || w.Key != "CORE-6" {
			t.Fatalf("got %v, %v; want CORE-6", w, err)
		}
	})
	t.Run("events and audit", func(t *testing.T) {
		evs, err := svc.Events(ctx, agileplus.EventQuery{Entity: "CORE-2"})
		if err != nil || len(evs) != 2 || evs[0].Type != "wp.imported" || evs[1].Type != "wp.referenced" {
			t.Fatalf("got %d events (%v), want wp.imported, wp.referenced", len(evs), err)
		}
		v, err := svc.VerifyAudit(ctx, "auth")
		if err != nil || !v.Valid {
			t.Fatalf("got %+v, %v; want a valid audit chain", v, err)
		}
		as, err := svc.Audit(ctx, "auth", 0, 0)
		if err != nil || as[0].EventType != "feature.import_applied" || as[0].Summary != "bulk import: 8 records" {
			t.Fatalf("got first audit entry %+v, %v; want one entry for the whole import", as[0], err)
		}
	})
	t.Run("second import changes nothing", func(t *testing.T) {
		before, _ := svc.Events(ctx, agileplus.EventQuery{Limit: 1000})
		res, err := svc.BulkImport(ctx, strings.NewReader(sampleFile), agileplus.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != 0 || res.Events != 0 || res.Unchanged[agileplus.RecDependency] != 4 {
			t.Fatalf("got %+v, want nothing created and 4 unchanged dependencies", res)
		}
		after, _ := svc.Events(ctx, agileplus.EventQuery{Limit: 1000})
		if len(after) != len(before) {
			t.Fatalf("got %d events after re-import, want %d", len(after), len(before))
		}
	})
	t.Run("graph index sees imported edges", func(t *testing.T) {
		p, err := svc.Path(ctx, "WEB-1", "CORE-1")
		if err != nil || len(p) != 3 {
			t.Fatalf("got %v, %v; want WEB-1 -> CORE-2 -> CORE-1", p, err)
		}
	})
}

func TestImportRefusesWholeFile(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, file string
		code       string   // EINVALID with a malformed record, else ECONFLICT
		want       []string // substrings of the problems
	}{
		{"bad lines", `{"type":"project","key":"A1","name":"a"}
{"type":"project","key":"lower","name":"b"}
{"type":"wp","key":"A1-1","feature":"nope","title":"x"}
{"type":"feature","project":"A1","slug":"f","title":"F","state":"flying"}
{"type":"thing"}
{not json
`, agileplus.EINVALID, []string{"line 2", "upper-case", "line 3", `no feature "nope"`, "line 4", "flying", "line 5", "unknown record type", "line 6", "not a valid record"}},
		{"dangling dependency", `{"type":"project","key":"A1","name":"a"}
{"type":"feature","project":"A1","slug":"f","title":"F"}
{"type":"wp","key":"A1-1","feature":"f","title":"x"}
{"type":"dependency","from":"A1-1","to":"A1-9"}
{"type":"dependency","from":"A1-1","to":"A1-1"}
{"type":"dependency","from":"A1-1","to":"f"}
{"type":"wp","key":"B2-1","feature":"f","title":"wrong project"}
{"type":"reference","wp":"A1-1","sha":"zz","repo":"r"}
`, agileplus.EINVALID, []string{`"A1-9"`, "itself", "two work packages or two features", "must start with A1-", "hex"}},
		{"cycle", `{"type":"project","key":"A1","name":"a"}
{"type":"feature","project":"A1","slug":"f","title":"F"}
{"type":"wp","key":"A1-1","feature":"f","title":"x"}
{"type":"wp","key":"A1-2","feature":"f","title":"y"}
{"type":"wp","key":"A1-3","feature":"f","title":"z"}
{"type":"dependency","from":"A1-1","to":"A1-2"}
{"type":"dependency","from":"A1-2","to":"A1-3"}
{"type":"dependency","from":"A1-3","to":"A1-1"}
`, agileplus.ECONFLICT, []string{"cycle: A1-1 -> A1-2 -> A1-3 -> A1-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := openService(t)
			_, err := svc.BulkImport(ctx, strings.NewReader(tt.file), agileplus.ImportOptions{})
			var ie *agileplus.ImportError
			if !errors.As(err, &ie) || agileplus.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want an import error with code %s", err, tt.code)
			}
			var all strings.Builder
			for _, p := range ie.Problems {
				fmt.Fprintf(&all, "line %d: %s\n", p.Line, p.Message)
			}
			for _, w := range tt.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("problems do not mention %q:\n%s", w, all.String())
				}
			}
			if n, _ := store.PendingCount(ctx); n != 0 {
				t.Errorf("got %d events after a refused import, want 0", n)
			}
			ps, _ := svc.Projects(ctx, agileplus.Page{})
			if len(ps) != 0 {
				t.Errorf("got %d projects after a refused import, want 0", len(ps))
			}
		})
	}
}

func TestImportWithCyclesAllowed(t *testing.T) {
	ctx := context.Background()
	svc, _ := openService(t)
	file := `{"type":"project","key":"A1","name":"a"}
{"type":"feature","project":"A1","slug":"f","title":"F"}
{"type":"wp","key":"A1-1","feature":"f","title":"x"}
{"type":"wp","key":"A1-2","feature":"f","title":"y"}
{"type":"dependency","from":"A1-1","to":"A1-2"}
{"type":"dependency","from":"A1-2","to":"A1-1"}
`
	if _, err := svc.BulkImport(ctx, strings.NewReader(file), agileplus.ImportOptions{AllowCycles: true}); err != nil {
		t.Fatal(err)
	}
	cy, err := svc.Cycles(ctx, "A1")
	if err != nil || len(cy.Cycles) != 1 || strings.Join(cy.Cycles[0], " ") != "A1-1 A1-2 A1-1" {
		t.Fatalf("got %+v, %v; want the cycle A1-1 A1-2 A1-1", cy, err)
	}
	if _, err := svc.CriticalPath(ctx, "A1", "", agileplus.Page{}); agileplus.ErrorCode(err) != agileplus.ERULE {
		t.Fatalf("got %v, want the critical path refused over a cycle", err)
	}
}

// TestImportReviewCases covers imports into existing data and files in any
// order.
func TestImportReviewCases(t *testing.T) {
	ctx := context.Background()
	svc, _ := openService(t)
	base := `{"type":"project","key":"CORE","name":"Core "}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth"}
{"type":"wp","key":"CORE-1","feature":"auth","title":"One"}
{"type":"wp","key":"CORE-2","feature":"auth","title":"Two"}
{"type":"wp","key":"CORE-3","feature":"auth","title":"Three"}
{"type":"wp","key":"CORE-4","feature":"auth","title":"Four"}
`
	if _, err := svc.BulkImport(ctx, strings.NewReader(base), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("same file again with untrimmed text", func(t *testing.T) {
		if _, err := svc.BulkImport(ctx, strings.NewReader(base), agileplus.ImportOptions{}); err != nil {
			t.Fatalf("got %v, want the second import to change nothing", err)
		}
	})
	t.Run("dependencies and references between existing WPs", func(t *testing.T) {
		file := `{"type":"reference","wp":"CORE-1","sha":"abcdef1","repo":"r"}
{"type":"dependency","from":"CORE-2","to":"CORE-1"}
`
		if _, err := svc.BulkImport(ctx, strings.NewReader(file), agileplus.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, agileplus.EventQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.ProjectKey == "" {
				t.Fatalf("event %s (%s) has no project key: its subject would be %s", e.ID, e.Type, e.Subject())
			}
		}
	})
	t.Run("records in any order", func(t *testing.T) {
		file := `{"type":"dependency","from":"NEW-2","to":"NEW-1"}
{"type":"reference","wp":"NEW-2","sha":"abcdef2","repo":"r"}
{"type":"wp","key":"NEW-2","feature":"news","title":"Two"}
{"type":"wp","key":"NEW-1","feature":"news","title":"One"}
{"type":"feature","project":"NEW","slug":"news","title":"News"}
{"type":"project","key":"NEW","name":"New"}
`
		if _, err := svc.BulkImport(ctx, strings.NewReader(file), agileplus.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		ready, err := svc.Ready(ctx, "NEW", "", agileplus.Page{})
		if err != nil || len(ready) != 1 || ready[0].Key != "NEW-1" {
			t.Fatalf("got ready %v, %v; want only NEW-1 (NEW-2 waits on it)", ready, err)
		}
	})
	t.Run("key number too large", func(t *testing.T) {
		file := `{"type":"wp","key":"CORE-2000000000000","feature":"auth","title":"Far"}` + "\n"
		_, err := svc.BulkImport(ctx, strings.NewReader(file), agileplus.ImportOptions{})
		if agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), "number from 1 to") {
			t.Fatalf("got %v, want the key refused", err)
		}
	})
	t.Run("an earlier allowed cycle does not block unrelated imports", func(t *testing.T) {
		cyc := `{"type":"dependency","from":"CORE-3","to":"CORE-4"}
{"type":"dependency","from":"CORE-4","to":"CORE-3"}
`
		if _, err := svc.BulkImport(ctx, strings.NewReader(cyc), agileplus.ImportOptions{AllowCycles: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.BulkImport(ctx, strings.NewReader(`{"type":"dependency","from":"CORE-3","to":"CORE-1"}`+"\n"), agileplus.ImportOptions{}); err != nil {
			t.Fatalf("got %v, want an unrelated edge accepted", err)
		}
		_, err := svc.BulkImport(ctx, strings.NewReader(`{"type":"dependency","from":"CORE-1","to":"CORE-2"}`+"\n"), agileplus.ImportOptions{})
		var ie *agileplus.ImportError
		if !errors.As(err, &ie) || ie.Problems[0].Line != 1 || !strings.Contains(ie.Problems[0].Message, "CORE-1 -> CORE-2 -> CORE-1") {
			t.Fatalf("got %v, want the new cycle refused at line 1", err)
		}
	})
	t.Run("a reference twice in one file", func(t *testing.T) {
		file := strings.Repeat(`{"type":"reference","wp":"CORE-3","sha":"abcdef3","repo":"r"}`+"\n", 2)
		if _, err := svc.BulkImport(ctx, strings.NewReader(file), agileplus.ImportOptions{}); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Fatalf("got %v, want the duplicate refused as a conflict", err)
		}
	})
}
