package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
)

// Defaults of the request body limits (Server.BodyGrace, BodyMinRate,
// MaxBodies).
const (
	DefaultBodyGrace   = 10 * time.Second
	DefaultBodyMinRate = 16 << 10 // bytes per second
	DefaultMaxBodies   = 64
)

// errSlowBody is the error a request body's Read returns once the client
// sent it too slowly.
var errSlowBody = errors.New("the request body arrived too slowly")

// bodies bounds the request bodies being read at once.
type bodies struct {
	mu   sync.Mutex
	open int
}

func (b *bodies) acquire(max int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open >= max {
		return false
	}
	b.open++
	return true
}

func (b *bodies) release() {
	b.mu.Lock()
	b.open--
	b.mu.Unlock()
}

// limitBodies holds every request body to a minimum average rate: the
// client has BodyGrace, plus one second per BodyMinRate bytes it sent, to
// send what it has sent so far, so a client feeding a body a byte a second
// cannot hold a handler forever. The read deadline of the connection moves
// on as bytes arrive; a body that misses it is answered 408. At most
// MaxBodies bodies are read at once; beyond that a request is answered 503
// before its handler runs.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if !s.bodies.acquire(orDefault(s.MaxBodies, DefaultMaxBodies)) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, ErrorDetail{Code: agileplus.EUNAVAILABLE, Message: "the server is reading as many request bodies as it allows at once; retry shortly"})
			return
		}
		grace := s.BodyGrace
		if grace <= 0 {
			grace = DefaultBodyGrace
		}
		rate := s.BodyMinRate
		if rate <= 0 {
			rate = DefaultBodyMinRate
		}
		body := &rateBody{r: r.Body, rc: http.NewResponseController(w), start: time.Now(), grace: grace, rate: rate, release: s.bodies.release}
		defer body.done()
		body.deadlines = body.rc.SetReadDeadline(body.deadline()) == nil
		r.Body = body
		rw := &bodyResponse{ResponseWriter: w, body: body}
		next.ServeHTTP(rw, r)
	})
}

// rateBody is a request body read under a deadline that moves on with
// every byte.
type rateBody struct {
	r         io.ReadCloser
	rc        *http.ResponseController
	start     time.Time
	grace     time.Duration
	rate      int64 // bytes per second
	n         int64 // bytes read
	deadlines bool  // whether the connection takes deadlines
	slow      atomic.Bool
	once      sync.Once
	release   func()
}

func (b *rateBody) deadline() time.Time {
	return b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			b.slow.Store(true)
			err = errSlowBody
		}
		b.done()
		return n, err
	}
	if n > 0 && b.deadlines {
		b.rc.SetReadDeadline(b.deadline())
	}
	return n, nil
}

func (b *rateBody) Close() error { return b.r.Close() }

// done frees the body's slot, once, and lifts the deadline unless the body
// missed it: it bounds the body only, never the handler's work after it
// (net/http lifts it too when it starts watching an HTTP/1 connection
// past the body's end; this holds whatever the protocol).
func (b *rateBody) done() {
	b.once.Do(func() {
		if b.deadlines && !b.slow.Load() {
			b.rc.SetReadDeadline(time.Time{})
		}
		b.release()
	})
}

// bodyResponse answers 408 in place of whatever the handler answers once
// its request body missed the deadline: the handler only saw a read error,
// which it may report as a bad body.
type bodyResponse struct {
	http.ResponseWriter
	body     *rateBody
	wrote    bool
	replaced bool
}

func (w *bodyResponse) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if w.body.slow.Load() {
		w.replaced = true
		h := w.ResponseWriter.Header()
		h.Del("ETag")
		h.Set("Connection", "close")
		writeError(w.ResponseWriter, http.StatusRequestTimeout, ErrorDetail{Code: agileplus.EINVALID, Field: "body",
			Message: fmt.Sprintf("the request body arrived too slowly: %d bytes in %s; send it within %s plus one second per %d bytes",
				w.body.n, time.Since(w.body.start).Round(time.Millisecond), w.body.grace, w.body.rate)})
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bodyResponse) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *bodyResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }
