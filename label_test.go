package agileplus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

// A label definition is named in routes by its name or by the id it was
// created with; a name shaped like an id is refused, so the two never
// meet.
func TestLabelByNameOrID(t *testing.T) {
	ctx := context.Background()
	svc := openImportService(t)
	mustImport(t, svc, importBase, agileplus.ImportOptions{})
	for _, name := range []string{"go", "db", "ui"} {
		if _, err := svc.CreateLabel(ctx, "CORE", agileplus.LabelCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := svc.Label(ctx, "CORE", "DB")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := svc.Label(ctx, "CORE", db.ID); err != nil || l.Name != "db" {
		t.Fatalf("label by id: %+v, %v", l, err)
	}
	desc := "the database"
	if l, err := svc.UpdateLabel(ctx, "CORE", db.ID, agileplus.LabelUpdate{Description: &desc}, 0); err != nil || l.Description != desc || l.Name != "db" {
		t.Fatalf("update by id: %+v, %v", l, err)
	}
	if err := svc.DeleteLabel(ctx, "CORE", db.ID); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{db.ID, "db"} {
		if _, err := svc.Label(ctx, "CORE", ref); agileplus.ErrorCode(err) != agileplus.ENOTFOUND || agileplus.ErrorField(err) != "label" {
			t.Errorf("label %s after its delete: %v; want not found", ref, err)
		}
	}
	if l, err := svc.Label(ctx, "CORE", "go"); err != nil || l.Name != "go" {
		t.Errorf("the other labels: %+v, %v", l, err)
	}

	idLike := agileplus.PrefixLabel + strings.Repeat("0", 26)
	_, err = svc.CreateLabel(ctx, "CORE", agileplus.LabelCreate{Name: strings.ToUpper(idLike)})
	if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != "name" || !strings.Contains(err.Error(), "form of a label id") {
		t.Errorf("a name shaped like an id: %v; want invalid name", err)
	}
	if _, err := svc.CreateLabel(ctx, "CORE", agileplus.LabelCreate{Name: idLike + "x"}); err != nil {
		t.Errorf("a longer name: %v", err)
	}
}
