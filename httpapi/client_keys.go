package httpapi

import (
	"context"

	"github.com/agileplus/agileplus"
)

var _ agileplus.KeyAdmin = (*Client)(nil)

// CreateKey implements agileplus.KeyAdmin.
func (c *Client) CreateKey(ctx context.Context, in agileplus.KeyCreate) (k *agileplus.KeyCreated, err error) {
	err = c.do(ctx, "POST", "/v1/keys", nil, 0, in, &k)
	if err == nil && k.Token == "" {
		return nil, c.notAgilePlus("POST", "/v1/keys", "a key without its token")
	}
	return k, err
}

// Keys implements agileplus.KeyAdmin.
func (c *Client) Keys(ctx context.Context, pg agileplus.Page) ([]*agileplus.APIKey, error) {
	var l List[*agileplus.APIKey]
	err := c.do(ctx, "GET", "/v1/keys", pageQuery(pg), 0, nil, &l)
	return l.Items, err
}

// Key implements agileplus.KeyAdmin.
func (c *Client) Key(ctx context.Context, ref string) (k *agileplus.APIKey, err error) {
	err = c.do(ctx, "GET", "/v1/keys/"+esc(ref), nil, 0, nil, &k)
	return k, err
}

// RevokeKey implements agileplus.KeyAdmin.
func (c *Client) RevokeKey(ctx context.Context, ref string) (k *agileplus.APIKey, err error) {
	err = c.do(ctx, "POST", "/v1/keys/"+esc(ref)+"/revoke", nil, 0, nil, &k)
	return k, err
}

// Whoami returns the key the client's token authenticates as, or, from a
// server without authentication, an answer whose Authenticated is false.
func (c *Client) Whoami(ctx context.Context) (w *Whoami, err error) {
	err = c.do(ctx, "GET", "/v1/whoami", nil, 0, nil, &w)
	return w, err
}
