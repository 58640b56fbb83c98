package agileplus

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Bulk import and export move whole plans as JSON lines, one record per
// line, keyed by human keys (project key, feature slug, WP key) so a file
// moves between installations. Export writes projects, label definitions,
// features, WPs, dependencies and references in a canonical order;
// importing a file and exporting again gives the same bytes. API keys go
// last, by prefix (bulk_keys.go). A feature or WP record leaves out the
// default priority (normal) and empty labels and owner, and a project,
// feature or WP record "archived" unless it is, so files written before
// they existed export again as they were. Comments follow references, in
// the order they were made, with their authors and earlier bodies.

// Record types.
const (
	RecProject    = "project"
	RecFeature    = "feature"
	RecWP         = "wp"
	RecDependency = "dependency"
	RecReference  = "reference"
	RecLabel      = "label" // a project's label definition
	RecComment    = "comment"
)

// Record is one line of a bulk file. Which fields apply depends on Type
// (recordTakes); a record that sets others is refused.
type Record struct {
	Type        string            `json:"type"`
	Key         string            `json:"key,omitempty"`     // project key, WP key
	Name        string            `json:"name,omitempty"`    // project, label
	Project     string            `json:"project,omitempty"` // feature, label: its project key
	Slug        string            `json:"slug,omitempty"`    // feature
	Feature     string            `json:"feature,omitempty"` // wp: its feature slug
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	State       string            `json:"state,omitempty"`
	Estimate    *float64          `json:"estimate,omitempty"`
	Priority    string            `json:"priority,omitempty"` // feature, wp
	Labels      []string          `json:"labels,omitempty"`   // feature, wp
	Owner       string            `json:"owner,omitempty"`    // wp
	Archived    bool              `json:"archived,omitempty"` // project, feature, wp
	Author      string            `json:"author,omitempty"`   // comment, on a wp or a feature
	Body        string            `json:"body,omitempty"`
	History     []CommentRevision `json:"history,omitempty"`
	Color       string            `json:"color,omitempty"` // label
	From        string            `json:"from,omitempty"`  // dependency: WP keys or feature slugs
	To          string            `json:"to,omitempty"`
	Kind        string            `json:"kind,omitempty"` // dependency: depends_on, relates_to; reference: commit, pull_request
	WP          string            `json:"wp,omitempty"`   // reference
	Repo        string            `json:"repo,omitempty"`
	SHA         string            `json:"sha,omitempty"`
	URL         string            `json:"url,omitempty"`
	// Key records only; a pointer keeps the other records small.
	*KeyFields

	Line int `json:"-"` // line in the file, for problems

	// desc is where Description went when the import moved it to its
	// spool (Description is then empty).
	desc spooled
}

// spooled is a string written to a descSpool: n bytes at off (n 0: none).
type spooled struct {
	off int64
	n   int
}

// ImportOptions control an import.
type ImportOptions struct {
	// AllowCycles imports depends_on cycles, between WPs or between
	// features, instead of refusing the file ("checks off");
	// /v1/graph/cycles reports the WP ones afterwards.
	AllowCycles bool
}

// ImportResult counts what an import created and what it found already there.
type ImportResult struct {
	Created   map[string]int `json:"created"`
	Unchanged map[string]int `json:"unchanged"`
	Events    int            `json:"events"`
	// Skipped counts the records the import passed over: key records
	// without a hash, which cannot be used without their secret.
	Skipped map[string]int `json:"skipped,omitempty"`
}

// ImportProblem is one reason a file was refused.
type ImportProblem struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`

	// conflict marks a well-formed record that contradicts another record
	// of the file or what is stored; the others are malformed records.
	conflict bool
}

// ImportError refuses a whole file, listing its problems (at most
// MaxImportProblems of them). Its Code is EINVALID when a record is
// malformed: a line that is not a record of its type, as the OpenAPI
// document's schema of the file describes one. It is ECONFLICT when every
// record is well formed but the file contradicts itself or the store: a
// reference to nothing, a duplicate, an entity that exists with other
// content, a dependency cycle. An empty Code is EINVALID.
type ImportError struct {
	Problems []ImportProblem
	Code     string
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

// Unwrap lets ErrorCode see an ImportError's code.
func (e *ImportError) Unwrap() error {
	return &Error{Code: cmpOr(e.Code, EINVALID), Message: e.Error()}
}

// MaxImportLine bounds one line of a bulk file.
const MaxImportLine = 1 << 20

// ParseRecords reads JSON lines. Blank lines are skipped. Problems are
// collected, not returned one at a time: reading stops after the line of
// the MaxImportProblems-th problem.
//
// Lines are read here and decoded by a worker per CPU, parseChunk lines at
// a time; the chunks are put together in order, so the result is what
// decoding one line after the other gives.
func ParseRecords(r io.Reader) ([]Record, []ImportProblem, error) {
	out := &parsed{}
	if err := parseInto(r, out); err != nil {
		return nil, nil, err
	}
	return out.records(), out.probs, nil
}

// parseImport is ParseRecords for an import: it moves each record's
// description to spool as it goes and packs the records, so that the
// records kept in memory do not hold the bulk of the file's text.
func parseImport(r io.Reader, spool *descSpool) (*importRecords, []ImportProblem, error) {
	out := &parsed{spool: spool}
	if err := parseInto(r, out); err != nil {
		return nil, nil, err
	}
	return out.packedRecords(), out.probs, nil
}

// parseInto reads the lines of r into out.
func parseInto(r io.Reader, out *parsed) error {
	spool := out.spool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLine)
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *lineChunk, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				c.decode()
				close(c.done)
			}
		})
	}
	defer wg.Wait()
	var queue []*lineChunk // submitted, not yet taken in
	// takeDone takes in the decoded chunks at the head of the queue, or
	// waits for every chunk, until the problems are full.
	takeDone := func(wait bool) {
		for len(queue) > 0 && !out.full() {
			if wait {
				<-queue[0].done
			} else {
				select {
				case <-queue[0].done:
				default:
					return
				}
			}
			out.take(queue[0])
			queue = queue[1:]
		}
	}
	c := newLineChunk(1, 64<<10)
	line := 1
	for ; !out.full() && sc.Scan(); line++ {
		c.add(sc.Bytes())
		if len(c.ends) == parseChunk {
			size := cap(c.buf)
			queue = append(queue, c)
			jobs <- c // the worker owns c now
			c = newLineChunk(line+1, size)
			takeDone(false)
		}
	}
	queue = append(queue, c)
	jobs <- c
	close(jobs)
	takeDone(true)
	if spool != nil {
		if err := spool.seal(); err != nil {
			return err
		}
	}
	if out.full() {
		// Reading would have stopped at that line: what came after it,
		// errors included, does not count.
		return nil
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return FieldErrorf("body", "a line is longer than %d bytes", MaxImportLine)
		}
		// A body cut short is the client's doing, not the server's; the
		// read error stays reachable (transports look for their own, such
		// as a body over the size limit).
		return &readError{FieldErrorf("body", "cannot read the body: %v", err), err}
	}
	return nil
}

// readError is an EINVALID *Error about the body that also unwraps to the
// error reading it.
type readError struct {
	invalid *Error
	read    error
}

func (e *readError) Error() string   { return e.invalid.Error() }
func (e *readError) Unwrap() []error { return []error{e.invalid, e.read} }

// parseChunk is how many lines a ParseRecords worker decodes at a time.
const parseChunk = 2048

// lineChunk is consecutive lines of a bulk file and, once done is closed,
// their records and problems.
type lineChunk struct {
	first int    // line number of the first line
	buf   []byte // the lines, one after the other
	ends  []int  // line i is buf[ends[i-1]:ends[i]]
	recs  []Record
	probs []ImportProblem
	done  chan struct{}
}

// newLineChunk starts a chunk at line first, with room for size bytes.
func newLineChunk(first, size int) *lineChunk {
	return &lineChunk{first: first, buf: make([]byte, 0, size), ends: make([]int, 0, parseChunk), done: make(chan struct{})}
}

// add appends a line; a newline keeps it apart from the next.
func (c *lineChunk) add(line []byte) {
	c.buf = append(c.buf, line...)
	c.ends = append(c.ends, len(c.buf))
	c.buf = append(c.buf, '\n')
}

// decode decodes each line as a JSON value of its own. One decoder reads
// the lines one value after the other, which is what a decoder per line
// gives as long as each value starts and ends where its line's text does;
// a line where that is not so (an error, text after the value, a value
// over several lines, a space JSON does not skip) is decoded on its own,
// and the next line starts a new decoder.
func (c *lineChunk) decode() {
	c.recs = make([]Record, 0, len(c.ends))
	var dec *json.Decoder // reads c.buf from base
	base, start := 0, 0
	for i, end := range c.ends {
		text := c.buf[start:end]
		b := bytes.TrimSpace(text)
		from := start + cap(text) - cap(b) // b is c.buf[from : from+len(b)]
		start = end + 1
		if len(b) == 0 {
			continue
		}
		line := c.first + i
		c.recs = append(c.recs, Record{Line: line})
		rec := &c.recs[len(c.recs)-1]
		if dec == nil {
			dec = json.NewDecoder(bytes.NewReader(c.buf[from:]))
			dec.DisallowUnknownFields()
			base = from
		}
		prob, ok := ImportProblem{}, false
		if err := dec.Decode(rec); err == nil && base+int(dec.InputOffset()) == from+len(b) {
			prob, ok = refusedValue(b, line)
		} else {
			dec = nil
			*rec = Record{Line: line}
			if prob, ok = decodeLine(b, rec); ok {
				prob, ok = refusedValue(b, line)
			}
		}
		if !ok {
			c.recs = c.recs[:len(c.recs)-1]
			c.probs = append(c.probs, prob)
		}
	}
	c.buf, c.ends = nil, nil
}

// decodeLine decodes b, one trimmed line that is not empty, into rec on
// its own. A line that is not one record gives a problem worded for the
// author of the file, who knows JSON and the record fields, not Go types.
func decodeLine(b []byte, rec *Record) (ImportProblem, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(rec)
	if err == nil {
		// b is trimmed: what follows the value is text, not spaces.
		if dec.InputOffset() < int64(len(b)) {
			return ImportProblem{Line: rec.Line, Message: "not a valid record: text after the JSON object (one record per line)"}, false
		}
		return ImportProblem{}, true
	}
	prob := ImportProblem{Line: rec.Line}
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		prob.Message = "a line must be a JSON object, not " + jsonValueName(typ.Value)
	case errors.As(err, &typ):
		prob.Field = typ.Field
		want := "a string"
		if k := typ.Type.Kind(); k == reflect.Float64 || k == reflect.Float32 {
			want = "a number"
		}
		if num, ok := strings.CutPrefix(typ.Value, "number "); ok && want == "a number" {
			// A number, but too large for one (1e400).
			prob.Message = fmt.Sprintf("%s is out of range: %s", typ.Field, num)
		} else {
			prob.Message = fmt.Sprintf("%s must be %s, not %s", typ.Field, want, jsonValueName(typ.Value))
		}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// Decoding goes on past an unknown field, so rec.Type is known
		// when the line gives it as a string.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if len(name) <= maxFieldName {
			prob.Field = name
		}
		if recordTakes(rec.Type) != 0 {
			prob.Message = fmt.Sprintf("%s is not a field of a %s record", QuoteRef(name), rec.Type)
		} else {
			prob.Message = fmt.Sprintf("%s is not a field of any record", QuoteRef(name))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		prob.Message = "not a valid record: the line ends inside the JSON value"
	default:
		prob.Message = "not a valid record: " + err.Error()
	}
	return prob, false
}

// refusedValue finds what a line that decoded as a record may not hold
// all the same, because decoding reads it as a field left out: a null (the
// whole line's, a field's, an element's) and an empty string, but for the
// fields that may be empty (description, and a pull request's repo). b is
// the trimmed line; ok is false with the problem.
func refusedValue(b []byte, line int) (prob ImportProblem, ok bool) {
	if !bytes.Contains(b, []byte("null")) && !bytes.Contains(b, []byte(`""`)) {
		return ImportProblem{}, true
	}
	var v map[string]any
	if json.Unmarshal(b, &v) != nil {
		return ImportProblem{}, true // decoding as a record said it is one
	}
	if v == nil {
		return ImportProblem{Line: line, Message: "a line must be a JSON object, not null"}, false
	}
	for _, k := range slices.Sorted(maps.Keys(v)) {
		switch x := v[k].(type) {
		case nil:
			return ImportProblem{Line: line, Field: k, Message: k + " must not be null: leave the field out instead"}, false
		case string:
			if x == "" && !(k == "description" || k == "repo") {
				return ImportProblem{Line: line, Field: k, Message: k + " must not be empty: leave the field out instead"}, false
			}
			if typ, _ := v["type"].(string); x == "" && recordTakes(typ) != 0 && recordTakes(typ)&map[string]int{"description": fDescription, "repo": fRepo}[k] == 0 {
				// An empty one reads as left out, which the stray field
				// check cannot see.
				return ImportProblem{Line: line, Field: k, Message: fmt.Sprintf("%s is not a field of a %s record", k, typ)}, false
			}
		case []any:
			if slices.Contains(x, nil) {
				return ImportProblem{Line: line, Field: k, Message: k + " must not hold null"}, false
			}
		}
	}
	return ImportProblem{}, true
}

// maxFieldName bounds the unknown field name a problem repeats as its field.
const maxFieldName = 100

// jsonValueName names a JSON value as json.UnmarshalTypeError.Value gives
// its kind ("number", "array", "number 1e400", ...).
func jsonValueName(v string) string {
	switch kind, _, _ := strings.Cut(v, " "); kind {
	case "array", "object":
		return "an " + kind
	case "bool":
		return "a boolean"
	default:
		return "a " + kind
	}
}

// Record fields, as bits of recordTakes.
const (
	fKey = 1 << iota
	fName
	fProject
	fSlug
	fFeature
	fTitle
	fDescription
	fState
	fEstimate
	fFrom
	fTo
	fKind
	fWP
	fRepo
	fSHA
	fURL
	fPriority
	fOwner
	fColor
	fLabels
	fKeyFields // every field of KeyFields
	fAuthor
	fBody
	fArchived
	fHistory
)

// recordTakes returns the fields a type of record takes: those the export
// writes for it, so that an exported file imports again. 0 for an unknown
// type.
func recordTakes(typ string) int {
	switch typ {
	case RecProject:
		return fKey | fName | fArchived
	case RecFeature:
		return fProject | fSlug | fTitle | fDescription | fState | fPriority | fLabels | fArchived
	case RecWP:
		return fKey | fFeature | fTitle | fDescription | fState | fEstimate | fPriority | fLabels | fOwner | fArchived
	case RecComment:
		return fWP | fFeature | fAuthor | fBody | fHistory
	case RecLabel:
		return fProject | fName | fColor | fDescription
	case RecDependency:
		return fFrom | fTo | fKind
	case RecReference:
		return fWP | fKind | fRepo | fSHA | fURL | fState
	case RecKey:
		return fName | fKeyFields
	}
	return 0
}

// RecordTypes lists the record types, in the order of an export.
var RecordTypes = []string{RecProject, RecFeature, RecWP, RecDependency, RecReference, RecKey}

// RecordFields returns the JSON names of the fields a type of record takes
// besides type, nil for an unknown type: what a schema of the bulk file
// declares for the type.
func RecordFields(typ string) []string {
	takes := recordTakes(typ)
	if takes == 0 {
		return nil
	}
	names := [...]string{"key", "name", "project", "slug", "feature", "title", "description", "state", "estimate",
		"from", "to", "kind", "wp", "repo", "sha", "url"}
	var out []string
	for b, n := range names {
		if takes&(1<<b) != 0 {
			out = append(out, n)
		}
	}
	if takes&fKeyFields != 0 {
		out = append(out, "prefix", "scope", "projects", "created_at", "created_by", "expires_at", "revoked_at", "hash")
	}
	return out
}

// strayFields returns the fields set in r that its type does not take,
// which the import would otherwise drop without a word. Nil for an
// unknown type, which is a problem of its own.
func (r *Record) strayFields() []string {
	takes := recordTakes(r.Type)
	if takes == 0 {
		return nil
	}
	set := [...]struct {
		bit  int
		name string
		set  bool
	}{
		{fKey, "key", r.Key != ""}, {fName, "name", r.Name != ""}, {fProject, "project", r.Project != ""},
		{fSlug, "slug", r.Slug != ""}, {fFeature, "feature", r.Feature != ""}, {fTitle, "title", r.Title != ""},
		{fDescription, "description", r.Description != "" || r.desc.n > 0}, {fState, "state", r.State != ""},
		{fEstimate, "estimate", r.Estimate != nil}, {fFrom, "from", r.From != ""}, {fTo, "to", r.To != ""},
		{fKind, "kind", r.Kind != ""}, {fWP, "wp", r.WP != ""}, {fRepo, "repo", r.Repo != ""},
		{fSHA, "sha", r.SHA != ""}, {fURL, "url", r.URL != ""}, {fPriority, "priority", r.Priority != ""},
		{fOwner, "owner", r.Owner != ""}, {fColor, "color", r.Color != ""}, {fLabels, "labels", len(r.Labels) > 0},
		{fAuthor, "author", r.Author != ""}, {fBody, "body", r.Body != ""}, {fArchived, "archived", r.Archived}, {fHistory, "history", len(r.History) > 0},
	}
	var stray []string
	for _, f := range set {
		if f.set && takes&f.bit == 0 {
			stray = append(stray, f.name)
		}
	}
	if takes&fKeyFields == 0 {
		stray = append(stray, r.KeyFields.setNames()...)
	}
	return stray
}

// parsed puts decoded chunks together, up to the line of the
// MaxImportProblems-th problem.
type parsed struct {
	chunks [][]Record
	packed [][]packedRecord // instead of chunks, with a spool
	n      int              // records in chunks
	probs  []ImportProblem
	spool  *descSpool // where descriptions go, if set
}

func (p *parsed) full() bool { return len(p.probs) >= MaxImportProblems }

func (p *parsed) take(c *lineChunk) {
	probs := c.probs[:min(len(c.probs), MaxImportProblems-len(p.probs))]
	p.probs = append(p.probs, probs...)
	recs := c.recs
	if p.full() {
		last := probs[len(probs)-1].Line
		n := 0
		for n < len(recs) && recs[n].Line < last {
			n++
		}
		recs = recs[:n]
	}
	p.n += len(recs)
	if p.spool == nil {
		p.chunks = append(p.chunks, recs)
		return
	}
	packed := make([]packedRecord, len(recs))
	for i := range recs {
		if d := recs[i].Description; d != "" {
			recs[i].desc = p.spool.put(d)
			recs[i].Description = ""
		}
		packed[i] = pack(&recs[i])
	}
	p.packed = append(p.packed, packed)
}

// packedRecords returns the packed records of every chunk taken.
func (p *parsed) packedRecords() *importRecords {
	rs := &importRecords{recs: make([]packedRecord, 0, p.n)}
	for i, c := range p.packed {
		rs.recs = append(rs.recs, c...)
		p.packed[i] = nil
	}
	return rs
}

// records returns the records of every chunk taken, in one slice.
func (p *parsed) records() []Record {
	if p.n == 0 {
		return nil
	}
	recs := make([]Record, 0, p.n)
	for i, c := range p.chunks {
		recs = append(recs, c...)
		p.chunks[i] = nil
	}
	return recs
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
// key (WP keys by project and number). It sorts positions, with every WP
// key parsed once, and then moves the records.
func SortRecords(recs []Record) {
	permute(recs, recordOrder(len(recs), func(i int32, _ bool) *Record { return &recs[i] }))
}

// recordOrder returns the positions of n records in the canonical order;
// at returns record i (second: a call while the record of the previous
// call is still in use).
func recordOrder(n int, at func(i int32, second bool) *Record) []int32 {
	rank := map[string]int{RecProject: 0, RecLabel: 1, RecFeature: 2, RecWP: 3, RecDependency: 4, RecReference: 5, RecComment: 6, RecKey: 7}
	type wpKey struct {
		prefix string
		num    int64
		ok     bool
	}
	parsed := []wpKey{{}} // 0: the empty string
	index := map[string]int32{}
	parse := func(k string) int32 {
		if k == "" {
			return 0
		}
		i, ok := index[k]
		if !ok {
			prefix, num, ok := splitWPKey(k)
			i = int32(len(parsed))
			parsed = append(parsed, wpKey{prefix, num, ok})
			index[k] = i
		}
		return i
	}
	type sortKey struct {
		rank              int
		key, from, to, wp int32 // in parsed
	}
	keys := make([]sortKey, n)
	pos := make([]int32, n)
	for i := range int32(n) {
		r := at(i, false)
		keys[i] = sortKey{rank[r.Type], parse(r.Key), parse(r.From), parse(r.To), parse(r.WP)}
		pos[i] = i
	}
	// compareWPKeys, on parsed keys.
	wpCmp := func(a, b int32, as, bs string) int {
		if pa, pb := &parsed[a], &parsed[b]; pa.ok && pb.ok {
			return cmp.Or(cmp.Compare(pa.prefix, pb.prefix), cmp.Compare(pa.num, pb.num))
		}
		return cmp.Compare(as, bs)
	}
	slices.SortStableFunc(pos, func(x, y int32) int {
		ka, kb := &keys[x], &keys[y]
		if c := cmp.Compare(ka.rank, kb.rank); c != 0 {
			return c
		}
		a, b := at(x, false), at(y, true)
		switch a.Type {
		case RecProject:
			return cmp.Compare(a.Key, b.Key)
		case RecFeature:
			return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Slug, b.Slug))
		case RecLabel:
			return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
		case RecWP:
			return wpCmp(ka.key, kb.key, a.Key, b.Key)
		case RecDependency:
			return cmp.Or(wpCmp(ka.from, kb.from, a.From, b.From), wpCmp(ka.to, kb.to, a.To, b.To), cmp.Compare(a.Kind, b.Kind))
		case RecKey:
			return cmp.Compare(a.keyPrefix(), b.keyPrefix())
		case RecComment: // the comments of one WP or feature keep their order
			return cmp.Or(cmp.Compare(a.Feature, b.Feature), wpCmp(ka.wp, kb.wp, a.WP, b.WP))
		default:
			return cmp.Or(wpCmp(ka.wp, kb.wp, a.WP, b.WP), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.SHA, b.SHA), cmp.Compare(a.URL, b.URL))
		}
	})
	return pos
}

// permute moves s[pos[i]] to s[i], following each cycle once.
func permute[T any](s []T, pos []int32) {
	for i := range pos {
		if pos[i] < 0 {
			continue
		}
		held := s[i]
		j := int32(i)
		for {
			k := pos[j]
			pos[j] = -1
			if k == int32(i) {
				s[j] = held
				break
			}
			s[j] = s[k]
			j = k
		}
	}
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
