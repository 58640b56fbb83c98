package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agileplus/agileplus"
)

// An optional check that fails marks the server degraded and keeps /ready
// at 200; a required one that fails makes it 503.
func TestReadyDegradedByOptionalCheck(t *testing.T) {
	ok := Check{Name: "store", Func: func(context.Context) (map[string]any, error) { return nil, nil }}
	cacheDown := Check{Name: "cache", Optional: true, Func: func(context.Context) (map[string]any, error) {
		return map[string]any{"rate_limits": "in-process"}, agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the cache")
	}}
	storeDown := Check{Name: "store", Func: func(context.Context) (map[string]any, error) { return nil, errors.New("gone") }}
	for _, tc := range []struct {
		name       string
		checks     []Check
		wantStatus int
		want       string
	}{
		{"optional down", []Check{ok, cacheDown}, http.StatusOK, "degraded"},
		{"required down too", []Check{cacheDown, storeDown}, http.StatusServiceUnavailable, "not_ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(NewServer(nil, tc.checks, nil, "test"))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/ready")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got Readiness
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || got.Status != tc.want {
				t.Fatalf("/ready: %d %+v; want %d %s", resp.StatusCode, got, tc.wantStatus, tc.want)
			}
			c := got.Checks["cache"]
			if c.Status != "degraded" || c.Error != "cannot reach the cache" || c.Detail["rate_limits"] != "in-process" {
				t.Fatalf("cache check %+v; want degraded with its error and detail", c)
			}
		})
	}
}
