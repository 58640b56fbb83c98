package agileplus

import (
	"reflect"
	"testing"
)

// TestPackedRecords checks that a packed record gives back the record it
// packs, every field set or none, and that packed records sort as
// SortRecords sorts records.
func TestPackedRecords(t *testing.T) {
	est := 2.5
	recs := []Record{
		{Type: RecWP, Key: "CORE-10", Feature: "f", Title: "t", State: WPDone, Estimate: &est, Line: 3, desc: spooled{40, 7}},
		{Type: RecDependency, From: "CORE-10", To: "CORE-9", Kind: DependsOn, Line: 4},
		{Type: "nonsense", Line: 5},
		{Type: RecReference, Key: "k", Name: "n", Project: "p", Slug: "s", Feature: "f", Title: "t", Description: "d", State: "open", Estimate: &est,
			From: "a", To: "b", Kind: "pull_request", WP: "CORE-1", Repo: "r", SHA: "0123", URL: "https://x", Line: 6},
		{Type: RecWP, Key: "CORE-9", Feature: "f", Line: 7},
		{Type: RecProject, Key: "CORE", Name: "Core", Line: 8},
		{Type: RecWP, Key: "CORE-11", Feature: "f", Priority: PriorityHigh, Labels: []string{"db", "go"}, Owner: "ann", Line: 9},
		{Type: RecLabel, Project: "CORE", Name: "go", Color: "#00add8", Description: "Go", Line: 10},
		{Type: RecFeature, Project: "CORE", Slug: "f", Labels: []string{"x"}, Archived: true, Line: 11},
		{Type: RecComment, WP: "CORE-9", Author: "ann", Body: "b2", History: []CommentRevision{{Body: "b1"}}, Line: 12},
		{Type: RecComment, Feature: "f", Author: "bo", Body: "c", Line: 13},
		{Type: RecComment, WP: "CORE-9", Author: "ann", Body: "b3", Line: 14},
		{},
	}
	rs := &importRecords{}
	for i := range recs {
		rs.recs = append(rs.recs, pack(&recs[i]))
	}
	for i := range recs {
		if got := rs.get(i); !reflect.DeepEqual(*got, recs[i]) {
			t.Errorf("record %d: got %+v, want %+v", i, *got, recs[i])
		}
	}
	want := append([]Record(nil), recs...)
	SortRecords(want)
	rs.sort()
	for i := range want {
		if got := rs.get(i); !reflect.DeepEqual(*got, want[i]) {
			t.Errorf("sorted %d: got line %d, want line %d", i, got.Line, want[i].Line)
		}
	}
}

// TestPackedRecordsCoverRecord fails when Record gains a field that pack
// does not keep: each string field must be in stringFields, at the bit of
// its f* constant, and set must have room for every bit. KeyFields is
// kept as its pointer; Labels after the string fields, Archived as its bit
// and History as its slice (TestPackedRecords).
func TestPackedRecordsCoverRecord(t *testing.T) {
	var r Record
	fields := r.stringFields()
	kept := map[*string]bool{}
	for _, f := range fields {
		kept[f] = true
	}
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Name == "Type" || f.Name == "Line" || f.Name == "Estimate" || f.Name == "KeyFields" || f.Name == "Labels" ||
			f.Name == "Archived" || f.Name == "History" {
			continue
		}
		if f.Type.Kind() != reflect.String || !kept[v.Field(i).Addr().Interface().(*string)] {
			t.Errorf("Record.%s is not kept by pack: add it to stringFields (and widen packedRecord.set past 16 fields)", f.Name)
		}
	}
}
