package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs a real NATS server with JetStream and a TCP listener.
func startNATS(t *testing.T, port int, storeDir string) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(poll.Timeout) {
		t.Fatal("nats server did not start")
	}
	return srv
}

// TestExternalNATSDownAndBack runs serve against an external NATS server,
// stops that server, keeps writing, and restarts it: writes never fail,
// /ready reports the bus down meanwhile, and the outbox drains in order.
func TestExternalNATSDownAndBack(t *testing.T) {
	ctx := context.Background()
	natsDir := t.TempDir()
	ns := startNATS(t, -1, natsDir)
	natsURL := ns.ClientURL()
	natsPort := ns.Addr().(*net.TCPAddr).Port

	url := startTestServerIn(t, t.TempDir(), "--nats-url", natsURL)
	c := httpapi.NewClient(url, httpapi.WithActor("ext"))
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "EXT", Name: "External"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFeature(ctx, "EXT", agileplus.FeatureCreate{Slug: "ext", Title: "Ext"}); err != nil {
		t.Fatal(err)
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	waitStatus(t, url+"/ready", http.StatusServiceUnavailable)
	for range 10 {
		if _, err := c.CreateWP(ctx, "ext", agileplus.WPCreate{Title: "written while NATS is down"}); err != nil {
			t.Fatalf("write while the bus is down: %v", err)
		}
	}

	ns = startNATS(t, natsPort, natsDir)
	defer ns.Shutdown()
	waitStatus(t, url+"/ready", http.StatusOK)
	waitOutboxEmpty(t, c)

	events, err := c.Events(ctx, agileplus.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.OrderedConsumer(ctx, "AGILEPLUS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Fetch returns once it has them all; the stream's count shows any
	// extra.
	batch, err := cons.Fetch(len(events), jetstream.FetchMaxWait(poll.Timeout))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := js.Stream(ctx, "AGILEPLUS"); err != nil {
		t.Fatal(err)
	} else if n := s.CachedInfo().State.Msgs; n != uint64(len(events)) {
		t.Errorf("got %d messages in the stream, want %d", n, len(events))
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Headers().Get("Nats-Msg-Id"))
	}
	if len(got) != len(events) {
		t.Fatalf("got %d messages in the stream, want %d", len(got), len(events))
	}
	for i, e := range events {
		if got[i] != e.ID {
			t.Fatalf("message %d is event %s, want %s: the outbox did not drain in order", i, got[i], e.ID)
		}
	}
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	poll.Until(t, url+" to answer "+strconv.Itoa(want), func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == want
	})
}
