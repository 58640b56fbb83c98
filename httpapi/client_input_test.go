package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// Bad input to the client: only a failed connection is "cannot reach the
// server"; a request that cannot be made or an answer no AgilePlus server
// gives says what it is.

// countingServer answers every request with body and counts them.
func countingServer(t *testing.T, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestCheckBaseURL(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "https://tracker.example.com", "http://[::1]:8080/", "http://proxy/agileplus/"} {
		if err := httpapi.CheckBaseURL(base); err != nil {
			t.Errorf("CheckBaseURL(%q) = %v, want nil", base, err)
		}
	}
	for base, want := range map[string]string{
		"":                      "empty",
		"notaurl":               "no http",
		"127.0.0.1:8080":        "no http",
		"ftp://example.com":     `"ftp"`,
		"http://":               "no host",
		"http:///x":             "no host",
		"http://x/?a=b":         "query",
		"http://x?":             "query",
		"http://x/#top":         "fragment",
		"http://x:99999":        "port",
		"http://x:0":            "port",
		"http://x y.example/":   "invalid",
		"http://example.com:ab": "port",
	} {
		if err := httpapi.CheckBaseURL(base); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckBaseURL(%q) = %v, want an error saying %q", base, err, want)
		}
	}
}

func TestCheckActor(t *testing.T) {
	for _, a := range []string{"", "tester", "Zoë Müller", "claude-code/1.2 (agent)", strings.Repeat("é", httpapi.MaxActorBytes/2)} {
		if err := httpapi.CheckActor(a); err != nil {
			t.Errorf("CheckActor(%q) = %v, want nil", a, err)
		}
	}
	for a, want := range map[string]string{
		"bad\nactor":                          "control character",
		"tab\there":                           "control character",
		"del\x7f":                             "control character",
		"\xff\xfe":                            "UTF-8",
		strings.Repeat("x", 201):              "201 bytes",
		strings.Repeat("é", 101):              "202 bytes",
		"cr\r\nX-Agileplus-Actor: root\r\n\r": "control character",
	} {
		if err := httpapi.CheckActor(a); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckActor(%q) = %v, want an error saying %q", a, err, want)
		}
	}
}

func TestClientRefusesBeforeSending(t *testing.T) {
	srv, n := countingServer(t, `{}`)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		c    *httpapi.Client
		want string
	}{
		{"query in the base URL", httpapi.NewClient(srv.URL + "/?x=1"), "bad server URL"},
		{"ftp base URL", httpapi.NewClient("ftp://" + strings.TrimPrefix(srv.URL, "http://")), "bad server URL"},
		{"empty base URL", httpapi.NewClient(""), "bad server URL"},
		{"actor with a newline", httpapi.NewClient(srv.URL, httpapi.WithActor("bad\nactor")), "bad actor"},
		{"long actor", httpapi.NewClient(srv.URL, httpapi.WithActor(strings.Repeat("a", 300))), "bad actor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Projects(ctx, agileplus.Page{})
			if agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "cannot reach") {
				t.Errorf("Projects = %v, want EINVALID saying %q", err, tc.want)
			}
			_, err = tc.c.BulkImport(ctx, strings.NewReader(""), agileplus.ImportOptions{})
			if agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("BulkImport = %v, want EINVALID saying %q", err, tc.want)
			}
		})
	}
	if got := n.Load(); got != 0 {
		t.Errorf("the server got %d requests, want none", got)
	}
}

func TestClientNotAgilePlusServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, body string
		call       func(*httpapi.Client) error
		want       string
	}{
		{"create without id", `{"ok":true}`, func(c *httpapi.Client) error {
			_, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "QQ", Name: "x"})
			return err
		}, "POST /v1/projects returned an object without an id"},
		{"get without id", `{}`, func(c *httpapi.Client) error { _, err := c.WP(ctx, "QQ-1"); return err }, "without an id"},
		{"null", `null`, func(c *httpapi.Client) error { _, err := c.Feature(ctx, "f"); return err }, "null instead of an object"},
		{"null graph", `null`, func(c *httpapi.Client) error { _, err := c.Layers(ctx, "QQ", ""); return err }, "null instead of an object"},
		{"not JSON", `<html>hello</html>`, func(c *httpapi.Client) error { _, err := c.Project(ctx, "QQ"); return err }, "invalid character"},
		{"lease without token", `{"agent":"a"}`, func(c *httpapi.Client) error {
			_, err := c.Claim(ctx, "QQ-1", agileplus.ClaimRequest{Agent: "a"})
			return err
		}, "fencing token"},
		{"webhook without id", `{"url":"http://x"}`, func(c *httpapi.Client) error {
			_, err := c.CreateWebhook(ctx, agileplus.WebhookCreate{URL: "http://x/"})
			return err
		}, "without an id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := countingServer(t, tc.body)
			err := tc.call(httpapi.NewClient(srv.URL))
			if err == nil || !strings.Contains(err.Error(), "the server at "+srv.URL+" did not answer like an AgilePlus server") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want it to say %s is not an AgilePlus server: %s", err, srv.URL, tc.want)
			}
		})
	}
}

// The event stream refuses a bad base or actor before sending anything,
// and says "cannot reach" only when the server cannot be reached.
func TestStreamEventsInputErrors(t *testing.T) {
	ctx := context.Background()
	none := func(*agileplus.CloudEvent) error { return nil }
	err := httpapi.NewClient("ftp://x").StreamEvents(ctx, agileplus.EventSelector{}, 0, "", none)
	if agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), "bad server URL") {
		t.Errorf("bad base: %v, want invalid bad server URL", err)
	}
	err = httpapi.NewClient("http://127.0.0.1:1", httpapi.WithActor("a\x1bb")).StreamEvents(ctx, agileplus.EventSelector{}, 0, "", none)
	if agileplus.ErrorCode(err) != agileplus.EINVALID {
		t.Errorf("bad actor: %v, want invalid", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	err = httpapi.NewClient("http://"+addr).StreamEvents(ctx, agileplus.EventSelector{}, 0, "", none)
	if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("nobody listening: %v, want unavailable cannot reach", err)
	}
}

// A server that takes the request and never answers is a timeout, not an
// unreachable server: a write may have been applied.
func TestClientTimeoutIsNotUnreachable(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	c := httpapi.NewClient(srv.URL, httpapi.WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
	_, err := c.CreateProject(context.Background(), agileplus.ProjectCreate{Key: "TO", Name: "t"})
	if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE || strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "may have been applied") {
		t.Errorf("write: %v, want a timeout that says the change may have been applied", err)
	}
	_, err = c.Project(context.Background(), "TO")
	if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("read: %v, want a timeout", err)
	}
}
