package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/jaegertest"
	"github.com/agileplus/agileplus/internal/poll"
)

// One write, traced into a real Jaeger: the request's server span is a
// child of the caller's traceparent, and the store transaction, the
// relay's publish and the webhook delivery are children of the server span;
// the webhook receiver gets the delivery span's traceparent.
func TestTraceOfAWriteInJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger; make test runs it")
	}
	jaeger := jaegertest.Start(t)

	var mu sync.Mutex
	var delivered []string // the traceparents the receiver got
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		delivered = append(delivered, r.Header.Get("Traceparent"))
		mu.Unlock()
	}))
	defer receiver.Close()

	dir := t.TempDir()
	url := startTestServerEnv(t, dir, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.OTLP,
		"OTEL_SERVICE_NAME":           "agileplus-trace-test",
	})
	ctx := context.Background()
	client := httpapi.NewClient(url)
	if _, err := client.CreateWebhook(ctx, agileplus.WebhookCreate{URL: receiver.URL, Filter: agileplus.EventSelector{Types: []string{"project.created"}}}); err != nil {
		t.Fatal(err)
	}

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequest(http.MethodPost, url+"/v1/projects", bytes.NewReader([]byte(`{"key":"TRACE","name":"Traced"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create project: %s", resp.Status)
	}
	answered := resp.Header.Get("traceparent")
	if !strings.HasPrefix(answered, "00-"+traceID+"-") {
		t.Fatalf("the answer's traceparent %q does not continue trace %s", answered, traceID)
	}
	serverSpan := answered[36:52]

	var hook string
	poll.Until(t, "the webhook delivery of project.created", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range delivered {
			if strings.HasPrefix(tp, "00-"+traceID+"-") {
				hook = tp
				return true
			}
		}
		return false
	})

	want := []string{"POST /v1/projects", "store update", "publish project.created", "webhook deliver"}
	var spans []jaegertest.Span
	if !poll.Wait(time.Minute, func() bool {
		spans, err = jaeger.Trace(traceID)
		if err != nil {
			return false
		}
		for _, name := range want {
			if byName(spans, name) == nil {
				return false
			}
		}
		return true
	}) {
		var names []string
		for _, s := range spans {
			names = append(names, s.OperationName)
		}
		t.Fatalf("trace %s in Jaeger has spans %v (err %v), want %v\n%s", traceID, names, err, want, jaeger.Log())
	}
	server := byName(spans, "POST /v1/projects")
	if server.SpanID != serverSpan || server.Parent() != callerSpan {
		t.Errorf("server span %s (parent %s), want %s (parent %s, the caller's)", server.SpanID, server.Parent(), serverSpan, callerSpan)
	}
	if got := server.Tag("http.response.status_code"); got != float64(201) {
		t.Errorf("server span status tag = %v, want 201", got)
	}
	for _, name := range want[1:] {
		if s := byName(spans, name); s.Parent() != serverSpan {
			t.Errorf("span %q has parent %s, want the server span %s", name, s.Parent(), serverSpan)
		}
	}
	if d := byName(spans, "webhook deliver"); hook[36:52] != d.SpanID {
		t.Errorf("the receiver got traceparent %s, want the delivery span %s", hook, d.SpanID)
	}
}

func byName(spans []jaegertest.Span, name string) *jaegertest.Span {
	for i := range spans {
		if spans[i].OperationName == name {
			return &spans[i]
		}
	}
	return nil
}
