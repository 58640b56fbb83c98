package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/natstest"
	"github.com/agileplus/agileplus/natsbus"
)

// TestTLSExternalNATS runs serve against a NATS server that requires TLS
// with a certificate from a private CA: trusting that CA through
// NATS_TLS_CA, writes reach the stream; without it, serve refuses to start
// and says the certificate is the problem.
func TestTLSExternalNATS(t *testing.T) {
	ns := natstest.StartServer(t, natstest.WithTLS())

	t.Run("with the CA", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		url := startTestServerEnv(t, t.TempDir(), map[string]string{"NATS_TLS_CA": ns.CAFile()}, "--nats-url", ns.URL())
		c := httpapi.NewClient(url, httpapi.WithActor("tls"))
		p, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "TLS", Name: "TLS"})
		if err != nil {
			t.Fatal(err)
		}
		waitOutboxEmpty(t, c)
		events, err := c.Events(ctx, agileplus.EventQuery{Entity: p.ID})
		if err != nil || len(events) != 1 {
			t.Fatalf("events of %s: %v %v, want 1", p.Key, events, err)
		}

		bus, err := natsbus.Open(ctx, natsbus.Config{URL: ns.URL(), TLSCA: ns.CAFile()})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		msgs, err := bus.StreamMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The first is the local key's creation.
		if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Subject, "agileplus."+agileplus.SystemProject+".key.") || msgs[1].MsgID != events[0].ID {
			t.Fatalf("stream holds %+v, want the local key's event and %s", msgs, events[0].ID)
		}
	})

	t.Run("without the CA", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var stdout, stderr syncBuffer
		start := time.Now()
		err := run(ctx, []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--nats-url", ns.URL()},
			func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if err == nil {
			t.Fatal("serve started against a TLS server whose CA it does not trust")
		}
		t.Logf("serve failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
		msg := err.Error()
		for _, want := range []string{"natsbus: connect", "certificate"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		if strings.Contains(stdout.String(), "serving on") {
			t.Errorf("serve announced it was serving: %s", stdout.String())
		}
	})
}
