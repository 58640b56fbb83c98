package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/agileplus/agileplus"
)

// TraceParentHeader is the W3C trace context header. The server answers
// every request with the traceparent it used, and the events the request
// records carry the same one.
const TraceParentHeader = "traceparent"

// traced gives every request a W3C traceparent naming this server's span:
// the caller's trace id and flags with a new parent id, or a new sampled
// trace when the caller sent none or an invalid one. With a Tracer the
// span is recorded, named by the route pattern once the request is
// routed ("GET /v1/wps/{wp}"), never by its raw path.
func (s *Server) traced(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read per request: the handler is built before Tracer is set.
		if s.Tracer == nil {
			tp := serverTraceParent(strings.TrimSpace(r.Header.Get(TraceParentHeader)))
			w.Header().Set(TraceParentHeader, tp)
			next.ServeHTTP(w, r.WithContext(agileplus.WithTraceParent(r.Context(), tp)))
			return
		}
		in := strings.TrimSpace(r.Header.Get(TraceParentHeader))
		if !agileplus.ValidTraceParent(in) {
			in = ""
		}
		ctx, span := s.Tracer.Start(agileplus.WithTraceParent(r.Context(), in), r.Method, agileplus.SpanServer)
		w.Header().Set(TraceParentHeader, agileplus.TraceParentFrom(ctx))
		sw := &statusRecorder{ResponseWriter: w}
		// routed records the pattern the mux matched here.
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(ctx, requestInfoKey{}, info))
		defer func() {
			if route := info.route; route != "" && route != "/" {
				// The routes dispatch on the method themselves: their
				// patterns are paths.
				if !strings.Contains(route, " ") {
					route = methodLabel(r.Method) + " " + route
				}
				span.SetName(route)
				span.SetAttributes("http.route", info.route)
			}
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			span.SetAttributes("http.request.method", r.Method, "http.response.status_code", code)
			var err error
			if code >= 500 {
				err = fmt.Errorf("answered %d", code)
			}
			span.End(err)
		}()
		next.ServeHTTP(sw, r)
	})
}

// serverTraceParent returns the traceparent of a span that continues in,
// if it is valid, or starts a new trace.
func serverTraceParent(in string) string {
	for {
		var b [24]byte
		rand.Read(b[:]) // never fails
		trace, parent, flags := hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:]), "01"
		if agileplus.ValidTraceParent(in) {
			trace, flags = in[3:35], in[53:]
		}
		// An all-zero id is invalid: draw again.
		if tp := "00-" + trace + "-" + parent + "-" + flags; agileplus.ValidTraceParent(tp) {
			return tp
		}
	}
}

// setTraceParent sends the traceparent in the request's context, so that
// the server continues the caller's trace.
func setTraceParent(req *http.Request) {
	if tp := agileplus.TraceParentFrom(req.Context()); agileplus.ValidTraceParent(tp) {
		req.Header.Set(TraceParentHeader, tp)
	}
}
