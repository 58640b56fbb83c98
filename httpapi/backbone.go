package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"

	"github.com/agileplus/agileplus"
)

// backbone returns the server's backbone or the error to answer with.
func (s *Server) backbone() (agileplus.Backbone, error) {
	if s.Backbone == nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "webhooks and dead letters need the event bus, which this server does not run")
	}
	return s.Backbone, nil
}

// seqCursor parses a uint64 cursor parameter ("after").
func seqCursor(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	// Below 2^63: the stores read after+1, which must not wrap to 0 and
	// start over.
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, agileplus.FieldErrorf(name, "%s must be an integer from 0 to %d (the seq of the last item seen)", name, uint64(math.MaxInt64))
	}
	return n, nil
}

// pathSeq parses the {seq} path value.
func pathSeq(r *http.Request) (uint64, error) {
	n, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || n == 0 {
		return 0, agileplus.FieldErrorf("seq", "seq %q must be a positive integer (a dead letter's seq)", r.PathValue("seq"))
	}
	return n, nil
}

var seqPageParams = []param{{name: "after", typ: "integer", doc: "cursor: the seq of the last item of the previous page", schema: map[string]any{"minimum": 0, "maximum": uint64(math.MaxInt64)}}, limitParam("items per page, 1-1000, default 100")}

// seqList pages items by their seq.
func seqList[T any](items []T, limit int, seq func(T) uint64) *List[T] {
	return list(items, limit, func(t T) string { return strconv.FormatUint(seq(t), 10) })
}

// RedriveAll is the answer of POST /v1/deadletters/redrive.
type RedriveAll struct {
	Results   []*agileplus.RedriveResult `json:"results"`
	Delivered int                        `json:"delivered"`
	Failed    int                        `json:"failed"`
}

func (s *Server) backboneRoutes() []route {
	return []route{
		op(s, "POST", "/v1/webhooks", "Register a webhook: a URL, an event filter and a secret (returned once)", 201, nil, func(r *http.Request, in *agileplus.WebhookCreate) (*agileplus.Webhook, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			return b.CreateWebhook(r.Context(), *in)
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/webhooks", "List webhooks (without secrets)", 200, nil, func(r *http.Request, _ *noBody) (*List[*agileplus.Webhook], error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			hs, err := b.ListWebhooks(r.Context())
			return &List[*agileplus.Webhook]{Items: nonNil(hs)}, err
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/webhooks/{webhook}", "Get a webhook (without its secret)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Webhook, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			return b.GetWebhook(r.Context(), r.PathValue("webhook"))
		}).needs(agileplus.ScopeAdmin),
		op(s, "DELETE", "/v1/webhooks/{webhook}", "Delete a webhook, its consumer and its delivery log", 204, nil, func(r *http.Request, _ *noBody) (*noBody, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			return nil, b.DeleteWebhook(r.Context(), r.PathValue("webhook"))
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/webhooks/{webhook}/deliveries", "A webhook's delivery attempts, oldest first", 200, seqPageParams, func(r *http.Request, _ *noBody) (*List[*agileplus.WebhookDelivery], error) {
			b, after, limit, err := s.seqPage(r)
			if err != nil {
				return nil, err
			}
			ds, err := b.WebhookDeliveries(r.Context(), r.PathValue("webhook"), after, limit)
			return seqList(ds, limit, func(d *agileplus.WebhookDelivery) uint64 { return d.Seq }), err
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/deadletters", "Events a consumer gave up on, oldest first", 200, append([]param{{name: "consumer", typ: "string", doc: "only this consumer's (e.g. webhook-whk_...)", schema: consumerSchema}}, seqPageParams...), func(r *http.Request, _ *noBody) (*List[*agileplus.DeadLetter], error) {
			b, after, limit, err := s.seqPage(r)
			if err != nil {
				return nil, err
			}
			ds, err := b.DeadLetters(r.Context(), r.URL.Query().Get("consumer"), after, limit)
			return seqList(ds, limit, func(d *agileplus.DeadLetter) uint64 { return d.Seq }), err
		}).needs(agileplus.ScopeAdmin),
		op(s, "POST", "/v1/deadletters/{seq}/redrive", "Hand a dead letter to its consumer again; removed when it succeeds", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.RedriveResult, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			seq, err := pathSeq(r)
			if err != nil {
				return nil, err
			}
			return b.Redrive(r.Context(), seq)
		}).needs(agileplus.ScopeAdmin),
		op(s, "DELETE", "/v1/deadletters/{seq}", "Discard a dead letter without re-driving it", 204, nil, func(r *http.Request, _ *noBody) (*noBody, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			seq, err := pathSeq(r)
			if err != nil {
				return nil, err
			}
			return nil, b.DiscardDeadLetter(r.Context(), seq)
		}).needs(agileplus.ScopeAdmin),
		op(s, "POST", "/v1/deadletters/redrive", "Re-drive every dead letter (of one consumer), oldest first", 200, []param{{name: "consumer", typ: "string", doc: "only this consumer's", schema: consumerSchema}}, func(r *http.Request, _ *noBody) (*RedriveAll, error) {
			b, err := s.backbone()
			if err != nil {
				return nil, err
			}
			return redriveAll(r.Context(), b, r.URL.Query().Get("consumer"))
		}).needs(agileplus.ScopeAdmin),
	}
}

// seqPage reads the backbone and the after/limit parameters of a seq-paged list.
// A bad parameter is a 400 whether or not the backbone runs.
func (s *Server) seqPage(r *http.Request) (agileplus.Backbone, uint64, int, error) {
	after, err := seqCursor(r, "after")
	if err != nil {
		return nil, 0, 0, err
	}
	limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
	if err != nil {
		return nil, 0, 0, err
	}
	b, err := s.backbone()
	return b, after, int(limit), err
}

// redriveAll re-drives dead letters page by page. Each one is tried once;
// those that fail again stay, and the walk goes on past them.
func redriveAll(ctx context.Context, b agileplus.Backbone, consumer string) (*RedriveAll, error) {
	out := &RedriveAll{Results: []*agileplus.RedriveResult{}}
	var after uint64
	for {
		page, err := b.DeadLetters(ctx, consumer, after, agileplus.MaxPageLimit)
		if err != nil {
			return nil, err
		}
		for _, dl := range page {
			after = dl.Seq
			res, err := b.Redrive(ctx, dl.Seq)
			if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
				continue // another redrive got it first
			}
			if err != nil {
				return nil, err
			}
			out.Results = append(out.Results, res)
			if res.Delivered {
				out.Delivered++
			} else {
				out.Failed++
			}
		}
		if len(page) < agileplus.MaxPageLimit {
			return out, nil
		}
	}
}

// consumerSchema is a consumer's name, as the bus checks it.
var consumerSchema = map[string]any{"pattern": "^[A-Za-z0-9_-]{1,64}$"}
