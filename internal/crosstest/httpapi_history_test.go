package crosstest

import (
	"encoding/json"
	"testing"

	"github.com/agileplus/agileplus"
)

// ?at= and the history routes answer bad input with a 4xx naming the
// field, over HTTP.
func TestTimeTravelOverHTTP(t *testing.T) {
	srv, _ := newTestAPI(t)
	for _, s := range []struct{ method, path, body string }{
		{"POST", "/v1/projects", `{"key":"CORE","name":"Core"}`},
		{"POST", "/v1/projects/CORE/features", `{"slug":"login","title":"Login"}`},
		{"POST", "/v1/features/login/wps", `{"title":"A"}`},
		{"PATCH", "/v1/wps/CORE-1", `{"title":"B"}`},
	} {
		if code, eb, _ := do(t, srv, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("setup %s %s: got %d %+v", s.method, s.path, code, eb)
		}
	}
	for _, c := range []struct {
		path  string
		code  int
		field string
	}{
		{"/v1/wps/CORE-1?at=soon", 400, "at"},
		{"/v1/wps/CORE-1?at=", 400, "at"},
		{"/v1/wps/CORE-1?at=0", 400, "at"},
		{"/v1/wps/CORE-1?at=2999-01-01T00:00:00Z", 400, "at"},
		{"/v1/wps/CORE-1?at=999999", 400, "at"},
		{"/v1/features/login?at=1999-01-01T00:00:00Z", 404, "at"},
		{"/v1/wps/CORE-1?at=2", 404, "at"}, // the feature's creation, before the WP's
		{"/v1/wps/CORE-1/history?after=-1", 400, "after"},
		{"/v1/wps/CORE-1/history?limit=0", 400, "limit"},
		{"/v1/wps/CORE-9/history", 404, "wp"},
	} {
		code, eb, _ := do(t, srv, "GET", c.path, "")
		if code != c.code || eb.Error.Field != c.field {
			t.Errorf("GET %s: got %d %+v, want %d naming %s", c.path, code, eb, c.code, c.field)
		}
	}

	code, _, raw := do(t, srv, "GET", "/v1/wps/CORE-1?at=3", "")
	var w agileplus.WP
	if err := json.Unmarshal(raw, &w); code != 200 || err != nil || w.Title != "A" || w.Version != 1 {
		t.Fatalf("GET ?at=3: got %d %s, want CORE-1 as created", code, raw)
	}
	code, _, raw = do(t, srv, "GET", "/v1/wps/CORE-1/history?limit=1", "")
	var page struct {
		Items []*agileplus.HistoryEntry `json:"items"`
		Next  string                    `json:"next"`
	}
	if err := json.Unmarshal(raw, &page); code != 200 || err != nil || len(page.Items) != 1 || page.Next != "3" {
		t.Fatalf("GET history?limit=1: got %d %s, want the creation and next 3", code, raw)
	}
	code, _, raw = do(t, srv, "GET", "/v1/wps/CORE-1/history?after="+page.Next, "")
	page.Items, page.Next = nil, ""
	if err := json.Unmarshal(raw, &page); code != 200 || err != nil || len(page.Items) != 1 || page.Next != "" ||
		len(page.Items[0].Changes) != 1 || page.Items[0].Changes[0].Field != "title" || string(page.Items[0].Changes[0].To) != `"B"` {
		t.Fatalf("GET history after 3: got %d %s, want the title change", code, raw)
	}
}
