package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestLoggerAddsRequestAndTraceIDs(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := agileplus.WithRequestID(agileplus.WithTraceParent(context.Background(), tp), "req-1")
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		log := newLogger(&buf, "json", slog.LevelInfo).With("part", "test")
		log.InfoContext(ctx, "in a request")
		log.Info("outside any request")
		log.DebugContext(ctx, "below the level")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
		}
		var in, out map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(lines[1]), &out); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"msg": "in a request", "part": "test", "request_id": "req-1",
			"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
		for k, v := range want {
			if in[k] != v {
				t.Errorf("line in a request: got %s=%v, want %v", k, in[k], v)
			}
		}
		for _, k := range []string{"request_id", "trace_id", "span_id"} {
			if _, ok := out[k]; ok {
				t.Errorf("line outside a request has %s: %v", k, out)
			}
		}
	})
	t.Run("text", func(t *testing.T) {
		var buf bytes.Buffer
		newLogger(&buf, "text", slog.LevelDebug).DebugContext(ctx, "hello", "k", 1)
		got := buf.String()
		for _, want := range []string{"level=DEBUG", "msg=hello", "request_id=req-1", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "span_id=00f067aa0ba902b7"} {
			if !strings.Contains(got, want) {
				t.Errorf("got %q, want it to contain %s", got, want)
			}
		}
	})
}
