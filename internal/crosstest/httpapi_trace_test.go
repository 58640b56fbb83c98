package crosstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

const callerTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

// createTraced creates a project, sending traceparent tp unless it is "",
// and returns the response's traceparent and the traceparent of the
// project's event.
func createTraced(t *testing.T, srv *httptest.Server, key, tp string) (resp, event string) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/v1/projects", strings.NewReader(`{"key":"`+key+`","name":"n"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tp != "" {
		req.Header.Set("traceparent", tp)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: got status %d, want 201", key, res.StatusCode)
	}
	es, err := httpapi.NewClient(srv.URL).Events(context.Background(), agileplus.EventQuery{Entity: key})
	if err != nil || len(es) != 1 {
		t.Fatalf("events of %s: got %d, %v; want 1", key, len(es), err)
	}
	return res.Header.Get("Traceparent"), es[0].TraceParent
}

func TestTraceParentReachesEvents(t *testing.T) {
	srv, _ := newTestAPI(t)

	t.Run("continues the caller's trace", func(t *testing.T) {
		resp, event := createTraced(t, srv, "CALLER", callerTP)
		if event != resp {
			t.Errorf("got event traceparent %q, want the response's %q", event, resp)
		}
		if !agileplus.ValidTraceParent(resp) {
			t.Fatalf("got traceparent %q, want a valid one", resp)
		}
		if got, want := resp[3:35], callerTP[3:35]; got != want {
			t.Errorf("got trace id %s, want the caller's %s", got, want)
		}
		if resp[36:52] == callerTP[36:52] {
			t.Errorf("got the caller's parent id %s, want a new one for the server's span", resp[36:52])
		}
		if got, want := resp[53:], callerTP[53:]; got != want {
			t.Errorf("got flags %s, want the caller's %s", got, want)
		}
	})

	newTrace := func(t *testing.T, key, sent string) string {
		t.Helper()
		resp, event := createTraced(t, srv, key, sent)
		if event != resp {
			t.Errorf("got event traceparent %q, want the response's %q", event, resp)
		}
		if !agileplus.ValidTraceParent(resp) || resp[53:] != "01" {
			t.Errorf("got traceparent %q, want a valid one with flags 01", resp)
		}
		return resp
	}
	t.Run("starts a trace without the header", func(t *testing.T) {
		a, b := newTrace(t, "NONE1", ""), newTrace(t, "NONE2", "")
		if a[3:35] == b[3:35] {
			t.Errorf("got trace id %s for two requests, want a new one each", a[3:35])
		}
	})
	t.Run("starts a trace for an invalid header", func(t *testing.T) {
		for i, bad := range []string{
			"not a traceparent",
			strings.ToUpper(callerTP),
			"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
			"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		} {
			if got := newTrace(t, "BAD"+string(rune('A'+i)), bad); got[3:35] == callerTP[3:35] {
				t.Errorf("header %q: got the trace id %s, want a new one", bad, got[3:35])
			}
		}
	})

	t.Run("every response carries one", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/no/such/path")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if tp := res.Header.Get("Traceparent"); res.StatusCode != 404 || !agileplus.ValidTraceParent(tp) {
			t.Errorf("got status %d traceparent %q, want 404 and a valid traceparent", res.StatusCode, tp)
		}
	})
}

func TestClientSendsTraceParent(t *testing.T) {
	srv, _ := newTestAPI(t)
	c := httpapi.NewClient(srv.URL)
	ctx := agileplus.WithTraceParent(context.Background(), callerTP)
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "CLI", Name: "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BulkImport(ctx, strings.NewReader(`{"type":"project","key":"IMP","name":"n"}`+"\n"), agileplus.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"CLI", "IMP"} {
		es, err := c.Events(context.Background(), agileplus.EventQuery{Entity: key})
		if err != nil || len(es) != 1 {
			t.Fatalf("events of %s: got %d, %v; want 1", key, len(es), err)
		}
		if got := es[0].TraceParent; !agileplus.ValidTraceParent(got) || got[3:35] != callerTP[3:35] || got[53:] != callerTP[53:] {
			t.Errorf("event of %s: got traceparent %q, want trace id %s and flags %s from the caller", key, got, callerTP[3:35], callerTP[53:])
		}
	}
}
