// Package planfile generates the large bulk-import file that the import
// round-trip test and the import benchmark share.
package planfile

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/agileplus/agileplus"
)

// Big returns a canonical bulk file (sorted, as an export writes it) of
// project BIG with n WPs (n >= 2) in 100 features and 3n-6 depends_on
// dependencies, each WP on one up to 200 before it, so there is no cycle.
// The same n always gives the same bytes.
func Big(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	var recs []agileplus.Record
	recs = append(recs, agileplus.Record{Type: agileplus.RecProject, Key: "BIG", Name: "Big plan"})
	for f := range 100 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecFeature, Project: "BIG", Slug: fmt.Sprintf("f-%03d", f),
			Title: fmt.Sprintf("Feature %d", f), State: agileplus.FeatureStates[f%len(agileplus.FeatureStates)]})
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
