package httpapi

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/agileplus/agileplus"
)

func asOfQuery(at agileplus.AsOf) url.Values {
	q := url.Values{}
	if at.Seq > 0 {
		q.Set("at", strconv.FormatInt(at.Seq, 10))
	} else {
		q.Set("at", at.Time.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// WPAt implements agileplus.Tracker.
func (c *Client) WPAt(ctx context.Context, ref string, at agileplus.AsOf) (w *agileplus.WP, err error) {
	callErr := c.do(ctx, "GET", "/v1/wps/"+esc(ref), asOfQuery(at), 0, nil, &w)
	return w, callErr
}

// FeatureAt implements agileplus.Tracker.
func (c *Client) FeatureAt(ctx context.Context, ref string, at agileplus.AsOf) (f *agileplus.Feature, err error) {
	callErr := c.do(ctx, "GET", "/v1/features/"+esc(ref), asOfQuery(at), 0, nil, &f)
	return f, callErr
}

// History implements agileplus.Tracker.
func (c *Client) History(ctx context.Context, kind, ref string, hq agileplus.HistoryQuery) ([]*agileplus.HistoryEntry, error) {
	path := "/v1/features/" + esc(ref) + "/history"
	if kind == agileplus.KindWP {
		path = "/v1/wps/" + esc(ref) + "/history"
	} else if kind != agileplus.KindFeature {
		return nil, agileplus.FieldErrorf("kind", "history is kept for a wp or a feature, not %s", agileplus.QuoteRef(kind))
	}
	q := url.Values{}
	if hq.After != 0 {
		q.Set("after", strconv.FormatInt(hq.After, 10))
	}
	if hq.Limit != 0 {
		q.Set("limit", strconv.Itoa(hq.Limit))
	}
	var l List[*agileplus.HistoryEntry]
	callErr := c.do(ctx, "GET", path, q, 0, nil, &l)
	return l.Items, callErr
}
