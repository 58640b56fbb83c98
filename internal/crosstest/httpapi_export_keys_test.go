package crosstest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// TestExportKeyHashesOverHTTP: GET /v1/export writes key hashes only with
// key_hashes=true, the client asks for them with ExportOptions, and an
// import over HTTP recreates the keys or reports them skipped.
func TestExportKeyHashesOverHTTP(t *testing.T) {
	srv, store := newTestAPI(t)
	ctx := context.Background()
	kc, err := agileplus.NewService(store).CreateKey(ctx, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	c := httpapi.NewClient(srv.URL, httpapi.WithActor("tester"))
	export := func(opts agileplus.ExportOptions) string {
		t.Helper()
		var b bytes.Buffer
		if err := c.BulkExport(ctx, &b, opts); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	plain, hashed := export(agileplus.ExportOptions{}), export(agileplus.ExportOptions{KeyHashes: true})
	if !strings.Contains(plain, `"prefix":"`+kc.Prefix+`"`) || strings.Contains(plain, kc.Hash) || strings.Contains(plain, `"hash"`) {
		t.Errorf("export without key hashes: %s", plain)
	}
	if !strings.Contains(hashed, `"hash":"`+kc.Hash+`"`) {
		t.Errorf("export with key hashes: %s", hashed)
	}
	if code, eb, _ := do(t, srv, "GET", "/v1/export?key_hashes=maybe", ""); code != 400 || eb.Error.Field != "key_hashes" {
		t.Errorf("key_hashes=maybe: got %d %+v, want 400 naming key_hashes", code, eb)
	}

	other, _ := newTestAPI(t)
	oc := httpapi.NewClient(other.URL, httpapi.WithActor("tester"))
	res, err := oc.BulkImport(ctx, strings.NewReader(plain), agileplus.ImportOptions{})
	if err != nil || res.Skipped[agileplus.RecKey] != 1 || res.Created[agileplus.RecKey] != 0 {
		t.Fatalf("import without hashes: %+v, %v; want the key skipped", res, err)
	}
	res, err = oc.BulkImport(ctx, strings.NewReader(hashed), agileplus.ImportOptions{})
	if err != nil || res.Created[agileplus.RecKey] != 1 {
		t.Fatalf("import with hashes: %+v, %v; want the key created", res, err)
	}
}
