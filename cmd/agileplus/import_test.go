package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// bigPlan writes a canonical bulk file of n WPs in 100 features with about
// 3n depends_on edges, each WP on earlier ones (so no cycle).
func bigPlan(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	var recs []agileplus.Record
	recs = append(recs, agileplus.Record{Type: agileplus.RecProject, Key: "BIG", Name: "Big plan"})
	for f := range 100 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecFeature, Project: "BIG", Slug: fmt.Sprintf("f-%03d", f), Title: fmt.Sprintf("Feature %d", f), State: agileplus.FeatureStates[f%len(agileplus.FeatureStates)]})
	}
	for i := 1; i <= n; i++ {
		est := float64(1 + rng.IntN(16))
		recs = append(recs, agileplus.Record{Type: agileplus.RecWP, Key: fmt.Sprintf("BIG-%d", i), Feature: fmt.Sprintf("f-%03d", i%100),
			Title: fmt.Sprintf("Work package %d", i), State: agileplus.WPStates[rng.IntN(len(agileplus.WPStates))], Estimate: &est})
	}
	seen := map[[2]int]bool{}
	for len(seen) < 3*n-6 {
		a := 2 + rng.IntN(n-1)
		b := max(1, a-1-rng.IntN(200))
		if b < a && !seen[[2]int{a, b}] {
			seen[[2]int{a, b}] = true
			recs = append(recs, agileplus.Record{Type: agileplus.RecDependency, From: fmt.Sprintf("BIG-%d", a), To: fmt.Sprintf("BIG-%d", b), Kind: agileplus.DependsOn})
		}
	}
	agileplus.SortRecords(recs)
	var buf bytes.Buffer
	if err := agileplus.WriteRecords(&buf, recs); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestImportExport100k imports a 100,000-WP file into the built server and
// exports it again: the bytes must be the same.
func TestImportExport100k(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	srv := startChild(t, bin, t.TempDir())
	c := httpapi.NewClient(srv.url, httpapi.WithActor("import-test"))
	file := bigPlan(100_000)
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
	if err := c.BulkExport(ctx, &out); err != nil {
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
