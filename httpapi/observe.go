package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/agileplus/agileplus"
)

// RequestIDHeader carries a request's id: the caller's when it is sane
// (see validRequestID), else one the server makes. The answer repeats it,
// and every log line written while serving the request carries it.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a caller's request id; a longer one is replaced.
const maxRequestIDLen = 128

// RequestObserver is told about every request the server answered, for
// metrics. Its arguments have bounded values: route is the route's
// pattern as declared ("/v1/wps/{wp}", never the path asked for), or
// UnmatchedRoute; method is one of the standard methods or "OTHER".
type RequestObserver interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

// UnmatchedRoute is the route of a request no route matched (a 404 for an
// unknown path, or one refused before routing).
const UnmatchedRoute = "unmatched"

// requestInfo is what the inner layers learn about a request for the
// outer one: the route that matched.
type requestInfo struct{ route string }

type requestInfoKey struct{}

// observed gives every request an id (RequestIDHeader) in its context and
// answer, tells s.Requests about it once answered, and logs it at debug
// level. It runs inside traced, so its log line has the trace ids too.
func (s *Server) observed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := agileplus.WithRequestID(r.Context(), id)
		// traced may have made it already, to name its span by the route.
		info, ok := ctx.Value(requestInfoKey{}).(*requestInfo)
		if !ok {
			info = &requestInfo{}
			ctx = context.WithValue(ctx, requestInfoKey{}, info)
		}
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(ctx)
		// Deferred, so that a request whose handler aborts is counted too.
		defer func() {
			took := time.Since(start)
			route := info.route
			if route == "" || route == "/" {
				route = UnmatchedRoute
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			if s.Requests != nil {
				s.Requests.ObserveRequest(route, methodLabel(r.Method), status, took)
			}
			if s.Logger.Enabled(ctx, slog.LevelDebug) {
				s.Logger.DebugContext(ctx, "http request", "method", r.Method, "path", r.URL.Path, "route", route, "status", status, "duration", took)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// routed records, for observed, the pattern of the route mux picks; even
// when the handler panics.
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			// ServeMux sets r.Pattern on the request it is given.
			defer func() { info.route = r.Pattern }()
		}
		mux.ServeHTTP(w, r)
	})
}

// validRequestID reports whether a caller's request id is fit to repeat in
// the answer and the logs: 1 to 128 letters, digits and ._:+/=@- .
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '+' || c == '/' || c == '=' || c == '@' || c == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// methodLabel bounds the method for metrics: a client may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status of the answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush keeps the event stream's flushes working through the recorder.
func (w *statusRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// OpenStreams is the number of event streams (SSE clients) open now.
func (s *Server) OpenStreams() int {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return s.streams.open
}

// handleMetrics serves s.Metrics, the Prometheus exposition.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		writeError(w, http.StatusServiceUnavailable, ErrorDetail{Code: agileplus.EUNAVAILABLE, Message: "this server exports no metrics"})
		return
	}
	s.Metrics.ServeHTTP(w, r)
}
