package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The lean client must read every kind of answer net/http's server gives
// (fixed length, chunked, no body, error bodies) and keep the connection
// in step for the next request.
func TestLeanConnReadsEveryAnswer(t *testing.T) {
	big := strings.Repeat("x", 70_000) // net/http chunks a body this long
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Agileplus-Actor") != "bench" {
			http.Error(w, "no actor", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/small":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"got":%q}`, body)
		case "/big":
			w.Write([]byte(big))
			w.(http.Flusher).Flush()
			w.Write([]byte(big))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			http.Error(w, "no such path "+r.URL.Path+strings.Repeat(" padding", 500), http.StatusNotFound)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	ctx := context.Background()
	c, err := newLeanConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for round := range 3 {
		for _, r := range []request{
			{"POST", "/small", []byte(`{"a":1}`)},
			{"GET", "/big", nil},
			{"DELETE", "/empty", nil},
			{"GET", "/small", nil},
		} {
			if err := c.do(ctx, r); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for twelve requests, want one kept alive", n)
	}

	err = c.do(ctx, request{"GET", "/missing", nil})
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no such path /missing") {
		t.Errorf("404: err = %v, want the status and the body's start", err)
	}
	if len(err.Error()) > 1200 {
		t.Errorf("404: error of %d bytes, want the body cut at 1 KiB", len(err.Error()))
	}
	if err := c.do(ctx, request{"GET", "/small", nil}); err != nil {
		t.Fatalf("after a 404: %v", err)
	}
	if err := c.do(ctx, request{"GET", "/close", nil}); err != nil {
		t.Fatal(err)
	}
	if err := c.do(ctx, request{"GET", "/small", nil}); err != nil {
		t.Fatalf("after Connection: close: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want a new one after Connection: close", n)
	}
}

func TestLeanConnRefusesNonHTTPBase(t *testing.T) {
	for _, base := range []string{"https://127.0.0.1:1", "127.0.0.1:80", "http://"} {
		if _, err := newLeanConn(base); err == nil {
			t.Errorf("newLeanConn(%q) = nil error", base)
		}
	}
}
