package agileplus

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Bulk import and export move whole plans as JSON lines, one record per
// line, keyed by human keys (project key, feature slug, WP key) so a file
// moves between installations. Export writes projects, features, WPs,
// dependencies and references in a canonical order; importing a file and
// exporting again gives the same bytes.

// Record types.
const (
	RecProject    = "project"
	RecFeature    = "feature"
	RecWP         = "wp"
	RecDependency = "dependency"
	RecReference  = "reference"
)

// Record is one line of a bulk file. Which fields apply depends on Type.
type Record struct {
	Type        string   `json:"type"`
	Key         string   `json:"key,omitempty"`     // project key, WP key
	Name        string   `json:"name,omitempty"`    // project
	Project     string   `json:"project,omitempty"` // feature: its project key
	Slug        string   `json:"slug,omitempty"`    // feature
	Feature     string   `json:"feature,omitempty"` // wp: its feature slug
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	State       string   `json:"state,omitempty"`
	Estimate    *float64 `json:"estimate,omitempty"`
	From        string   `json:"from,omitempty"` // dependency: WP keys or feature slugs
	To          string   `json:"to,omitempty"`
	Kind        string   `json:"kind,omitempty"` // dependency: depends_on, relates_to; reference: commit, pull_request
	WP          string   `json:"wp,omitempty"`   // reference
	Repo        string   `json:"repo,omitempty"`
	SHA         string   `json:"sha,omitempty"`
	URL         string   `json:"url,omitempty"`

	Line int `json:"-"` // line in the file, for problems
}

// ImportOptions control an import.
type ImportOptions struct {
	// AllowCycles imports depends_on cycles instead of refusing the file
	// ("checks off"); /v1/graph/cycles reports them afterwards.
	AllowCycles bool
}

// ImportResult counts what an import created and what it found already there.
type ImportResult struct {
	Created   map[string]int `json:"created"`
	Unchanged map[string]int `json:"unchanged"`
	Events    int            `json:"events"`
}

// ImportProblem is one reason a file was refused.
type ImportProblem struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportError refuses a whole file, listing its problems (at most
// MaxImportProblems of them). It is EINVALID.
type ImportError struct {
	Problems []ImportProblem
}

// MaxImportProblems bounds the problems an ImportError lists.
const MaxImportProblems = 100

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 5 {
			fmt.Fprintf(&b, "; ...")
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", p.Line, p.Message)
	}
	return b.String()
}

// Unwrap lets ErrorCode see an ImportError as EINVALID.
func (e *ImportError) Unwrap() error {
	return &Error{Code: EINVALID, Message: e.Error()}
}

// MaxImportLine bounds one line of a bulk file.
const MaxImportLine = 1 << 20

// ParseRecords reads JSON lines. Blank lines are skipped. Problems are
// collected, not returned one at a time.
func ParseRecords(r io.Reader) ([]Record, []ImportProblem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLine)
	var recs []Record
	var probs []ImportProblem
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		rec := Record{Line: line}
		if err := dec.Decode(&rec); err != nil {
			probs = append(probs, ImportProblem{Line: line, Message: "not a valid record: " + err.Error()})
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
		return nil, nil, err
	}
	return recs, probs, nil
}

// WriteRecords writes records as JSON lines.
func WriteRecords(w io.Writer, recs []Record) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// SortRecords puts records in the canonical export order: by type, then by
// key (WP keys by project and number).
func SortRecords(recs []Record) {
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

// compareWPKeys orders "CORE-9" before "CORE-10"; other strings as text.
func compareWPKeys(a, b string) int {
	pa, na, oka := splitWPKey(a)
	pb, nb, okb := splitWPKey(b)
	if oka && okb {
		return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(na, nb))
	}
	return cmp.Compare(a, b)
}

func splitWPKey(k string) (string, int64, bool) {
	i := strings.LastIndexByte(k, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(k[i+1:], 10, 64)
	return k[:i], n, err == nil && IsWPRef(k)
}
