package httpapi

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/agileplus/agileplus"
)

// Route classes: each has a limit of its own (RateLimits). Public routes
// (/health, /ready, /openapi.json) have none and are never limited.
const (
	ClassRead   = "read"   // routes that need scope read
	ClassWrite  = "write"  // routes that need scope write, and MCP calls
	ClassAdmin  = "admin"  // routes that need scope admin, but import and export
	ClassImport = "import" // POST /v1/import and GET /v1/export
	ClassStream = "stream" // opening an event stream (SSE, MCP's GET)
)

// RouteClasses lists the classes.
var RouteClasses = []string{ClassRead, ClassWrite, ClassAdmin, ClassImport, ClassStream}

// RateLimits are the limits per route class; a zero one limits nothing.
type RateLimits struct {
	Read, Write, Admin, Import, Stream agileplus.RateLimit
}

// For returns class's limit.
func (l RateLimits) For(class string) agileplus.RateLimit {
	switch class {
	case ClassRead:
		return l.Read
	case ClassWrite:
		return l.Write
	case ClassAdmin:
		return l.Admin
	case ClassImport:
		return l.Import
	case ClassStream:
		return l.Stream
	}
	return agileplus.RateLimit{}
}

// RateLimitObserver, when the server's Requests observer implements it,
// is told about every request refused for a rate limit.
type RateLimitObserver interface {
	ObserveRateLimited(class string)
}

// routeClass is the class of a route.
func routeClass(rt route) string {
	switch {
	case rt.scope == scopePublic:
		return ""
	case rt.produces == "text/event-stream":
		return ClassStream
	case rt.path == "/v1/import" || rt.path == "/v1/export":
		return ClassImport
	case rt.scope == agileplus.ScopeAdmin:
		return ClassAdmin
	case rt.scope == agileplus.ScopeWrite:
		return ClassWrite
	}
	return ClassRead
}

// mcpClass is the class of an MCP request: GET opens its event stream,
// anything else may call a tool that writes.
func mcpClass(r *http.Request) string {
	if r.Method == http.MethodGet {
		return ClassStream
	}
	return ClassWrite
}

// limited counts a request against its class's limit for its caller (the
// key, or the remote address without one) before next runs, and refuses
// it with 429 and Retry-After when the quota is spent. Each answer says
// the policy and what is left in the RateLimit-Policy and RateLimit
// headers (draft-ietf-httpapi-ratelimit-headers). It runs inside guard,
// which puts the key in the context. A limiter that fails lets the
// request through: a limit is not worth an outage.
func (s *Server) limited(class func(*http.Request) string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Limiter == nil {
			next(w, r)
			return
		}
		c := class(r)
		l := s.RateLimits.For(c)
		if l.Off() {
			next(w, r)
			return
		}
		d, err := s.Limiter.Allow(r.Context(), rateKey(c, r), l)
		if err != nil {
			if r.Context().Err() == nil {
				s.Logger.WarnContext(r.Context(), "rate limit: the limiter failed; the request goes through", "class", c, "error", err)
			}
			next(w, r)
			return
		}
		h := w.Header()
		h.Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", c, l.Quota, ceilSeconds(l.Window)))
		h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", c, d.Remaining, ceilSeconds(d.Reset)))
		if !d.Allowed {
			retry := max(1, ceilSeconds(d.RetryAfter))
			h.Set("Retry-After", strconv.FormatInt(retry, 10))
			if o, ok := s.Requests.(RateLimitObserver); ok {
				o.ObserveRateLimited(c)
			}
			writeError(w, http.StatusTooManyRequests, ErrorDetail{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf(
				"rate limit: %s requests are limited to %d per %s for %s; retry in %d s", c, l.Quota, l.Window, callerWord(r), retry)})
			return
		}
		next(w, r)
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

// rateKey names the bucket of a request: its class and its caller.
func rateKey(class string, r *http.Request) string {
	if p := agileplus.PrincipalFrom(r.Context()); p != nil && p.KeyID != "" {
		return "ratelimit:" + class + ":key:" + p.KeyID
	}
	return "ratelimit:" + class + ":addr:" + remoteHost(r)
}

func callerWord(r *http.Request) string {
	if p := agileplus.PrincipalFrom(r.Context()); p != nil && p.KeyID != "" {
		return "key " + p.Name
	}
	return "address " + remoteHost(r)
}

// remoteHost is the address the request came from, without the port. No
// forwarding header is believed: a proxy in front counts as one caller.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// classOf returns a fixed class for limited.
func classOf(c string) func(*http.Request) string {
	return func(*http.Request) string { return c }
}
