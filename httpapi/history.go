package httpapi

import (
	"net/http"

	"github.com/agileplus/agileplus"
)

// atParam is ?at= on a single read: the entity as it was then.
var atParam = param{name: "at", typ: "string", doc: "the entity as it was at this global sequence (1 or more) or RFC 3339 time; 404 before it existed, 400 in the future",
	schema: map[string]any{"minLength": 1}}

// historyRoutes are the histories of WPs and features.
func (s *Server) historyRoutes() []route {
	t := s.Tracker
	params := []param{seqAfterParam("global sequence to start after"), limitParam("1-1000, default 100")}
	history := func(kind, name string) func(r *http.Request, _ *noBody) (*List[*agileplus.HistoryEntry], error) {
		return func(r *http.Request, _ *noBody) (*List[*agileplus.HistoryEntry], error) {
			after, err := queryInt(r, "after", 0, 1<<62)
			if err != nil {
				return nil, err
			}
			limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
			if err != nil {
				return nil, err
			}
			hs, err := t.History(r.Context(), kind, r.PathValue(name), agileplus.HistoryQuery{After: after, Limit: int(limit)})
			l := &List[*agileplus.HistoryEntry]{Items: nonNil(hs)}
			if n := len(hs); n > 0 && n == effectiveLimit(int(limit)) {
				l.Next = formatInt(hs[n-1].GlobalSeq)
			}
			return l, err
		}
	}
	return []route{
		op(s, "GET", "/v1/wps/{wp}/history", "A work package's changes in order, with who made each and why", 200, params, history(agileplus.KindWP, "wp")).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/history", "A feature's changes in order, with who made each and why", 200, params, history(agileplus.KindFeature, "feature")).needs(agileplus.ScopeRead),
	}
}

// wpAt answers GET /v1/wps/{wp}?at=.
func wpAt(r *http.Request, t agileplus.Tracker) (*agileplus.WP, error) {
	at, err := agileplus.ParseAsOf(r.URL.Query().Get("at"))
	if err != nil {
		return nil, err
	}
	return t.WPAt(r.Context(), r.PathValue("wp"), at)
}

// featureAt answers GET /v1/features/{feature}?at=.
func featureAt(r *http.Request, t agileplus.Tracker) (*agileplus.Feature, error) {
	at, err := agileplus.ParseAsOf(r.URL.Query().Get("at"))
	if err != nil {
		return nil, err
	}
	return t.FeatureAt(r.Context(), r.PathValue("feature"), at)
}
