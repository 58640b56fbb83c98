package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // 0: refused
	}{
		{"1", 1},
		{"536870912", 512 << 20},
		{"512MiB", 512 << 20},
		{"2GiB", 2 << 30},
		{"2gib", 2 << 30},
		{"64 KiB", 64 << 10},
		{"1GB", 1e9},
		{"10M", 10 << 20},
		{"100B", 100},
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"MiB", 0},
		{"1.5GiB", 0},
		{"12XB", 0},
		{"9999999999TiB", 0},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseByteSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// AGILEPLUS_IMPORT_LIMIT reaches the server: a body over it is refused
// with the limit named, one under it imports.
func TestServeImportLimit(t *testing.T) {
	e := &env{getenv: func(k string) string {
		if k == "AGILEPLUS_IMPORT_LIMIT" {
			return "1KiB"
		}
		return ""
	}, stdout: io.Discard, stderr: io.Discard}
	var c serveConfig
	cmd := &cobra.Command{}
	c.addFlags(cmd, e.getenv)
	if err := cmd.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.check(e, cmd.Flags().Changed)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.importLimit != 1024 {
		t.Fatalf("importLimit = %d, want 1024", cfg.importLimit)
	}
	a := newApp(cfg)
	if err := a.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	url := "http://" + a.Addr().String() + "/v1/import"
	small := `{"type":"project","key":"LIM","name":"Limit"}` + "\n"
	big := small + strings.Repeat(" ", 1024) + "\n"
	for _, tt := range []struct {
		body       string
		status     int
		wantInBody string
	}{
		{big, http.StatusBadRequest, "the limit is 1024"},
		{small, http.StatusOK, `"project":1`},
	} {
		resp, err := http.Post(url, "application/x-ndjson", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.wantInBody) {
			t.Errorf("%d-byte import: got %d %s, want %d with %q", len(tt.body), resp.StatusCode, body, tt.status, tt.wantInBody)
		}
	}
}
