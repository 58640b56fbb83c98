package crosstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/webhook"
)

func testSecretKey(b byte) []byte { return bytes.Repeat([]byte{b}, webhook.SecretKeySize) }

// signedReceiver records the deliveries it gets.
type signedReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []signedReq
}

type signedReq struct {
	header http.Header
	body   []byte
}

func newSignedReceiver(t *testing.T) *signedReceiver {
	r := &signedReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, signedReq{req.Header.Clone(), body})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *signedReceiver) got() []signedReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]signedReq(nil), r.reqs...)
}

// publishEvent puts one event about a new WP on the bus.
func publishEvent(t *testing.T, bus *natsbus.Bus, n int) *agileplus.Event {
	t.Helper()
	e := &agileplus.Event{
		ID: fmt.Sprintf("evt_secret%03d", n), GlobalSeq: int64(n), Type: "wp.created", EntityKind: agileplus.KindWP,
		EntityID: fmt.Sprintf("wp_secret%03d", n), ProjectKey: "SEC", Seq: 1, Time: time.Now().UTC(), Actor: "tester",
		Data: json.RawMessage(`{}`),
	}
	e.Hash = e.ComputeHash()
	if err := bus.Publish(context.Background(), []*agileplus.Event{e}); err != nil {
		t.Fatal(err)
	}
	return e
}

// storedWebhook is the registration as the bus keeps it.
func storedWebhook(t *testing.T, bus *natsbus.Bus, id string) []byte {
	t.Helper()
	kv, err := bus.JetStream().KeyValue(context.Background(), "agileplus_webhooks")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e.Value()
}

// waitSigned waits for the delivery of event e and checks its signature.
func waitSigned(t *testing.T, rcv *signedReceiver, e *agileplus.Event, secret string) {
	t.Helper()
	var req *signedReq
	poll.Until(t, "delivery of "+e.ID, func() bool {
		for _, q := range rcv.got() {
			if bytes.Contains(q.body, []byte(e.ID)) {
				req = &q
				return true
			}
		}
		return false
	})
	if err := webhook.Verify(secret, req.header, req.body, time.Now(), time.Minute); err != nil {
		t.Errorf("delivery of %s: %v", e.ID, err)
	}
}

// The bus keeps a webhook's secret sealed; deliveries are signed with the
// secret, across restarts; a process with another key fails the
// deliveries, saying why, and sends nothing.
func TestWebhookSecretSealedOnTheBus(t *testing.T) {
	ctx := context.Background()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir(),
		Consumer: agileplus.ConsumerPolicy{MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	rcv := newSignedReceiver(t)

	d := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1)})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := d.CreateWebhook(ctx, agileplus.WebhookCreate{URL: rcv.srv.URL + "/hook", Secret: "my-own-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Secret != "my-own-secret-0123456789" {
		t.Fatalf("created webhook carries secret %q, want the one given", h.Secret)
	}
	if raw := storedWebhook(t, bus, h.ID); bytes.Contains(raw, []byte(h.Secret)) || !bytes.Contains(raw, []byte(`"secret":"sealed:v1:`)) {
		t.Errorf("the bus keeps %s, want the secret sealed", raw)
	}
	waitSigned(t, rcv, publishEvent(t, bus, 1), h.Secret)
	d.Close()

	t.Run("restart", func(t *testing.T) {
		d := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1)})
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		waitSigned(t, rcv, publishEvent(t, bus, 2), h.Secret)
	})

	t.Run("another key", func(t *testing.T) {
		d := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(2)})
		if err := d.Start(ctx); err != nil {
			t.Fatalf("Start with another key: %v, want it to start and fail the deliveries", err)
		}
		defer d.Close()
		before := len(rcv.got())
		e := publishEvent(t, bus, 3)
		var failed *agileplus.WebhookDelivery
		poll.Until(t, "a failed delivery", func() bool {
			ds, err := bus.Webhooks().Deliveries(ctx, h.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range ds {
				if dl.EventID == e.ID && dl.Outcome != agileplus.DeliveryDelivered {
					failed = dl
					return true
				}
			}
			return false
		})
		if !strings.Contains(failed.Error, "same secret key") {
			t.Errorf("failed delivery says %q, want it to name the secret key", failed.Error)
		}
		if n := len(rcv.got()) - before; n != 0 {
			t.Errorf("receiver got %d requests from a process that cannot sign", n)
		}
	})
}

// A registry that kept a secret in plain text keeps working: the next
// start seals it and deliveries are signed with it.
func TestWebhookPlainSecretIsSealedAtStart(t *testing.T) {
	ctx := context.Background()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	rcv := newSignedReceiver(t)
	legacy := &agileplus.Webhook{ID: "whk_legacy01", URL: rcv.srv.URL + "/hook", Secret: "whsec_legacy-plain-secret", CreatedAt: time.Now().UTC()}
	if err := bus.Webhooks().PutWebhook(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	d := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1)})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if raw := storedWebhook(t, bus, legacy.ID); bytes.Contains(raw, []byte(legacy.Secret)) || !bytes.Contains(raw, []byte("sealed:v1:")) {
		t.Errorf("after Start the bus keeps %s, want the secret sealed", raw)
	}
	waitSigned(t, rcv, publishEvent(t, bus, 1), legacy.Secret)
	// Sealing twice would make it unreadable: a second start leaves it.
	before := storedWebhook(t, bus, legacy.ID)
	d2 := webhook.New(webhook.Config{Registry: bus.Webhooks(), Consumers: bus, SecretKey: testSecretKey(1)})
	if err := d2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if after := storedWebhook(t, bus, legacy.ID); !bytes.Equal(before, after) {
		t.Errorf("a second start changed the registration:\n%s\n%s", before, after)
	}
}
