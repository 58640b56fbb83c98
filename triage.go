package agileplus

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Priorities of WPs and features, most pressing first.
const (
	PriorityUrgent = "urgent"
	PriorityHigh   = "high"
	PriorityNormal = "normal"
	PriorityLow    = "low"
)

// Priorities lists the priorities, most pressing first: the order of
// "by priority".
var Priorities = []string{PriorityUrgent, PriorityHigh, PriorityNormal, PriorityLow}

// DefaultPriority is the priority of what is created without one, and of
// what was stored before priorities existed.
const DefaultPriority = PriorityNormal

// PriorityRank is p's place in Priorities (0 for urgent), -1 if p is not
// a priority. Stores keep the rank so that "by priority" is an index order.
func PriorityRank(p string) int { return slices.Index(Priorities, p) }

// PriorityOfRank is the priority of a rank; ranks out of range (a store
// written by a newer version) read as the default.
func PriorityOfRank(r int) string {
	if r < 0 || r >= len(Priorities) {
		return DefaultPriority
	}
	return Priorities[r]
}

func validatePriority(field, p string) error {
	if PriorityRank(p) < 0 {
		return FieldErrorf(field, "unknown priority %q; priorities are %s", p, strings.Join(Priorities, ", "))
	}
	return nil
}

// Label limits. Labels are short words ("go", "frontend", "area/db")
// stored in lower case; the charset keeps them usable unquoted in CLI
// flags, URLs and the comma-separated lists the stores keep.
const (
	MaxLabels   = 20
	MaxLabelLen = 40
	// LabelPattern is what a label may look like before it is lower-cased.
	LabelPattern = `^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$`
)

var labelRE = regexp.MustCompile(LabelPattern)

// NormalizeLabel lower-cases a label and checks it; field names it in the
// error.
func NormalizeLabel(field, l string) (string, error) {
	if !labelRE.MatchString(l) {
		return "", FieldErrorf(field, "%s", labelRule(l))
	}
	return strings.ToLower(l), nil
}

func labelRule(l string) string {
	return fmt.Sprintf("label %s must be 1-%d letters, digits and . _ : / + -, starting with a letter or digit", QuoteRef(l), MaxLabelLen)
}

// NormalizeLabels lower-cases, checks, sorts and de-duplicates a set of
// labels: at most MaxLabels, each as NormalizeLabel wants. No labels are
// nil, as stores read them back.
func NormalizeLabels(field string, ls []string) ([]string, error) {
	if len(ls) > MaxLabels {
		return nil, FieldErrorf(field, "%s holds %d labels; at most %d are allowed", field, len(ls), MaxLabels)
	}
	out := make([]string, 0, len(ls))
	for i, l := range ls {
		if !labelRE.MatchString(l) {
			return nil, FieldErrorf(field, "%s[%d]: %s", field, i, labelRule(l))
		}
		out = append(out, strings.ToLower(l))
	}
	if len(out) == 0 {
		return nil, nil
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// normalizeLabels is NormalizeLabels for an optional input: nil stays nil.
func normalizeLabels(field string, ls *[]string) error {
	if ls == nil {
		return nil
	}
	n, err := NormalizeLabels(field, *ls)
	if err == nil {
		*ls = n
	}
	return err
}

// validateOwner checks a WP's owner: empty (nobody) or a name, which
// is then stored without the spaces around it; only spaces is refused.
func validateOwner(field, o string) error {
	if o == "" {
		return nil
	}
	return validateName(field, o, true)
}

// HasLabels reports whether have (sorted, as stored) holds every label of
// want, or, if any, at least one of them. An empty want matches.
func HasLabels(have, want []string, any bool) bool {
	if len(want) == 0 {
		return true
	}
	for _, l := range want {
		_, found := slices.BinarySearch(have, l)
		if found && any {
			return true
		}
		if !found && !any {
			return false
		}
	}
	return !any
}

// WPCursor is the cursor that follows w in a WP list sorted by sort
// ("" or SortID: its id; SortPriority: "<priority>:<id>").
func WPCursor(w *WP, sort string) string {
	if sort == OrderPriority {
		return w.Priority + ":" + w.ID
	}
	return w.ID
}

// splitSortCursor reads the cursor of a list sorted by id or by priority,
// of ids starting with prefix: "id" or "priority:id". A cursor of either
// order is read in either: by id only its id counts. rank is -1 for a
// bare id.
func splitSortCursor(after, prefix string) (rank int, id string, err error) {
	rank, id = -1, after
	if p, rest, ok := strings.Cut(after, ":"); ok {
		rank, id = PriorityRank(p), rest
	}
	if after != "" && (!strings.HasPrefix(id, prefix) || strings.Contains(after, ":") && rank < 0) {
		return 0, "", FieldErrorf("after", "after must be the next cursor of the previous page, such as %s... or high:%s..., not %s", prefix, prefix, QuoteRef(after))
	}
	return rank, id, nil
}

// FeatureCursor is the cursor that follows f in a feature list sorted by
// sort, as WPCursor is for WPs.
func FeatureCursor(f *Feature, sort string) string {
	if sort == OrderPriority {
		return f.Priority + ":" + f.ID
	}
	return f.ID
}

// ReadyCursor is the cursor that follows w in the ready set in order (""
// or OrderKey: its key; OrderPriority: "<priority>:<key>").
func ReadyCursor(w *WP, order string) string {
	if order == OrderPriority {
		return w.Priority + ":" + w.Key
	}
	return w.Key
}

// wpFilter checks the filters and order of q and turns them into the
// store's terms (without the project and feature, which need lookups).
// Filters hold together: none reports that they cannot (mine and an owner
// who is not the caller), and the answer is then empty.
func wpFilter(ctx context.Context, q WPQuery) (f WPFilter, none bool, err error) {
	f, err = wpFilterTerms(ctx, q)
	if err == nil && q.Mine && q.Owner != "" {
		none = q.Owner != ActorFrom(ctx)
	}
	return f, none, err
}

func wpFilterTerms(ctx context.Context, q WPQuery) (WPFilter, error) {
	f := WPFilter{State: q.State, Owner: q.Owner, Page: q.Page}
	if q.State != "" && !slices.Contains(WPStates, q.State) {
		return f, FieldErrorf("state", "unknown work package state %q; states are %v", q.State, WPStates)
	}
	for _, p := range q.Priorities {
		if err := validatePriority("priority", p); err != nil {
			return f, err
		}
	}
	f.Priorities = q.Priorities
	if len(q.Labels) > 0 {
		var err error
		if f.Labels, err = NormalizeLabels("label", q.Labels); err != nil {
			return f, err
		}
	}
	switch q.LabelsMode {
	case "", LabelsAll:
	case LabelsAny:
		f.AnyLabel = true
	default:
		return f, FieldErrorf("labels_mode", "labels_mode must be %s or %s, not %s", LabelsAll, LabelsAny, QuoteRef(q.LabelsMode))
	}
	if q.Owner != "" {
		if err := validateOwner("owner", q.Owner); err != nil {
			return f, err
		}
	}
	if q.Mine {
		f.Owner = ActorFrom(ctx)
	}
	// By priority a bare id is the position of that WP, whose priority WPs
	// looks up (AfterRank -1 until then).
	rank, id, err := splitSortCursor(q.After, PrefixWP)
	if err != nil {
		return f, err
	}
	switch q.Sort {
	case "", SortID:
		f.After = id
	case OrderPriority:
		f.ByPriority = true
		f.After, f.AfterRank = id, rank
	default:
		return f, FieldErrorf("sort", "sort must be %s or %s, not %s", SortID, OrderPriority, QuoteRef(q.Sort))
	}
	return f, nil
}
