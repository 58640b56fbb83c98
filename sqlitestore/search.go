package sqlitestore

import (
	"context"
	"database/sql"
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

// Search finds the WPs and features whose words match f (migration 0010
// keeps search_words in step with every write), ranked as
// agileplus.TextSearcher says. The hits are ranked and paged on
// search_docs alone; only the page is read from wps and features, unless a
// filter needs them.
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
		where = append(where, "(rank, d.kind, d.name, d.num) > ("+named("arank", a.Rank)+", "+named("akind", a.Kind)+", "+
			named("aname", a.Name)+", "+named("anum", a.Num)+")")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	// MATERIALIZED and CROSS JOIN keep the plan from the index out: read
	// the matches, then look each one up, never the other way round.
	q := `WITH hit AS MATERIALIZED (SELECT rowid AS doc FROM search_words WHERE search_words MATCH :all),
		title AS MATERIALIZED (SELECT rowid AS doc FROM search_words WHERE search_words MATCH :title),
		top AS MATERIALIZED (
			SELECT d.item_id, d.kind, d.name, d.num,
				CASE WHEN d.kind = 1 AND d.name = :xname AND d.num = :xnum OR d.kind = 0 AND d.name = :slug THEN 0
					WHEN d.doc IN title THEN 1 ELSE 2 END AS rank
			FROM hit h CROSS JOIN search_docs d ON d.doc = h.doc` + items + cond + `
			ORDER BY rank, d.kind, d.name, d.num LIMIT :limit)
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
