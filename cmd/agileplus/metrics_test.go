package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
)

// needTool returns the path of a tool the test runs: make test installs
// it (scripts/test.sh), make test-fast (-short) skips the test without it.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if testing.Short() {
		t.Skipf("needs %s (Debian package %s): skipped under -short (make test installs it)", name, pkg)
	}
	t.Fatalf("needs %s on PATH: install the Debian package %s (make test does)", name, pkg)
	return ""
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsScrapedByPrometheus runs a real Prometheus that scrapes a
// server two ways, /metrics with a read key and the keyless --metrics-addr
// listener, drives traffic, and asks Prometheus' HTTP API for what it
// scraped; promtool checks the exposition and the alert rules in deploy/.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	prometheus := needTool(t, "prometheus", "prometheus")
	promtool := needTool(t, "promtool", "prometheus")

	dataDir := t.TempDir()
	metricsAddr := freeAddr(t)
	base := startTestServerIn(t, dataDir, "--metrics-addr", metricsAddr, "--consumer-backoff", "100ms")
	apiHost := strings.TrimPrefix(base, "http://")

	// Traffic: a project, a feature, WPs, a claim, a graph query and a
	// webhook whose receiver fails each event's first attempt.
	ctx := context.Background()
	c := httpapi.NewClient(base, httpapi.WithActor("tester"))
	rcv := newReceiver(t)
	rcv.set(1, false)
	if _, err := c.CreateWebhook(ctx, agileplus.WebhookCreate{URL: rcv.srv.URL + "/hook", Filter: agileplus.EventSelector{Project: "MT"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "MT", Name: "Metrics"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFeature(ctx, "MT", agileplus.FeatureCreate{Slug: "scrape", Title: "Scrape"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.CreateWP(ctx, "scrape", agileplus.WPCreate{Title: fmt.Sprintf("WP %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Claim(ctx, "MT-1", agileplus.ClaimRequest{Agent: "agent-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ready(ctx, "MT", "", agileplus.Page{}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the webhook's deliveries, after a failed first attempt", func() bool {
		n := 0
		for _, r := range rcv.all() {
			if r.status == http.StatusOK {
				n++
			}
		}
		return n >= 5 // project, feature, 3 WPs, claim: at least the first five
	})

	// /metrics on the API needs a read key; the listener of its own, none.
	get := func(u, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(base+"/metrics", "ap_zzzzzzzz_"+strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a bad key: got %d, want 401", code)
	}
	code, exposition := get(base+"/metrics", "") // the local key
	if code != http.StatusOK {
		t.Fatalf("/metrics with the local key: got %d, want 200: %s", code, exposition)
	}
	if code, b := get("http://"+metricsAddr+"/metrics", ""); code != http.StatusOK || !bytes.Contains(b, []byte("agileplus_build_info")) {
		t.Fatalf("--metrics-addr /metrics: got %d, want 200 with the metrics", code)
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
	token, err := readTokenFile(filepath.Join(dataDir, LocalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("no id or key in a label", func(t *testing.T) {
		for _, leak := range []string{"MT-1", "whk_", token[:12], "/v1/projects/MT", "evt_"} {
			if bytes.Contains(exposition, []byte(leak)) {
				t.Errorf("the exposition contains %q", leak)
			}
		}
	})
	t.Run("deploy files name exported metrics", func(t *testing.T) {
		exported := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllSubmatch(exposition, -1) {
			exported[string(m[1])] = true
		}
		for _, f := range []string{"../../deploy/prometheus/alerts.yml", "../../deploy/grafana/agileplus-dashboard.json"} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range regexp.MustCompile(`agileplus_[a-z_]+`).FindAll(b, -1) {
				n := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(string(name), "")
				if !exported[n] {
					t.Errorf("%s uses %s, which the server does not export", filepath.Base(f), name)
				}
			}
		}
	})
	t.Run("promtool check rules", func(t *testing.T) {
		out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/alerts.yml").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	})

	// Prometheus scrapes both every 200ms.
	promDir := t.TempDir()
	tokenFile := filepath.Join(promDir, "agileplus.key")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 200ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: api
    authorization:
      type: Bearer
      credentials_file: %s
    static_configs:
      - targets: [%q]
  - job_name: open
    static_configs:
      - targets: [%q]
`, tokenFile, apiHost, metricsAddr)
	configFile := filepath.Join(promDir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	var promLog syncBuffer
	prom := exec.Command(prometheus, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Kill()
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})

	// query returns the value of a PromQL query with one result, or false.
	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var body struct {
			Status string
			Data   struct {
				Result []struct {
					Value []any
				}
			}
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Status != "success" || len(body.Data.Result) != 1 || len(body.Data.Result[0].Value) != 2 {
			return 0, false
		}
		s, _ := body.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	for _, job := range []string{"api", "open"} {
		for _, q := range []struct {
			expr string
			ok   func(float64) bool
		}{
			{`up{job="` + job + `"}`, func(v float64) bool { return v == 1 }},
			{`agileplus_http_requests_total{job="` + job + `",route="/v1/features/{feature}/wps",method="POST",code="201"}`, func(v float64) bool { return v == 3 }},
			{`agileplus_outbox_pending_events{job="` + job + `"}`, func(v float64) bool { return v >= 0 }},
			{`agileplus_claims_taken_total{job="` + job + `"}`, func(v float64) bool { return v == 1 }},
			{`sum(agileplus_webhook_deliveries_total{job="` + job + `",outcome="delivered"})`, func(v float64) bool { return v >= 5 }},
			{`agileplus_consumer_redeliveries_total{job="` + job + `",consumer="webhook"}`, func(v float64) bool { return v >= 1 }},
			{`agileplus_graph_query_duration_seconds_count{job="` + job + `",query="ready"}`, func(v float64) bool { return v == 1 }},
		} {
			poll.Until(t, "Prometheus to answer "+q.expr, func() bool {
				v, ok := query(q.expr)
				return ok && q.ok(v)
			})
		}
	}
}

// serve --nats-monitor exposes the embedded NATS server's monitoring
// endpoint, and the JetStream limits given show in it.
func TestServeNATSMonitor(t *testing.T) {
	mon := freeAddr(t)
	startTestServerIn(t, t.TempDir(), "--nats-monitor", mon, "--nats-max-memory", "64MiB", "--nats-max-store", "1GiB")
	resp, err := http.Get("http://" + mon + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: got %d, want 200", resp.StatusCode)
	}
	resp, err = http.Get("http://" + mon + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var varz struct {
		JetStream struct {
			Config struct {
				MaxMemory int64 `json:"max_memory"`
				MaxStore  int64 `json:"max_storage"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&varz); err != nil {
		t.Fatal(err)
	}
	if c := varz.JetStream.Config; c.MaxMemory != 64<<20 || c.MaxStore != 1<<30 {
		t.Errorf("got JetStream limits memory %d, store %d, want %d, %d", c.MaxMemory, c.MaxStore, 64<<20, 1<<30)
	}
}

// refreshed reads once and answers from that reading; a failed reading is
// not kept, so the next call reads again.
func TestRefreshedKeepsOnlySuccesses(t *testing.T) {
	calls, fail := 0, true
	read := refreshed(func(context.Context) (int, error) {
		calls++
		if fail {
			return 0, errors.New("bus down")
		}
		return calls, nil
	})
	if _, err := read(context.Background()); err == nil {
		t.Fatal("the failed reading was not reported")
	}
	fail = false
	if v, err := read(context.Background()); err != nil || v != 2 {
		t.Fatalf("after a failure: %d, %v; want a new reading (2)", v, err)
	}
	if v, err := read(context.Background()); err != nil || v != 2 || calls != 2 {
		t.Fatalf("within the refresh: %d, %v after %d calls; want the kept reading (2) and no new call", v, err, calls)
	}
}
