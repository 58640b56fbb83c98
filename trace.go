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

// Tracer records the spans of traces, for an exporter such as
// OpenTelemetry's. The W3C traceparent in a context (WithTraceParent) is
// how a trace travels: Start begins a span whose parent is the
// traceparent in ctx and returns ctx carrying the new span's, so that what
// runs under it, and the events it records, continue the trace.
//
// A nil Tracer records nothing; the traceparents then travel unchanged.
type Tracer interface {
	Start(ctx context.Context, name string, kind SpanKind) (context.Context, Span)
}

// SpanKind says what a span stands for, as OpenTelemetry's kinds do.
type SpanKind int

const (
	SpanInternal SpanKind = iota
	SpanServer            // handling a request from outside
	SpanClient            // a request to another service (a webhook delivery)
	SpanProducer          // handing a message to the bus (the relay's publish)
	SpanConsumer          // handling a message from the bus
)

// Span is one span being recorded.
type Span interface {
	// SetName renames the span: a server span learns its route only once
	// the request is routed.
	SetName(name string)
	// SetAttributes adds key, value pairs (string, int, int64, bool).
	SetAttributes(kv ...any)
	// End ends the span, marked failed when err is not nil.
	End(err error)
}

// StartSpan starts a span on t, or does nothing when t is nil.
func StartSpan(ctx context.Context, t Tracer, name string, kind SpanKind) (context.Context, Span) {
	if t == nil {
		return ctx, noSpan{}
	}
	return t.Start(ctx, name, kind)
}

type noSpan struct{}

func (noSpan) SetName(string)       {}
func (noSpan) SetAttributes(...any) {}
func (noSpan) End(error)            {}
