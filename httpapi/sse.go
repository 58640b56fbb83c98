package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
)

// Feed is where the event stream gets live events from: a *Hub that the
// server feeds from the bus.
type Feed interface {
	Subscribe(buffer int) *HubSubscription
}

// LastEventIDHeader is the header an SSE client reconnects with: the id
// (GlobalSeq) of the last event it received.
const LastEventIDHeader = "Last-Event-ID"

// Event stream tuning.
const (
	// streamPage is how many events one store read returns while replaying.
	streamPage = agileplus.MaxPageLimit
	// streamBuffer is how many live events a stream may fall behind
	// before the hub drops it and it catches up from the store.
	streamBuffer = 1024
	// streamBurst bounds the live events written between two flushes.
	streamBurst = 256
	// streamKeepalive is the default of Server.StreamKeepalive. A write
	// to a client may take twice as long (30 s by default) before the
	// stream gives up on the client: one that stopped reading would
	// otherwise hold its handler, and the server's shutdown, forever.
	streamKeepalive = 15 * time.Second
	// streamRetry is the reconnection delay suggested to clients, in ms.
	streamRetry = 2000
)

func (s *Server) streamRoutes() []route {
	return []route{{
		method: "GET", path: "/v1/events/stream", status: 200, scope: agileplus.ScopeRead,
		summary: "Server-sent events: replay from the event log, then follow live. Each event is `id: <global seq>`, `event: <type>`, `data: <CloudEvent JSON>`; " +
			"reconnect with Last-Event-ID to resume without gaps or duplicates. When the replay sent no event, a frame with only `id: <position>` tells the client where it stands. " +
			"A position (after or Last-Event-ID) beyond the newest event is refused with 400. An idle stream sends a comment (`: keepalive`) every 15 s.",
		produces: "text/event-stream",
		out:      reflect.TypeFor[agileplus.CloudEvent](),
		query: []param{
			{name: "project", typ: "string", repeat: true, doc: "only these project keys (repeat or comma-separate)", schema: map[string]any{"pattern": projectListRE.String()}},
			{name: "entity", typ: "string", repeat: true, doc: "only these entity kinds: project, feature, wp, dependency, key (repeat or comma-separate)", schema: map[string]any{"pattern": entityListRE.String()}},
			{name: "type", typ: "string", repeat: true, doc: "only these event types, e.g. wp.transitioned, the dev.agileplus. prefix optional (repeat or comma-separate); 409 when the entity filter excludes one", schema: map[string]any{"pattern": typeListRE.String()}},
			seqAfterParam("start after this global sequence (default 0: all history); 409 when the log has no event at it"),
			{name: "since", typ: "string", doc: "start at the first event at or after this time: a duration back from now in h, m and s (90s, 1h30m) or an RFC 3339 time; after, when given, takes precedence", schema: map[string]any{"pattern": sincePattern}},
		},
		headers: []param{{name: LastEventIDHeader, typ: "integer", doc: "resume after this global sequence; takes precedence over after and since; 409 when the log has no event at it", schema: map[string]any{"minimum": 0, "maximum": int64(math.MaxInt64)}}},
		errs:    map[string]string{"409": "a well-formed position (after, Last-Event-ID) this log has no event at, or a type the entity filter excludes (the error names the field)"},
		handler: s.handleEventStream,
	}}
}

// streams lets the server end its open event streams when it shuts down,
// and shares the encoding of live events between them.
type streams struct {
	mu     sync.Mutex
	done   chan struct{}
	closed bool
	open   int            // guarded by mu: streams open
	perKey map[string]int // guarded by mu: streams open per key id

	enc encodings
}

// encodings keeps the CloudEvent JSON of the latest live events: the hub
// hands every stream the same *Event, so with many clients each event is
// encoded once instead of once per client.
type encodings struct {
	mu   sync.Mutex
	m    map[*agileplus.Event][]byte
	ring []*agileplus.Event // insertion order, for eviction
	next int
}

// encodingsKept bounds the cache: well beyond a stream's buffer, so a
// stream still working through its buffer finds its events.
const encodingsKept = 4 * streamBuffer

func (c *encodings) get(e *agileplus.Event) ([]byte, error) {
	c.mu.Lock()
	b, ok := c.m[e]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := json.Marshal(e.CloudEvent())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[*agileplus.Event][]byte, encodingsKept)
		c.ring = make([]*agileplus.Event, encodingsKept)
	}
	if _, ok := c.m[e]; !ok {
		if old := c.ring[c.next]; old != nil {
			delete(c.m, old)
		}
		c.ring[c.next] = e
		c.next = (c.next + 1) % len(c.ring)
		c.m[e] = b
	}
	return b, nil
}

func (st *streams) doneCh() chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done == nil {
		st.done = make(chan struct{})
	}
	return st.done
}

// CloseStreams ends every open event stream and refuses new ones with 503.
// Register it with http.Server.RegisterOnShutdown: Shutdown waits for
// handlers to return, and a stream would otherwise last until its client
// leaves. Clients reconnect with Last-Event-ID and lose nothing.
func (s *Server) CloseStreams() {
	ch := s.streams.doneCh()
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	if !s.streams.closed {
		s.streams.closed = true
		close(ch)
	}
}

// Default caps on open event streams (Server.MaxStreams and
// Server.MaxStreamsPerKey).
const (
	DefaultMaxStreams       = 1024
	DefaultMaxStreamsPerKey = 64
)

// streamRetryAfter is the Retry-After, in seconds, of a stream refused
// for a cap.
const streamRetryAfter = "5"

// errTooManyStreams is a stream refused by a cap; status is 429 for the
// key's cap, 503 for the server's.
type errTooManyStreams struct {
	status int
	msg    string
}

func (e *errTooManyStreams) Error() string { return e.msg }

// acquire counts a new stream of key (the key id, "" without
// authentication), or refuses it when a cap is reached. release undoes it.
func (st *streams) acquire(key string, max, perKey int) (release func(), err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.open >= max {
		return nil, &errTooManyStreams{http.StatusServiceUnavailable, "the server has " + strconv.Itoa(st.open) + " event streams open, its limit; retry shortly"}
	}
	if key != "" && st.perKey[key] >= perKey {
		return nil, &errTooManyStreams{http.StatusTooManyRequests, "this key has " + strconv.Itoa(st.perKey[key]) + " event streams open, its limit: close one (one stream can follow several projects) or retry later"}
	}
	if st.perKey == nil {
		st.perKey = map[string]int{}
	}
	st.open++
	st.perKey[key]++
	return func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.open--
		if st.perKey[key]--; st.perKey[key] <= 0 {
			delete(st.perKey, key)
		}
	}, nil
}

// streamFilter selects events: any of its selectors (one per project).
type streamFilter []agileplus.EventSelector

func (f streamFilter) match(e *agileplus.Event) bool {
	for _, sel := range f {
		if sel.Match(e) {
			return true
		}
	}
	return false
}

// streamQuery is a parsed stream request.
type streamQuery struct {
	filter     streamFilter
	after      int64     // replay after this global sequence
	afterField string    // where after came from: "after" or Last-Event-ID
	since      time.Time // or from this time, when not zero
}

// The lists of the stream's filters, as the document declares them: the
// values of one parameter joined by commas.
var (
	projectListRE = listRE(`[A-Z][A-Z0-9]{1,15}`)
	entityListRE  = listRE(`(` + strings.Join(agileplus.EntityKinds, "|") + `)`)
	typeListRE    = listRE(`(` + regexp.QuoteMeta(agileplus.CloudEventTypePrefix) + `)?(` + strings.ReplaceAll(strings.Join(agileplus.EventTypes, "|"), ".", `\.`) + `)`)
)

func listRE(item string) *regexp.Regexp {
	return regexp.MustCompile(`^` + item + `(,` + item + `)*$`)
}

// queryList reads a repeatable, comma-separated query parameter, each of
// whose values must match re.
func queryList(r *http.Request, name string, re *regexp.Regexp) ([]string, error) {
	var out []string
	for _, v := range r.URL.Query()[name] {
		if !re.MatchString(v) {
			return nil, agileplus.FieldErrorf(name, "%s %s is not a comma-separated list of %s", name, agileplus.QuoteRef(v), listWhat[name])
		}
		out = append(out, strings.Split(v, ",")...)
	}
	return out, nil
}

var listWhat = map[string]string{
	"project": "project keys (2-16 upper-case letters or digits, starting with a letter)",
	"entity":  "entity kinds: " + strings.Join(agileplus.EntityKinds, ", "),
	"type":    "event types: " + strings.Join(agileplus.EventTypes, ", "),
}

func parseStreamQuery(r *http.Request, now time.Time) (streamQuery, error) {
	var q streamQuery
	var base agileplus.EventSelector
	var err error
	if base.Entities, err = queryList(r, "entity", entityListRE); err != nil {
		return q, err
	}
	if base.Types, err = queryList(r, "type", typeListRE); err != nil {
		return q, err
	}
	projects, err := queryList(r, "project", projectListRE)
	if err != nil {
		return q, err
	}
	if len(projects) == 0 {
		projects = []string{""}
	}
	for _, p := range projects {
		sel := agileplus.EventSelector{Project: p, Entities: base.Entities, Types: base.Types}.Normalize()
		if err := sel.Validate(); err != nil {
			return q, err
		}
		q.filter = append(q.filter, sel)
	}

	after, err := queryInt(r, "after", 0, 1<<62)
	if err != nil {
		return q, err
	}
	q.after, q.afterField = after, "after"
	// after, when given, takes precedence over since, as Last-Event-ID
	// does over both: a client resuming keeps its first query.
	if v := r.URL.Query().Get("since"); v != "" {
		if q.since, err = ParseSince(v, now); err != nil {
			return q, err
		}
		if r.URL.Query().Get("after") != "" {
			q.since = time.Time{}
		}
	}
	if v := strings.TrimSpace(r.Header.Get(LastEventIDHeader)); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			return q, agileplus.FieldErrorf(LastEventIDHeader, "%s must be a global sequence number (0 or more), not %q", LastEventIDHeader, v)
		}
		q.after, q.afterField, q.since = id, LastEventIDHeader, time.Time{}
	}
	return q, nil
}

// sincePattern is what since may hold: a duration back from now in hours,
// minutes and seconds ("90s", "1h30m"), or an RFC 3339 time whose date
// exists. In a query string an unescaped + arrives as a space, which the
// offset's sign may therefore also be.
const sincePattern = `^([0-9]{1,6}h([0-9]{1,6}m)?([0-9]{1,6}s)?|[0-9]{1,6}m([0-9]{1,6}s)?|[0-9]{1,6}s` +
	`|([0-9]{4}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)` +
	`|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)` +
	`T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+ -]([01][0-9]|2[0-3]):[0-5][0-9]))$`

var sinceRE = regexp.MustCompile(sincePattern)

// ParseSince reads a stream's start time, as sincePattern says. Errors
// are EINVALID, naming the field "since".
func ParseSince(v string, now time.Time) (time.Time, error) {
	if !sinceRE.MatchString(v) {
		return time.Time{}, agileplus.FieldErrorf("since", "since must be a duration in h, m and s such as 90s or 1h30m, or an RFC 3339 time such as 2026-03-14T15:09:26Z, not %q", v)
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, strings.Replace(v, " ", "+", 1))
	if err != nil {
		// sincePattern admits only what time.Parse reads.
		return time.Time{}, agileplus.FieldErrorf("since", "since %q: %v", v, err)
	}
	return t, nil
}

// positionAt returns the global sequence to replay after so that the
// stream starts with the first event whose time is at or after at.
//
// It is a binary search over global sequences through the store's read
// path, one indexed read per probe (about 2 log2(N)). Events are appended
// in time order up to clock jitter: their time comes from the clock of the
// process that committed them, so a clock stepped back (or, with several
// writers, unsynchronized clocks) can leave neighbours slightly out of
// order. The search is exact when times are ordered; otherwise the start
// can be off by the events inside the jitter.
func positionAt(ctx context.Context, t agileplus.Tracker, at time.Time) (int64, error) {
	// settled(a): no event after a is older than at.
	return searchSeq(func(a int64) (bool, error) {
		es, err := t.Events(ctx, agileplus.EventQuery{After: a, Limit: 1})
		if err != nil {
			return false, err
		}
		return len(es) == 0 || !es[0].Time.Before(at), nil
	})
}

// newestSeq returns the global sequence of the newest event, 0 when the
// log is empty: the same search, about 2 log2(N) indexed reads, so that
// the store port needs nothing more. It runs only to explain a refused
// position.
func newestSeq(ctx context.Context, t agileplus.Tracker) (int64, error) {
	// past(a): no event after a.
	return searchSeq(func(a int64) (bool, error) {
		es, err := t.Events(ctx, agileplus.EventQuery{After: a, Limit: 1})
		return len(es) == 0, err
	})
}

// searchSeq returns the smallest global sequence (0 or more) for which ok
// holds, ok being false below some sequence and true from it on: an
// exponential search for an upper bound, then a binary search, one call of
// ok per probe.
func searchSeq(ok func(int64) (bool, error)) (int64, error) {
	if yes, err := ok(0); yes || err != nil {
		return 0, err
	}
	lo, hi := int64(0), int64(1) // ok(lo) is false
	for {
		yes, err := ok(hi)
		if err != nil {
			return 0, err
		}
		if yes {
			break
		}
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		yes, err := ok(mid)
		if err != nil {
			return 0, err
		}
		if yes {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// checkPosition refuses a position the client sent (after or
// Last-Event-ID) unless the store holds the event with that global
// sequence: one indexed read. A position beyond the end of the log, for
// example after the store was restored from an older backup, would
// otherwise skip every live event until the log caught up with it.
func checkPosition(ctx context.Context, t agileplus.Tracker, field string, pos int64) error {
	es, err := t.Events(ctx, agileplus.EventQuery{After: pos - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(es) == 1 && es[0].GlobalSeq == pos {
		return nil
	}
	newest, err := newestSeq(ctx, t)
	if err != nil {
		return err
	}
	// A well-formed position this log does not have conflicts with the
	// log's current state (409), as a stale version does.
	conflict := func(format string, args ...any) error {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case newest == 0:
		return conflict("%s %d is beyond the end of the event log, which is empty (was the store replaced or restored?): start over without it", field, pos)
	case newest < pos:
		return conflict("%s %d is beyond the end of the event log, whose newest event is %d (was the store restored from an older backup?): resume from %d or below", field, pos, newest, newest)
	default:
		return conflict("%s %d names no event of this log, whose newest event is %d", field, pos, newest)
	}
}

// ConfirmedFeed hands on only the live events that the store confirms.
// The server feeds its hub from the bus (natsbus.Follow), where anyone who
// may publish, or another store sharing the bus, could otherwise put an
// event with a large global sequence and move every stream's position
// past real events. Confirm reads the store once per event: the event
// with that global sequence must exist and have the same id. It then
// broadcasts the store's copy, the same one a replay sends; otherwise it
// drops the event, counts it (Dropped) and logs at debug level, at most
// once a second (warn when the store could not be read: the streams catch
// up on the next event).
type ConfirmedFeed struct {
	Tracker   agileplus.Tracker
	Broadcast func(*agileplus.Event) // e.g. (*Hub).Broadcast
	Logger    *slog.Logger           // nil: slog.Default()

	dropped atomic.Int64
	mu      sync.Mutex
	logged  time.Time // last drop logged
}

// Confirm broadcasts e, as the store holds it, if the store holds it, and
// reports whether it did. Use it as natsbus.Follow's callback; it runs
// one event at a time.
func (f *ConfirmedFeed) Confirm(ctx context.Context, e *agileplus.Event) bool {
	var es []*agileplus.Event
	var err error
	if e.GlobalSeq > 0 {
		es, err = f.Tracker.Events(ctx, agileplus.EventQuery{After: e.GlobalSeq - 1, Limit: 1})
	}
	if err == nil && len(es) == 1 && es[0].GlobalSeq == e.GlobalSeq && es[0].ID == e.ID {
		f.Broadcast(es[0])
		return true
	}
	f.dropped.Add(1)
	if ctx.Err() != nil {
		return false
	}
	f.mu.Lock()
	now := time.Now()
	quiet := now.Sub(f.logged) < time.Second
	if !quiet {
		f.logged = now
	}
	f.mu.Unlock()
	if quiet {
		return false
	}
	log := f.Logger
	if log == nil {
		log = slog.Default()
	}
	switch {
	case err != nil:
		log.Warn("event stream: cannot confirm a live event against the store; dropped it", "id", e.ID, "globalseq", e.GlobalSeq, "dropped_total", f.dropped.Load(), "err", err)
	case len(es) == 1 && es[0].GlobalSeq == e.GlobalSeq:
		log.Debug("event stream: dropped a live event: the store holds another event at its global sequence", "id", e.ID, "globalseq", e.GlobalSeq, "store_id", es[0].ID, "dropped_total", f.dropped.Load())
	default:
		log.Debug("event stream: dropped a live event the store does not hold", "id", e.ID, "globalseq", e.GlobalSeq, "dropped_total", f.dropped.Load())
	}
	return false
}

// Dropped returns how many events Confirm did not broadcast.
func (f *ConfirmedFeed) Dropped() int64 { return f.dropped.Load() }

// handleEventStream serves GET /v1/events/stream.
//
// It subscribes to the live feed first, then replays from the store after
// the client's position, then writes live events. The position is the
// global sequence of the last event looked at, sent or filtered out, so:
// a live event at or below it was replayed already and is skipped; one
// beyond the next sequence means the feed missed some, which are read from
// the store first; and when the hub drops the stream for lagging, it
// subscribes again and catches up from the store. No event is lost or sent
// twice between replay and live.
func (s *Server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	if s.Feed == nil {
		s.fail(w, r, agileplus.Errorf(agileplus.EUNAVAILABLE, "live events are not available on this server: it has no event feed"))
		return
	}
	done := s.streams.doneCh()
	select {
	case <-done:
		s.fail(w, r, agileplus.Errorf(agileplus.EUNAVAILABLE, "the server is shutting down; reconnect shortly"))
		return
	default:
	}
	q, err := parseStreamQuery(r, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	p := agileplus.PrincipalFrom(r.Context())
	var keyID string
	if p != nil {
		keyID = p.KeyID
	}
	release, err := s.streams.acquire(keyID, orDefault(s.MaxStreams, DefaultMaxStreams), orDefault(s.MaxStreamsPerKey, DefaultMaxStreamsPerKey))
	if err != nil {
		tm := err.(*errTooManyStreams)
		w.Header().Set("Retry-After", streamRetryAfter)
		writeError(w, tm.status, ErrorDetail{Code: agileplus.EUNAVAILABLE, Message: tm.msg})
		return
	}
	defer release()
	for _, sel := range q.filter {
		if sel.Project != "" && !p.AllowsProject(sel.Project) {
			s.fail(w, r, p.ProjectDenied("project", sel.Project))
			return
		}
	}
	// The stream reads the whole log and filters by p itself (AllowsEvent),
	// so that its position moves past what p may not see.
	rctx := agileplus.WithPrincipal(r.Context(), nil)
	// The stream ends when the client leaves or the server shuts down,
	// even in the middle of a long replay.
	ctx, cancel := context.WithCancel(rctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	sub := s.Feed.Subscribe(streamBuffer)
	defer func() { sub.Close() }()
	if !q.since.IsZero() {
		if q.after, err = positionAt(ctx, s.Tracker, q.since); err != nil {
			s.fail(w, r, err)
			return
		}
	} else if q.after > 0 {
		if err := checkPosition(ctx, s.Tracker, q.afterField, q.after); err != nil {
			s.fail(w, r, err)
			return
		}
	}

	every := s.StreamKeepalive
	if every <= 0 {
		every = streamKeepalive
	}
	st := &eventStream{s: s, w: w, rc: http.NewResponseController(w), filter: q.filter, principal: p, pos: q.after, writeTimeout: 2 * every}
	// A write blocked on a client that stopped reading ignores ctx: when
	// ctx ends, a deadline of now makes it return. finish runs before
	// cancel (defers run in reverse), so that nothing touches the response
	// once the handler has returned.
	stopAbort := context.AfterFunc(ctx, st.abort)
	defer stopAbort()
	defer st.finish()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st.buf = append(st.buf, "retry: "+strconv.Itoa(streamRetry)+"\n\n"...)
	if err := st.flush(); err != nil {
		return
	}
	if err := st.catchUp(ctx); err != nil {
		st.end(ctx, r, err)
		return
	}
	if !st.sent {
		// Nothing to replay (or nothing the filter selects): tell the
		// client its position, so that a reconnection resumes from it
		// rather than from a since the client would compute with its own
		// clock. A frame with an id and no data is what the SSE format
		// (WHATWG HTML, "dispatch the event") provides for this: a
		// browser's EventSource sets lastEventId, which it sends back as
		// Last-Event-ID, and dispatches no message since the data is
		// empty.
		st.buf = append(st.buf, "id: "...)
		st.buf = strconv.AppendInt(st.buf, st.pos, 10)
		st.buf = append(st.buf, "\n\n"...)
		if err := st.flush(); err != nil {
			st.end(ctx, r, err)
			return
		}
	}

	keepalive := time.NewTicker(every)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepalive.C:
			st.buf = append(st.buf, ": keepalive\n\n"...)
		case e, ok := <-sub.Events():
			if !ok {
				// Dropped for lagging: subscribe again first, then read
				// what was missed from the store.
				sub = s.Feed.Subscribe(streamBuffer)
				err = st.catchUp(ctx)
				break
			}
			err = st.live(ctx, e)
		burst:
			for range streamBurst {
				if err != nil {
					break
				}
				select {
				case e, ok := <-sub.Events():
					if !ok {
						break burst // handled on the next turn
					}
					err = st.live(ctx, e)
				default:
					break burst
				}
			}
			keepalive.Reset(every)
		}
		if err == nil {
			err = st.flush()
		}
		if err != nil {
			st.end(ctx, r, err)
			return
		}
	}
}

// eventStream writes one client's stream.
type eventStream struct {
	s      *Server
	w      http.ResponseWriter
	rc     *http.ResponseController
	filter streamFilter
	// principal is who the stream is for: it sends only the events
	// principal.AllowsEvent allows (nil: all).
	principal *agileplus.Principal
	pos       int64 // global sequence of the last event looked at
	sent      bool  // whether an event was written
	buf       []byte

	// writeTimeout bounds each flush: a client that takes longer is gone
	// or stuck, and the stream ends (it reconnects and loses nothing).
	writeTimeout time.Duration
	mu           sync.Mutex
	over         bool // guarded by mu: abort or finish ran
}

// abort makes a write in progress, or any later one, fail at once: ctx
// ended.
func (st *eventStream) abort() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.over {
		return
	}
	st.over = true
	st.rc.SetWriteDeadline(time.Now()) // ErrNotSupported: nothing to unblock
}

// finish marks the handler done: abort leaves the response alone then.
func (st *eventStream) finish() {
	st.mu.Lock()
	st.over = true
	st.mu.Unlock()
}

// errStreamOver is the error of a write after abort.
var errStreamOver = errors.New("the stream is over")

// armDeadline gives the next flush writeTimeout, unless abort ran.
func (st *eventStream) armDeadline() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.over {
		return &streamWriteError{errStreamOver}
	}
	// ErrNotSupported (a writer without deadlines) leaves writes as
	// they were; the server resets the deadline after the handler.
	st.rc.SetWriteDeadline(time.Now().Add(st.writeTimeout))
	return nil
}

// live handles one event from the feed.
func (st *eventStream) live(ctx context.Context, e *agileplus.Event) error {
	if e.GlobalSeq <= st.pos {
		return nil
	}
	if e.GlobalSeq > st.pos+1 {
		// The feed skipped events: they are in the store.
		if err := st.catchUp(ctx); err != nil {
			return err
		}
		if e.GlobalSeq <= st.pos {
			return nil
		}
	}
	return st.addLive(e)
}

// catchUp writes what the store holds after the position, a page at a
// time, up to its end.
func (st *eventStream) catchUp(ctx context.Context) error {
	for {
		es, err := st.s.Tracker.Events(ctx, agileplus.EventQuery{After: st.pos, Limit: streamPage})
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := st.add(e); err != nil {
				return err
			}
		}
		if err := st.flush(); err != nil {
			return err
		}
		if len(es) < streamPage {
			return nil
		}
	}
}

// add buffers e, read from the store, if the filter selects it, and moves
// the position past it.
func (st *eventStream) add(e *agileplus.Event) error {
	return st.write(e, false)
}

// addLive is add for an event from the feed, whose encoding is shared.
func (st *eventStream) addLive(e *agileplus.Event) error {
	return st.write(e, true)
}

func (st *eventStream) write(e *agileplus.Event, live bool) error {
	st.pos = e.GlobalSeq
	if !st.filter.match(e) || !st.principal.AllowsEvent(e) {
		return nil
	}
	st.sent = true
	if live && st.s.Tracer != nil && agileplus.ValidTraceParent(e.TraceParent) {
		// The fan-out to this client, in the trace of the request that
		// made the event.
		_, span := st.s.Tracer.Start(agileplus.WithTraceParent(context.Background(), e.TraceParent), "sse send", agileplus.SpanConsumer)
		span.SetAttributes("event.type", e.Type)
		span.End(nil)
	}
	var data []byte // one line: JSON has no raw newlines
	var err error
	if live {
		data, err = st.s.streams.enc.get(e)
	} else {
		data, err = json.Marshal(e.CloudEvent())
	}
	if err != nil {
		return err
	}
	st.buf = append(st.buf, "id: "...)
	st.buf = strconv.AppendInt(st.buf, e.GlobalSeq, 10)
	st.buf = append(st.buf, "\nevent: "...)
	st.buf = append(st.buf, e.Type...)
	st.buf = append(st.buf, "\ndata: "...)
	st.buf = append(st.buf, data...)
	st.buf = append(st.buf, "\n\n"...)
	if len(st.buf) >= 64<<10 {
		return st.flush()
	}
	return nil
}

// flush sends what is buffered, within writeTimeout.
func (st *eventStream) flush() error {
	if err := st.armDeadline(); err != nil {
		return err
	}
	if len(st.buf) > 0 {
		if _, err := st.w.Write(st.buf); err != nil {
			return &streamWriteError{err}
		}
		st.buf = st.buf[:0]
	}
	if err := st.rc.Flush(); err != nil {
		return &streamWriteError{err}
	}
	return nil
}

// streamWriteError is a failure to write to the client: it went away.
type streamWriteError struct{ err error }

func (e *streamWriteError) Error() string { return "writing the event stream: " + e.err.Error() }
func (e *streamWriteError) Unwrap() error { return e.err }

// end logs why a stream stopped early, unless the client went away or the
// server is shutting down. The client reconnects with Last-Event-ID and
// loses nothing.
func (st *eventStream) end(ctx context.Context, r *http.Request, err error) {
	var we *streamWriteError
	if ctx.Err() != nil || errors.As(err, &we) {
		return
	}
	st.s.Logger.ErrorContext(r.Context(), "http: event stream ended", "query", r.URL.RawQuery, "position", st.pos, "err", err)
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
