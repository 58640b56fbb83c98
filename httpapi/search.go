package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/agileplus/agileplus"
)

// searchCursor is a SearchCursor: a match, then a WP key or a feature slug.
const searchCursor = `^(key|title|text):([A-Z][A-Z0-9]{1,15}-[1-9][0-9]{0,11}|[a-z0-9]+(-[a-z0-9]+)*)$`

// searchQueryPattern is a query of 1 to MaxSearchWords words: runs of
// letters and digits, anything else between them.
var searchQueryPattern = fmt.Sprintf(`^[\W_]*([^\W_]+[\W_]+){0,%d}[^\W_]+[\W_]*$`, agileplus.MaxSearchWords-1)

var searchParams = append([]param{
	{name: "q", typ: "string", required: true, doc: "words to find, 1 to 16 (runs of letters and digits): every one must be in the key, title or description, the last as a prefix; anything else only separates words",
		schema: map[string]any{"minLength": 1, "maxLength": agileplus.MaxSearchQuery, "pattern": searchQueryPattern}},
	projectParam("project id or key; absent: every project the key may use"),
	{name: "kind", typ: "string", doc: "only work packages or only features", schema: map[string]any{"enum": []string{agileplus.KindWP, agileplus.KindFeature}}},
	{name: "state", typ: "string", doc: "only items in this state (a work package or a feature state)",
		schema: map[string]any{"enum": append(append([]string{}, agileplus.WPStates...), agileplus.FeatureStates...)}},
	{name: "label", typ: "string", repeat: true, maxItems: agileplus.MaxLabels, doc: "only items with these labels: all of them, or any with labels_mode=any (repeat for several)",
		schema: map[string]any{"pattern": agileplus.LabelPattern}},
	{name: "labels_mode", typ: "string", doc: "all (the default) or any", schema: map[string]any{"enum": []string{agileplus.LabelsAll, agileplus.LabelsAny}, "default": agileplus.LabelsAll}},
	ownerParam("only WPs this person or agent owns (features have no owner)"),
}, cursorParams(searchCursor)...)

// searchRoutes is text search over WPs and features.
func (s *Server) searchRoutes() []route {
	return []route{
		op(s, "GET", "/v1/search", "Find work packages and features by text, ranked: the one whose key is the query, then every word in the title, then the rest; features before WPs, then key order", 200, searchParams, func(r *http.Request, _ *noBody) (*List[*agileplus.SearchHit], error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			v := r.URL.Query()
			hs, err := s.Tracker.Search(r.Context(), agileplus.SearchQuery{Q: v.Get("q"), Project: v.Get("project"), Kind: v.Get("kind"), State: v.Get("state"),
				Labels: v["label"], LabelsMode: v.Get("labels_mode"), Owner: v.Get("owner"), Page: pg})
			return list(hs, pg.Limit, agileplus.SearchCursor), err
		}).needs(agileplus.ScopeRead),
	}
}

// Search implements agileplus.Tracker.
func (c *Client) Search(ctx context.Context, q agileplus.SearchQuery) ([]*agileplus.SearchHit, error) {
	v := pageQuery(q.Page)
	for k, s := range map[string]string{"q": q.Q, "project": q.Project, "kind": q.Kind, "state": q.State, "labels_mode": q.LabelsMode, "owner": q.Owner} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(q.Labels) > 0 {
		v["label"] = q.Labels
	}
	var l List[*agileplus.SearchHit]
	callErr := c.do(ctx, "GET", "/v1/search", v, 0, nil, &l)
	return l.Items, callErr
}
