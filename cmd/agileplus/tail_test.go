package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sseFrame is one event of a stream as a raw SSE client sees it.
type sseFrame struct {
	id    int64
	event string
	ce    agileplus.CloudEvent
}

// sseStream is a raw SSE connection whose events arrive on frames; the
// channel closes when the stream ends (err then says why).
type sseStream struct {
	frames chan sseFrame
	cancel context.CancelFunc
	err    error
}

// openSSEStream connects to the event stream with the query and headers
// (name, value pairs) and reads it in the background.
func openSSEStream(t *testing.T, base, query string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/events/stream?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET stream: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET stream?%s: got %s %s, want 200 text/event-stream", query, resp.Status, b)
	}
	s := &sseStream{frames: make(chan sseFrame, 64), cancel: cancel}
	t.Cleanup(cancel)
	go func() {
		defer close(s.frames)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		var f sseFrame
		var data string
		for sc.Scan() {
			line := sc.Text()
			field, value, _ := strings.Cut(line, ": ")
			switch {
			case line == "" && data != "":
				if err := json.Unmarshal([]byte(data), &f.ce); err != nil {
					s.err = fmt.Errorf("data is not a CloudEvent: %v", err)
					return
				}
				select {
				case s.frames <- f:
				case <-ctx.Done():
					return
				}
				f, data = sseFrame{}, ""
			case line == "", strings.HasPrefix(line, ":"), field == "retry":
			case field == "id":
				if f.id, err = strconv.ParseInt(value, 10, 64); err != nil {
					s.err = fmt.Errorf("bad id line %q", line)
					return
				}
			case field == "event":
				f.event = value
			case field == "data":
				data = value
			default:
				s.err = fmt.Errorf("unexpected line %q", line)
				return
			}
		}
		s.err = sc.Err()
	}()
	return s
}

// collector gathers what a stream delivers.
type collector struct {
	mu  sync.Mutex
	got []sseFrame
}

func (c *collector) add(f sseFrame) {
	c.mu.Lock()
	c.got = append(c.got, f)
	c.mu.Unlock()
}

func (c *collector) frames() []sseFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sseFrame(nil), c.got...)
}

// follow reads s into c until it ends.
func (c *collector) follow(s *sseStream) {
	for f := range s.frames {
		c.add(f)
	}
}

// sseStoreEvents reads the whole event log through /v1/events.
func sseStoreEvents(t *testing.T, c *httpapi.Client) []*agileplus.Event {
	t.Helper()
	var out []*agileplus.Event
	for {
		after := int64(0)
		if len(out) > 0 {
			after = out[len(out)-1].GlobalSeq
		}
		es, err := c.Events(context.Background(), agileplus.EventQuery{After: after, Limit: agileplus.MaxPageLimit})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
		if len(es) < agileplus.MaxPageLimit {
			return out
		}
	}
}

// checkStream compares frames with events: each once, in order, the SSE
// id and event name agreeing with the CloudEvent and the store.
func checkStream(t *testing.T, what string, got []sseFrame, want []*agileplus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d events, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.id != w.GlobalSeq || g.event != w.Type || g.ce.GlobalSeq != w.GlobalSeq || g.ce.ID != w.ID || g.ce.Hash != w.Hash {
			t.Fatalf("%s: event %d: got id %d %s (%s, globalseq %d), want id %d %s (%s)",
				what, i, g.id, g.event, g.ce.ID, g.ce.GlobalSeq, w.GlobalSeq, w.Type, w.ID)
		}
	}
}

// waitCount waits until c holds n frames.
func waitCount(t *testing.T, what string, c *collector, n int) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("%s: %d events", what, n), func() bool { return len(c.frames()) >= n })
}

// TestSSEResumeAcceptance runs the real server (SQLite, embedded NATS,
// relay, Follow, hub) under a burst of writes and follows its event stream
// with raw SSE clients: one that disconnects at random points and resumes
// with Last-Event-ID, one that starts mid-stream with ?after=N, and one
// with a project and type filter. Each sees exactly its events of the
// store, once each, in GlobalSeq order.
func TestSSEResumeAcceptance(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	url := startTestServer(t)
	api := httpapi.NewClient(url)
	ctx := context.Background()
	for _, key := range []string{"CORE", "WEB"} {
		if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.CreateFeature(ctx, key, agileplus.FeatureCreate{Slug: strings.ToLower(key) + "-main", Title: "Main"}); err != nil {
			t.Fatal(err)
		}
	}

	var final atomic.Int64 // the last global sequence, once the writes are done
	filtered := &collector{}
	go filtered.follow(openSSEStream(t, url, "project=WEB&type=wp.created,wp.transitioned"))

	// A few hundred writes from 4 writers: WPs in both projects, some moved.
	const writes = 300
	writeDone := make(chan struct{})
	var written atomic.Int64
	go func() {
		defer close(writeDone)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < writes; i += 4 {
					slug := []string{"core-main", "web-main"}[i%2]
					wp, err := api.CreateWP(ctx, slug, agileplus.WPCreate{Title: fmt.Sprintf("burst %d", i)})
					if err != nil {
						t.Error(err)
						return
					}
					if i%3 == 0 {
						if _, err := api.TransitionWP(ctx, wp.Key, agileplus.Transition{To: "doing"}, 0); err != nil {
							t.Error(err)
							return
						}
					}
					written.Add(1)
				}
			})
		}
		wg.Wait()
		es := sseStoreEvents(t, api)
		final.Store(es[len(es)-1].GlobalSeq)
	}()

	// The resuming client: reads a random number of events, drops the
	// connection, reconnects with the last id it saw, until it has the
	// last event of the burst.
	resumed := &collector{}
	midStream := &collector{}
	var midAfter int64 = -1
	last := int64(-1)
	reconnects := 0
	limit := 3 * poll.Timeout // for a stuck burst, not a timing requirement
	deadline := time.Now().Add(limit)
	for done := false; !done; reconnects++ {
		var s *sseStream
		if last < 0 {
			s = openSSEStream(t, url, "")
		} else {
			s = openSSEStream(t, url, "", "Last-Event-ID", strconv.FormatInt(last, 10))
		}
		take := 1 + rng.IntN(60)
	read:
		for n := 0; n < take; {
			select {
			case f, ok := <-s.frames:
				if !ok {
					t.Fatalf("stream ended after %d events: %v", len(resumed.frames()), s.err)
				}
				resumed.add(f)
				last = f.id
				n++
				if midAfter < 0 && written.Load() >= writes/3 {
					// Another client joins mid-stream, after a random
					// position it already has.
					midAfter = 1 + rng.Int64N(last)
					go midStream.follow(openSSEStream(t, url, "after="+strconv.FormatInt(midAfter, 10)))
				}
			case <-time.After(50 * time.Millisecond):
				if f := final.Load(); f > 0 && last >= f {
					done = true
					break read
				}
				if time.Now().After(deadline) {
					t.Fatalf("no end of the burst within %s: last id %d, final %d", limit, last, final.Load())
				}
			}
		}
		s.cancel() // disconnect here
		if f := final.Load(); f > 0 && last >= f {
			done = true
		}
	}
	<-writeDone
	if t.Failed() {
		return
	}
	all := sseStoreEvents(t, api)
	t.Logf("%d events in the store, %d reconnections, mid-stream client after %d", len(all), reconnects, midAfter)
	checkStream(t, "resumed", resumed.frames(), all)

	// One more event, which both other streams select: once it has come,
	// whatever came before it is in, extras included, since a stream
	// delivers in order.
	if _, err := api.CreateWP(ctx, "web-main", agileplus.WPCreate{Title: "the last"}); err != nil {
		t.Fatal(err)
	}
	all = sseStoreEvents(t, api)
	if midAfter < 0 {
		t.Fatal("the mid-stream client never started")
	}
	waitCount(t, "after=N", midStream, len(all)-int(midAfter))
	checkStream(t, "after=N", midStream.frames(), all[midAfter:])

	var wantFiltered []*agileplus.Event
	for _, e := range all {
		if e.ProjectKey == "WEB" && (e.Type == "wp.created" || e.Type == "wp.transitioned") {
			wantFiltered = append(wantFiltered, e)
		}
	}
	waitCount(t, "filtered", filtered, len(wantFiltered))
	checkStream(t, "filtered", filtered.frames(), wantFiltered)
}

// TestTailJSON runs `agileplus events tail --json` against the server:
// every line is a CloudEvent, history first, then a write made while it
// runs.
func TestTailJSON(t *testing.T) {
	url := startTestServer(t)
	if _, _, err := runCLI(t, url, "project", "create", "CORE", "--name", "Core"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"agileplus", "--server", url, "events", "tail", "--since", "1h", "--json"},
			func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	}()
	waitOutput := func(what string) {
		t.Helper()
		for !strings.Contains(stdout.String(), what) {
			select {
			case err := <-done:
				t.Fatalf("tail returned %v before printing %s; stdout:\n%s\nstderr:\n%s", err, what, stdout.String(), stderr.String())
			case <-ctx.Done():
				t.Fatalf("tail did not print %s; stdout:\n%s", what, stdout.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitOutput(`"source":"/agileplus/CORE"`)
	if _, _, err := runCLI(t, url, "project", "create", "WEB", "--name", "Web"); err != nil {
		t.Fatal(err)
	}
	waitOutput(`"source":"/agileplus/WEB"`)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("got %v from an interrupted tail, want nil", err)
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var projects []string
	for i, line := range lines {
		var ce agileplus.CloudEvent
		if err := json.Unmarshal([]byte(line), &ce); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, line)
		}
		if ce.SpecVersion != "1.0" || ce.ID == "" || ce.GlobalSeq != int64(i+1) || !strings.HasPrefix(ce.Type, agileplus.CloudEventTypePrefix) {
			t.Errorf("line %d: got %s, want CloudEvent %d", i+1, line, i+1)
		}
		projects = append(projects, ce.Project)
	}
	// The local key's creation, serve's first event, comes first.
	if got := strings.Join(projects, " "); got != agileplus.SystemProject+" CORE WEB" {
		t.Errorf("got events of %s, want %s CORE WEB", got, agileplus.SystemProject)
	}
}

// TestTailTable checks the table form: a header, then one line per event
// (runCLI acts as USER=tester).
func TestTailTable(t *testing.T) {
	url := startTestServer(t)
	if _, _, err := runCLI(t, url, "project", "create", "CORE", "--name", "Core"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"agileplus", "--server", url, "events", "tail", "--after", "0", "--entity", "project"},
			func(string) string { return "" }, strings.NewReader(""), &stdout, io.Discard)
	}()
	for !strings.Contains(stdout.String(), "project/CORE") {
		select {
		case err := <-done:
			t.Fatalf("tail returned %v; stdout:\n%s", err, stdout.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want header and 1 event:\n%s", len(lines), stdout.String())
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "SEQ TIME TYPE SUBJECT ACTOR" {
		t.Errorf("got header %q", lines[0])
	}
	f := strings.Fields(lines[1])
	// Event 1 is the local key's creation.
	if f[0] != "2" || f[len(f)-3] != "project.created" || f[len(f)-2] != "project/CORE" || f[len(f)-1] != "tester" {
		t.Errorf("got line %q, want seq 2, project.created, project/CORE and the actor", lines[1])
	}
}

func TestTailBadFlags(t *testing.T) {
	// Nothing listens on port 1: these must fail before connecting.
	const nowhere = "http://127.0.0.1:1"
	tests := []struct {
		name     string
		args     []string
		wantText string
	}{
		{"since and after", []string{"--since", "1h", "--after", "3"}, "not both"},
		{"bad since", []string{"--since", "yesterday"}, "--since"},
		{"negative after", []string{"--after", "-1"}, "--after"},
		{"non-numeric after", []string{"--after", "ten"}, "--after"},
		{"bad project", []string{"--project", "core"}, "--project"},
		{"unknown entity", []string{"--entity", "user"}, "--entity"},
		{"unknown type", []string{"--type", "wp.exploded"}, "--type"},
		{"type excluded by entity", []string{"--entity", "feature", "--type", "wp.created"}, "--type"},
		{"argument", []string{"CORE"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, nowhere, append([]string{"events", "tail"}, tt.args...)...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(describe(err), tt.wantText) {
				t.Errorf("got %v (exit %d), want a usage error (exit 2) mentioning %q", err, exitCode(err), tt.wantText)
			}
		})
	}
	t.Run("server unreachable", func(t *testing.T) {
		_, _, err := runCLI(t, nowhere, "events", "tail")
		if err == nil || exitCode(err) != 1 || agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE {
			t.Errorf("got %v (exit %d), want unavailable (exit 1)", err, exitCode(err))
		}
	})
}

// TestSSEShutdownIsNotHeldUp stops serve while an event stream is open:
// serve ends the stream and returns promptly instead of waiting out the
// 10 s shutdown timeout.
func TestSSEShutdownIsNotHeldUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var logs syncBuffer
	dataDir := t.TempDir()
	go func() {
		done <- run(ctx, []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--log-level", "warn"},
			func(string) string { return "" }, strings.NewReader(""), pw, &logs)
		pw.Close()
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "serving on "); ok {
				urlc <- strings.Fields(rest)[0]
			}
		}
	}()
	var url string
	select {
	case url = <-urlc:
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	case <-time.After(poll.Timeout):
		t.Fatalf("serve did not start within %s", poll.Timeout)
	}
	waitReady(t, url)
	useLocalKey(t, url, dataDir)
	s := openSSEStream(t, url, "")
	if _, err := httpapi.NewClient(url).CreateProject(context.Background(), agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.frames:
	case <-time.After(poll.Timeout):
		t.Fatalf("no event on the stream within %s", poll.Timeout)
	}

	// Had the stream held the HTTP server's Shutdown up, Shutdown would
	// have given up at its timeout and serve would return its error.
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after %s, want nil: the open stream ended at once", err, time.Since(start))
		}
	case <-time.After(poll.Timeout):
		t.Fatalf("serve did not return within %s", poll.Timeout)
	}
	for range s.frames {
	}
	if s.err != nil && !errors.Is(s.err, io.ErrUnexpectedEOF) {
		t.Logf("stream ended with %v", s.err)
	}
}

// TestSSEForgedBusEvent publishes a forged event straight onto the bus,
// with a global sequence far beyond the log, the way anyone who may
// publish there (or another store sharing the bus) could: serve drops it
// because the store does not confirm it, so an open stream neither shows
// it nor skips the real events that follow.
func TestSSEForgedBusEvent(t *testing.T) {
	dataDir := t.TempDir()
	url := startTestServerIn(t, dataDir, "--nats-listen", "127.0.0.1:0")
	ctx := context.Background()
	api := httpapi.NewClient(url)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	s := openSSEStream(t, url, "")
	next := func() sseFrame {
		t.Helper()
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatalf("the stream ended: %v", s.err)
			}
			return f
		case <-time.After(poll.Timeout):
			t.Fatalf("no event within %s", poll.Timeout)
		}
		return sseFrame{}
	}
	// Event 1 is the local key's creation, 2 CORE's.
	if f := next(); f.id != 1 || f.ce.Project != agileplus.SystemProject {
		t.Fatalf("got event %d of %s, want 1, the local key's creation", f.id, f.ce.Project)
	}
	if f := next(); f.id != 2 {
		t.Fatalf("got event %d, want 2", f.id)
	}

	r, err := api.Readiness(ctx)
	if err != nil {
		t.Fatal(err)
	}
	natsURL, _ := r.Checks["bus"].Detail["url"].(string)
	token, err := os.ReadFile(filepath.Join(dataDir, NATSTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL, nats.Token(strings.TrimSpace(string(token))))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	forged := (&agileplus.Event{ID: "evt_forged", GlobalSeq: 1000, Type: "project.created", EntityKind: "project",
		EntityID: "prj_forged", ProjectKey: "EVIL", Time: time.Now(), Data: json.RawMessage(`{}`)}).CloudEvent()
	body, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "agileplus.EVIL.project.prj_forged.created", body); err != nil {
		t.Fatal(err)
	}
	// The stream may see the next real event before or after the forged
	// one: each real event that follows must arrive, and nothing else.
	for i, key := range []string{"WEB", "OPS"} {
		if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key}); err != nil {
			t.Fatal(err)
		}
		if f := next(); f.id != int64(i+3) || f.ce.Project != key {
			t.Fatalf("got event %d of %s (%s), want %d, %s's creation", f.id, f.ce.Project, f.ce.ID, i+3, key)
		}
	}
}
