package httpapi

import (
	"context"

	"github.com/agileplus/agileplus"
)

// Authenticator turns the bearer token of a request into the principal
// that calls. It returns an EUNAUTHORIZED *agileplus.Error for a token
// that identifies no active key (malformed, unknown, revoked, expired).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*agileplus.Principal, error)
}
