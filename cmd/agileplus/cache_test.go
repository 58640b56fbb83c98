package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/redistest"
)

// Bad cache and rate-limit settings are usage errors (status 2) naming
// the flag or variable, found before anything is created.
func TestServeRefusesBadCacheConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"redis url scheme", []string{"--redis-url", "http://127.0.0.1:6379"}, nil, `--redis-url: the scheme is "http"; want redis:// or rediss://`},
		{"redis url variable", nil, map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/zero"}, `REDIS_URL: the database is "zero"`},
		{"negative quota", []string{"--rate-limit-read", "-5/1m"}, nil, `--rate-limit-read "-5/1m": the quota "-5" is not a whole number of at least 1`},
		{"no window", []string{"--rate-limit-write", "100"}, nil, "--rate-limit-write \"100\": want QUOTA/WINDOW"},
		{"zero window", []string{"--rate-limit-admin", "10/0s"}, nil, `the window "0s" is not a duration more than 0`},
		{"bad window", nil, map[string]string{"AGILEPLUS_RATE_LIMIT_IMPORT": "10/fortnight"}, `AGILEPLUS_RATE_LIMIT_IMPORT "10/fortnight": the window "fortnight"`},
		{"too fast", []string{"--rate-limit-stream", "10000000/1s"}, nil, "refills faster than one per 1µs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", data}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d for %v, want 2", exitCode(err), err)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v)", err)
			}
		})
	}
}

// A REDIS_URL that cannot be used stops the start with status 2, saying
// why.
func TestServeRefusesAnUnusableCache(t *testing.T) {
	srv := redistest.Start(t)
	ports, err := childproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, url, want string }{
		{"wrong password", "redis://:wrong@" + srv.Addr(), "REDIS_URL: the server at " + srv.Addr() + " refused the user or password"},
		{"no password", "redis://" + srv.Addr(), "needs a password"},
		{"TLS mismatch", strings.Replace(srv.URL(0), "redis://", "rediss://", 1), "rediss:// asks for TLS, but the server at " + srv.Addr() + " answered without it"},
		{"database out of range", srv.URL(1000), "has no such database"},
		{"unreachable", "redis://127.0.0.1:" + strconv.Itoa(ports[0]), "REDIS_URL: cannot reach the Redis-protocol server at 127.0.0.1:" + strconv.Itoa(ports[0])},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}
			env := map[string]string{"REDIS_URL": tt.url}
			var stderr strings.Builder
			err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(err))
			}
			if strings.Contains(err.Error()+stderr.String(), srv.Password()) {
				t.Errorf("the password shows: %v", err)
			}
		})
	}
}

func getReady(t *testing.T, url string) (int, httpapi.Readiness) {
	t.Helper()
	resp, err := http.Get(url + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r httpapi.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// Rate limits are kept on the Redis server: over the quota a key gets 429
// with Retry-After and the RateLimit headers, and the metrics count it.
func TestServeRateLimitsOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	url := startTestServerEnv(t, t.TempDir(), map[string]string{"REDIS_URL": srv.URL(2)}, "--rate-limit-read", "3/1h")
	if code, r := getReady(t, url); code != http.StatusOK || r.Status != "ready" || r.Checks["cache"].Detail["kind"] != "redis" {
		t.Fatalf("/ready: %d %+v", code, r)
	}
	for i := range 3 {
		resp, err := http.Get(url + "/v1/projects")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != fmt.Sprintf(`"read";r=%d;t=%d`, 2-i, (i+1)*1200) {
			t.Fatalf("request %d: %d, RateLimit %q", i+1, resp.StatusCode, resp.Header.Get("RateLimit"))
		}
	}
	resp, err := http.Get(url + "/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Policy") != `"read";q=3;w=3600` {
		t.Fatalf("request 4: %d, headers %v; want 429 with Retry-After and the policy", resp.StatusCode, resp.Header)
	}
	// /ready has no limit, ever.
	for range 5 {
		if code, _ := getReady(t, url); code != http.StatusOK {
			t.Fatalf("/ready: %d", code)
		}
	}
	resp, err = http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		// /metrics is a read too: its quota is spent.
		t.Fatalf("/metrics: %d; want 429, a read over the quota", resp.StatusCode)
	}
}

// The cache killed mid-load: no client sees an error, /ready stays 200
// with the cache marked degraded, and once the server is back the limits
// are shared again by themselves.
func TestServeCacheKilledMidLoad(t *testing.T) {
	srv := redistest.Start(t)
	url := startTestServerEnv(t, t.TempDir(), map[string]string{"REDIS_URL": srv.URL(0)},
		"--rate-limit-read", "1000000/1m", "--rate-limit-write", "1000000/1m")

	var (
		stop     atomic.Bool
		sent     atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 100_000; i++ {
				var resp *http.Response
				var err error
				if i%5 == 0 {
					body := fmt.Sprintf(`{"key":"P%dX%d","name":"load"}`, w, i)
					resp, err = http.Post(url+"/v1/projects", "application/json", strings.NewReader(body))
				} else {
					resp, err = http.Get(url + "/v1/projects?limit=5")
				}
				if err != nil {
					fail(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
				if resp.StatusCode >= 300 {
					fail(fmt.Sprintf("%s %s: %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode))
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	atLeast := func(n int64) {
		t.Helper()
		poll.Until(t, fmt.Sprintf("%d requests sent", n), func() bool { return sent.Load() >= n })
	}

	atLeast(100)
	srv.Kill()
	base := sent.Load()
	atLeast(base + 200)
	code, r := getReady(t, url)
	c := r.Checks["cache"]
	if code != http.StatusOK || r.Status != "degraded" || c.Status != "degraded" || c.Error == "" || c.Detail["rate_limits"] != "in-process" {
		t.Fatalf("/ready with the cache down: %d %+v", code, r)
	}

	srv.Restart()
	poll.Until(t, "/ready to show the cache back, limits shared", func() bool {
		code, r := getReady(t, url)
		c := r.Checks["cache"]
		return code == http.StatusOK && r.Status == "ready" && c.Status == "ok" && c.Detail["rate_limits"] == "shared"
	})
	base = sent.Load()
	atLeast(base + 100)
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("clients saw errors: %v", failures)
	}
}

// Rate limits default to off on loopback and to defaultRateLimits
// elsewhere; a limit given, off included, wins either way.
func TestRateLimitDefaults(t *testing.T) {
	var none cacheFlags
	given := cacheFlags{limits: [5]string{"off", "10/s", "", "", ""}}
	for _, tt := range []struct {
		name       string
		flags      cacheFlags
		addr       string
		read, wrte string
		admin      string
	}{
		{"loopback", none, "127.0.0.1:8080", "off", "off", "off"},
		{"elsewhere", none, "0.0.0.0:8080", "1200/1m0s", "300/1m0s", "60/1m0s"},
		{"given elsewhere", given, "0.0.0.0:8080", "off", "10/1s", "60/1m0s"},
		{"given on loopback", given, "127.0.0.1:8080", "off", "10/1s", "off"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.flags.check(tt.addr, func(string) bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			l := cfg.limits
			if l.Read.String() != tt.read || l.Write.String() != tt.wrte || l.Admin.String() != tt.admin {
				t.Fatalf("read %s, write %s, admin %s; want %s, %s, %s", l.Read, l.Write, l.Admin, tt.read, tt.wrte, tt.admin)
			}
		})
	}
}
