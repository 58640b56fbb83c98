package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// inputRoutes are the routes that decode a JSON body.
func inputRoutes() []route {
	var out []route
	for _, rt := range NewServer(nil, nil, nil, "test").routes() {
		if rt.in != nil {
			out = append(out, rt)
		}
	}
	return out
}

// checkRequestError fails unless err is nil or a request error: a 4xx
// that names what is wrong.
func checkRequestError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if code := agileplus.ErrorCode(err); code != agileplus.EINVALID || agileplus.ErrorMessage(err) == "" {
		t.Fatalf("%s: got %s %q, want invalid with a message", what, code, agileplus.ErrorMessage(err))
	}
}

// FuzzDecode decodes any body into the input type of every route that
// reads one: a value or an invalid-request error, never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"key":"CORE","name":"Core"}`, `{"title":"a","estimate":1e400}`, `[1]`, `{"a":`, `null`,
		`{"name":"ci-bot","scope":"read","projects":["CORE"],"expires_at":"2030-01-01T00:00:00Z"}`, `{"to":"doing","force":true,"reason":"x"}`,
		`{"url":"https://x","events":["wp.*"]}`, "{\"title\":\"\\u0000\"}", `{"from":"A-1","to":"A-2","kind":"blocks"}`} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{}`), "text/plain")
	rs := inputRoutes()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, rt := range rs {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			if contentType != "" {
				r.Header["Content-Type"] = []string{contentType}
			}
			checkRequestError(t, rt.method+" "+rt.path, decode(httptest.NewRecorder(), r, reflect.New(rt.in).Interface()))
		}
	})
}

// FuzzQuery runs every query and header parser over any query string and
// If-Match and Last-Event-ID headers.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"", "limit=10&after=prj_x", "limit=0", "limit=1001", "limit=-1", "after=18446744073709551615", "transitive=maybe&depth=0",
		"project=CORE,WEB&entity=wp&type=wp.created", "since=1h", "since=2026-03-14T15:09:26+02:00", "after=1&since=1h", "limit=%zz", "a;b"} {
		f.Add(q, `"3"`, "")
	}
	f.Add("", "W/\"7\"", "12")
	f.Add("", "*", "-1")
	f.Fuzz(func(t *testing.T, rawQuery, ifMatchHdr, lastEventID string) {
		if _, err := url.ParseQuery(rawQuery); err != nil {
			return // refused whole by ServeHTTP before any parser runs
		}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: rawQuery}, Header: http.Header{}}
		r.Header["If-Match"] = []string{ifMatchHdr}
		r.Header[LastEventIDHeader] = []string{lastEventID}
		_, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
		checkRequestError(t, "queryInt", err)
		_, err = queryBool(r, "transitive")
		checkRequestError(t, "queryBool", err)
		_, err = page(r)
		checkRequestError(t, "page", err)
		_, err = idPage(r, agileplus.PrefixProject)
		checkRequestError(t, "idPage", err)
		_, err = seqCursor(r, "after")
		checkRequestError(t, "seqCursor", err)
		_, err = ifMatch(r)
		checkRequestError(t, "ifMatch", err)
		_, _, err = reachQuery(r)
		checkRequestError(t, "reachQuery", err)
		_, err = parseStreamQuery(r, time.Now())
		checkRequestError(t, "parseStreamQuery", err)
	})
}

// tokenAuth accepts one token.
type tokenAuth struct{ token string }

func (a tokenAuth) Authenticate(_ context.Context, token string) (*agileplus.Principal, error) {
	if _, _, err := agileplus.ParseKeyToken(token); err != nil {
		return nil, err
	}
	if token != a.token {
		return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "unknown API key")
	}
	return &agileplus.Principal{KeyID: "key_1", Name: "ci-bot", Scope: agileplus.ScopeRead}, nil
}

// FuzzAuthorization sends any Authorization headers, and any actor
// header, to a server that authenticates: 200 for the one good token, 401
// with the bearer challenge for anything else, never a 5xx.
func FuzzAuthorization(f *testing.F) {
	good := "ap_abcdefgh_" + strings.Repeat("0", 64)
	for _, h := range []string{"Bearer " + good, "bearer " + good, "", "Bearer", "Basic abc", "Bearer é", "Bearer \x00", good, "Bearer  " + good + " x",
		"Bearer ap_abcdefgh_" + strings.Repeat("1", 64), strings.Repeat("B", 5000)} {
		f.Add(h, "", false, "")
	}
	f.Add("Bearer "+good, "Bearer "+good, true, "ci-bot/x")
	s := NewServer(nil, nil, nil, "test")
	s.Auth = tokenAuth{good}
	f.Fuzz(func(t *testing.T, h1, h2 string, two bool, actor string) {
		hdr := http.Header{}
		hdr["Authorization"] = []string{h1}
		if two {
			hdr["Authorization"] = append(hdr["Authorization"], h2)
		}
		if _, err := bearerToken(hdr); err != nil && agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED {
			t.Fatalf("bearerToken: %v", err)
		}
		hdr[ActorHeader] = []string{actor}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/whoami"}, Header: hdr, Body: http.NoBody, Host: "x"}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch {
		case w.Code == 200:
			if !two && strings.TrimSpace(h1) == "" {
				t.Fatalf("200 without a key")
			}
		case w.Code == 401:
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("401 without WWW-Authenticate")
			}
		default:
			t.Fatalf("got %d: %s", w.Code, w.Body)
		}
	})
}
