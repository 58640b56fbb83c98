package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/planfile"
)

// TestImportExport100k imports a 100,000-WP file into the built server and
// exports it again: the bytes must be the same.
func TestImportExport100k(t *testing.T) {
	if testing.Short() {
		// The scale run; sqlitestore's import tests cover the round trip.
		t.Skip("100,000 WPs through a child server: not under -short")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	srv := startChild(t, bin, t.TempDir())
	c := httpapi.NewClient(srv.url, httpapi.WithActor("import-test"))
	file := planfile.Big(100_000)
	ctx := context.Background()
	start := time.Now()
	res, err := c.BulkImport(ctx, bytes.NewReader(file), agileplus.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d bytes in %s: %+v", len(file), time.Since(start).Round(time.Millisecond), res.Created)
	if res.Created[agileplus.RecWP] != 100_000 {
		t.Fatalf("got %d WPs created, want 100000", res.Created[agileplus.RecWP])
	}
	var out bytes.Buffer
	if err := c.BulkExport(ctx, &out, agileplus.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		a, b := out.Bytes(), file
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("export differs from the import at byte %d: got %q, want %q", i, a[i:min(i+120, len(a))], b[i:min(i+120, len(b))])
	}
	// Importing it again changes nothing.
	res, err = c.BulkImport(ctx, bytes.NewReader(file), agileplus.ImportOptions{})
	if err != nil || len(res.Created) != 0 {
		t.Fatalf("second import: got %+v, %v; want nothing created", res, err)
	}
}
