package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/webhook"
)

// receiver is a webhook endpoint that fails the first failFirst attempts
// of every delivery (or all of them while alwaysFail) and records every
// request.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	failFirst  int
	alwaysFail bool
	reqs       []receivedReq
	notify     chan struct{}
}

type receivedReq struct {
	at     time.Time
	header http.Header
	body   []byte
	ce     agileplus.CloudEvent
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, notify: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec := receivedReq{at: time.Now(), header: req.Header.Clone(), body: body}
	if err := json.Unmarshal(body, &rec.ce); err != nil {
		r.t.Errorf("receiver: body is not a CloudEvent: %v", err)
	}
	attempt, _ := strconv.Atoi(req.Header.Get(webhook.HeaderAttempt))
	r.mu.Lock()
	rec.status = http.StatusOK
	if r.alwaysFail || attempt <= r.failFirst {
		rec.status = http.StatusServiceUnavailable
	}
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	w.WriteHeader(rec.status)
	if rec.status != http.StatusOK {
		io.WriteString(w, "receiver is down for the test")
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *receiver) set(failFirst int, alwaysFail bool) {
	r.mu.Lock()
	r.failFirst, r.alwaysFail = failFirst, alwaysFail
	r.mu.Unlock()
}

// of returns the requests for one event, in arrival order.
func (r *receiver) of(eventID string) []receivedReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedReq
	for _, q := range r.reqs {
		if q.ce.ID == eventID {
			out = append(out, q)
		}
	}
	return out
}

func (r *receiver) all() []receivedReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedReq(nil), r.reqs...)
}

func TestWebhookDeliveryRetriesDeadLetterAndRedrive(t *testing.T) {
	backoff := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}
	url := startTestServerIn(t, t.TempDir(), "--consumer-backoff", "100ms,300ms,600ms")
	ctx := context.Background()
	c := httpapi.NewClient(url, httpapi.WithActor("tester"))
	rcv := newReceiver(t)

	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "WH", Name: "Webhooks"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "OTHER", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	h, err := c.CreateWebhook(ctx, agileplus.WebhookCreate{URL: rcv.srv.URL + "/hook", Filter: agileplus.EventSelector{Project: "WH", Entities: []string{"wp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Secret, "whsec_") {
		t.Fatalf("created webhook has no generated secret: %+v", h)
	}
	if got, err := c.GetWebhook(ctx, h.ID); err != nil || got.Secret != "" || got.URL != h.URL {
		t.Fatalf("GetWebhook = %+v, %v; want the webhook without its secret", got, err)
	}

	// Events the filter does not select: a feature, and a WP of another project.
	f, err := c.CreateFeature(ctx, "WH", agileplus.FeatureCreate{Slug: "hooks", Title: "Hooks"})
	if err != nil {
		t.Fatal(err)
	}
	of, err := c.CreateFeature(ctx, "OTHER", agileplus.FeatureCreate{Slug: "other", Title: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateWP(ctx, of.ID, agileplus.WPCreate{Title: "not for the hook"}); err != nil {
		t.Fatal(err)
	}

	t.Run("retries then delivers", func(t *testing.T) {
		rcv.set(2, false)
		w, err := c.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "first"})
		if err != nil {
			t.Fatal(err)
		}
		ev := lastEventOf(t, c, w.ID)
		poll.Until(t, "three attempts", func() bool { return len(rcv.of(ev.ID)) >= 3 })
		reqs := rcv.of(ev.ID)
		deliveryID := reqs[0].header.Get(webhook.HeaderDelivery)
		for i, q := range reqs {
			if err := webhook.Verify(h.Secret, q.header, q.body, time.Now(), time.Minute); err != nil {
				t.Errorf("attempt %d: %v", i+1, err)
			}
			if got := q.header.Get(webhook.HeaderAttempt); got != strconv.Itoa(i+1) {
				t.Errorf("attempt %d has %s %q", i+1, webhook.HeaderAttempt, got)
			}
			if got := q.header.Get(webhook.HeaderDelivery); got != deliveryID || got == "" {
				t.Errorf("attempt %d has delivery id %q, want %q on every attempt", i+1, got, deliveryID)
			}
			if q.ce.Type != agileplus.CloudEventTypePrefix+"wp.created" || q.ce.EntityID != w.ID {
				t.Errorf("attempt %d carries %s about %s", i+1, q.ce.Type, q.ce.EntityID)
			}
			if ct := q.header.Get("Content-Type"); ct != "application/cloudevents+json" {
				t.Errorf("Content-Type %q", ct)
			}
		}
		if err := webhook.Verify("wrong-secret-0123456789", reqs[0].header, reqs[0].body, time.Now(), 0); err == nil {
			t.Error("a signature verified with the wrong secret")
		}
		for i := 1; i < len(reqs); i++ {
			if gap := reqs[i].at.Sub(reqs[i-1].at); gap < backoff[i-1] {
				t.Errorf("attempt %d came %s after attempt %d; the backoff is %s", i+1, gap, i, backoff[i-1])
			}
		}
		// An attempt's log entry is written once its answer is in, after
		// the receiver saw it.
		var ds []*agileplus.WebhookDelivery
		var outcomes []string
		poll.Until(t, "three attempts in the delivery log", func() bool {
			ds, err = c.WebhookDeliveries(ctx, h.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			outcomes = outcomes[:0]
			for _, d := range ds {
				if d.EventID == ev.ID {
					outcomes = append(outcomes, d.Outcome)
				}
			}
			return len(outcomes) >= 3
		})
		time.Sleep(300 * time.Millisecond) // nothing more should come
		if n := len(rcv.of(ev.ID)); n != 3 {
			t.Errorf("receiver got %d attempts, want 3 (2 failures and the success)", n)
		}
		if want := "failed,failed,delivered"; strings.Join(outcomes, ",") != want {
			t.Errorf("delivery log outcomes %v, want %s", outcomes, want)
		}
		if ds[0].StatusCode != http.StatusServiceUnavailable || ds[0].NextAttempt == nil || !strings.Contains(ds[0].Error, "503") {
			t.Errorf("first failed attempt logged as %+v", ds[0])
		}
	})

	var dl *agileplus.DeadLetter
	var deadEvent *agileplus.Event
	t.Run("dead-lettered after the last attempt", func(t *testing.T) {
		rcv.set(0, true)
		w, err := c.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "second"})
		if err != nil {
			t.Fatal(err)
		}
		deadEvent = lastEventOf(t, c, w.ID)
		poll.Until(t, "a dead letter", func() bool {
			ds, err := c.DeadLetters(ctx, webhook.ConsumerName(h.ID), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) > 0 {
				dl = ds[0]
			}
			return dl != nil
		})
		if dl.Event == nil || dl.Event.ID != deadEvent.ID || dl.Deliveries != 5 || dl.Reason != "max_deliveries" {
			t.Fatalf("dead letter %+v (event %+v), want event %s after 5 deliveries", dl, dl.Event, deadEvent.ID)
		}
		reqs := rcv.of(deadEvent.ID)
		if len(reqs) != 5 {
			t.Fatalf("receiver got %d attempts, want 5", len(reqs))
		}
		for i := 1; i < len(reqs); i++ {
			want := backoff[min(i, len(backoff))-1]
			if gap := reqs[i].at.Sub(reqs[i-1].at); gap < want {
				t.Errorf("attempt %d came %s after attempt %d; the backoff is %s", i+1, gap, i, want)
			}
		}
		ds, _ := c.WebhookDeliveries(ctx, h.ID, 0, 0)
		if last := ds[len(ds)-1]; last.EventID != deadEvent.ID || last.Outcome != agileplus.DeliveryDeadLettered || last.Attempt != 5 {
			t.Errorf("last log entry %+v, want attempt 5 dead_lettered", last)
		}
		// The CLI shows it.
		out, _, err := runCLI(t, url, "deadletters", "list")
		if err != nil || !strings.Contains(out, deadEvent.ID) || !strings.Contains(out, "max_deliveries") {
			t.Errorf("deadletters list: %v\n%s", err, out)
		}
	})

	t.Run("redrive delivers it", func(t *testing.T) {
		if dl == nil {
			t.Fatal("no dead letter from the previous step")
		}
		// Still failing: the redrive fails, the dead letter stays.
		_, _, err := runCLI(t, url, "deadletters", "redrive", strconv.FormatUint(dl.Seq, 10))
		if err == nil || !strings.Contains(err.Error(), "failed again") {
			t.Errorf("redrive against a failing receiver: %v", err)
		}
		if ds, _ := c.DeadLetters(ctx, "", 0, 0); len(ds) != 1 {
			t.Errorf("after a failed redrive %d dead letters, want 1", len(ds))
		}
		rcv.set(0, false)
		out, _, err := runCLI(t, url, "deadletters", "redrive", strconv.FormatUint(dl.Seq, 10))
		if err != nil || !strings.Contains(out, "delivered") {
			t.Fatalf("redrive: %v\n%s", err, out)
		}
		reqs := rcv.of(deadEvent.ID)
		last := reqs[len(reqs)-1]
		if last.status != http.StatusOK || webhook.Verify(h.Secret, last.header, last.body, time.Now(), time.Minute) != nil {
			t.Errorf("re-driven delivery: status %d, signature %v", last.status, webhook.Verify(h.Secret, last.header, last.body, time.Now(), time.Minute))
		}
		if ds, _ := c.DeadLetters(ctx, "", 0, 0); len(ds) != 0 {
			t.Errorf("after a successful redrive %d dead letters remain", len(ds))
		}
		if _, err := c.Redrive(ctx, dl.Seq); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("second redrive of %d: %v, want not found", dl.Seq, err)
		}
		ds, _ := c.WebhookDeliveries(ctx, h.ID, 0, 0)
		if l := ds[len(ds)-1]; !l.Redrive || l.Outcome != agileplus.DeliveryDelivered {
			t.Errorf("last log entry %+v, want a delivered redrive", l)
		}
	})

	t.Run("only selected events", func(t *testing.T) {
		for _, q := range rcv.all() {
			if q.ce.Project != "WH" || q.ce.EntityKind != "wp" {
				t.Errorf("receiver got %s about %s in %s, which the filter excludes", q.ce.Type, q.ce.EntityID, q.ce.Project)
			}
		}
	})

	t.Run("delete stops deliveries", func(t *testing.T) {
		if _, _, err := runCLI(t, url, "webhook", "delete", h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetWebhook(ctx, h.ID); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Errorf("GetWebhook after delete: %v", err)
		}
		before := len(rcv.all())
		if _, err := c.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "after delete"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if n := len(rcv.all()); n != before {
			t.Errorf("receiver got %d requests after the webhook was deleted", n-before)
		}
	})
}

// lastEventOf returns the newest event of an entity.
func lastEventOf(t *testing.T, c *httpapi.Client, entity string) *agileplus.Event {
	t.Helper()
	es, err := c.Events(context.Background(), agileplus.EventQuery{Entity: entity, Limit: 1000})
	if err != nil || len(es) == 0 {
		t.Fatalf("events of %s: %v (%d)", entity, err, len(es))
	}
	return es[len(es)-1]
}

func TestWebhookBadInput(t *testing.T) {
	url := startTestServer(t)
	ctx := context.Background()
	c := httpapi.NewClient(url)
	for _, tc := range []struct {
		name  string
		in    agileplus.WebhookCreate
		field string
	}{
		{"no url", agileplus.WebhookCreate{}, "url"},
		{"ftp url", agileplus.WebhookCreate{URL: "ftp://example.com/x"}, "url"},
		{"no host", agileplus.WebhookCreate{URL: "http:///x"}, "url"},
		{"credentials", agileplus.WebhookCreate{URL: "http://u:p@example.com/"}, "url"},
		{"bad port", agileplus.WebhookCreate{URL: "http://example.com:99999/"}, "url"},
		{"bad project", agileplus.WebhookCreate{URL: "http://example.com/", Filter: agileplus.EventSelector{Project: "lower"}}, "filter.project"},
		{"unknown entity", agileplus.WebhookCreate{URL: "http://example.com/", Filter: agileplus.EventSelector{Entities: []string{"epic"}}}, "filter.entities"},
		{"unknown type", agileplus.WebhookCreate{URL: "http://example.com/", Filter: agileplus.EventSelector{Types: []string{"wp.exploded"}}}, "filter.types"},
		{"ipv6 literal not an address", agileplus.WebhookCreate{URL: "http://[1:2:3]/"}, "url"},
		{"space in the url", agileplus.WebhookCreate{URL: " http://example.com/"}, "url"},
		{"short secret", agileplus.WebhookCreate{URL: "http://example.com/", Secret: "short"}, "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateWebhook(ctx, tc.in)
			var e *agileplus.Error
			if !asError(err, &e) || e.Code != agileplus.EINVALID || e.Field != tc.field {
				t.Fatalf("CreateWebhook(%+v) = %v, want EINVALID on %s", tc.in, err, tc.field)
			}
		})
	}
	// Each value well formed, together selecting nothing: a rule's refusal.
	in := agileplus.WebhookCreate{URL: "http://example.com/", Filter: agileplus.EventSelector{Entities: []string{"feature"}, Types: []string{"wp.created"}}}
	if _, err := c.CreateWebhook(ctx, in); agileplus.ErrorCode(err) != agileplus.ERULE || agileplus.ErrorField(err) != "filter.types" {
		t.Errorf("type outside entities: got %v, want ERULE on filter.types", err)
	}
	if hs, err := c.ListWebhooks(ctx); err != nil || len(hs) != 0 {
		t.Errorf("after refused registrations: %d webhooks, %v", len(hs), err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		field        string
	}{
		{"GET", "/v1/webhooks/whk_nope", 404, "webhook"},
		{"GET", "/v1/webhooks/whk_nope/deliveries", 404, "webhook"},
		{"DELETE", "/v1/webhooks/whk_nope", 404, "webhook"},
		{"GET", "/v1/webhooks/x/deliveries?after=abc", 400, "after"},
		{"GET", "/v1/deadletters?consumer=bad.name", 400, "consumer"},
		{"GET", "/v1/deadletters?limit=0", 400, "limit"},
		{"GET", "/v1/deadletters?after=18446744073709551615", 400, "after"},
		{"GET", "/v1/deadletters?after=9223372036854775808", 400, "after"},
		{"POST", "/v1/deadletters/abc/redrive", 400, "seq"},
		{"POST", "/v1/deadletters/0/redrive", 400, "seq"},
		{"POST", "/v1/deadletters/999/redrive", 404, "seq"},
		{"DELETE", "/v1/deadletters/999", 404, "seq"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, url+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body httpapi.ErrorBody
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.Error.Field != tc.field {
				t.Errorf("status %d field %q (%s), want %d on %q", resp.StatusCode, body.Error.Field, body.Error.Message, tc.status, tc.field)
			}
		})
	}
	t.Run("cli", func(t *testing.T) {
		if _, _, err := runCLI(t, url, "deadletters", "redrive"); err == nil || !strings.Contains(err.Error(), "--all") {
			t.Errorf("redrive without seqs: %v", err)
		}
		if _, _, err := runCLI(t, url, "deadletters", "redrive", "x1"); err == nil || !strings.Contains(err.Error(), "not a dead letter seq") {
			t.Errorf("redrive x1: %v", err)
		}
		if _, _, err := runCLI(t, url, "webhook", "create", "gopher://x"); err == nil || !strings.Contains(err.Error(), "http or https") {
			t.Errorf("webhook create gopher: %v", err)
		}
	})
}

func TestWebhookDenyPrivate(t *testing.T) {
	url := startTestServerIn(t, t.TempDir(), "--webhook-deny-private")
	c := httpapi.NewClient(url)
	for _, target := range []string{"http://127.0.0.1:9/x", "http://localhost:9/x", "http://10.1.2.3/x", "http://[::1]:9/x"} {
		_, err := c.CreateWebhook(context.Background(), agileplus.WebhookCreate{URL: target})
		var e *agileplus.Error
		if !asError(err, &e) || e.Field != "url" || !strings.Contains(e.Message, "private") {
			t.Errorf("CreateWebhook(%s) with private targets off = %v, want a url error", target, err)
		}
	}
}

func asError(err error, target **agileplus.Error) bool { return errors.As(err, target) }
