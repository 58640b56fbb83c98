package agileplus

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// parseOneByOne is ParseRecords as it was before it decoded in parallel:
// a decoder per line, in line order. ParseRecords must give what it gives.
func parseOneByOne(r io.Reader) ([]Record, []ImportProblem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLine)
	var recs []Record
	var probs []ImportProblem
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec := Record{Line: line}
		prob, ok := decodeLine(b, &rec)
		if ok {
			prob, ok = refusedValue(b, line)
		}
		if !ok {
			probs = append(probs, prob)
		} else {
			recs = append(recs, rec)
		}
		if len(probs) >= MaxImportProblems {
			break
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, FieldErrorf("body", "a line is longer than %d bytes", MaxImportLine)
		}
		return nil, nil, &readError{FieldErrorf("body", "cannot read the body: %v", err), err}
	}
	return recs, probs, nil
}

// oddLines are lines a bulk file may hold, valid or not, and the ways
// one decoder reading line after line could go wrong.
var oddLines = []string{
	`{"type":"project","key":"CORE","name":"Core"}`,
	`  {"type":"wp","key":"CORE-1","feature":"f","title":"x","estimate":2}  `,
	"\t{\"type\":\"feature\",\"project\":\"CORE\",\"slug\":\"f\",\"title\":\"F\"}\r",
	``,
	`   `,
	"\u00a0{\"type\":\"project\",\"key\":\"NBSP\",\"name\":\"n\"}", // a space JSON does not skip
	"{\"type\":\"project\",\"key\":\"NBSP2\",\"name\":\"n\"}\u00a0",
	"\v{\"type\":\"project\",\"key\":\"VT\",\"name\":\"n\"}",
	`{"type":"project","key":"TAIL","name":"n"} trailing`,
	`{"type":"project","key":"TWO","name":"n"}{"type":"project","key":"THREE","name":"n"}`,
	`{"type":"project",`,
	`"key":"SPLIT","name":"n"}`,
	`{"type":"project","nope":1}`,
	`{"type":"wp","estimate":"x"}`,
	`[1,2]`,
	`12`,
	`"text"`,
	`null`,
	`{not json`,
	`{"Type":"project","KEY":"CASE","name":"n"}`,
	`{"type":"dependency","from":"CORE-2","to":"CORE-1"}`,
	`{"type":"reference","wp":"CORE-1","sha":"abc1234","repo":"r"}`,
	`}`,
}

func TestParseRecordsMatchesOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(t *testing.T, file string) {
		t.Helper()
		gotR, gotP, gotErr := ParseRecords(strings.NewReader(file))
		wantR, wantP, wantErr := parseOneByOne(strings.NewReader(file))
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(gotR, wantR) {
			t.Fatalf("got %d records, want %d (or they differ)", len(gotR), len(wantR))
		}
		if !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("problems differ:\ngot  %v\nwant %v", gotP, wantP)
		}
	}
	t.Run("odd lines", func(t *testing.T) {
		check(t, strings.Join(oddLines, "\n"))
		check(t, strings.Join(oddLines, "\n")+"\n")
		check(t, "")
		check(t, "\n\n")
	})
	t.Run("random mixes across chunks", func(t *testing.T) {
		for range 20 {
			var b strings.Builder
			n := rng.IntN(3 * parseChunk)
			bad := rng.IntN(4) // how often bad lines come
			for range n {
				if bad > 0 && rng.IntN(30) < bad {
					b.WriteString(oddLines[rng.IntN(len(oddLines))])
				} else {
					fmt.Fprintf(&b, `{"type":"wp","key":"CORE-%d","feature":"f","title":"t %d"}`, rng.IntN(1000), rng.IntN(10))
				}
				b.WriteByte('\n')
			}
			check(t, b.String())
		}
	})
	t.Run("problems stop reading", func(t *testing.T) {
		var b strings.Builder
		for i := range 5 * parseChunk {
			if i%40 == 7 {
				b.WriteString("{bad\n")
			} else {
				b.WriteString(`{"type":"project","key":"OK","name":"n"}` + "\n")
			}
		}
		// What follows the 100th problem does not count, a line too long
		// included.
		b.WriteString(strings.Repeat("x", MaxImportLine+1) + "\n")
		check(t, b.String())
		_, probs, err := ParseRecords(strings.NewReader(b.String()))
		if err != nil || len(probs) != MaxImportProblems {
			t.Fatalf("got %d problems, %v; want %d", len(probs), err, MaxImportProblems)
		}
	})
	t.Run("line too long", func(t *testing.T) {
		check(t, "{}\n"+strings.Repeat(" ", MaxImportLine+1)+"\n{}\n")
	})
}

func FuzzParseRecords(f *testing.F) {
	f.Add(strings.Join(oddLines, "\n"))
	f.Add("{}\n\n{\"type\":\"x\"}\n")
	f.Fuzz(func(t *testing.T, file string) {
		gotR, gotP, gotErr := ParseRecords(strings.NewReader(file))
		wantR, wantP, wantErr := parseOneByOne(strings.NewReader(file))
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(gotR, wantR) || !reflect.DeepEqual(gotP, wantP) {
			t.Fatalf("ParseRecords differs from one decoder per line on %q", file)
		}
	})
}

// sortOneByOne is SortRecords as it was: a stable sort of the records
// themselves, parsing keys at every comparison.
func sortOneByOne(recs []Record) {
	rank := map[string]int{RecProject: 0, RecFeature: 1, RecWP: 2, RecDependency: 3, RecReference: 4}
	slices.SortStableFunc(recs, func(a, b Record) int {
		if c := cmp.Compare(rank[a.Type], rank[b.Type]); c != 0 {
			return c
		}
		switch a.Type {
		case RecProject:
			return cmp.Compare(a.Key, b.Key)
		case RecFeature:
			return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Slug, b.Slug))
		case RecWP:
			return compareWPKeys(a.Key, b.Key)
		case RecDependency:
			return cmp.Or(compareWPKeys(a.From, b.From), compareWPKeys(a.To, b.To), cmp.Compare(a.Kind, b.Kind))
		default:
			return cmp.Or(compareWPKeys(a.WP, b.WP), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.SHA, b.SHA), cmp.Compare(a.URL, b.URL))
		}
	})
}

// TestSortRecordsMatchesOneByOne sorts random records, valid keys or not,
// of every type and some unknown ones, both ways.
func TestSortRecordsMatchesOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"CORE-1", "CORE-2", "CORE-10", "CORE-9", "WEB-1", "A1-3", "core-1", "CORE-1a", "CORE-", "-1", "auth", "f-001", "", "CORE-01", "wp_x", "B-2", "B-10", "B-1x"}
	types := []string{RecProject, RecFeature, RecWP, RecDependency, RecReference, "thing", ""}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for round := range 50 {
		recs := make([]Record, rng.IntN(300))
		for i := range recs {
			recs[i] = Record{Type: pick(types), Key: pick(keys), Project: pick(keys), Slug: pick(keys), From: pick(keys), To: pick(keys),
				WP: pick(keys), Kind: pick([]string{"", DependsOn, RelatesTo, RefCommit}), Repo: pick([]string{"", "r"}), SHA: pick([]string{"", "abc1234"}), Line: i + 1}
		}
		want := slices.Clone(recs)
		sortOneByOne(want)
		SortRecords(recs)
		if !reflect.DeepEqual(recs, want) {
			t.Fatalf("round %d: SortRecords differs from the stable sort of the records", round)
		}
	}
}
