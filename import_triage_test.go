package agileplus_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// An export carries priority, labels, owners and label definitions, in
// canonical form: importing it elsewhere and exporting again gives the
// same bytes.
func TestImportExportTriageRoundTrip(t *testing.T) {
	ctx := context.Background()
	file := `{"type":"project","key":"CORE","name":"Core"}
{"type":"label","name":"db","project":"CORE"}
{"type":"label","name":"go","project":"CORE","description":"Go code","color":"#00add8"}
{"type":"feature","project":"CORE","slug":"auth","title":"Auth","state":"created","priority":"high","labels":["ux"]}
{"type":"wp","key":"CORE-1","feature":"auth","title":"One","state":"planned","estimate":1,"priority":"urgent","labels":["db","go"],"owner":"ann"}
{"type":"wp","key":"CORE-2","feature":"auth","title":"Two","state":"planned","estimate":1}
`
	svc := openImportService(t)
	res := mustImport(t, svc, file, agileplus.ImportOptions{})
	if res.Created[agileplus.RecLabel] != 2 || res.Created[agileplus.RecWP] != 2 {
		t.Fatalf("import: %+v", res)
	}
	w, err := svc.WP(ctx, "CORE-1")
	if err != nil || w.Priority != agileplus.PriorityUrgent || !slices.Equal(w.Labels, []string{"db", "go"}) || w.Owner != "ann" {
		t.Fatalf("CORE-1: %+v, %v", w, err)
	}
	l, err := svc.Label(ctx, "CORE", "go")
	if err != nil || l.Color != "#00add8" || l.Description != "Go code" {
		t.Fatalf("label go: %+v, %v", l, err)
	}
	es, err := svc.Events(ctx, agileplus.EventQuery{Entity: l.ID})
	if err != nil || len(es) != 1 || es[0].Type != "label.imported" {
		t.Errorf("label events: %+v, %v", es, err)
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
	if res := mustImport(t, svc, file, agileplus.ImportOptions{}); len(res.Created) != 0 || res.Unchanged[agileplus.RecLabel] != 2 {
		t.Errorf("re-import: %+v, want nothing created and both labels unchanged", res)
	}
}

// A file from before priorities and labels imports with the defaults.
func TestImportOlderExportGetsDefaults(t *testing.T) {
	svc := openImportService(t)
	mustImport(t, svc, importBase, agileplus.ImportOptions{})
	w, err := svc.WP(context.Background(), "CORE-1")
	if err != nil || w.Priority != agileplus.PriorityNormal || w.Labels != nil || w.Owner != "" {
		t.Errorf("CORE-1: %+v, %v; want normal, no labels, no owner", w, err)
	}
	f, err := svc.Feature(context.Background(), "auth")
	if err != nil || f.Priority != agileplus.PriorityNormal || f.Labels != nil {
		t.Errorf("feature: %+v, %v", f, err)
	}
}

func TestImportRefusesBadTriage(t *testing.T) {
	svc := openImportService(t)
	mustImport(t, svc, importBase+`{"type":"label","project":"CORE","name":"go","color":"#00add8"}`+"\n", agileplus.ImportOptions{})
	var before bytes.Buffer
	if err := svc.BulkExport(context.Background(), &before, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	many := `["l0","l1","l2","l3","l4","l5","l6","l7","l8","l9","l10","l11","l12","l13","l14","l15","l16","l17","l18","l19","l20"]`
	for _, c := range []struct {
		name, line, field, msg string
		code                   string // EINVALID: the line is malformed; ECONFLICT: it contradicts the store
	}{
		{"unknown priority", `{"type":"wp","key":"CORE-3","feature":"auth","title":"x","priority":"p0"}`, "priority", "unknown priority", agileplus.EINVALID},
		{"21 labels", `{"type":"wp","key":"CORE-3","feature":"auth","title":"x","labels":` + many + `}`, "labels", "at most 20", agileplus.EINVALID},
		{"a bad label", `{"type":"feature","project":"CORE","slug":"x","title":"x","labels":["a b"]}`, "labels", "labels[0]", agileplus.EINVALID},
		{"a bad colour", `{"type":"label","project":"CORE","name":"db","color":"red"}`, "color", "#rrggbb", agileplus.EINVALID},
		{"a label of no project", `{"type":"label","project":"NOPE","name":"db"}`, "project", "no project", agileplus.ECONFLICT},
		{"a label defined otherwise", `{"type":"label","project":"CORE","name":"go","color":"#000000"}`, "name", "other content", agileplus.ECONFLICT},
		{"an owner on a feature", `{"type":"feature","project":"CORE","slug":"x","title":"x","owner":"ann"}`, "owner", "not a field of a feature record", agileplus.EINVALID},
		{"a colour on a WP", `{"type":"wp","key":"CORE-3","feature":"auth","title":"x","color":"#000000"}`, "color", "not a field of a wp record", agileplus.EINVALID},
		{"a blank owner", `{"type":"wp","key":"CORE-3","feature":"auth","title":"x","owner":"  "}`, "owner", "required", agileplus.EINVALID},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.BulkImport(context.Background(), strings.NewReader(importBase+c.line+"\n"), agileplus.ImportOptions{})
			if code := agileplus.ErrorCode(err); code != c.code {
				t.Errorf("code %s, want %s (%v)", code, c.code, err)
			}
			probs := importProblems(t, svc, importBase+c.line+"\n", agileplus.ImportOptions{})
			hasProblem(t, probs, 5, c.field, c.msg)
		})
	}
	t.Run("a WP with another priority", func(t *testing.T) {
		probs := importProblems(t, svc, `{"type":"wp","key":"CORE-1","feature":"auth","title":"One","priority":"high"}`+"\n", agileplus.ImportOptions{})
		hasProblem(t, probs, 1, "key", "other content")
	})
	var after bytes.Buffer
	if err := svc.BulkExport(context.Background(), &after, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if after.String() != before.String() {
		t.Errorf("refused imports changed the store:\n%s", after.String())
	}
	if !strings.Contains(before.String(), `"type":"label"`) {
		t.Errorf("export lacks the label definition:\n%s", before.String())
	}
}
