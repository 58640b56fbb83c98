package agileplus

import (
	"context"
	"strings"
)

// traceKey carries a W3C traceparent in a context.
type traceKey struct{}

// WithTraceParent returns ctx carrying a W3C traceparent, which the events
// a command records inherit.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceKey{}, tp)
}

// TraceParentFrom returns the traceparent in ctx, or "".
func TraceParentFrom(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}

// ValidTraceParent reports whether tp is a version-00 W3C traceparent:
// 00-<32 hex trace id, not all zero>-<16 hex parent id, not all zero>-<2 hex flags>.
func ValidTraceParent(tp string) bool {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] != "00" {
		return false
	}
	isHex := func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	trace, parent, flags := tp[3:35], tp[36:52], tp[53:55]
	return isHex(trace) && isHex(parent) && isHex(flags) &&
		trace != strings.Repeat("0", 32) && parent != strings.Repeat("0", 16)
}

// requestIDKey carries the id of the request being served in a context.
type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, which
// log lines written with ctx show.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
