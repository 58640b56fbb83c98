package natsbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
)

func TestEmbeddedMonitorAndLimits(t *testing.T) {
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), MonitorAddr: "127.0.0.1:0", MaxMemory: 64 << 20, MaxStore: 256 << 20})
	base := b.MonitorURL()
	if base == "" || base == "http://127.0.0.1:0" {
		t.Fatalf("got MonitorURL %q, want the random port", base)
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var health struct{ Status string }
	get("/healthz", &health)
	if health.Status != "ok" {
		t.Errorf("got /healthz status %q, want ok", health.Status)
	}
	var varz struct {
		JetStream struct {
			Config struct {
				MaxMemory int64 `json:"max_memory"`
				MaxStore  int64 `json:"max_storage"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	get("/varz", &varz)
	if c := varz.JetStream.Config; c.MaxMemory != 64<<20 || c.MaxStore != 256<<20 {
		t.Errorf("got JetStream limits memory %d, store %d, want %d, %d", c.MaxMemory, c.MaxStore, 64<<20, 256<<20)
	}

	if u := openBus(t, natsbus.Config{DataDir: t.TempDir()}).MonitorURL(); u != "" {
		t.Errorf("without MonitorAddr: got MonitorURL %q, want none", u)
	}
}

func TestConsumerStatsAndAttempts(t *testing.T) {
	ctx := testContext(t)
	var mu sync.Mutex
	attempts := map[int]int{} // by attempt number
	failed := 0
	b := openBus(t, natsbus.Config{DataDir: t.TempDir(), Consumer: fastPolicy(), OnAttempt: func(d agileplus.Delivery, err error) {
		mu.Lock()
		defer mu.Unlock()
		attempts[d.Attempt]++
		if err != nil {
			failed++
		}
	}})
	c, err := b.Consume(ctx, agileplus.ConsumerSpec{
		Name:     "stats-consumer",
		Selector: agileplus.EventSelector{Types: []string{"wp.transitioned"}},
		Handle: func(_ context.Context, e *agileplus.Event, d agileplus.Delivery) error {
			if e.ID == "s-ev-000001" { // the second event always fails
				return errors.New("refused")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := b.Publish(ctx, testEvents("s", 3)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "one dead letter", func() bool {
		n, err := b.DeadLetterCount(ctx)
		return err == nil && n == 1
	})
	poll.Until(t, "every attempt reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return attempts[1] == 3 && attempts[2] == 1 && attempts[3] == 1 && failed == 3
	})
	stats, err := b.ConsumerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Name != "stats-consumer" || stats[0].Pending != 0 {
		t.Errorf("got consumer stats %+v, want stats-consumer with nothing pending", stats)
	}
}
