package agileplus

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Flags are typed settings the platform obeys, global or per project: a
// project's value overrides the global one, which overrides the flag's
// default. They live in the system of record; each change is a "flag.set"
// event of the scope's flag set.

// Flag names the platform obeys.
const (
	// FlagMaxClaimsPerAgent caps the live leases one agent holds, in every
	// project together; the cap of the claimed WP's project applies.
	FlagMaxClaimsPerAgent = "wip.max_claims_per_agent"
	// FlagMaxDoingPerProject caps a project's WPs in doing.
	FlagMaxDoingPerProject = "wip.max_doing_per_project"
	// FlagRequireReview, when true, keeps a WP from moving from doing to
	// done without passing review.
	FlagRequireReview = "workflow.require_review"
)

// Flag types.
const (
	FlagBool    = "bool"
	FlagInteger = "integer"
	FlagString  = "string"
)

// Where a flag's value comes from.
const (
	FlagFromDefault = "default"
	FlagFromGlobal  = "global"
	FlagFromProject = "project"
)

// KindFlag is the entity kind of flag sets in events: the global set and
// one per project.
const KindFlag = "flag"

// PrefixFlags starts the entity id of a flag set: "flg_global", or
// "flg_" and the project id's unique part.
const PrefixFlags = "flg_"

// FlagSetID is the entity id of the flag set of a project id, or of the
// global set for "".
func FlagSetID(projectID string) string {
	if projectID == "" {
		return PrefixFlags + "global"
	}
	return PrefixFlags + strings.TrimPrefix(projectID, PrefixProject)
}

// FlagDef declares a flag: its type, default and bounds.
type FlagDef struct {
	Name    string
	Type    string
	Default json.RawMessage
	// Min and Max bound an integer; MaxLength a string (in characters).
	Min, Max  int64
	MaxLength int
	Doc       string
}

// MaxFlagString bounds a string flag without a MaxLength of its own.
const MaxFlagString = 200

// FlagDefs are the flags the platform knows, by name.
var FlagDefs = []FlagDef{
	{Name: FlagMaxClaimsPerAgent, Type: FlagInteger, Default: json.RawMessage("0"), Min: 0, Max: 1000,
		Doc: "live leases one agent may hold in every project together; 0 is no limit"},
	{Name: FlagMaxDoingPerProject, Type: FlagInteger, Default: json.RawMessage("0"), Min: 0, Max: 100000,
		Doc: "WPs a project may have in doing; 0 is no limit"},
	{Name: FlagRequireReview, Type: FlagBool, Default: json.RawMessage("true"),
		Doc: "a WP moves from doing to done only through review; false lets it go straight to done"},
}

// FlagNames lists the known flags' names.
func FlagNames() []string {
	names := make([]string, len(FlagDefs))
	for i, d := range FlagDefs {
		names[i] = d.Name
	}
	return names
}

// LookupFlag returns the definition of a known flag, or an EINVALID
// *Error naming field.
func LookupFlag(field, name string) (FlagDef, error) {
	for _, d := range FlagDefs {
		if d.Name == name {
			return d, nil
		}
	}
	return FlagDef{}, FieldErrorf(field, "%s is not a flag; the flags are %s", QuoteRef(name), inWords(FlagNames(), "and"))
}

// Parse checks a JSON value against d and returns its canonical form, or
// an EINVALID *Error naming field. An integer may be written 3, 3.0 or 3e0.
func (d FlagDef) Parse(field string, raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, FieldErrorf(field, "%s is not a JSON value", field)
	}
	wrongType := func() error {
		return FieldErrorf(field, "flag %s is %s, not %s", d.Name, withArticle(d.Type), jsonTypeOf(v))
	}
	switch d.Type {
	case FlagBool:
		b, ok := v.(bool)
		if !ok {
			return nil, wrongType()
		}
		return json.RawMessage(strconv.FormatBool(b)), nil
	case FlagInteger:
		num, ok := v.(json.Number)
		if !ok {
			return nil, wrongType()
		}
		n, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(num.String(), 64)
			if ferr != nil || f != math.Trunc(f) {
				return nil, FieldErrorf(field, "flag %s is an integer, not %s", d.Name, num)
			}
			if f < math.MinInt64 || f >= math.MaxInt64 {
				return nil, FieldErrorf(field, "flag %s is out of range: %s", d.Name, num)
			}
			n = int64(f)
		}
		if n < d.Min || n > d.Max {
			return nil, FieldErrorf(field, "flag %s must be between %d and %d, not %d", d.Name, d.Min, d.Max, n)
		}
		return json.RawMessage(strconv.FormatInt(n, 10)), nil
	case FlagString:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		if max := cmp.Or(d.MaxLength, MaxFlagString); utf8.RuneCountInString(s) > max {
			return nil, FieldErrorf(field, "flag %s is longer than %d characters", d.Name, max)
		}
		if err := checkPrintable(field, s, false); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(s)
		return b, nil
	}
	return nil, fmt.Errorf("flag %s: unknown type %q", d.Name, d.Type)
}

// FromText reads a value as a command line gives it: true or false, a
// whole number, or text as it is.
func (d FlagDef) FromText(field, text string) (json.RawMessage, error) {
	if d.Type == FlagString {
		b, _ := json.Marshal(text)
		return d.Parse(field, b)
	}
	t := strings.TrimSpace(text)
	if !json.Valid([]byte(t)) {
		return nil, FieldErrorf(field, "flag %s is %s, not %s", d.Name, withArticle(d.Type), QuoteRef(text))
	}
	return d.Parse(field, json.RawMessage(t))
}

func withArticle(typ string) string {
	if typ == FlagInteger {
		return "an integer"
	}
	return "a " + typ
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + x.String()
	case string:
		return "a string"
	case []any:
		return "an array"
	case nil:
		return "null"
	}
	return "an object"
}

// FlagsUpdate is the input of SetFlags: values to set and flags to return
// to the value above them (the global one, or the default). A flag is
// named in one of them at most.
type FlagsUpdate struct {
	Set   map[string]json.RawMessage `json:"set,omitempty" doc:"flag name to value, each of the flag's type and within its bounds"`
	Unset []string                   `json:"unset,omitempty" doc:"flags whose stored value to remove"`
}

// Validate checks every name and value and returns the canonical values;
// it writes nothing, so a refused update leaves everything as it was.
func (u FlagsUpdate) Validate() (map[string]json.RawMessage, error) {
	if len(u.Set) == 0 && len(u.Unset) == 0 {
		return nil, FieldErrorf("set", "name at least one flag to set or unset")
	}
	out := make(map[string]json.RawMessage, len(u.Set))
	for _, name := range slices.Sorted(maps.Keys(u.Set)) {
		field := "set." + name
		d, err := LookupFlag(field, name)
		if err != nil {
			return nil, err
		}
		if out[name], err = d.Parse(field, u.Set[name]); err != nil {
			return nil, err
		}
	}
	for i, name := range u.Unset {
		field := fmt.Sprintf("unset[%d]", i)
		if _, err := LookupFlag(field, name); err != nil {
			return nil, err
		}
		if _, both := u.Set[name]; both {
			return nil, FieldErrorf(field, "flag %s is both set and unset", name)
		}
	}
	return out, nil
}

// Flag is one flag's value in a scope, where it comes from, and its
// declaration.
type Flag struct {
	Name        string          `json:"name"`
	Type        string          `json:"type" enum:"bool,integer,string"`
	Value       json.RawMessage `json:"value" doc:"the value in force: the project's, else the global one, else the default"`
	Source      string          `json:"source" enum:"project,global,default" doc:"where the value comes from"`
	Default     json.RawMessage `json:"default"`
	Minimum     *int64          `json:"minimum,omitempty"`
	Maximum     *int64          `json:"maximum,omitempty"`
	Description string          `json:"description"`
}

// FlagSet is every known flag's value in force in a scope.
type FlagSet struct {
	Project string  `json:"project,omitempty" doc:"the project's key; absent for the global flags"`
	Flags   []*Flag `json:"flags"`
}

// Get returns the flag of that name, or nil.
func (fs *FlagSet) Get(name string) *Flag {
	for _, f := range fs.Flags {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// resolveFlags is the FlagSet of stored global and project values (nil
// maps for none); project is the project's key, "" for the global set.
func resolveFlags(project string, global, own map[string]string) *FlagSet {
	fs := &FlagSet{Project: project}
	for _, d := range FlagDefs {
		f := &Flag{Name: d.Name, Type: d.Type, Value: d.Default, Source: FlagFromDefault, Default: d.Default, Description: d.Doc}
		if d.Type == FlagInteger {
			f.Minimum, f.Maximum = &d.Min, &d.Max
		}
		if v, ok := global[d.Name]; ok {
			f.Value, f.Source = json.RawMessage(v), FlagFromGlobal
		}
		if v, ok := own[d.Name]; ok {
			f.Value, f.Source = json.RawMessage(v), FlagFromProject
		}
		fs.Flags = append(fs.Flags, f)
	}
	return fs
}

// FlagReadTx reads stored flag values and the counts the WIP limits
// need; ReadTx includes it.
type FlagReadTx interface {
	// FlagValues returns the values stored in a scope ("" for global, or
	// a project id): name to the value's canonical JSON. None is an empty
	// map, no error.
	FlagValues(ctx context.Context, scope string) (map[string]string, error)
	// LiveLeases counts the WPs whose lease agent holds and that expires
	// after now.
	LiveLeases(ctx context.Context, agent string, now time.Time) (int, error)
	// CountWPs counts a project's WPs in a state, archived ones included.
	CountWPs(ctx context.Context, projectID, state string) (int, error)
}

// FlagTx writes flag values; Tx includes it.
type FlagTx interface {
	// PutFlagValues stores the values of set and removes the flags of
	// unset in a scope ("" for global, or a project id); removing one not
	// stored is no error.
	PutFlagValues(ctx context.Context, scope string, set map[string]string, unset []string) error
}
