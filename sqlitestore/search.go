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

// searchHit lists a hit's columns in both arms of the search query: the
// kind's rank (0 feature, 1 WP), the name and number it sorts by, the
// rank of its match and the fields of the hit.
const searchCols = `kind, name, num, rank, id, key, pkey, title, state, priority, labels, owner`

// Search finds the WPs and features whose words match f (migration 0010
// keeps search_words in step with every write), ranked as
// agileplus.TextSearcher says.
func (t *Tx) Search(ctx context.Context, f agileplus.SearchFilter) ([]*agileplus.SearchHit, error) {
	all, title := ftsQueries(f.Words)
	args := []any{sql.Named("all", all), sql.Named("title", title), sql.Named("limit", f.Limit)}
	named := func(name string, v any) string {
		args = append(args, sql.Named(name, v))
		return ":" + name
	}
	// filters are the conditions on x, the WP or feature of each arm.
	filters := func(x string) string {
		var where []string
		if f.ProjectIDs != nil {
			ps := make([]string, len(f.ProjectIDs))
			for i, id := range f.ProjectIDs {
				ps[i] = named(x+"p"+strconv.Itoa(i), id)
			}
			where = append(where, x+".project_id IN ("+strings.Join(ps, ", ")+")")
		}
		if f.State != "" {
			where = append(where, x+".state = "+named(x+"state", f.State))
		}
		if len(f.Labels) > 0 {
			ls := make([]string, len(f.Labels))
			for i, l := range f.Labels {
				ls[i] = "instr(','||" + x + ".labels||',', " + named(x+"l"+strconv.Itoa(i), ","+l+",") + ") > 0"
			}
			op := " AND "
			if f.AnyLabel {
				op = " OR "
			}
			where = append(where, "("+strings.Join(ls, op)+")")
		}
		if f.Owner != "" {
			where = append(where, x+".owner = "+named("owner", f.Owner))
		}
		if len(where) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(where, " AND ")
	}
	var arms []string
	if f.Features {
		arms = append(arms, `SELECT 0 AS kind, f.slug AS name, 0 AS num,
			CASE WHEN f.slug = `+named("slug", f.ExactSlug)+` THEN 0 WHEN h.doc IN (SELECT doc FROM title) THEN 1 ELSE 2 END AS rank,
			f.id AS id, f.slug AS key, p.key AS pkey, f.title AS title, f.state AS state, f.priority AS priority, f.labels AS labels, '' AS owner
			FROM hit h JOIN search_docs d ON d.doc = h.doc JOIN features f ON f.id = d.item_id JOIN projects p ON p.id = f.project_id`+filters("f"))
	}
	if f.WPs {
		arms = append(arms, `SELECT 1 AS kind, substr(w.key, 1, instr(w.key, '-') - 1) AS name, w.num AS num,
			CASE WHEN w.key = `+named("key", f.ExactKey)+` THEN 0 WHEN h.doc IN (SELECT doc FROM title) THEN 1 ELSE 2 END AS rank,
			w.id AS id, w.key AS key, substr(w.key, 1, instr(w.key, '-') - 1) AS pkey, w.title AS title, w.state AS state,
			w.priority AS priority, w.labels AS labels, w.owner AS owner
			FROM hit h JOIN search_docs d ON d.doc = h.doc JOIN wps w ON w.id = d.item_id`+filters("w"))
	}
	if len(arms) == 0 {
		return nil, nil
	}
	after := ""
	if a := f.After; a != nil {
		after = " WHERE (rank, kind, name, num) > (" + named("arank", a.Rank) + ", " + named("akind", a.Kind) + ", " +
			named("aname", a.Name) + ", " + named("anum", a.Num) + ")"
	}
	q := `WITH hit AS (SELECT rowid AS doc FROM search_words WHERE search_words MATCH :all),
		title AS MATERIALIZED (SELECT rowid AS doc FROM search_words WHERE search_words MATCH :title)
		SELECT ` + searchCols + ` FROM (` + strings.Join(arms, " UNION ALL ") + `)` + after + `
		ORDER BY rank, kind, name, num LIMIT :limit`
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, wrap("search", err)
	}
	return collect(rows, scanHit)
}

func scanHit(sc interface{ Scan(...any) error }) (*agileplus.SearchHit, error) {
	var h agileplus.SearchHit
	var kind, rank, prio int
	var name, labels string
	var num int64
	if err := sc.Scan(&kind, &name, &num, &rank, &h.ID, &h.Key, &h.ProjectKey, &h.Title, &h.State, &prio, &labels, &h.Owner); err != nil {
		return nil, err
	}
	h.Kind = agileplus.KindFeature
	if kind == 1 {
		h.Kind = agileplus.KindWP
	}
	h.Match, h.Priority, h.Labels = agileplus.SearchMatch(rank), agileplus.PriorityOfRank(prio), splitLabels(labels)
	return &h, nil
}
