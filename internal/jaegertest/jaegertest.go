// Package jaegertest runs a real Jaeger (the all-in-one binary of
// github.com/jaegertracing/jaeger, pinned in tools/jaeger) for tests: an
// OTLP/HTTP receiver and the query API on free loopback ports, traces in
// memory. The binary is built into the repository's .tools directory on
// first use; every server is stopped when its test ends.
package jaegertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/toolbin"
)

const toolModule = "github.com/jaegertracing/jaeger"

// Server is one running Jaeger.
type Server struct {
	// OTLP is the base URL spans are sent to (OTEL_EXPORTER_OTLP_ENDPOINT).
	OTLP string
	// Query is the base URL of the query API and UI.
	Query string
	log   string
}

// Start runs Jaeger until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("jaegertest: %v", err)
	}
	ports, err := childproc.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(config, ports[0], ports[1], ports[2], ports[3])
	cfgFile := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{
		OTLP:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		Query: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		log:   filepath.Join(dir, "jaeger.log"),
	}
	p, err := childproc.Start(exec.Command(bin, "--config", cfgFile), childproc.Options{Name: "jaeger", LogFile: s.log, Grace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	health := fmt.Sprintf("http://127.0.0.1:%d/status", ports[3])
	if !poll.Wait(2*time.Minute, func() bool {
		resp, err := http.Get(health)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("jaeger did not become healthy\n%s", childproc.Tail("jaeger", s.log))
	}
	return s
}

// config: OTLP/HTTP in, traces in memory, the query API; nothing else
// listens (Jaeger's own metrics and traces are off).
const config = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%[4]d
  jaeger_query:
    enable_tracing: false
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%[2]d
    grpc:
      endpoint: 127.0.0.1:%[3]d
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// Span is a span as the query API returns it.
type Span struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// Parent is the span id of s's parent, "" for a root.
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Tag is the value of s's tag key, nil if it has none.
func (s Span) Tag(key string) any {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return nil
}

// Trace returns the spans Jaeger holds of trace id (32 hex digits), none
// while it holds none.
func (s *Server) Trace(id string) ([]Span, error) {
	resp, err := http.Get(s.Query + "/api/traces/" + id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces/%s: %s", id, resp.Status)
	}
	var body struct {
		Data []struct {
			Spans []Span `json:"spans"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var spans []Span
	for _, d := range body.Data {
		spans = append(spans, d.Spans...)
	}
	return spans, nil
}

// Log is the end of Jaeger's log, for a failed test.
func (s *Server) Log() string { return childproc.Tail("jaeger", s.log) }

// binary builds Jaeger from tools/jaeger into .tools/jaeger/VERSION/jaeger
// once.
var binary = sync.OnceValues(func() (string, error) {
	return toolbin.Build("jaeger", toolModule, toolModule+"/cmd/jaeger")
})
