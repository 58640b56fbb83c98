package httpapi

import (
	"context"
	"net/url"
	"strconv"

	"github.com/agileplus/agileplus"
)

var _ agileplus.Backbone = (*Client)(nil)

// CreateWebhook implements agileplus.Backbone.
func (c *Client) CreateWebhook(ctx context.Context, in agileplus.WebhookCreate) (h *agileplus.Webhook, err error) {
	err = c.do(ctx, "POST", "/v1/webhooks", nil, 0, in, &h)
	return h, err
}

// ListWebhooks implements agileplus.Backbone.
func (c *Client) ListWebhooks(ctx context.Context) ([]*agileplus.Webhook, error) {
	var l List[*agileplus.Webhook]
	err := c.do(ctx, "GET", "/v1/webhooks", nil, 0, nil, &l)
	return l.Items, err
}

// GetWebhook implements agileplus.Backbone.
func (c *Client) GetWebhook(ctx context.Context, id string) (h *agileplus.Webhook, err error) {
	err = c.do(ctx, "GET", "/v1/webhooks/"+esc(id), nil, 0, nil, &h)
	return h, err
}

// DeleteWebhook implements agileplus.Backbone.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/webhooks/"+esc(id), nil, 0, nil, nil)
}

func seqQuery(after uint64, limit int) url.Values {
	q := url.Values{}
	if after != 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// WebhookDeliveries implements agileplus.Backbone.
func (c *Client) WebhookDeliveries(ctx context.Context, id string, after uint64, limit int) ([]*agileplus.WebhookDelivery, error) {
	var l List[*agileplus.WebhookDelivery]
	err := c.do(ctx, "GET", "/v1/webhooks/"+esc(id)+"/deliveries", seqQuery(after, limit), 0, nil, &l)
	return l.Items, err
}

// DeadLetters implements agileplus.Backbone.
func (c *Client) DeadLetters(ctx context.Context, consumer string, after uint64, limit int) ([]*agileplus.DeadLetter, error) {
	q := seqQuery(after, limit)
	if consumer != "" {
		q.Set("consumer", consumer)
	}
	var l List[*agileplus.DeadLetter]
	err := c.do(ctx, "GET", "/v1/deadletters", q, 0, nil, &l)
	return l.Items, err
}

// Redrive implements agileplus.Backbone.
func (c *Client) Redrive(ctx context.Context, seq uint64) (r *agileplus.RedriveResult, err error) {
	err = c.do(ctx, "POST", "/v1/deadletters/"+strconv.FormatUint(seq, 10)+"/redrive", nil, 0, nil, &r)
	return r, err
}

// RedriveAll re-drives every dead letter, or one consumer's.
func (c *Client) RedriveAll(ctx context.Context, consumer string) (r *RedriveAll, err error) {
	q := url.Values{}
	if consumer != "" {
		q.Set("consumer", consumer)
	}
	err = c.do(ctx, "POST", "/v1/deadletters/redrive", q, 0, nil, &r)
	return r, err
}

// DiscardDeadLetter implements agileplus.Backbone.
func (c *Client) DiscardDeadLetter(ctx context.Context, seq uint64) error {
	return c.do(ctx, "DELETE", "/v1/deadletters/"+strconv.FormatUint(seq, 10), nil, 0, nil, nil)
}
