package crosstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/sqlitestore"
)

// streamFeeder stands in for the relay and the bus: after each commit it
// reads the new events from the store and broadcasts them, in order, the
// way natsbus.Follow feeds the hub in the server. skip and repeat inject
// the faults a stream must absorb: events the feed never delivers and
// events it delivers twice.
type streamFeeder struct {
	hub    *httpapi.Hub
	svc    *agileplus.Service
	skip   func(seq int64) bool
	repeat func(seq int64) bool
	// send, when set, takes the events instead of hub.Broadcast.
	send func(*agileplus.Event)

	mu   sync.Mutex
	last int64
}

func (f *streamFeeder) poke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		es, err := f.svc.Events(context.Background(), agileplus.EventQuery{After: f.last, Limit: agileplus.MaxPageLimit})
		if err != nil || len(es) == 0 {
			return
		}
		for _, e := range es {
			f.last = e.GlobalSeq
			if f.skip != nil && f.skip(e.GlobalSeq) {
				continue
			}
			send := f.hub.Broadcast
			if f.send != nil {
				send = f.send
			}
			send(e)
			if f.repeat != nil && f.repeat(e.GlobalSeq) {
				send(e)
			}
		}
	}
}

// tinyFeed gives every stream a one-event buffer, so that any burst
// overflows it and the stream must resubscribe and catch up.
type tinyFeed struct{ hub *httpapi.Hub }

func (f tinyFeed) Subscribe(int) *httpapi.HubSubscription { return f.hub.Subscribe(1) }

type streamAPI struct {
	srv    *httptest.Server
	api    *httpapi.Server
	svc    *agileplus.Service
	hub    *httpapi.Hub
	feeder *streamFeeder
}

// newStreamAPI serves the API over a real SQLite store, with a hub fed
// after every commit, its handler wrapped by wrap if given.
func newStreamAPI(t *testing.T, feed func(*httpapi.Hub) httpapi.Feed, wrap ...func(http.Handler) http.Handler) *streamAPI {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a := &streamAPI{svc: agileplus.NewService(store), hub: httpapi.NewHub()}
	a.feeder = &streamFeeder{hub: a.hub, svc: a.svc}
	a.svc.OnCommit = a.feeder.poke
	a.api = httpapi.NewServer(a.svc, nil, nil, "test")
	if feed != nil {
		a.api.Feed = feed(a.hub)
	}
	var h http.Handler = a.api
	for _, w := range wrap {
		h = w(h)
	}
	a.srv = httptest.NewUnstartedServer(h)
	a.srv.Config.RegisterOnShutdown(a.api.CloseStreams)
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

func hubFeed(h *httpapi.Hub) httpapi.Feed { return h }

// sseFrame is one event of a stream as a client sees it.
type sseFrame struct {
	id    int64
	event string
	ce    agileplus.CloudEvent
}

// sseConn is a raw SSE client connection.
type sseConn struct {
	resp   *http.Response
	sc     *bufio.Scanner
	cancel context.CancelFunc
	retry  string
}

func openSSE(t *testing.T, url string, hdr ...string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("GET %s: got %s, want 200", url, resp.Status)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("got %s %q, want %q", k, got, want)
		}
	}
	c := &sseConn{resp: resp, sc: bufio.NewScanner(resp.Body), cancel: cancel}
	c.sc.Buffer(nil, 16<<20)
	t.Cleanup(c.close)
	return c
}

func (c *sseConn) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next reads the next event, skipping comments.
func (c *sseConn) next() (sseFrame, error) {
	var f sseFrame
	var data string
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue
			}
			if err := json.Unmarshal([]byte(data), &f.ce); err != nil {
				return f, fmt.Errorf("data is not a CloudEvent: %v: %s", err, data)
			}
			return f, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "retry: "):
			c.retry = strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "id: "):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			if err != nil {
				return f, fmt.Errorf("bad id line %q", line)
			}
			f.id = n
		case strings.HasPrefix(line, "event: "):
			f.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if data != "" {
				return f, fmt.Errorf("an event has two data lines: the JSON must be one line")
			}
			data = strings.TrimPrefix(line, "data: ")
		default:
			return f, fmt.Errorf("unexpected line %q", line)
		}
	}
	if err := c.sc.Err(); err != nil {
		return f, err
	}
	return f, errors.New("stream ended")
}

// readN reads n events, giving up after poll.Timeout.
func (c *sseConn) readN(t *testing.T, n int) []sseFrame {
	t.Helper()
	out := make([]sseFrame, 0, n)
	timer := time.AfterFunc(poll.Timeout, c.cancel)
	defer timer.Stop()
	for len(out) < n {
		f, err := c.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, f)
	}
	return out
}

// allEvents reads the whole event log.
func allEvents(t *testing.T, svc *agileplus.Service) []*agileplus.Event {
	t.Helper()
	var out []*agileplus.Event
	for {
		es, err := svc.Events(context.Background(), agileplus.EventQuery{After: int64(len(out)), Limit: agileplus.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
		if len(es) < agileplus.MaxPageLimit {
			return out
		}
	}
}

// checkFrames compares what a stream delivered with the events wanted, in
// order: id, event name and the CloudEvent's identity and hash.
func checkFrames(t *testing.T, got []sseFrame, want []*agileplus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.id != w.GlobalSeq || g.event != w.Type || g.ce.GlobalSeq != w.GlobalSeq || g.ce.ID != w.ID ||
			g.ce.Hash != w.Hash || g.ce.Type != agileplus.CloudEventTypePrefix+w.Type || !g.ce.Time.Equal(w.Time) {
			t.Fatalf("event %d: got id %d event %q (%s, seq %d), want id %d event %q (%s)",
				i, g.id, g.event, g.ce.ID, g.ce.GlobalSeq, w.GlobalSeq, w.Type, w.ID)
		}
	}
}

// seedTracker creates two projects with a feature each and n WPs in each.
func seedTracker(t *testing.T, tr agileplus.Tracker, n int) {
	t.Helper()
	ctx := context.Background()
	for _, key := range []string{"CORE", "WEB"} {
		if _, err := tr.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key}); err != nil {
			t.Fatal(err)
		}
		slug := strings.ToLower(key) + "-main"
		if _, err := tr.CreateFeature(ctx, key, agileplus.FeatureCreate{Slug: slug, Title: "Main"}); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := tr.CreateWP(ctx, slug, agileplus.WPCreate{Title: fmt.Sprintf("WP %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeBurst makes n changes from 4 concurrent writers: WP creations in
// both projects and transitions.
func writeBurst(t *testing.T, tr agileplus.Tracker, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				slug := []string{"core-main", "web-main"}[i%2]
				wp, err := tr.CreateWP(ctx, slug, agileplus.WPCreate{Title: fmt.Sprintf("burst %d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := tr.TransitionWP(ctx, wp.Key, agileplus.Transition{To: "doing"}, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestSSEBadInput(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	tests := []struct {
		name, query string
		hdr         []string
		wantField   string
	}{
		{name: "bad project key", query: "project=core", wantField: "project"},
		{name: "one bad project of two", query: "project=CORE,web", wantField: "project"},
		{name: "unknown entity", query: "entity=user", wantField: "entity"},
		{name: "unknown type", query: "type=wp.exploded", wantField: "type"},
		{name: "non-numeric after", query: "after=ten", wantField: "after"},
		{name: "negative after", query: "after=-1", wantField: "after"},
		{name: "negative Last-Event-ID", hdr: []string{"Last-Event-ID", "-1"}, wantField: "Last-Event-ID"},
		{name: "non-numeric Last-Event-ID", hdr: []string{"Last-Event-ID", "evt_1"}, wantField: "Last-Event-ID"},
		{name: "bad since", query: "since=yesterday", wantField: "since"},
		{name: "negative since", query: "since=-1h", wantField: "since"},
		{name: "spaces in a list", query: "entity=wp,%20feature", wantField: "entity"},
		{name: "empty item in a list", query: "project=CORE,", wantField: "project"},
		{name: "fractional since", query: "since=1.5h", wantField: "since"},
		{name: "since on a day that does not exist", query: "since=2026-02-29T00:00:00Z", wantField: "since"},
	}
	// Each value well formed, together selecting nothing: a rule's 409.
	if code, eb, raw := do(t, a.srv, "GET", "/v1/events/stream?entity=feature&type=wp.created", ""); code != 409 || eb.Error.Code != agileplus.ERULE || eb.Error.Field != "type" {
		t.Errorf("type excluded by entity: got %d %s, want 409 rule naming field type", code, raw)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, eb, raw := do(t, a.srv, "GET", "/v1/events/stream?"+tt.query, "", tt.hdr...)
			if code != 400 || eb.Error.Code != agileplus.EINVALID || eb.Error.Field != tt.wantField {
				t.Errorf("got %d %s, want 400 invalid naming field %s", code, raw, tt.wantField)
			}
		})
	}

	t.Run("no feed", func(t *testing.T) {
		b := newStreamAPI(t, nil)
		code, eb, raw := do(t, b.srv, "GET", "/v1/events/stream", "")
		if code != 503 || eb.Error.Code != agileplus.EUNAVAILABLE {
			t.Errorf("got %d %s, want 503 unavailable", code, raw)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		_, _, raw := do(t, a.srv, "GET", "/openapi.json", "")
		var doc struct {
			Paths map[string]map[string]struct {
				Parameters []struct{ Name, In string }
				Responses  map[string]struct {
					Content map[string]any
				}
			}
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		op, ok := doc.Paths["/v1/events/stream"]["get"]
		if !ok {
			t.Fatal("openapi lacks GET /v1/events/stream")
		}
		if op.Responses["200"].Content["text/event-stream"] == nil {
			t.Errorf("got 200 content %v, want text/event-stream", op.Responses["200"].Content)
		}
		var names []string
		for _, p := range op.Parameters {
			names = append(names, p.In+":"+p.Name)
		}
		if got, want := strings.Join(names, " "), "query:project query:entity query:type query:after query:since header:Last-Event-ID"; got != want {
			t.Errorf("got parameters %s, want %s", got, want)
		}
	})
}

// TestSSEReplayThenLive follows the stream while 4 writers commit, through
// a feed that loses events, repeats events and overflows every stream's
// buffer: the stream still delivers every event once, in order.
func TestSSEReplayThenLive(t *testing.T) {
	feeds := map[string]func(*httpapi.Hub) httpapi.Feed{
		"hub":  hubFeed,
		"tiny": func(h *httpapi.Hub) httpapi.Feed { return tinyFeed{h} },
	}
	for name, feed := range feeds {
		t.Run(name, func(t *testing.T) {
			a := newStreamAPI(t, feed)
			a.feeder.skip = func(seq int64) bool { return seq%7 == 0 }
			a.feeder.repeat = func(seq int64) bool { return seq%5 == 0 }
			seedTracker(t, a.svc, 20)

			all := openSSE(t, a.srv.URL+"/v1/events/stream")
			web := openSSE(t, a.srv.URL+"/v1/events/stream?project=WEB&type=wp.created,dev.agileplus.wp.transitioned")
			writeBurst(t, a.svc, 200)

			want := allEvents(t, a.svc)
			checkFrames(t, all.readN(t, len(want)), want)
			if all.retry != "2000" {
				t.Errorf("got retry %q, want 2000", all.retry)
			}
			var wantWeb []*agileplus.Event
			for _, e := range want {
				if e.ProjectKey == "WEB" && (e.Type == "wp.created" || e.Type == "wp.transitioned") {
					wantWeb = append(wantWeb, e)
				}
			}
			checkFrames(t, web.readN(t, len(wantWeb)), wantWeb)

			// Nothing more: one more commit arrives next, not a repeat.
			if _, err := a.svc.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "LAST", Name: "Last"}); err != nil {
				t.Fatal(err)
			}
			want = allEvents(t, a.svc)
			checkFrames(t, all.readN(t, 1), want[len(want)-1:])
		})
	}
}

func TestSSEResumePositions(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	seedTracker(t, a.svc, 10)
	want := allEvents(t, a.svc)

	t.Run("after", func(t *testing.T) {
		c := openSSE(t, a.srv.URL+"/v1/events/stream?after=7")
		checkFrames(t, c.readN(t, len(want)-7), want[7:])
	})
	t.Run("Last-Event-ID wins over after", func(t *testing.T) {
		c := openSSE(t, a.srv.URL+"/v1/events/stream?after=3", "Last-Event-ID", "12")
		checkFrames(t, c.readN(t, len(want)-12), want[12:])
	})
	t.Run("the newest event", func(t *testing.T) {
		c := openSSE(t, a.srv.URL+"/v1/events/stream", "Last-Event-ID", strconv.Itoa(len(want)))
		if _, err := a.svc.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "MORE", Name: "More"}); err != nil {
			t.Fatal(err)
		}
		checkFrames(t, c.readN(t, 1), allEvents(t, a.svc)[len(want):])
	})
}

// TestSSEPositionBeyondEnd asks for positions past the newest event, as a
// client would after the store was restored from an older backup: a 409
// (the position conflicts with the log as it is) naming the field and the newest sequence, rather than a stream that
// skips every live event until the log catches up.
func TestSSEPositionBeyondEnd(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	seedTracker(t, a.svc, 3)
	newest := int64(len(allEvents(t, a.svc))) // 10
	tests := []struct {
		name, query string
		hdr         []string
		field       string
	}{
		{name: "after", query: "after=" + strconv.FormatInt(newest+1, 10), field: "after"},
		{name: "far after", query: "after=4611686018427387904", field: "after"},
		{name: "Last-Event-ID", hdr: []string{"Last-Event-ID", strconv.FormatInt(newest+5, 10)}, field: "Last-Event-ID"},
		{name: "Last-Event-ID over a good after", query: "after=3", hdr: []string{"Last-Event-ID", "1000"}, field: "Last-Event-ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, eb, raw := streamAnswer(t, a.srv, tt.query, tt.hdr...)
			if code != 409 || eb.Error.Code != agileplus.ECONFLICT || eb.Error.Field != tt.field ||
				!strings.Contains(eb.Error.Message, fmt.Sprintf("newest event is %d", newest)) {
				t.Errorf("got %d %s, want 409 conflict naming field %s and the newest event, %d", code, raw, tt.field, newest)
			}
		})
	}
	t.Run("empty log", func(t *testing.T) {
		b := newStreamAPI(t, hubFeed)
		code, eb, raw := streamAnswer(t, b.srv, "after=3")
		if code != 409 || eb.Error.Field != "after" || !strings.Contains(eb.Error.Message, "empty") {
			t.Errorf("got %d %s, want 409 naming field after and an empty log", code, raw)
		}
	})
	t.Run("client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
		defer cancel()
		err := httpapi.NewClient(a.srv.URL).StreamEvents(ctx, agileplus.EventSelector{}, newest+1, "", func(*agileplus.CloudEvent) error { return nil })
		if agileplus.ErrorCode(err) != agileplus.ECONFLICT || agileplus.ErrorField(err) != "after" {
			t.Errorf("got %v, want ECONFLICT naming field after", err)
		}
	})
}

// streamAnswer asks for a stream expecting an error answer: a stream that
// opens instead is cut at once, its status returned.
func streamAnswer(t *testing.T, srv *httptest.Server, query string, hdr ...string) (int, httpapi.ErrorBody, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events/stream?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	if resp.StatusCode == 200 {
		return 200, eb, []byte(resp.Status)
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &eb); err != nil {
		t.Fatalf("error body is not JSON: %s", raw)
	}
	return resp.StatusCode, eb, raw
}

// rawLines reads the first n lines of a stream.
func rawLines(t *testing.T, c *sseConn, n int) string {
	t.Helper()
	timer := time.AfterFunc(poll.Timeout, c.cancel)
	defer timer.Stop()
	var lines []string
	for len(lines) < n && c.sc.Scan() {
		lines = append(lines, c.sc.Text())
	}
	return strings.Join(lines, "\n")
}

// TestSSEPositionFrame: a replay that sends no event ends with a frame of
// only an id, the position, so that the client resumes from it.
func TestSSEPositionFrame(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	seedTracker(t, a.svc, 3)
	newest := strconv.Itoa(len(allEvents(t, a.svc)))
	tests := []struct{ name, query, want string }{
		{"since now", "since=0s", newest + "\n"}, // then a blank line: no data
		{"at the end", "after=" + newest, newest + "\n"},
		{"nothing the filter selects", "type=wp.transitioned", newest + "\n"},
		{"some events", "after=9", "10\nevent: wp.created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openSSE(t, a.srv.URL+"/v1/events/stream?"+tt.query)
			if got, want := rawLines(t, c, 4), "retry: 2000\n\nid: "+tt.want; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestSSESince(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	ctx := context.Background()
	base := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	var mu sync.Mutex
	clock := base
	a.svc.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	t.Run("empty log", func(t *testing.T) {
		c := openSSE(t, a.srv.URL+"/v1/events/stream?since=1h")
		if _, err := a.svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
			t.Fatal(err)
		}
		checkFrames(t, c.readN(t, 1), allEvents(t, a.svc))
	})
	for i := range 30 {
		if _, err := a.svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: fmt.Sprintf("f%d", i), Title: "F"}); err != nil {
			t.Fatal(err)
		}
	}
	a.svc.Now = time.Now
	for i := range 3 {
		if _, err := a.svc.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: fmt.Sprintf("now%d", i), Title: "F"}); err != nil {
			t.Fatal(err)
		}
	}
	all := allEvents(t, a.svc)

	tests := []struct {
		name, since string
		from        int // index into all of the first event wanted; -1: none
	}{
		{"before everything", base.Add(-time.Hour).Format(time.RFC3339), 0},
		{"exactly an event's time", all[11].Time.Format(time.RFC3339Nano), 11},
		{"between two events", all[20].Time.Add(-30 * time.Second).Format(time.RFC3339), 20},
		{"with a zone offset", all[5].Time.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), 5},
		{"duration", "1h", 31},
		{"after everything", time.Now().Add(time.Hour).Format(time.RFC3339), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := tt.from
			if from < 0 {
				from = len(all)
			}
			c := openSSE(t, a.srv.URL+"/v1/events/stream?since="+strings.ReplaceAll(tt.since, "+", "%2B"))
			checkFrames(t, c.readN(t, len(all)-from), all[from:])
			if _, err := a.svc.CreateProject(ctx, agileplus.ProjectCreate{Key: fmt.Sprintf("P%d", len(all)), Name: "P"}); err != nil {
				t.Fatal(err)
			}
			all = allEvents(t, a.svc)
			checkFrames(t, c.readN(t, 1), all[len(all)-1:])
		})
	}
}

func TestSSEKeepalive(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	a.api.StreamKeepalive = 50 * time.Millisecond
	c := openSSE(t, a.srv.URL+"/v1/events/stream")
	timer := time.AfterFunc(poll.Timeout, c.cancel)
	defer timer.Stop()
	var lines []string
	for c.sc.Scan() {
		lines = append(lines, c.sc.Text())
		if strings.Count(strings.Join(lines, "\n"), ": keepalive") == 3 {
			break
		}
	}
	if got, want := strings.Join(lines, "\n"), "retry: 2000\n\nid: 0\n\n: keepalive\n\n: keepalive\n\n: keepalive"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSSEShutdownEndsStreams(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	c := openSSE(t, a.srv.URL+"/v1/events/stream")
	done := make(chan error, 1)
	go func() {
		_, err := c.next()
		done <- err
	}()
	// Shutdown waits for open connections until its ctx ends: returning
	// nil means CloseStreams ended the stream, which would otherwise last
	// as long as its client reads.
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	start := time.Now()
	if err := a.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %s, want the open stream ended at once", err, time.Since(start))
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("got an event, want the stream to end")
		}
	case <-time.After(poll.Timeout):
		t.Fatal("the stream did not end")
	}
	// A stream asked for after shutdown began is refused.
	rec := httptest.NewRecorder()
	a.api.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/events/stream", nil))
	if rec.Code != 503 {
		t.Errorf("got %d after CloseStreams, want 503", rec.Code)
	}
}

// TestStreamEventsClient follows the stream with the client while the
// server drops every connection now and then: the client resumes with
// Last-Event-ID and hands each event to fn once, in order.
func TestStreamEventsClient(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	seedTracker(t, a.svc, 5)
	var lastIDs []string
	var mu sync.Mutex
	inner := a.srv.Config.Handler
	a.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			mu.Lock()
			lastIDs = append(lastIDs, id)
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	})
	c := httpapi.NewClient(a.srv.URL)

	t.Run("resumes after dropped connections", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got []*agileplus.CloudEvent
		var gotMu sync.Mutex
		count := func() int {
			gotMu.Lock()
			defer gotMu.Unlock()
			return len(got)
		}
		errc := make(chan error, 1)
		go func() {
			errc <- c.StreamEvents(ctx, agileplus.EventSelector{}, 0, "", func(ce *agileplus.CloudEvent) error {
				gotMu.Lock()
				defer gotMu.Unlock()
				got = append(got, ce)
				return nil
			})
		}()
		writeDone := make(chan struct{})
		go func() {
			defer close(writeDone)
			writeBurst(t, a.svc, 120)
		}()
		// Drop the connection 5 times, each once the client has received
		// events on it (a slow start, under -race and load, would
		// otherwise see every drop before the first event).
		writing := func() bool {
			select {
			case <-writeDone:
				return false
			default:
				return true
			}
		}
		seen := 0
		for range 5 {
			poll.Until(t, "an event on the connection", func() bool { return count() > seen || !writing() })
			seen = count()
			a.srv.CloseClientConnections()
			time.Sleep(30 * time.Millisecond)
		}
		<-writeDone
		// One more event after the last drop: once it has come, whatever
		// came before it is in got, repeats included, since the stream
		// delivers in order.
		if _, err := a.svc.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "LAST", Name: "Last"}); err != nil {
			t.Fatal(err)
		}
		all := allEvents(t, a.svc)
		poll.Until(t, "the last event", func() bool {
			gotMu.Lock()
			defer gotMu.Unlock()
			return len(got) > 0 && got[len(got)-1].ID == all[len(all)-1].ID
		})
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want the ctx's error", err)
		}
		gotMu.Lock()
		defer gotMu.Unlock()
		if len(got) != len(all) {
			t.Errorf("got %d events, want %d", len(got), len(all))
		}
		for i := range min(len(got), len(all)) {
			if got[i].ID != all[i].ID || got[i].GlobalSeq != all[i].GlobalSeq {
				t.Fatalf("event %d: got %s (seq %d), want %s (seq %d)", i, got[i].ID, got[i].GlobalSeq, all[i].ID, all[i].GlobalSeq)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(lastIDs) == 0 {
			t.Error("got no reconnection with Last-Event-ID, want some")
		}
		t.Logf("%d reconnections with Last-Event-ID", len(lastIDs))
	})

	t.Run("filter and since", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
		defer cancel()
		var got []*agileplus.CloudEvent
		err := c.StreamEvents(ctx, agileplus.EventSelector{Project: "CORE", Types: []string{"project.created"}}, 0, "1h", func(ce *agileplus.CloudEvent) error {
			got = append(got, ce)
			return errors.New("one is enough")
		})
		if err == nil || err.Error() != "one is enough" {
			t.Fatalf("got %v, want the callback's error", err)
		}
		if len(got) != 1 || got[0].Type != "dev.agileplus.project.created" || got[0].Project != "CORE" {
			t.Errorf("got %+v, want CORE's project.created", got)
		}
	})

	t.Run("4xx is returned", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
		defer cancel()
		err := c.StreamEvents(ctx, agileplus.EventSelector{Types: []string{"wp.exploded"}}, 0, "", func(*agileplus.CloudEvent) error { return nil })
		if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != "type" {
			t.Errorf("got %v, want EINVALID naming field type", err)
		}
		err = c.StreamEvents(ctx, agileplus.EventSelector{}, 3, "1h", func(*agileplus.CloudEvent) error { return nil })
		if agileplus.ErrorField(err) != "since" {
			t.Errorf("got %v, want EINVALID naming field since", err)
		}
	})

	t.Run("ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		all := allEvents(t, a.svc)
		err := c.StreamEvents(ctx, agileplus.EventSelector{}, all[len(all)-1].GlobalSeq, "", func(*agileplus.CloudEvent) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the ctx's error", err)
		}
	})

	t.Run("unreachable server", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
		defer cancel()
		err := httpapi.NewClient("http://127.0.0.1:1").StreamEvents(ctx, agileplus.EventSelector{}, 0, "", func(*agileplus.CloudEvent) error { return nil })
		if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE {
			t.Errorf("got %v, want EUNAVAILABLE", err)
		}
	})
}

// stuckClient opens the stream over a raw TCP connection with a tiny
// receive buffer, reads the start of the answer and then stops reading,
// as a client that hangs (or a full proxy) does.
func stuckClient(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(1024); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /v1/events/stream HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(poll.Timeout))
	head := make([]byte, 64)
	if _, err := io.ReadFull(conn, head); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 200 ") {
		t.Fatalf("got %q, want 200", head)
	}
	return conn // and read no more
}

// floodStream broadcasts far more than the socket buffers of a loopback
// connection hold (about 20 MB): large synthetic events straight into the
// hub, numbered from 1 so the stream takes them as they come.
func floodStream(t *testing.T, hub *httpapi.Hub) {
	t.Helper()
	data, _ := json.Marshal(strings.Repeat("x", 100<<10))
	for i := range int64(200) {
		hub.Broadcast(&agileplus.Event{ID: fmt.Sprintf("evt_flood%d", i+1), GlobalSeq: i + 1, Type: "project.created",
			EntityKind: "project", EntityID: "prj_flood", ProjectKey: "CORE", Time: time.Now(), Data: data})
	}
}

// handlerReturns wraps the stream's handler and closes the channel it
// returns when the handler does.
func handlerReturns() (func(http.Handler) http.Handler, <-chan struct{}) {
	returned := make(chan struct{})
	var once sync.Once
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if r.URL.Path == "/v1/events/stream" {
					once.Do(func() { close(returned) })
				}
			}()
			next.ServeHTTP(w, r)
		})
	}, returned
}

// waitSubscribed waits until n streams are subscribed to the hub.
func waitSubscribed(t *testing.T, hub *httpapi.Hub, n int) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("%d subscribers", n), func() bool { return hub.Subscribers() == n })
}

// TestSSEStuckClientShutdown: a client that stops reading leaves its
// handler blocked in a write; shutting the server down must still end the
// handler at once, not after Shutdown's timeout.
func TestSSEStuckClientShutdown(t *testing.T) {
	wrap, returned := handlerReturns()
	a := newStreamAPI(t, hubFeed, wrap)
	// Writes would time out after two keepalives: an hour, longer than
	// Shutdown waits, so only the shutdown can end the handler.
	a.api.StreamKeepalive = 30 * time.Minute
	stuckClient(t, a.srv)
	waitSubscribed(t, a.hub, 1)
	floodStream(t, a.hub)
	time.Sleep(300 * time.Millisecond) // let the handler fill the buffers and block

	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	start := time.Now()
	if err := a.srv.Config.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v after %s, want it to return once the stream ended", err, time.Since(start))
	}
	select {
	case <-returned:
	default:
		t.Fatal("the stream's handler has not returned when Shutdown did")
	}
}

// TestSSEStuckClientWriteTimeout: without a shutdown, a client that stops
// reading is given up after twice the keepalive interval.
func TestSSEStuckClientWriteTimeout(t *testing.T) {
	wrap, returned := handlerReturns()
	a := newStreamAPI(t, hubFeed, wrap)
	a.api.StreamKeepalive = 100 * time.Millisecond // writes time out after 200 ms
	stuckClient(t, a.srv)
	waitSubscribed(t, a.hub, 1)
	floodStream(t, a.hub)
	select {
	case <-returned:
	case <-time.After(poll.Timeout):
		t.Fatalf("the handler of a client that stopped reading did not return within %s", poll.Timeout)
	}
}

// TestSSEConfirmedFeed feeds the hub through ConfirmedFeed, as serve
// does, and slips forged events in: with a global sequence beyond the log
// (which would move every stream past the real events to come), with the
// next one, and with a real event's sequence but another id. Streams get
// the real events only, each once.
func TestSSEConfirmedFeed(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	var logs syncBuffer
	cf := &httpapi.ConfirmedFeed{Tracker: a.svc, Broadcast: a.hub.Broadcast,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx := context.Background()
	a.feeder.send = func(e *agileplus.Event) {
		// What a relay publishes: the event's CloudEvent form.
		if !cf.Confirm(ctx, e.CloudEvent().Event()) {
			t.Errorf("a real event, %d, was not confirmed", e.GlobalSeq)
		}
	}
	seedTracker(t, a.svc, 2)
	c := openSSE(t, a.srv.URL+"/v1/events/stream")
	all := allEvents(t, a.svc)
	checkFrames(t, c.readN(t, len(all)), all)

	next := int64(len(all)) + 1
	forged := []*agileplus.Event{
		{ID: "evt_forged1", GlobalSeq: 1000, Type: "project.created", EntityKind: "project", EntityID: "prj_x", ProjectKey: "EVIL"},
		{ID: "evt_forged2", GlobalSeq: next, Type: "project.created", EntityKind: "project", EntityID: "prj_x", ProjectKey: "EVIL"},
		{ID: "evt_forged3", GlobalSeq: 3, Type: "project.created", EntityKind: "project", EntityID: "prj_x", ProjectKey: "EVIL"},
		{ID: all[0].ID, GlobalSeq: 0, Type: "project.created", EntityKind: "project", EntityID: "prj_x", ProjectKey: "EVIL"},
	}
	for _, e := range forged {
		if cf.Confirm(ctx, e) {
			t.Errorf("forged event %s (globalseq %d) was confirmed", e.ID, e.GlobalSeq)
		}
	}
	if got := cf.Dropped(); got != int64(len(forged)) {
		t.Errorf("got %d dropped, want %d", got, len(forged))
	}
	if !strings.Contains(logs.String(), "evt_forged1") {
		t.Errorf("got logs %q, want the first drop logged at debug", logs.String())
	}
	if _, err := a.svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "MORE", Name: "More"}); err != nil {
		t.Fatal(err)
	}
	all = allEvents(t, a.svc)
	got := c.readN(t, 1)
	checkFrames(t, got, all[next-1:])
	if got[0].ce.Project == "EVIL" {
		t.Errorf("got a forged event: %+v", got[0])
	}
}

// TestStreamEventsClientResumesFromToldPosition: a client that started
// with since=0s and got no event before its connection dropped resumes
// from the position the server told it, not from a since computed with
// its own clock, so a server whose clock lags (or runs ahead) neither
// loses the next event nor repeats earlier ones.
func TestStreamEventsClientResumesFromToldPosition(t *testing.T) {
	var (
		mu      sync.Mutex
		reqs    []http.Header
		told    = make(chan struct{}) // the first stream sent its position
		written = make(chan struct{}) // the test wrote the event
	)
	var toldOnce sync.Once
	a := newStreamAPI(t, hubFeed, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/events/stream" {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			reqs = append(reqs, r.Header.Clone())
			n := len(reqs)
			mu.Unlock()
			if n > 1 {
				<-written // the event is there before the client is back
			}
			next.ServeHTTP(&watchWriter{ResponseWriter: w, onFlush: func(sent string) {
				if strings.Contains(sent, "\nid: ") {
					toldOnce.Do(func() { close(told) })
				}
			}}, r)
		})
	})
	// The server's clock runs an hour behind the client's.
	a.svc.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	seedTracker(t, a.svc, 2)
	before := allEvents(t, a.svc)

	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	got := make(chan *agileplus.CloudEvent, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- httpapi.NewClient(a.srv.URL).StreamEvents(ctx, agileplus.EventSelector{}, 0, "0s", func(ce *agileplus.CloudEvent) error {
			got <- ce
			return nil
		})
	}()
	select {
	case <-told:
	case <-time.After(poll.Timeout):
		t.Fatal("the stream did not send its position")
	}
	a.srv.CloseClientConnections()
	if _, err := a.svc.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "NEXT", Name: "Next"}); err != nil {
		t.Fatal(err)
	}
	close(written)
	want := allEvents(t, a.svc)[len(before)]
	select {
	case ce := <-got:
		if ce.ID != want.ID || ce.GlobalSeq != want.GlobalSeq {
			t.Errorf("got event %s (globalseq %d) first, want the one written while disconnected, %s (%d)", ce.ID, ce.GlobalSeq, want.ID, want.GlobalSeq)
		}
	case <-time.After(poll.Timeout):
		t.Fatal("the event written while the client was disconnected never arrived")
	}
	// The next event is the next one written, not a repeat: the stream
	// delivers in order, so a repeat would come before it.
	if _, err := a.svc.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "AFTER", Name: "After"}); err != nil {
		t.Fatal(err)
	}
	want = allEvents(t, a.svc)[len(before)+1]
	select {
	case ce := <-got:
		if ce.ID != want.ID {
			t.Errorf("got event %s (globalseq %d) next, want the next one written, %s (%d)", ce.ID, ce.GlobalSeq, want.ID, want.GlobalSeq)
		}
	case <-time.After(poll.Timeout):
		t.Fatal("the event written after the reconnection never arrived")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the ctx's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) < 2 || reqs[1].Get("Last-Event-ID") != strconv.Itoa(len(before)) {
		var ids []string
		for _, h := range reqs {
			ids = append(ids, h.Get("Last-Event-ID"))
		}
		t.Errorf("got Last-Event-ID %q on the requests, want the second one to resume from %d", ids, len(before))
	}
}

// watchWriter reports what each flush of a response sent.
type watchWriter struct {
	http.ResponseWriter
	onFlush func(sent string)
	buf     strings.Builder
}

func (w *watchWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *watchWriter) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if err == nil {
		w.onFlush(w.buf.String())
	}
	return err
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// after, when given, takes precedence over since: a query with both
// replays from after, however late since is.
func TestSSEAfterOverSince(t *testing.T) {
	a := newStreamAPI(t, hubFeed)
	seedTracker(t, a.svc, 2)
	all := allEvents(t, a.svc)
	c := openSSE(t, a.srv.URL+"/v1/events/stream?after=1&since=2999-01-01T00:00:00Z")
	checkFrames(t, c.readN(t, len(all)-1), all[1:])
}
