package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/poll"
)

// bodyServer serves a server without a tracker: the routes used here
// fail before they reach it.
func bodyServer(t *testing.T, configure func(*Server)) (*httptest.Server, *Server) {
	t.Helper()
	s := NewServer(nil, nil, nil, "test")
	configure(s)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

// rawPost opens a connection and sends the head of a POST whose body is
// length bytes, and the first bytes of it.
func rawPost(t *testing.T, srv *httptest.Server, path string, length int, first string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(poll.Timeout)) // a bound for a broken test, not a timing
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + itoa(length) + "\r\n\r\n" + first
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func itoa(n int) string { return formatInt(int64(n)) }

func readAnswer(t *testing.T, conn net.Conn) (*http.Response, ErrorBody) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	var eb ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	return resp, eb
}

// TestSlowBodyIsRefused: a client feeding a body a byte at a time gets
// 408 once it falls behind the minimum rate, while it is still sending.
func TestSlowBodyIsRefused(t *testing.T) {
	srv, _ := bodyServer(t, func(s *Server) { s.BodyGrace = 200 * time.Millisecond; s.BodyMinRate = 1 << 20 })
	conn := rawPost(t, srv, "/v1/keys", 1000, "{")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	resp, eb := readAnswer(t, conn)
	if resp.StatusCode != http.StatusRequestTimeout || eb.Error.Field != "body" || !strings.Contains(eb.Error.Message, "arrived too slowly") {
		t.Errorf("got %d %+v, want 408 saying the body is too slow", resp.StatusCode, eb.Error)
	}
}

// TestBodyAtRateIsRead: a body sent at once is read and decoded.
func TestBodyAtRateIsRead(t *testing.T) {
	srv, _ := bodyServer(t, func(*Server) {})
	body := `{"name":"ci-bot","scope":"read"}`
	resp, err := http.Post(srv.URL+"/v1/keys", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	// Read and decoded: the server then says it has no key admin.
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(eb.Error.Message, "not managed") {
		t.Errorf("got %d %+v, want 503 from the handler", resp.StatusCode, eb.Error)
	}
}

// TestBodiesAreCapped: beyond MaxBodies bodies being read, a request with
// a body is answered 503 with Retry-After; one without is served.
func TestBodiesAreCapped(t *testing.T) {
	srv, s := bodyServer(t, func(s *Server) { s.MaxBodies = 1; s.BodyGrace = time.Hour })
	slow := rawPost(t, srv, "/v1/keys", 1000, "{")
	poll.Until(t, "the slow body to hold its slot", func() bool {
		s.bodies.mu.Lock()
		defer s.bodies.mu.Unlock()
		return s.bodies.open == 1
	})
	resp, err := http.Post(srv.URL+"/v1/keys", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var eb ErrorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || eb.Error.Code != agileplus.EUNAVAILABLE || !strings.Contains(eb.Error.Message, "request bodies") {
		t.Errorf("got %d %+v (Retry-After %q), want 503 with Retry-After", resp.StatusCode, eb.Error, resp.Header.Get("Retry-After"))
	}
	if resp, err := http.Get(srv.URL + "/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("health while bodies are full: %v %v", resp, err)
	}
	slow.Close()
	poll.Until(t, "the slot to be released when the client leaves", func() bool {
		s.bodies.mu.Lock()
		defer s.bodies.mu.Unlock()
		return s.bodies.open == 0
	})
}

// TestBodyDeadlineEndsWithTheBody: a handler that has read its whole body
// and works on past the body's deadline is not cut off (the connection
// would otherwise time out under it and cancel its context).
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	const grace = 50 * time.Millisecond
	s := NewServer(nil, nil, nil, "test")
	s.BodyGrace = grace
	canceled := make(chan bool, 1)
	srv := httptest.NewServer(s.limitBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("read: %v", err)
		}
		canceled <- poll.Wait(10*grace, func() bool { return r.Context().Err() != nil })
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := <-canceled; c || resp.StatusCode != http.StatusNoContent {
		t.Errorf("got %d, canceled %v: the handler was cut off after reading its body", resp.StatusCode, c)
	}
}
