// Package oteltrace records AgilePlus's spans with OpenTelemetry and
// exports them over OTLP/HTTP to a collector or a tracing backend such as
// Jaeger. It is the adapter of agileplus.Tracer: the rest of the program
// passes W3C traceparents along in contexts and starts spans through that
// port, and this package turns them into OpenTelemetry spans.
//
// Tracing is off unless the standard OpenTelemetry variables ask for it
// (FromEnv).
package oteltrace

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config is where and how spans go.
type Config struct {
	// Endpoint is the URL spans are POSTed to, e.g.
	// http://127.0.0.1:4318/v1/traces.
	Endpoint string
	Headers  map[string]string
	Timeout  time.Duration
	// Resource attributes: service.name and service.version, and any
	// others (OTEL_RESOURCE_ATTRIBUTES).
	ServiceName    string
	ServiceVersion string
	Attributes     map[string]string
	// Sampler decides which traces are recorded (default: the caller's
	// decision, else every trace).
	Sampler sdktrace.Sampler
	// Sampling describes Sampler for the log.
	Sampling string
}

// FromEnv reads the standard OpenTelemetry variables through getenv and
// returns the configuration, or nil when tracing is off: it is on when
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set,
// unless OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none. An
// error names the variable that is wrong.
func FromEnv(getenv func(string) string, version string) (*Config, error) {
	if v := strings.TrimSpace(getenv("OTEL_SDK_DISABLED")); strings.EqualFold(v, "true") {
		return nil, nil
	}
	switch v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", v)
	}
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	from := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if endpoint == "" {
		base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		if base == "" {
			return nil, nil
		}
		// The base endpoint is the collector's: spans go to its traces path.
		endpoint, from = strings.TrimRight(base, "/")+"/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: want an http:// or https:// URL such as http://127.0.0.1:4318", from, endpoint)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%q: only http/protobuf is supported (OTLP over HTTP, port 4318 by default)", name, p)
			}
			break
		}
	}
	cfg := &Config{Endpoint: endpoint, ServiceName: "agileplus", ServiceVersion: version, Timeout: 10 * time.Second}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		h, err := keyValues(name, getenv(name))
		if err != nil {
			return nil, err
		}
		for k, v := range h {
			if cfg.Headers == nil {
				cfg.Headers = map[string]string{}
			}
			cfg.Headers[k] = v
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return nil, fmt.Errorf("%s=%q: want a positive number of milliseconds", name, v)
			}
			cfg.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	attrs, err := keyValues("OTEL_RESOURCE_ATTRIBUTES", getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, err
	}
	cfg.Attributes = attrs
	if n := attrs["service.name"]; n != "" {
		cfg.ServiceName = n
	}
	if n := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); n != "" {
		cfg.ServiceName = n
	}
	cfg.Sampler, cfg.Sampling, err = sampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// keyValues parses the k1=v1,k2=v2 lists of the OpenTelemetry variables,
// values URL-escaped.
func keyValues(name, s string) (map[string]string, error) {
	m := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", name, strings.TrimSpace(item))
		}
		uv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s: the value of %s: %v", name, k, err)
		}
		m[k] = uv
	}
	return m, nil
}

// sampler is OTEL_TRACES_SAMPLER with its argument.
func sampler(name, arg string) (sdktrace.Sampler, string, error) {
	name, arg = strings.TrimSpace(name), strings.TrimSpace(arg)
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on", nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, "", err
		}
		s := sdktrace.TraceIDRatioBased(r)
		if name == "parentbased_traceidratio" {
			s = sdktrace.ParentBased(s)
		}
		return s, fmt.Sprintf("%s %g", name, r), nil
	}
	return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

// Tracer records spans and exports them in batches.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

var _ agileplus.Tracer = (*Tracer)(nil)

// New returns a Tracer exporting to cfg.Endpoint. Nothing is sent until
// the first span ends; an unreachable endpoint costs dropped spans, never
// a failed request.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.Endpoint), otlptracehttp.WithTimeout(cfg.Timeout)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("oteltrace: exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	for k, v := range cfg.Attributes {
		if k != "service.name" && k != "service.version" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	smp := cfg.Sampler
	if smp == nil {
		smp = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(smp),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("github.com/agileplus/agileplus")}, nil
}

// Shutdown exports the spans still held and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}

var kinds = map[agileplus.SpanKind]trace.SpanKind{
	agileplus.SpanInternal: trace.SpanKindInternal,
	agileplus.SpanServer:   trace.SpanKindServer,
	agileplus.SpanClient:   trace.SpanKindClient,
	agileplus.SpanProducer: trace.SpanKindProducer,
	agileplus.SpanConsumer: trace.SpanKindConsumer,
}

// Start begins a span whose parent is the traceparent in ctx (a new trace
// without one) and returns ctx carrying the new span's traceparent.
func (t *Tracer) Start(ctx context.Context, name string, kind agileplus.SpanKind) (context.Context, agileplus.Span) {
	parent := context.Background()
	if sc, ok := parseTraceParent(agileplus.TraceParentFrom(ctx)); ok {
		parent = trace.ContextWithRemoteSpanContext(parent, sc)
	}
	_, span := t.tracer.Start(parent, name, trace.WithSpanKind(kinds[kind]))
	return agileplus.WithTraceParent(ctx, formatTraceParent(span.SpanContext())), &otelSpan{span}
}

func parseTraceParent(tp string) (trace.SpanContext, bool) {
	if !agileplus.ValidTraceParent(tp) {
		return trace.SpanContext{}, false
	}
	tid, err1 := trace.TraceIDFromHex(tp[3:35])
	sid, err2 := trace.SpanIDFromHex(tp[36:52])
	flags, err3 := strconv.ParseUint(tp[53:55], 16, 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return trace.SpanContext{}, false
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags), Remote: true}), true
}

func formatTraceParent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%02x", sc.TraceID(), sc.SpanID(), byte(sc.TraceFlags()))
}

type otelSpan struct{ s trace.Span }

func (s *otelSpan) SetName(name string) { s.s.SetName(name) }

func (s *otelSpan) SetAttributes(kv ...any) {
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			s.s.SetAttributes(attribute.String(k, v))
		case int:
			s.s.SetAttributes(attribute.Int(k, v))
		case int64:
			s.s.SetAttributes(attribute.Int64(k, v))
		case bool:
			s.s.SetAttributes(attribute.Bool(k, v))
		default:
			s.s.SetAttributes(attribute.String(k, fmt.Sprint(v)))
		}
	}
}

func (s *otelSpan) End(err error) {
	if err != nil {
		s.s.RecordError(err)
		s.s.SetStatus(codes.Error, err.Error())
	}
	s.s.End()
}
