package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/poll"
)

// startTestServer boots the real program in-process on 127.0.0.1:0 with a
// temporary data directory and returns its base URL once /ready answers 200.
// The server stops when the test ends.
func startTestServer(t *testing.T) string {
	t.Helper()
	return startTestServerIn(t, t.TempDir())
}

// startTestServerIn is startTestServer on a given data directory, with
// extra serve flags.
func startTestServerIn(t *testing.T, dataDir string, extra ...string) string {
	t.Helper()
	return startTestServerEnv(t, dataDir, nil, extra...)
}

// startTestServerEnv is startTestServerIn with environment variables for
// serve.
func startTestServerEnv(t *testing.T, dataDir string, env map[string]string, extra ...string) string {
	t.Helper()
	url := startServe(t, dataDir, env, extra...)
	useLocalKey(t, url, dataDir)
	return url
}

// startServe runs serve in-process on 127.0.0.1:0 (extra flags may change
// it) and returns its base URL once /ready answers 200; a wildcard address
// is reached on 127.0.0.1. Requests carry no token of their own.
func startServe(t *testing.T, dataDir string, env map[string]string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	// The local key is named after the user, as the CLI's runCLI is:
	// its changes are recorded as tester, narrowed by --as to tester/<as>.
	getenv := func(k string) string {
		if v, ok := env[k]; ok || k != "USER" {
			return v
		}
		return "tester"
	}
	var logs syncBuffer
	go func() {
		args := append([]string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--log-level", "warn"}, extra...)
		done <- run(ctx, args, getenv, strings.NewReader(""), pw, &logs)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(poll.Timeout):
			t.Errorf("serve did not stop within %s", poll.Timeout)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving on ") {
				lines <- sc.Text()
			}
		}
	}()
	var url string
	select {
	case line := <-lines:
		url = strings.Fields(strings.SplitN(line, "serving on ", 2)[1])[0]
	case err := <-done:
		t.Fatalf("serve exited before listening: %v\n%s", err, logs.String())
	case <-time.After(poll.Timeout):
		t.Fatalf("serve did not start within %s\n%s", poll.Timeout, logs.String())
	}
	url = strings.Replace(strings.Replace(url, "[::]", "127.0.0.1", 1), "0.0.0.0", "127.0.0.1", 1)
	if !strings.HasPrefix(url, "https://") {
		waitReady(t, url)
	}
	return url
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	poll.Until(t, url+"/ready to answer 200", func() bool {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// runCLI runs one CLI command against serverURL, in-process.
func runCLI(t *testing.T, serverURL string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	err = run(context.Background(), append([]string{"agileplus", "--server", serverURL}, args...), getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// localTokens holds the local key of each test server (host:port ->
// token), which localKeyTransport sends for requests that carry none: the
// tests' clients and the in-process CLI reach the servers of the helpers
// as the local CLI would, with no setup.
var localTokens sync.Map

// localKeyTransport is http.DefaultTransport in this package's tests.
type localKeyTransport struct{ base http.RoundTripper }

func (t localKeyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		if tok, ok := localTokens.Load(r.URL.Host); ok {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+tok.(string))
		}
	}
	return t.base.RoundTrip(r)
}

// useLocalKey makes requests to the server at url carry the local key in
// dataDir until the test ends.
func useLocalKey(t *testing.T, url, dataDir string) {
	t.Helper()
	tok, err := readTokenFile(filepath.Join(dataDir, LocalKeyFile))
	if err != nil {
		t.Fatalf("serve on loopback wrote no local key: %v", err)
	}
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	localTokens.Store(host, tok)
	t.Cleanup(func() { localTokens.Delete(host) })
}
