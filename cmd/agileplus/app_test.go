package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/agileplus/agileplus/internal/poll"
)

// testAppConfig is serve's configuration for dataDir on a free port, with
// the defaults of every other flag, as the command line makes it.
func testAppConfig(t *testing.T, dataDir string, logs io.Writer) appConfig {
	t.Helper()
	e := &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: logs}
	var c serveConfig
	cmd := &cobra.Command{}
	c.addFlags(cmd, e.getenv)
	if err := cmd.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data", dataDir, "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.check(e, cmd.Flags().Changed)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The app runs without the CLI: it opens on a fresh data directory and a
// free port, answers /health and /ready, and Close stops all of it: the
// port is closed, a second app opens on the same directory, and no
// goroutine of either is left.
func TestAppOpenServeClose(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", logs.String())
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()
	for round := 1; round <= 2; round++ {
		a := newApp(testAppConfig(t, dir, &logs))
		if err := a.Open(t.Context()); err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		base := "http://" + a.Addr().String()
		for _, path := range []string{"/health", "/ready"} {
			resp, err := client.Get(base + path)
			if err != nil {
				a.Close()
				t.Fatalf("round %d: GET %s: %v", round, path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("round %d: GET %s: got status %d, want 200: %s", round, path, resp.StatusCode, body)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		if _, err := client.Get(base + "/health"); err == nil {
			t.Errorf("round %d: %s still answers after Close", round, base)
		}
		if err := a.Close(); err != nil {
			t.Errorf("round %d: second close: got %v, want nil", round, err)
		}
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("the data directory is still locked after Close: %v", err)
	}
	lock.Close()
	// The test's own HTTP client keeps no connection.
	noGoroutinesLeft(t, before)
}

// A step of Open that fails stops the steps before it: here the bus, after
// the data directory was locked, the port taken and the store opened.
func TestAppOpenFailureReleasesWhatItTook(t *testing.T) {
	dir := t.TempDir()
	// A port with nothing on it: connecting is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unused := ln.Addr().String()
	ln.Close()
	cfg := testAppConfig(t, dir, io.Discard)
	before := runtime.NumGoroutine()
	cfg.bus.URL = "nats://" + unused
	cfg.bus.ConnectTimeout = time.Second
	a := newApp(cfg)
	ctx, cancel := context.WithTimeout(t.Context(), poll.Timeout)
	defer cancel()
	err = a.Open(ctx)
	if err == nil {
		a.Close()
		t.Fatal("open with an unreachable bus: got nil, want an error")
	}
	if !strings.Contains(err.Error(), "natsbus") {
		t.Errorf("got %v, want the bus's error", err)
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("the data directory is still locked after the failed open: %v", err)
	}
	lock.Close()
	if _, err := net.DialTimeout("tcp", a.Addr().String(), time.Second); err == nil {
		t.Errorf("%s still accepts connections after the failed open", a.Addr())
	}
	if err := a.Close(); err != nil {
		t.Errorf("close after the failed open: got %v, want nil", err)
	}
	noGoroutinesLeft(t, before)
}

// noGoroutinesLeft fails unless, within poll.Timeout, no more goroutines
// run than before, the count taken before the app opened.
func noGoroutinesLeft(t *testing.T, before int) {
	t.Helper()
	if !poll.Wait(poll.Timeout, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
	}
}
