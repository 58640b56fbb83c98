package neo4jstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

var _ agileplus.TextSearcher = (*Tx)(nil)

// Text search (migration 0006). Neo4j's analyzers split words otherwise
// than SQLite's FTS5 ("fmt.Errorf" is one word to Lucene's standard
// tokenizer), so every WP and feature carries its words as split by
// agileplus.SearchText: search_text (key, title and description) in the
// full-text index search_text, which splits at spaces only, and
// search_title (the title) for the "title" rank. Every write of a title or
// description writes them too (searchParams).

// searchMigration is the migration that adds the index; after its
// statements migrate fills in the words of the nodes stored before, which
// only Go can split.
const searchMigration = 6

// searchParams adds the words of a WP or feature to params, as
// search_text and search_title.
func searchParams(params map[string]any, key, title, description string) map[string]any {
	params["search_text"], params["search_title"] = agileplus.SearchText(key, title, description), agileplus.SearchText(title)
	return params
}

// hideSearch leaves the words out of a node's map projection: they
// repeat the title and description.
const hideSearch = `, search_text: null, search_title: null`

// luceneQuery is the full-text query for words: each one required, the
// last a prefix. Words hold only letters and digits and are lower-case,
// so nothing in them is Lucene syntax (AND, OR, NOT and TO are operators
// only in upper case).
func luceneQuery(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "+" + w
	}
	q[len(q)-1] += "*"
	return strings.Join(q, " ")
}

// Search finds the WPs and features whose words match f, ranked as
// agileplus.TextSearcher says; the rank is computed here, Lucene's score
// plays no part.
func (t *Tx) Search(ctx context.Context, f agileplus.SearchFilter) ([]*agileplus.SearchHit, error) {
	if !f.WPs && !f.Features {
		return nil, nil
	}
	last := f.Words[len(f.Words)-1]
	params := map[string]any{"q": luceneQuery(f.Words), "wps": f.WPs, "features": f.Features,
		"key": f.ExactKey, "slug": f.ExactSlug, "init": f.Words[:len(f.Words)-1], "last": last, "limit": f.Limit}
	where := []string{"(kind = 1 AND $wps OR kind = 0 AND $features)"}
	if f.ProjectIDs != nil {
		where, params["projects"] = append(where, "n.project_id IN $projects"), f.ProjectIDs
	}
	if f.State != "" {
		where, params["state"] = append(where, "n.state = $state"), f.State
	}
	if len(f.Labels) > 0 {
		q := "all"
		if f.AnyLabel {
			q = "any"
		}
		where, params["labels"] = append(where, q+"(l IN $labels WHERE l IN coalesce(n.labels, []))"), f.Labels
	}
	if f.Owner != "" {
		where, params["owner"] = append(where, "n.owner = $owner"), f.Owner
	}
	after := ""
	if a := f.After; a != nil {
		after = `WHERE rank > $arank OR rank = $arank AND (kind > $akind OR kind = $akind AND (name > $aname OR name = $aname AND num > $anum))`
		params["arank"], params["akind"], params["aname"], params["anum"] = int64(a.Rank), int64(a.Kind), a.Name, a.Num
	}
	recs, err := t.run(ctx, "search", `CALL db.index.fulltext.queryNodes('search_text', $q) YIELD node AS n
		WITH n, CASE WHEN n:WorkPackage THEN 1 ELSE 0 END AS kind
		WHERE `+strings.Join(where, " AND ")+`
		WITH n, kind, CASE kind WHEN 1 THEN n.key ELSE n.slug END AS key,
			CASE kind WHEN 1 THEN n.project_key ELSE n.slug END AS name, coalesce(n.num, 0) AS num
		WITH n, kind, key, name, num,
			CASE WHEN key = CASE kind WHEN 1 THEN $key ELSE $slug END THEN 0
				WHEN all(w IN $init WHERE (' ' + n.search_title + ' ') CONTAINS (' ' + w + ' '))
					AND (' ' + n.search_title) CONTAINS (' ' + $last) THEN 1
				ELSE 2 END AS rank
		`+after+`
		WITH n, kind, key, name, num, rank ORDER BY rank, kind, name, num LIMIT $limit
		RETURN {kind: kind, rank: rank, id: n.id, key: key, project_key: n.project_key, title: n.title, state: n.state,
			priority: n.priority, labels: n.labels, owner: n.owner}`, params)
	if err != nil {
		return nil, err
	}
	hits := make([]*agileplus.SearchHit, 0, len(recs))
	for _, rec := range recs {
		m, ok := rec.Values[0].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("neo4jstore: search: got %T, want a map", rec.Values[0])
		}
		r := row{m: m}
		h := &agileplus.SearchHit{Kind: agileplus.KindFeature, ID: r.str("id"), Key: r.str("key"), ProjectKey: r.str("project_key"),
			Title: r.str("title"), State: r.str("state"), Priority: r.priority("priority"), Labels: r.strs("labels"), Owner: r.str("owner")}
		if r.i64("kind") == 1 {
			h.Kind = agileplus.KindWP
		}
		rank := r.i64("rank")
		if err := r.check("search"); err != nil {
			return nil, err
		}
		h.Match = agileplus.SearchMatch(int(rank))
		hits = append(hits, h)
	}
	return hits, nil
}

// fillSearchText gives the WPs and features stored before migration 0006
// their words, a batch at a time. Running it again, or on two replicas at
// once, writes the same words.
func (s *Store) fillSearchText(ctx context.Context) error {
	for _, kind := range []struct{ label, key string }{{"WorkPackage", "key"}, {"Feature", "slug"}} {
		for {
			recs, err := s.query(ctx, `MATCH (n:`+kind.label+`) WHERE n.search_text IS NULL
				RETURN n.id, n.`+kind.key+`, n.title, n.description LIMIT 5000`, nil)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			rows := make([]any, len(recs))
			for i, rec := range recs {
				v := make([]string, 4)
				for j := range v {
					v[j], _ = rec.Values[j].(string)
				}
				rows[i] = searchParams(map[string]any{"id": v[0]}, v[1], v[2], v[3])
			}
			err = s.autocommit(ctx, `UNWIND $rows AS r MATCH (n:`+kind.label+` {id: r.id})
				SET n.search_text = r.search_text, n.search_title = r.search_title`, map[string]any{"rows": rows})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// query runs a read in a session of its own and collects its records.
func (s *Store) query(ctx context.Context, q string, params map[string]any) ([]*neo4j.Record, error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}
