package sqlitestore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
)

var _ agileplus.TextSearcher = (*Tx)(nil)

// ftsQueries returns the FTS5 queries for words: every word in some
// column, and every word in the title; the last word is a prefix. Words
// hold only letters and digits, and each is quoted, so nothing in them is
// FTS5 syntax.
func ftsQueries(words []string) (all, title string) {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = `"` + w + `"`
	}
	q[len(q)-1] += "*"
	all = strings.Join(q, " ")
	return all, "{title} : (" + all + ")"
}

// walkCheaper reports whether a rank of matches among docs items is
// cheaper to walk in key order, cut at a page of limit, than to rank
// whole. Ranking costs a lookup per match; a walk reads about
// limit*docs/matches items to fill the page, each a seek into the word's
// postings, about twice a lookup (measured on the search benchmark).
func walkCheaper(matches, docs, limit int) bool {
	return float64(matches)*float64(matches) > 2*float64(limit)*float64(docs)
}

// Search finds the WPs and features whose words match f (migration 0010
// keeps search_words in step with every write), ranked as
// agileplus.TextSearcher says. The hits are ranked and paged on
// search_docs alone; only the page is read from wps and features, unless a
// filter needs them. Rank by rank, few matches are ranked whole and many
// are walked in key order (search_docs_order, migration 0014) until the
// page is full.
func (t *Tx) Search(ctx context.Context, f agileplus.SearchFilter) ([]*agileplus.SearchHit, error) {
	all, title := ftsQueries(f.Words)
	exactName, exactNum := f.ExactSlug, int64(0)
	if i := strings.LastIndexByte(f.ExactKey, '-'); i > 0 {
		if n, err := strconv.ParseInt(f.ExactKey[i+1:], 10, 64); err == nil {
			exactName, exactNum = f.ExactKey[:i], n
		}
	}
	args := []any{sql.Named("all", all), sql.Named("title", title), sql.Named("limit", f.Limit),
		sql.Named("slug", f.ExactSlug), sql.Named("xname", exactName), sql.Named("xnum", exactNum)}
	named := func(name string, v any) string {
		args = append(args, sql.Named(name, v))
		return ":" + name
	}
	var where []string
	switch {
	case f.WPs && !f.Features:
		where = append(where, "d.kind = 1")
	case f.Features && !f.WPs:
		where = append(where, "d.kind = 0")
	case !f.WPs && !f.Features:
		return nil, nil
	}
	if f.ProjectIDs != nil {
		ps := make([]string, len(f.ProjectIDs))
		for i, id := range f.ProjectIDs {
			ps[i] = named("p"+strconv.Itoa(i), id)
		}
		where = append(where, "d.project_id IN ("+strings.Join(ps, ", ")+")")
	}
	// State, labels and owner are the item's: those filters read it.
	items := ""
	if f.State != "" || len(f.Labels) > 0 || f.Owner != "" {
		items = ` LEFT JOIN wps w ON d.kind = 1 AND w.id = d.item_id LEFT JOIN features f ON d.kind = 0 AND f.id = d.item_id`
	}
	if f.State != "" {
		where = append(where, "coalesce(w.state, f.state) = "+named("state", f.State))
	}
	if len(f.Labels) > 0 {
		ls := make([]string, len(f.Labels))
		for i, l := range f.Labels {
			ls[i] = "instr(','||coalesce(w.labels, f.labels)||',', " + named("l"+strconv.Itoa(i), ","+l+",") + ") > 0"
		}
		op := " AND "
		if f.AnyLabel {
			op = " OR "
		}
		where = append(where, "("+strings.Join(ls, op)+")")
	}
	if f.Owner != "" {
		where = append(where, "w.owner = "+named("owner", f.Owner))
	}
	if a := f.After; a != nil {
		named("arank", a.Rank)
		named("akind", a.Kind)
		named("aname", a.Name)
		named("anum", a.Num)
	}
	and := func(terms ...string) string {
		terms = append(slices.Clone(where), terms...)
		if len(terms) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(terms, " AND ")
	}
	// How many items match, and how many in their titles, against how
	// many there are: a rank of many matches is walked in key order and cut
	// at the page, one of few is ranked whole (walkCheaper).
	var nAll, nTitle, docs int
	err := t.queryRow(ctx, `SELECT (SELECT count(*) FROM search_words WHERE search_words MATCH :all),
			(SELECT count(*) FROM search_words WHERE search_words MATCH :title),
			(SELECT coalesce(max(doc), 0) FROM search_docs)`,
		sql.Named("all", all), sql.Named("title", title)).Scan(&nAll, &nTitle, &docs)
	if err != nil {
		return nil, wrap("search", err)
	}
	if nAll == 0 {
		return nil, nil
	}
	// A filter on the items or their projects may keep few of the items
	// walked: those queries rank their matches whole.
	walkable := items == "" && f.ProjectIDs == nil
	walk := func(matches int) bool {
		return t.s.searchWalk || walkable && walkCheaper(matches, docs, f.Limit)
	}
	// Each item walked is looked up in the index by its rowid: a seek into
	// the word's postings, not a read of all of them.
	const (
		exact   = `(d.kind = 1 AND d.name = :xname AND d.num = :xnum OR d.kind = 0 AND d.name = :slug)`
		inHit   = `EXISTS (SELECT 1 FROM search_words WHERE search_words MATCH :all AND rowid = d.doc)`
		inTitle = `EXISTS (SELECT 1 FROM search_words WHERE search_words MATCH :title AND rowid = d.doc)`
	)
	// tier is rank's part of the page: the exact item (an index lookup),
	// the title matches, the other matches.
	tier := func(rank int) string {
		var terms []string
		if rank > 0 {
			terms = append(terms, "NOT "+exact)
		}
		if a := f.After; a != nil {
			switch {
			case a.Rank > rank:
				return ""
			case a.Rank == rank:
				terms = append(terms, "(d.kind, d.name, d.num) > (:akind, :aname, :anum)")
			}
		}
		from := "search_docs d"
		switch rank {
		case 0:
			// Two index lookups: the query as a WP key, as a slug.
			key := `SELECT d.item_id, d.kind, d.name, d.num, 0 AS rank FROM search_docs d INDEXED BY search_docs_order` + items
			return key + and(append(terms, "d.kind = 1 AND d.name = :xname AND d.num = :xnum", inHit)...) +
				" UNION ALL " + key + and(append(terms, "d.kind = 0 AND d.name = :slug AND d.num = 0", inHit)...)
		case 1:
			if walk(nTitle) {
				from = "search_docs d INDEXED BY search_docs_order"
				terms = append(terms, inTitle)
			} else {
				// CROSS JOIN keeps the plan from the index out: read the
				// matches, then look each one up.
				from = "(SELECT rowid AS doc FROM search_words WHERE search_words MATCH :title) h CROSS JOIN search_docs d ON d.doc = h.doc"
			}
		case 2:
			if walk(nAll - nTitle) {
				from = "search_docs d INDEXED BY search_docs_order"
				terms = append(terms, inHit)
			} else {
				from = "(SELECT rowid AS doc FROM search_words WHERE search_words MATCH :all) h CROSS JOIN search_docs d ON d.doc = h.doc"
			}
			terms = append(terms, "NOT "+inTitle)
		}
		return `SELECT * FROM (SELECT d.item_id, d.kind, d.name, d.num, ` + strconv.Itoa(rank) + ` AS rank
			FROM ` + from + items + and(terms...) + ` ORDER BY d.kind, d.name, d.num LIMIT :limit)`
	}
	var parts []string
	for rank := range 3 {
		if p := tier(rank); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	q := `WITH top AS MATERIALIZED (SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) ORDER BY rank, kind, name, num LIMIT :limit)
		SELECT t.kind, t.rank, t.item_id, coalesce(w.key, f.slug), coalesce(p.key, t.name), coalesce(w.title, f.title),
			coalesce(w.state, f.state), coalesce(w.priority, f.priority), coalesce(w.labels, f.labels), coalesce(w.owner, '')
		FROM top t LEFT JOIN wps w ON t.kind = 1 AND w.id = t.item_id
			LEFT JOIN features f ON t.kind = 0 AND f.id = t.item_id LEFT JOIN projects p ON p.id = f.project_id
		ORDER BY t.rank, t.kind, t.name, t.num`
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("search", err)
	}
	return collect(rows, scanHit)
}

// nonEmpty is the terms that are not empty.
func nonEmpty(terms ...string) []string {
	return slices.DeleteFunc(terms, func(s string) bool { return s == "" })
}

func scanHit(sc interface{ Scan(...any) error }) (*agileplus.SearchHit, error) {
	var h agileplus.SearchHit
	var kind, rank, prio int
	var labels string
	if err := sc.Scan(&kind, &rank, &h.ID, &h.Key, &h.ProjectKey, &h.Title, &h.State, &prio, &labels, &h.Owner); err != nil {
		return nil, err
	}
	h.Kind = agileplus.KindFeature
	if kind == 1 {
		h.Kind = agileplus.KindWP
	}
	h.Match, h.Priority, h.Labels = agileplus.SearchMatch(rank), agileplus.PriorityOfRank(prio), splitLabels(labels)
	return &h, nil
}
