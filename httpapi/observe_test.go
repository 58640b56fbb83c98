package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// seenRequests records what a RequestObserver is told.
type seenRequests struct {
	mu  sync.Mutex
	got []string // "route method status"
}

func (s *seenRequests) ObserveRequest(route, method string, status int, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, route+" "+method+" "+http.StatusText(status))
}

func (s *seenRequests) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return ""
	}
	return s.got[len(s.got)-1]
}

// ctxLog records the request id of the context of each log line.
type ctxLog struct {
	mu    sync.Mutex
	lines map[string]string // message -> request id
}

func (h *ctxLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxLog) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines[r.Message] = agileplus.RequestIDFrom(ctx)
	return nil
}
func (h *ctxLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *ctxLog) WithGroup(string) slog.Handler      { return h }

func TestObservedRequests(t *testing.T) {
	logs := &ctxLog{lines: map[string]string{}}
	s := NewServer(nil, nil, slog.New(logs), "test") // no Tracker: a route that needs it panics
	seen := &seenRequests{}
	s.Requests = seen
	srv := httptest.NewServer(s)
	defer srv.Close()

	do := func(t *testing.T, method, path string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	tests := []struct {
		name, method, path string
		want               string
	}{
		{"a route by its pattern, never its path", "GET", "/v1/projects/PX", "/v1/projects/{project} GET Internal Server Error"},
		{"a public route", "GET", "/health", "/health GET OK"},
		{"an unknown path", "GET", "/nowhere/42", "unmatched GET Not Found"},
		{"a path refused before routing", "GET", "/v1//projects", "unmatched GET Not Found"},
		{"a method nobody knows", "BREW", "/health", "/health OTHER Method Not Allowed"},
		{"metrics not wired", "GET", "/metrics", "/metrics GET Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do(t, tt.method, tt.path)
			if got := seen.last(); got != tt.want {
				t.Errorf("got observed %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("request id", func(t *testing.T) {
		resp := do(t, "GET", "/health", RequestIDHeader, "job-7.step:3")
		if got := resp.Header.Get(RequestIDHeader); got != "job-7.step:3" {
			t.Errorf("sane id: got %q echoed, want job-7.step:3", got)
		}
		for _, bad := range []string{"two words", strings.Repeat("a", maxRequestIDLen+1), `quo"te`, "<script>"} {
			resp := do(t, "GET", "/health", RequestIDHeader, bad)
			if got := resp.Header.Get(RequestIDHeader); got == bad || !validRequestID(got) || len(got) != 24 {
				t.Errorf("id %q: got %q, want a new 24-character id", bad, got)
			}
		}
		a, b := do(t, "GET", "/health").Header.Get(RequestIDHeader), do(t, "GET", "/health").Header.Get(RequestIDHeader)
		if a == "" || a == b {
			t.Errorf("no id sent: got %q and %q, want two different ids", a, b)
		}
	})

	t.Run("log lines carry the request id", func(t *testing.T) {
		do(t, "GET", "/v1/projects/PX", RequestIDHeader, "req-panic")
		logs.mu.Lock()
		defer logs.mu.Unlock()
		if got := logs.lines["http: panic"]; got != "req-panic" {
			t.Errorf("panic log line: got request id %q, want req-panic", got)
		}
		if got := logs.lines["http request"]; got != "req-panic" {
			t.Errorf("request log line: got request id %q, want req-panic", got)
		}
	})
}

func TestMetricsRoute(t *testing.T) {
	s := NewServer(nil, nil, nil, "test")
	s.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "up 1\n")
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "up 1\n" {
		t.Errorf("got %d %q, want 200 and the metrics handler's answer", resp.StatusCode, b)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Scope     string `json:"x-agileplus-scope"`
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths["/metrics"]["get"]
	if !ok || op.Scope != agileplus.ScopeRead || op.Responses["200"].Content["text/plain"] == nil {
		t.Errorf("got /metrics in the OpenAPI document %+v, want GET with scope read answering text/plain", op)
	}
}
