package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// Client side of the event stream.
const (
	// streamIdleTimeout drops a connection that sent nothing, not even a
	// keepalive, for this long: a dead peer or a broken middlebox.
	streamIdleTimeout = 3 * streamKeepalive
	// Reconnections back off from streamMinBackoff up to the server's
	// retry hint (streamRetry by default), and start over at the minimum
	// after a connection that delivered events.
	streamMinBackoff = 100 * time.Millisecond
	// streamMaxLine bounds one line of the stream (one event's JSON).
	streamMaxLine = 64 << 20
)

// StreamEvents follows the server's event stream (GET /v1/events/stream):
// it calls fn with each event sel chooses, in GlobalSeq order, first those
// already recorded after the global sequence after (or since since: a
// duration back from now such as "1h", or an RFC 3339 time; not both),
// then each new one as it is committed.
//
// It returns when ctx ends (ctx.Err()) or fn fails (fn's error). When the
// connection drops it reconnects after a short backoff with Last-Event-ID,
// the last event's id or, before any event, the position the server sent
// after its replay, so fn sees every chosen event once. Errors of the first request are
// returned: a refused selector or position (EINVALID, naming the field), a
// server without a live feed or out of reach (EUNAVAILABLE). Later, only
// 4xx answers end the stream; network errors and 5xx (a restarting server)
// are retried.
func (c *Client) StreamEvents(ctx context.Context, sel agileplus.EventSelector, after int64, since string, fn func(*agileplus.CloudEvent) error) error {
	if c.bad != nil {
		return c.bad
	}
	if after < 0 {
		return agileplus.FieldErrorf("after", "after must be 0 or a global sequence")
	}
	base := url.Values{}
	if sel.Project != "" {
		base.Set("project", sel.Project)
	}
	if len(sel.Entities) > 0 {
		base.Set("entity", strings.Join(sel.Entities, ","))
	}
	if len(sel.Types) > 0 {
		base.Set("type", strings.Join(sel.Types, ","))
	}
	first := cloneValues(base)
	var sinceAt time.Time
	if since != "" {
		if after > 0 {
			return agileplus.FieldErrorf("since", "pass after or since, not both")
		}
		var err error
		if sinceAt, err = ParseSince(since, time.Now()); err != nil {
			return err
		}
		first.Set("since", since)
	} else if after > 0 {
		first.Set("after", strconv.FormatInt(after, 10))
	}

	hc := *c.http
	hc.Timeout = 0 // the stream lasts; streamIdleTimeout watches it instead
	st := &clientStream{c: c, http: &hc, fn: fn, last: -1, maxBackoff: streamRetry * time.Millisecond}
	backoff := streamMinBackoff
	for attempt := 0; ; attempt++ {
		q, lastID := first, ""
		switch {
		case st.last >= 0:
			q, lastID = base, strconv.FormatInt(st.last, 10)
		case attempt > 0 && since != "":
			// No position received yet (the connection dropped before the
			// server sent one): keep the start the first request meant,
			// by this machine's clock.
			q = cloneValues(base)
			q.Set("since", sinceAt.Format(time.RFC3339Nano))
		}
		connected, progressed, err := st.once(ctx, q, lastID)
		var stop *stopError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &stop):
			return stop.err
		case !connected && (attempt == 0 || isClientError(err)):
			return err
		}
		if progressed {
			backoff = streamMinBackoff
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, st.maxBackoff)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// isClientError reports whether err is a 4xx answer: asking again will
// not help. 429 (the key has too many streams open) is not one: a stream
// may close and free a place.
func isClientError(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status >= 400 && se.status < 500 && se.status != http.StatusTooManyRequests
}

// statusError is an error answer to a stream request.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// stopError ends StreamEvents with err: fn failed, or the server sent
// something that is not an event.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// clientStream is the state of StreamEvents across connections.
type clientStream struct {
	c          *Client
	http       *http.Client
	fn         func(*agileplus.CloudEvent) error
	last       int64 // id to resume from: the last event handed to fn, or the position the server told; -1 before either
	maxBackoff time.Duration
}

// once makes one request and reads its stream until it ends. connected
// says whether the server accepted the request; progressed whether
// anything arrived.
func (st *clientStream) once(ctx context.Context, q url.Values, lastID string) (connected, progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := st.c.base + "/v1/events/stream"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, false, agileplus.Errorf(agileplus.EINVALID, "bad server URL %q: %v", st.c.base, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	st.c.authorize(req)
	if lastID != "" {
		req.Header.Set(LastEventIDHeader, lastID)
	}
	resp, err := st.http.Do(req)
	if err != nil {
		// Only a failed connection says "cannot reach", as for the other calls.
		return false, false, st.c.sendError(ctx, http.MethodGet, "/v1/events/stream", err, nil)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, false, &statusError{status: resp.StatusCode, err: responseError(resp)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, false, agileplus.Errorf(agileplus.EUNAVAILABLE, "the server at %s answered the event stream with %q, not text/event-stream", st.c.base, mt)
	}

	idle := time.AfterFunc(streamIdleTimeout, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), streamMaxLine)
	var (
		data  bytes.Buffer
		id    string
		hasID bool
	)
	for sc.Scan() {
		idle.Reset(streamIdleTimeout)
		line := sc.Bytes()
		if len(line) == 0 {
			if data.Len() > 0 {
				if err := st.dispatch(data.Bytes(), id, hasID); err != nil {
					return true, progressed, err
				}
				progressed = true
			} else if hasID {
				// An id without data: the server telling the position it
				// replayed up to when it had no event to send. As in a
				// browser's EventSource, it sets the id to resume from
				// and is not an event.
				st.setLast(id)
			}
			data.Reset()
			id, hasID = "", false
			continue
		}
		if line[0] == ':' {
			continue // comment: keepalive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		case "id":
			id, hasID = string(value), true
		case "retry":
			if ms, err := strconv.Atoi(string(value)); err == nil && ms > 0 {
				st.maxBackoff = time.Duration(ms) * time.Millisecond
			}
		}
	}
	err = sc.Err()
	if err == nil {
		err = errors.New("the server ended the stream")
	}
	return true, progressed, agileplus.Errorf(agileplus.EUNAVAILABLE, "event stream from %s: %v", st.c.base, err)
}

// dispatch decodes one event and hands it to fn.
func (st *clientStream) dispatch(data []byte, id string, hasID bool) error {
	var ce agileplus.CloudEvent
	if err := json.Unmarshal(data, &ce); err != nil {
		return &stopError{fmt.Errorf("httpapi: event stream: event %s is not a CloudEvent: %w", id, err)}
	}
	if err := st.fn(&ce); err != nil {
		return &stopError{err}
	}
	if hasID {
		st.setLast(id)
	}
	return nil
}

// setLast records the id of a frame, a global sequence, to resume from.
func (st *clientStream) setLast(id string) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n >= 0 {
		st.last = n
	}
}
