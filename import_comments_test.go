package agileplus_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/agileplus/agileplus"
)

// An export carries comments, with their authors and earlier bodies, and
// archived projects, features and WPs, in canonical form: importing it
// elsewhere and exporting again gives the same bytes.
func TestImportExportCommentsArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	file := `{"type":"project","key":"CORE","name":"Core"}
{"type":"project","key":"OLD","name":"Old","archived":true}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth","state":"created"}
{"type":"feature","project":"CORE","slug":"gone","title":"Gone","state":"created","archived":true}
{"type":"wp","key":"CORE-1","feature":"auth","title":"One","state":"planned","estimate":1}
{"type":"wp","key":"CORE-2","feature":"auth","title":"Two","state":"planned","estimate":1,"archived":true}
{"type":"comment","author":"ann","body":"second take","history":[{"body":"first take","replaced_at":"2026-01-02T03:04:05Z"}],"wp":"CORE-1"}
{"type":"comment","author":"bo","body":"**agreed**\n@ann","wp":"CORE-1"}
{"type":"comment","feature":"auth","author":"ann","body":"on the feature"}
`
	svc := openImportService(t)
	res := mustImport(t, svc, file, agileplus.ImportOptions{})
	if res.Created[agileplus.RecComment] != 3 {
		t.Fatalf("import: %+v", res)
	}
	cs, err := svc.Comments(ctx, "CORE-1", agileplus.Page{})
	if err != nil || len(cs) != 2 || cs[0].Author != "ann" || len(cs[0].History) != 1 || cs[0].Version != 2 || cs[1].Body != "**agreed**\n@ann" {
		t.Fatalf("comments of CORE-1: %+v, %v", cs, err)
	}
	if w, err := svc.WP(ctx, "CORE-2"); err != nil || w.ArchivedAt == nil {
		t.Fatalf("CORE-2: %+v, %v; want it archived", w, err)
	}
	if ws, err := svc.WPs(ctx, agileplus.WPQuery{Project: "CORE"}); err != nil || len(ws) != 1 {
		t.Errorf("WPs listed: %d, %v; want CORE-1 only", len(ws), err)
	}
	es, err := svc.Events(ctx, agileplus.EventQuery{Entity: "CORE-1"})
	if err != nil || es[1].Type != "wp.commented" {
		t.Errorf("CORE-1 events: %+v, %v", es, err)
	}
	var out bytes.Buffer
	if err := svc.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if out.String() != file {
		t.Fatalf("export:\n%s\nwant the file imported:\n%s", out.String(), file)
	}
	again := openImportService(t)
	mustImport(t, again, out.String(), agileplus.ImportOptions{})
	var out2 bytes.Buffer
	if err := again.BulkExport(ctx, &out2, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if out2.String() != file {
		t.Errorf("export of the copy:\n%s", out2.String())
	}
	if res := mustImport(t, svc, file, agileplus.ImportOptions{}); len(res.Created) != 0 || res.Unchanged[agileplus.RecComment] != 3 {
		t.Errorf("re-import: %+v, want nothing created and the comments unchanged", res)
	}
}

// Bad comment and archive records refuse the file, naming the field.
func TestImportCommentProblems(t *testing.T) {
	svc := openImportService(t)
	mustImport(t, svc, `{"type":"project","key":"CORE","name":"Core"}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth"}
{"type":"wp","key":"CORE-1","feature":"auth","title":"One","archived":true}
`, agileplus.ImportOptions{})
	for _, c := range []struct {
		name, line, field string
	}{
		{"neither wp nor feature", `{"type":"comment","author":"a","body":"b"}`, "wp"},
		{"both", `{"type":"comment","author":"a","body":"b","wp":"CORE-1","feature":"auth"}`, "wp"},
		{"unknown wp", `{"type":"comment","author":"a","body":"b","wp":"CORE-9"}`, "wp"},
		{"feature named as a wp", `{"type":"comment","author":"a","body":"b","wp":"auth"}`, "wp"},
		{"no author", `{"type":"comment","body":"b","wp":"CORE-1"}`, "author"},
		{"empty body", `{"type":"comment","author":"a","wp":"CORE-1"}`, "body"},
		{"control character", `{"type":"comment","author":"a","body":"\u0007","wp":"CORE-1"}`, "body"},
		{"archived elsewhere", `{"type":"project","key":"CORE","name":"Core","archived":true}`, "archived"},
		{"restored elsewhere", `{"type":"wp","key":"CORE-1","feature":"auth","title":"One","state":"planned","estimate":1}`, "archived"},
		{"archived on a comment", `{"type":"comment","author":"a","body":"b","wp":"CORE-1","archived":true}`, "archived"},
	} {
		t.Run(c.name, func(t *testing.T) {
			probs := importProblems(t, svc, c.line+"\n", agileplus.ImportOptions{})
			if len(probs) == 0 || probs[0].Field != c.field {
				t.Errorf("problems %+v, want one on %s", probs, c.field)
			}
		})
	}
}
