package agileplus

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Text search over WPs and features (Tracker.Search).
//
// Words: a text is split into words, the maximal runs of letters, digits
// and private-use characters, lower-cased (SearchWords); everything else
// separates them. "CORE-12" is the words core and 12, "fmt.Errorf" fmt and
// errorf. A query is split the same way, so its quotes, stars, minus
// signs, colons and parentheses are separators, never query syntax, and
// NEAR, AND, OR and NOT are plain words.
//
// Matching: an item matches when every word of the query is among the
// words of its key (WP key or feature slug), title and description taken
// together, the last word as a prefix ("logi" finds "login").
//
// Ranking, the same on every store: first the item whose key is the query
// itself (match "key": a WP key in any case, or a feature slug), then
// those with every word in the title (match "title"), then the others
// (match "text"); within each, features before WPs, features by slug,
// WPs by project key and then key number. No relevance score enters it,
// so that stores with different engines give the same order.
//
// Another source of text (comments) would be matched on its own: an item
// whose own fields do not match but one of whose comments holds every
// word would rank after "text" with match "comment".

// Search matches, best first.
const (
	MatchKey   = "key"
	MatchTitle = "title"
	MatchText  = "text"
)

// Search limits: a query longer than MaxSearchQuery bytes or with more
// than MaxSearchWords words is refused.
const (
	MaxSearchQuery = 500
	MaxSearchWords = 16
)

// SearchQuery is the input of Search.
type SearchQuery struct {
	Q       string
	Project string // a project ref; empty: every project the caller may use
	Kind    string // KindWP, KindFeature or empty for both
	State   string
	// Labels keeps the items with all of them (LabelsMode "all" or empty)
	// or any of them ("any").
	Labels     []string
	LabelsMode string
	// Owner keeps the WPs of one owner (features have none).
	Owner string
	// Page.After is the SearchCursor of the last hit of the previous page.
	Page
}

// SearchHit is one WP or feature a search found.
type SearchHit struct {
	// Kind is KindWP or KindFeature.
	Kind       string   `json:"kind" enum:"wp,feature"`
	ID         string   `json:"id"`
	Key        string   `json:"key" doc:"WP key or feature slug"`
	ProjectKey string   `json:"project_key"`
	Title      string   `json:"title"`
	State      string   `json:"state"`
	Priority   string   `json:"priority" enum:"urgent,high,normal,low"`
	Labels     []string `json:"labels,omitempty"`
	Owner      string   `json:"owner,omitempty"`
	Match      string   `json:"match" enum:"key,title,text" doc:"why it ranks where it does: key (the query is its key), title (every word in the title) or text"`
}

// SearchCursor is the cursor that follows h: "<match>:<key>".
func SearchCursor(h *SearchHit) string { return h.Match + ":" + h.Key }

// SearchPos is a position in ranked order: Rank (0 key, 1 title, 2
// text), then Kind (0 feature, 1 WP), then Name (a feature's slug, a WP's
// project key), then Num (a WP's key number, 0 for a feature).
type SearchPos struct {
	Rank, Kind int
	Name       string
	Num        int64
}

// Less reports whether p comes before o.
func (p SearchPos) Less(o SearchPos) bool {
	if p.Rank != o.Rank {
		return p.Rank < o.Rank
	}
	if p.Kind != o.Kind {
		return p.Kind < o.Kind
	}
	if p.Name != o.Name {
		return p.Name < o.Name
	}
	return p.Num < o.Num
}

// SearchFilter is what a store's text index is asked (TextSearcher).
type SearchFilter struct {
	// Words must all match (SearchWords of the query); the last one
	// matches as a prefix.
	Words []string
	// ExactKey and ExactSlug are the query as a WP key (upper-case) and
	// as a feature slug (lower-case): the item whose key it is ranks first.
	ExactKey, ExactSlug string
	// ProjectIDs keeps the items of these projects; nil keeps all.
	ProjectIDs []string
	// WPs and Features say which kinds to search.
	WPs, Features bool
	State         string
	Labels        []string // normalized
	AnyLabel      bool
	Owner         string // WPs only: with an owner, no feature matches
	// After, when set, keeps the hits after it in ranked order.
	After *SearchPos
	Limit int
}

// TextSearcher is a port of a store's read transactions: text search over
// the WPs and features it holds. The Service uses it when the store's
// ReadTx implements it; both stores do.
//
// Contract: Search returns the first f.Limit items that match f, in the
// order and with the Match that the ranking above defines, each with the
// fields of SearchHit; ties never depend on the engine. The index is in
// step with every committed write (and the transaction's own).
type TextSearcher interface {
	Search(ctx context.Context, f SearchFilter) ([]*SearchHit, error)
}

// SearchWords splits s into lower-case words: runs of letters, digits and
// private-use characters. SQLite's FTS5 unicode61 tokenizer (without
// diacritic folding) splits text the same way.
func SearchWords(s string) []string {
	var out []string
	for w := range strings.FieldsFuncSeq(s, func(r rune) bool { return !isWordRune(r) }) {
		out = append(out, strings.ToLower(w))
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// SearchText is the words of s joined by single spaces: a text indexed by
// an engine that splits at spaces only (Neo4j's whitespace analyzer)
// then holds the words SearchWords finds.
func SearchText(s ...string) string {
	var out []string
	for _, t := range s {
		out = append(out, SearchWords(t)...)
	}
	return strings.Join(out, " ")
}

// searchRank returns the rank number (0, 1, 2) of a match, -1 if none.
func searchRank(match string) int {
	return slices.Index([]string{MatchKey, MatchTitle, MatchText}, match)
}

// SearchMatch is the match of a rank number.
func SearchMatch(rank int) string {
	return []string{MatchKey, MatchTitle, MatchText}[rank]
}

// searchFilter checks q and turns it into the store's terms, without the
// projects, which need lookups.
func searchFilter(q SearchQuery) (SearchFilter, error) {
	var f SearchFilter
	if len(q.Q) > MaxSearchQuery {
		return f, FieldErrorf("q", "q must be at most %d bytes, not %d", MaxSearchQuery, len(q.Q))
	}
	f.Words = SearchWords(q.Q)
	switch n := len(f.Words); {
	case n == 0:
		return f, FieldErrorf("q", "q must hold a word to search for (letters or digits), not %s", QuoteRef(q.Q))
	case n > MaxSearchWords:
		return f, FieldErrorf("q", "q must hold at most %d words, not %d", MaxSearchWords, n)
	}
	exact := strings.TrimSpace(q.Q)
	f.ExactKey, f.ExactSlug = strings.ToUpper(exact), strings.ToLower(exact)
	switch q.Kind {
	case "":
		f.WPs, f.Features = true, true
	case KindWP:
		f.WPs = true
	case KindFeature:
		f.Features = true
	default:
		return f, FieldErrorf("kind", "kind must be %s or %s, not %s", KindWP, KindFeature, QuoteRef(q.Kind))
	}
	if q.State != "" {
		inWP, inFeature := slices.Contains(WPStates, q.State), slices.Contains(FeatureStates, q.State)
		// A state of the other kind than kind asks is no error: the
		// filters hold together and match nothing.
		if !inWP && !inFeature {
			return f, FieldErrorf("state", "unknown state %s; work package states are %v, feature states %v", QuoteRef(q.State), WPStates, FeatureStates)
		}
		f.State = q.State
		f.WPs, f.Features = f.WPs && inWP, f.Features && inFeature
	}
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
		f.Owner = strings.TrimSpace(q.Owner)
		f.Features = false
	}
	var err error
	if f.Limit, err = ClampLimit(q.Limit); err != nil {
		return f, err
	}
	if q.After != "" {
		pos, err := parseSearchCursor(q.After)
		if err != nil {
			return f, err
		}
		f.After = &pos
	}
	return f, nil
}

// parseSearchCursor reads a SearchCursor back into a position.
func parseSearchCursor(after string) (SearchPos, error) {
	bad := FieldErrorf("after", "after must be the next cursor of the previous page, such as title:CORE-12 or text:login-flow, not %s", QuoteRef(after))
	match, key, _ := strings.Cut(after, ":")
	pos := SearchPos{Rank: searchRank(match)}
	if pos.Rank < 0 || key == "" {
		return pos, bad
	}
	if i := strings.LastIndexByte(key, '-'); i > 0 && key == strings.ToUpper(key) && unicode.IsUpper(rune(key[0])) {
		n, err := strconv.ParseInt(key[i+1:], 10, 64)
		if err != nil || n < 1 || n > MaxWPNumber {
			return pos, bad
		}
		pos.Kind, pos.Name, pos.Num = 1, key[:i], n
		return pos, nil
	}
	if key != strings.ToLower(key) {
		return pos, bad
	}
	pos.Name = key
	return pos, nil
}

// Search finds WPs and features by their words, ranked as the comment at
// the top of search.go says. A key limited to projects finds only theirs.
func (s *Service) Search(ctx context.Context, q SearchQuery) (hits []*SearchHit, err error) {
	f, err := searchFilter(q)
	if err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		ts, ok := tx.(TextSearcher)
		if !ok {
			return Errorf(EUNAVAILABLE, "this store has no text index")
		}
		if q.Project != "" {
			p, err := tx.Project(ctx, q.Project)
			if err != nil {
				return err
			}
			if err := allow(lim, "project", p.Key); err != nil {
				return err
			}
			f.ProjectIDs = []string{p.ID}
		} else if lim != nil {
			ps, err := allowedProjects(ctx, tx, lim)
			if err != nil || len(ps) == 0 {
				return err
			}
			f.ProjectIDs = make([]string, len(ps))
			for i, p := range ps {
				f.ProjectIDs[i] = p.ID
			}
		}
		hits, err = ts.Search(ctx, f)
		return err
	})
	return hits, err
}
