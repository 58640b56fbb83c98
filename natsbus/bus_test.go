package natsbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// testEvents returns n events spread over a few work packages, each
// entity's events forming a valid hash chain.
func testEvents(prefix string, n int) []*agileplus.Event {
	const entities = 4
	base := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	prev := make(map[string]string)
	seq := make(map[string]int64)
	events := make([]*agileplus.Event, n)
	for i := range events {
		entity := fmt.Sprintf("%s-wp-%d", prefix, i%entities)
		seq[entity]++
		e := &agileplus.Event{
			ID:         fmt.Sprintf("%s-ev-%06d", prefix, i),
			GlobalSeq:  int64(i + 1),
			Type:       "wp.transitioned",
			EntityKind: agileplus.KindWP,
			EntityID:   entity,
			ProjectKey: "demo",
			FeatureID:  "feat-1",
			Seq:        seq[entity],
			PrevHash:   prev[entity],
			Time:       base.Add(time.Duration(i) * time.Millisecond),
			Actor:      "agent-7",
			Data:       json.RawMessage(`{"from":"planned","to":"doing","n":` + strconv.Itoa(i) + `}`),
		}
		e.Hash = e.ComputeHash()
		prev[entity] = e.Hash
		events[i] = e
	}
	return events
}

func openBus(t testing.TB, cfg natsbus.Config) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	b, err := natsbus.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// startServer runs a standalone NATS server with JetStream on a random
// loopback port, as an external deployment would.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = -1
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	opts.NoLog = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(poll.Timeout) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// testContext bounds a test's calls to the bus generously: what they wait
// for can take long on a busy machine.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*poll.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// checkEvents compares events read back from the stream with those
// published, field by field.
func checkEvents(t *testing.T, got, want []*agileplus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("event %d: got time %v, want %v", i, g.Time, w.Time)
		}
		gc, wc := *g, *w
		gc.Time, wc.Time = time.Time{}, time.Time{}
		gj, _ := json.Marshal(gc)
		wj, _ := json.Marshal(wc)
		if string(gj) != string(wj) {
			t.Errorf("event %d:\ngot  %s\nwant %s", i, gj, wj)
		}
		if h := g.ComputeHash(); h != w.Hash {
			t.Errorf("event %d: got hash %s after the round trip, want %s", i, h, w.Hash)
		}
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := agileplus.ErrorCode(err); got != code {
		t.Errorf("got error %v (code %q), want code %q", err, got, code)
	}
}

func TestEmbedded(t *testing.T) {
	b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
	ctx := testContext(t)
	first := testEvents("a", 50)

	t.Run("ping", func(t *testing.T) {
		if err := b.Ping(ctx); err != nil {
			t.Fatalf("got Ping error %v, want nil", err)
		}
	})

	t.Run("publish and read back", func(t *testing.T) {
		if err := b.Publish(ctx, first); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		got, err := b.StreamEvents(ctx)
		if err != nil {
			t.Fatalf("StreamEvents: %v", err)
		}
		checkEvents(t, got, first)
	})

	t.Run("publishing again stores each event once", func(t *testing.T) {
		if err := b.Publish(ctx, first); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		more := testEvents("b", 10)
		// Overlapping batch: half old, half new.
		if err := b.Publish(ctx, append(append([]*agileplus.Event{}, first[45:]...), more...)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		got, err := b.StreamEvents(ctx)
		if err != nil {
			t.Fatalf("StreamEvents: %v", err)
		}
		checkEvents(t, got, append(append([]*agileplus.Event{}, first...), more...))
		info, err := b.StreamInfo(ctx)
		if err != nil {
			t.Fatalf("StreamInfo: %v", err)
		}
		if info.Messages != 60 || info.FirstSeq != 1 || info.LastSeq != 60 {
			t.Errorf("got %d messages, seq %d..%d, want 60 messages, seq 1..60", info.Messages, info.FirstSeq, info.LastSeq)
		}
	})

	t.Run("messages carry subject and headers", func(t *testing.T) {
		msgs, err := b.StreamMessages(ctx)
		if err != nil {
			t.Fatalf("StreamMessages: %v", err)
		}
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Errorf("message %d: got seq %d, want %d", i, m.Seq, i+1)
			}
			if m.MsgID != m.Event.ID {
				t.Errorf("message %d: got Nats-Msg-Id %q, want %q", i, m.MsgID, m.Event.ID)
			}
			if m.Subject != m.Event.Subject() {
				t.Errorf("message %d: got subject %q, want %q", i, m.Subject, m.Event.Subject())
			}
		}
		raw, err := b.JetStream().Stream(ctx, "AGILEPLUS")
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		sm, err := raw.GetMsg(ctx, 1)
		if err != nil {
			t.Fatalf("GetMsg: %v", err)
		}
		for _, h := range []struct{ name, want string }{
			{jetstream.MsgIDHeader, first[0].ID},
			{natsbus.HeaderSpecVersion, "1.0"},
			{natsbus.HeaderID, first[0].ID},
			{natsbus.HeaderType, "dev.agileplus.wp.transitioned"},
			{natsbus.HeaderContentType, "application/cloudevents+json"},
		} {
			if got := sm.Header.Get(h.name); got != h.want {
				t.Errorf("header %s: got %q, want %q", h.name, got, h.want)
			}
		}
		if want := "agileplus.demo.wp.a-wp-0.transitioned"; sm.Subject != want {
			t.Errorf("got subject %q, want %q", sm.Subject, want)
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		if err := b.Publish(ctx, nil); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})

	t.Run("invalid events refused before sending", func(t *testing.T) {
		before, err := b.StreamInfo(ctx)
		if err != nil {
			t.Fatalf("StreamInfo: %v", err)
		}
		tests := []struct {
			name  string
			spoil func(e *agileplus.Event)
		}{
			{"no id", func(e *agileplus.Event) { e.ID = "" }},
			{"no project", func(e *agileplus.Event) { e.ProjectKey = "" }},
			{"dot in entity id", func(e *agileplus.Event) { e.EntityID = "has.dots" }},
			{"wildcard entity id", func(e *agileplus.Event) { e.EntityID = "*" }},
			{"space in project", func(e *agileplus.Event) { e.ProjectKey = "my project" }},
			{"type without action", func(e *agileplus.Event) { e.Type = "wp" }},
			{"invalid data", func(e *agileplus.Event) { e.Data = json.RawMessage(`{`) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				batch := testEvents("c-"+strings.ReplaceAll(tt.name, " ", "-"), 3)
				tt.spoil(batch[2])
				err := b.Publish(ctx, batch)
				if err == nil {
					t.Fatal("got nil error, want one")
				}
				if code := agileplus.ErrorCode(err); code != agileplus.EINVALID && code != agileplus.EINTERNAL {
					t.Errorf("got code %q (%v), want %q or %q", code, err, agileplus.EINVALID, agileplus.EINTERNAL)
				}
			})
		}
		after, err := b.StreamInfo(ctx)
		if err != nil {
			t.Fatalf("StreamInfo: %v", err)
		}
		if after.Messages != before.Messages {
			t.Errorf("got %d messages after refused batches, want %d", after.Messages, before.Messages)
		}
	})

	t.Run("concurrent publishers", func(t *testing.T) {
		before, err := b.StreamInfo(ctx)
		if err != nil {
			t.Fatalf("StreamInfo: %v", err)
		}
		const publishers, perPublisher = 4, 1500
		var wg sync.WaitGroup
		errs := make(chan error, publishers)
		for p := range publishers {
			wg.Go(func() {
				events := testEvents("p"+strconv.Itoa(p), perPublisher)
				for i := 0; i < len(events); i += 100 {
					if err := b.Publish(ctx, events[i:i+100]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Publish: %v", err)
		}
		after, err := b.StreamInfo(ctx)
		if err != nil {
			t.Fatalf("StreamInfo: %v", err)
		}
		if got, want := after.Messages-before.Messages, uint64(publishers*perPublisher); got != want {
			t.Errorf("got %d new messages, want %d", got, want)
		}
	})

	t.Run("no client port by default", func(t *testing.T) {
		if got := b.ClientURL(); got != "" {
			t.Errorf("got ClientURL %q, want empty", got)
		}
	})
}

func TestEmbeddedReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	events := testEvents("r", 100)

	b, err := natsbus.Open(ctx, natsbus.Config{DataDir: dir, SyncAlways: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := b.Publish(ctx, events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b = openBus(t, natsbus.Config{DataDir: dir})
	got, err := b.StreamEvents(ctx)
	if err != nil {
		t.Fatalf("StreamEvents: %v", err)
	}
	checkEvents(t, got, events)

	// The de-duplication window survives the restart too.
	if err := b.Publish(ctx, events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	info, err := b.StreamInfo(ctx)
	if err != nil {
		t.Fatalf("StreamInfo: %v", err)
	}
	if info.Messages != 100 {
		t.Errorf("got %d messages after republishing, want 100", info.Messages)
	}
}

func TestEmbeddedListen(t *testing.T) {
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0"})
	ctx := testContext(t)
	url := b.ClientURL()
	if url == "" || url == "nats://127.0.0.1:0" {
		t.Fatalf("got ClientURL %q, want the random port", url)
	}
	// A second client over TCP sees what the first published in-process.
	if err := b.Publish(ctx, testEvents("l", 5)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	remote := openBus(t, natsbus.Config{URL: url})
	info, err := remote.StreamInfo(ctx)
	if err != nil {
		t.Fatalf("StreamInfo: %v", err)
	}
	if info.Messages != 5 {
		t.Errorf("got %d messages over TCP, want 5", info.Messages)
	}
}

func TestClosed(t *testing.T) {
	ctx := testContext(t)
	b, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	t.Run("ping", func(t *testing.T) {
		wantCode(t, b.Ping(ctx), agileplus.EUNAVAILABLE)
	})
	t.Run("publish", func(t *testing.T) {
		wantCode(t, b.Publish(ctx, testEvents("x", 2)), agileplus.EUNAVAILABLE)
	})
	t.Run("read", func(t *testing.T) {
		_, err := b.StreamEvents(ctx)
		wantCode(t, err, agileplus.EUNAVAILABLE)
	})
}

func TestExternal(t *testing.T) {
	tests := []struct {
		name string
		opts server.Options
		cfg  natsbus.Config
	}{
		{name: "no auth"},
		{name: "token", opts: server.Options{Authorization: "s3cret"}, cfg: natsbus.Config{Token: "s3cret"}},
		{name: "user and password", opts: server.Options{Username: "ap", Password: "pw"}, cfg: natsbus.Config{User: "ap", Password: "pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, &tt.opts)
			ctx := testContext(t)
			cfg := tt.cfg
			cfg.URL = srv.ClientURL()
			b := openBus(t, cfg)
			if got := b.ClientURL(); got != cfg.URL {
				t.Errorf("got ClientURL %q, want %q", got, cfg.URL)
			}
			if err := b.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			events := testEvents("e", 20)
			for range 2 {
				if err := b.Publish(ctx, events); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			got, err := b.StreamEvents(ctx)
			if err != nil {
				t.Fatalf("StreamEvents: %v", err)
			}
			checkEvents(t, got, events)
		})
	}

	t.Run("wrong credentials", func(t *testing.T) {
		srv := startServer(t, &server.Options{Authorization: "s3cret"})
		_, err := natsbus.Open(testContext(t), natsbus.Config{URL: srv.ClientURL(), Token: "wrong", ConnectTimeout: poll.Timeout})
		wantCode(t, err, agileplus.EUNAVAILABLE)
		if err == nil || !strings.Contains(err.Error(), "uthorization") {
			t.Errorf("got error %v, want it to name the authorization failure", err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Run("no server", func(t *testing.T) {
		// Port 1 on loopback: nothing listens there.
		_, err := natsbus.Open(testContext(t), natsbus.Config{URL: "nats://ap:hunter2@127.0.0.1:1", ConnectTimeout: 500 * time.Millisecond})
		wantCode(t, err, agileplus.EUNAVAILABLE)
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("got error %q, want the password redacted", err)
		}
	})

	t.Run("server goes away", func(t *testing.T) {
		srv := startServer(t, &server.Options{})
		b := openBus(t, natsbus.Config{URL: srv.ClientURL()})
		ctx := testContext(t)
		if err := b.Publish(ctx, testEvents("u", 3)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		poll.Until(t, "the client to notice the server is gone", func() bool { return !b.Conn().IsConnected() })

		// Waiting for a reconnection would end with ctx: failing before
		// that is failing fast.
		wantCode(t, b.Ping(ctx), agileplus.EUNAVAILABLE)
		wantCode(t, b.Publish(ctx, testEvents("v", 3)), agileplus.EUNAVAILABLE)
		if err := ctx.Err(); err != nil {
			t.Errorf("got Publish failing when its ctx ended (%v), want it to fail fast while disconnected", err)
		}
	})
}

func TestStreamEventsMany(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
	ctx := testContext(t)
	events := testEvents("m", n)
	for i := 0; i < n; i += 512 {
		if err := b.Publish(ctx, events[i:min(i+512, n)]); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	start := time.Now()
	got, err := b.StreamEvents(ctx)
	if err != nil {
		t.Fatalf("StreamEvents: %v", err)
	}
	t.Logf("read %d events in %s", len(got), time.Since(start))
	if len(got) != n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if e.ID != events[i].ID {
			t.Fatalf("event %d: got id %s, want %s", i, e.ID, events[i].ID)
		}
	}
}

func TestShortMaxAge(t *testing.T) {
	// The default de-duplication window (10 minutes) must shrink to fit.
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), MaxAge: time.Minute})
	if err := b.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestOpenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsbus.Config
	}{
		{"embedded without data dir", natsbus.Config{}},
		{"bad listen address", natsbus.Config{DataDir: "x", ListenAddr: "localhost"}},
		{"bad listen port", natsbus.Config{DataDir: "x", ListenAddr: "127.0.0.1:http"}},
		{"data dir is a file", natsbus.Config{DataDir: "file"}},
		{"replicas on a single server", natsbus.Config{DataDir: "x", Replicas: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.cfg.DataDir {
			case "":
			case "file":
				tt.cfg.DataDir = filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(tt.cfg.DataDir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				tt.cfg.DataDir = t.TempDir()
			}
			tt.cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			b, err := natsbus.Open(testContext(t), tt.cfg)
			if err == nil {
				b.Close()
				t.Fatal("got nil error, want one")
			}
			t.Log(err)
		})
	}
}

// BenchmarkPublish publishes batches of 512 events, as the relay does, and
// the same messages with raw JetStream async publish as the baseline.
func BenchmarkPublish(b *testing.B) {
	const batch = 512
	bus := openBus(b, natsbus.Config{DataDir: b.TempDir()})
	ctx := context.Background()
	events := testEvents("bench", batch)
	next := 0
	renumber := func() {
		for _, e := range events {
			next++
			e.ID = "bench-" + strconv.Itoa(next)
		}
	}

	b.Run("bus", func(b *testing.B) {
		for b.Loop() {
			renumber()
			if err := bus.Publish(ctx, events); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("raw", func(b *testing.B) {
		js := bus.JetStream()
		payloads := make([][]byte, batch)
		for i, e := range events {
			payloads[i], _ = json.Marshal(e.CloudEvent())
		}
		for b.Loop() {
			renumber()
			for i, e := range events {
				if _, err := js.PublishAsync(e.Subject(), payloads[i], jetstream.WithMsgID(e.ID)); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
}

func TestPublishTraceParent(t *testing.T) {
	b := openBus(t, natsbus.Config{DataDir: t.TempDir()})
	ctx := testContext(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	events := testEvents("tp", 2)
	events[0].TraceParent = tp
	if err := b.Publish(ctx, events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	raw, err := b.JetStream().Stream(ctx, "AGILEPLUS")
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	for i, want := range []string{tp, ""} {
		sm, err := raw.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatalf("GetMsg: %v", err)
		}
		// Header.Get is case-sensitive: this is the exact W3C name.
		if got := sm.Header.Get("traceparent"); got != want {
			t.Errorf("message %d: got header traceparent %q, want %q", i+1, got, want)
		}
		var ce agileplus.CloudEvent
		if err := json.Unmarshal(sm.Data, &ce); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		if ce.TraceParent != want {
			t.Errorf("message %d: got CloudEvent traceparent %q, want %q", i+1, ce.TraceParent, want)
		}
	}
	got, err := b.StreamEvents(ctx)
	if err != nil {
		t.Fatalf("StreamEvents: %v", err)
	}
	checkEvents(t, got, events)
}
