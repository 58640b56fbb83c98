package oteltrace

import (
	"context"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	off := []map[string]string{
		{},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
	}
	for _, m := range off {
		if cfg, err := FromEnv(env(m), "v1"); cfg != nil || err != nil {
			t.Errorf("%v: got %+v, %v; want tracing off", m, cfg, err)
		}
	}

	cfg, err := FromEnv(env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
		"OTEL_EXPORTER_OTLP_HEADERS":  "authorization=Bearer%20x, tenant=a",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment=dev,service.name=ap",
		"OTEL_SERVICE_NAME":           "agileplus-1",
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     "0.25",
		"OTEL_EXPORTER_OTLP_TIMEOUT":  "2500",
	}), "v1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "http://collector:4318/v1/traces" || cfg.Headers["authorization"] != "Bearer x" || cfg.Headers["tenant"] != "a" ||
		cfg.ServiceName != "agileplus-1" || cfg.Attributes["deployment.environment"] != "dev" || cfg.Sampling != "parentbased_traceidratio 0.25" ||
		cfg.Timeout.Milliseconds() != 2500 || cfg.ServiceVersion != "v1" {
		t.Errorf("got %+v", cfg)
	}
	cfg, err = FromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c/custom/path"}), "v1")
	if err != nil || cfg.Endpoint != "https://c/custom/path" || cfg.Sampling != "parentbased_always_on" {
		t.Errorf("traces endpoint: got %+v, %v; want it as given", cfg, err)
	}

	bad := map[string]map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":   {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		"OTEL_EXPORTER_OTLP_PROTOCOL":   {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"OTEL_TRACES_SAMPLER=":          {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "sometimes"},
		"OTEL_TRACES_SAMPLER_ARG":       {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
		"OTEL_EXPORTER_OTLP_HEADERS":    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
		"OTEL_TRACES_EXPORTER":          {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "zipkin"},
		"OTEL_EXPORTER_OTLP_TIMEOUT":    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "-1"},
		"OTEL_RESOURCE_ATTRIBUTES":      {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_RESOURCE_ATTRIBUTES": "=x"},
		"OTEL_EXPORTER_OTLP_TRACES_END": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://c"},
	}
	for name, m := range bad {
		if _, err := FromEnv(env(m), "v1"); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(strings.TrimSuffix(name, "="), "_END")) {
			t.Errorf("%v: err = %v, want one naming %s", m, err, name)
		}
	}
}

// Start continues the trace in the context's traceparent and hands on the
// new span's.
func TestStartContinuesTheTraceparent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := &Tracer{provider: tp, tracer: tp.Tracer("test")}
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx, span := tr.Start(agileplus.WithTraceParent(context.Background(), in), "GET", agileplus.SpanServer)
	span.SetName("GET /v1/wps/{wp}")
	span.SetAttributes("http.response.status_code", 200, "ok", true)
	out := agileplus.TraceParentFrom(ctx)
	if !agileplus.ValidTraceParent(out) || out[:36] != in[:36] || out[36:52] == in[36:52] || out[53:] != "01" {
		t.Fatalf("traceparent after Start = %q, want trace %s with a new span id, sampled", out, in[3:35])
	}
	_, child := tr.Start(ctx, "store update", agileplus.SpanInternal)
	child.End(nil)
	span.End(nil)
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans exported, want 2", len(spans))
	}
	c, s := spans[0], spans[1]
	if s.Name != "GET /v1/wps/{wp}" || s.Parent.SpanID().String() != in[36:52] || s.SpanContext.SpanID().String() != out[36:52] {
		t.Errorf("server span %s: parent %s id %s", s.Name, s.Parent.SpanID(), s.SpanContext.SpanID())
	}
	if c.Parent.SpanID() != s.SpanContext.SpanID() {
		t.Errorf("child's parent %s, want the server span %s", c.Parent.SpanID(), s.SpanContext.SpanID())
	}

	// Without a traceparent a new trace begins.
	ctx, span = tr.Start(context.Background(), "x", agileplus.SpanInternal)
	span.End(nil)
	if tp := agileplus.TraceParentFrom(ctx); !agileplus.ValidTraceParent(tp) || tp[3:35] == in[3:35] {
		t.Errorf("a span without a parent has traceparent %q, want a new trace", tp)
	}
}
