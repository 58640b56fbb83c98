package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/agileplus/agileplus"
)

// newLogger writes records at level or above to w, as logfmt text or one
// JSON object a line, each with the request id and trace ids of the
// context it was logged with.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&contextHandler{Handler: h, spans: traceParentSpan})
}

// contextHandler adds what the context knows about the request a record
// was logged in: request_id, trace_id and span_id.
type contextHandler struct {
	slog.Handler
	// spans returns the trace and span ids in ctx, "" when it has none:
	// those of the traceparent in ctx, which with OpenTelemetry on is the
	// span being recorded.
	spans func(ctx context.Context) (traceID, spanID string)
}

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := agileplus.RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if trace, span := h.spans(ctx); trace != "" {
		r.AddAttrs(slog.String("trace_id", trace), slog.String("span_id", span))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithAttrs(as), spans: h.spans}
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{Handler: h.Handler.WithGroup(name), spans: h.spans}
}

// traceParentSpan reads the W3C traceparent httpapi puts in a request's
// context: its parent-id field is the span of this server's handling.
func traceParentSpan(ctx context.Context) (traceID, spanID string) {
	tp := agileplus.TraceParentFrom(ctx)
	if !agileplus.ValidTraceParent(tp) {
		return "", ""
	}
	return tp[3:35], tp[36:52]
}
