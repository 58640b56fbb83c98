package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/natstest"
	"github.com/agileplus/agileplus/internal/neo4jtest"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/storemigrate"
)

func TestMain(m *testing.M) {
	http.DefaultTransport = localKeyTransport{http.DefaultTransport}
	code := m.Run()
	neo4jtest.StopShared()
	os.Exit(code)
}

// neo4jEnv is the environment that points serve at a Neo4j server.
func neo4jEnv(s *neo4jtest.Server) map[string]string {
	return map[string]string{"NEO4J_URL": s.URL(), "NEO4J_USER": s.User(), "NEO4J_PASSWORD": s.Password()}
}

// sharedNeo4j returns the package's Neo4j server, emptied.
func sharedNeo4j(t *testing.T) *neo4jtest.Server {
	t.Helper()
	s := neo4jtest.Shared(t)
	if err := s.Reset(context.Background()); err != nil {
		t.Fatalf("reset Neo4j: %v", err)
	}
	return s
}

func openNeo4jStore(t *testing.T, s *neo4jtest.Server) *neo4jstore.Store {
	t.Helper()
	st, err := neo4jstore.Open(context.Background(), neo4jstore.Config{URL: s.URL(), User: s.User(), Password: s.Password()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestMigrateNeo4jRoundTrip copies the sample and a 10,000-WP project from
// SQLite into Neo4j and back, and finds the same digest on all three.
func TestMigrateNeo4jRoundTrip(t *testing.T) {
	neo := sharedNeo4j(t)
	src, released, token := buildMigrationSource(t, 10000)
	want, ec, ac := storeDigest(t, src)
	back := filepath.Join(t.TempDir(), "back")
	env := neo4jEnv(neo)
	runWithEnv := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		getenv := func(k string) string { return env[k] }
		if err := run(context.Background(), append([]string{"agileplus"}, args...), getenv, strings.NewReader(""), &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		t.Logf("%v: %s", args, strings.TrimSpace(out.String()))
	}
	t0 := time.Now()
	runWithEnv("migrate", "--from", src, "--to", neo.URL())
	t.Logf("SQLite -> Neo4j in %s", time.Since(t0).Round(time.Millisecond))
	st := openNeo4jStore(t, neo)
	got, gec, gac, err := storemigrate.Verify(context.Background(), st)
	if err != nil || got != want || gec != ec || gac != ac {
		t.Fatalf("Neo4j after migration: digest %s (%d, %d) %v, want %s (%d, %d)", got, gec, gac, err, want, ec, ac)
	}
	// Into a non-empty Neo4j: refused.
	var errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err = run(context.Background(), []string{"agileplus", "migrate", "--from", src, "--to", neo.URL()}, getenv, strings.NewReader(""), &bytes.Buffer{}, &errb)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("migrate into a non-empty Neo4j: %v", err)
	}
	t0 = time.Now()
	runWithEnv("migrate", "--from", neo.URL(), "--to", back)
	t.Logf("Neo4j -> SQLite in %s", time.Since(t0).Round(time.Millisecond))
	if got, gec, gac := storeDigest(t, back); got != want || gec != ec || gac != ac {
		t.Errorf("SQLite after the round trip: digest %s (%d, %d), want %s (%d, %d)", got, gec, gac, want, ec, ac)
	}
	// The Neo4j copy works as a store: the fencing counter and the keys
	// came along.
	checkMigratedKeys(t, st, token)
	svc := agileplus.NewService(st)
	l, err := svc.Claim(context.Background(), released, agileplus.ClaimRequest{Agent: "agent-n"})
	if err != nil || l.Token != 4 {
		t.Errorf("claim on Neo4j after migration: %+v, %v; want token 4", l, err)
	}
}

// httpDo sends a JSON request and returns the status and body.
func httpDo(method, url string, body any) (int, []byte, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), nil
}

// TestNeo4jScaleOut runs two server processes on one Neo4j and one NATS
// server: a claim race across both has one winner, a mixed write load on
// both loses nothing, a write on one is read on the other, and the two
// relays put every event in the stream exactly once.
func TestNeo4jScaleOut(t *testing.T) {
	neo := sharedNeo4j(t)
	ns := natstest.StartServer(t)
	env := neo4jEnv(neo)
	env["NATS_URL"] = ns.URL()
	urlA := startTestServerEnv(t, t.TempDir(), env)
	urlB := startTestServerEnv(t, t.TempDir(), env)
	urls := []string{urlA, urlB}
	ctx := context.Background()
	a := httpapi.NewClient(urlA, httpapi.WithActor("tester"))
	b := httpapi.NewClient(urlB, httpapi.WithActor("tester"))
	if _, err := a.CreateProject(ctx, agileplus.ProjectCreate{Key: "SCALE", Name: "Scale-out"}); err != nil {
		t.Fatal(err)
	}
	f, err := b.CreateFeature(ctx, "SCALE", agileplus.FeatureCreate{Slug: "scale", Title: "Scale"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: "contested"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("claim race across processes", func(t *testing.T) {
		var wins atomic.Int32
		var tokens sync.Map
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				status, body, err := httpDo("POST", urls[i%2]+"/v1/wps/"+w.ID+"/claim", map[string]any{"agent": fmt.Sprintf("agent-%d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				switch status {
				case http.StatusCreated:
					wins.Add(1)
					var l agileplus.Lease
					json.Unmarshal(body, &l)
					tokens.Store(i, l.Token)
				case http.StatusConflict:
				default:
					t.Errorf("claim %d: %d %s", i, status, body)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d claims won across two processes, want exactly 1", n)
		}
		var token int64
		tokens.Range(func(_, v any) bool { token = v.(int64); return true })
		// Release on one process, claim on the other: the token goes up.
		if err := b.Release(ctx, w.ID, agileplus.ClaimRequest{Token: token}); err != nil {
			t.Fatal(err)
		}
		l, err := a.Claim(ctx, w.ID, agileplus.ClaimRequest{Agent: "next"})
		if err != nil || l.Token <= token {
			t.Fatalf("claim after release on the other process: %+v, %v; want a token above %d", l, err, token)
		}
	})

	t.Run("mixed load on both", func(t *testing.T) {
		var mu sync.Mutex
		created := map[string]string{} // wp id -> server that created it
		var fails []string
		// Three seconds of load, and at least 20 WPs however slow the
		// machine (up to a bound for a stuck server).
		start := time.Now()
		enough := func() bool {
			mu.Lock()
			n := len(created)
			mu.Unlock()
			return time.Since(start) > 2*poll.Timeout || time.Since(start) > 3*time.Second && n >= 20
		}
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Go(func() {
				url := urls[g%2]
				other := urls[(g+1)%2]
				for i := 0; !enough(); i++ {
					status, body, err := httpDo("POST", url+"/v1/features/"+f.ID+"/wps", map[string]any{"title": fmt.Sprintf("load %d-%d", g, i)})
					if err != nil || status != http.StatusCreated {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("create: %d %s %v", status, body, err))
						mu.Unlock()
						continue
					}
					var nw agileplus.WP
					json.Unmarshal(body, &nw)
					mu.Lock()
					created[nw.ID] = url
					mu.Unlock()
					// Read it back on the other process at once.
					if st, body, err := httpDo("GET", other+"/v1/wps/"+nw.ID, nil); err != nil || st != http.StatusOK {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("read on the other process: %d %s %v", st, body, err))
						mu.Unlock()
					}
					if i%2 == 0 {
						st, body, err := httpDo("POST", other+"/v1/wps/"+nw.ID+"/transition", map[string]any{"to": "blocked"})
						if err != nil || st != http.StatusOK {
							mu.Lock()
							fails = append(fails, fmt.Sprintf("transition: %d %s %v", st, body, err))
							mu.Unlock()
						}
					}
				}
			})
		}
		wg.Wait()
		for _, f := range fails {
			t.Error(f)
		}
		if len(created) < 20 {
			t.Fatalf("only %d WPs created", len(created))
		}
		for id := range created {
			if _, err := b.WP(ctx, id); err != nil {
				t.Errorf("acknowledged WP %s: %v", id, err)
			}
		}
		t.Logf("%d WPs created across two processes", len(created))
	})

	t.Run("every event once in the stream", func(t *testing.T) {
		waitOutboxEmpty(t, a)
		waitOutboxEmpty(t, b)
		var stored []*agileplus.Event
		var after int64
		for {
			es, err := a.Events(ctx, agileplus.EventQuery{After: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, es...)
			if len(es) < 1000 {
				break
			}
			after = es[len(es)-1].GlobalSeq
		}
		bus, err := natsbus.Open(ctx, natsbus.Config{URL: ns.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		msgs, err := bus.StreamMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, m := range msgs {
			seen[m.MsgID]++
		}
		for _, e := range stored {
			if seen[e.ID] != 1 {
				t.Errorf("event %s (%s) is %d times in the stream, want once", e.ID, e.Type, seen[e.ID])
			}
		}
		if len(msgs) != len(stored) {
			t.Errorf("stream holds %d messages, the store %d events", len(msgs), len(stored))
		}
		if _, _, _, err := storemigrate.Verify(ctx, openNeo4jStore(t, neo)); err != nil {
			t.Errorf("chains: %v", err)
		}
	})
}

// TestNeo4jDownMidLoad stops Neo4j under a write load: writes fail with 503
// and a message naming the store, /ready says why, nothing is half-written,
// and the service resumes when Neo4j is back.
func TestNeo4jDownMidLoad(t *testing.T) {
	neo := neo4jtest.Start(t)
	url := startTestServerEnv(t, t.TempDir(), neo4jEnv(neo))
	ctx := context.Background()
	c := httpapi.NewClient(url, httpapi.WithActor("tester"))
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "DOWN", Name: "Down"}); err != nil {
		t.Fatal(err)
	}
	f, err := c.CreateFeature(ctx, "DOWN", agileplus.FeatureCreate{Slug: "down", Title: "Down"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []string
	statuses := map[int]int{}
	var sample503 string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, body, err := httpDo("POST", url+"/v1/features/"+f.ID+"/wps", map[string]any{"title": fmt.Sprintf("w %d-%d", g, i)})
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				mu.Lock()
				statuses[status]++
				if status == http.StatusCreated {
					var w agileplus.WP
					json.Unmarshal(body, &w)
					acked = append(acked, w.ID)
				} else if status == http.StatusServiceUnavailable && sample503 == "" {
					sample503 = string(body)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	count := func(status int) int {
		mu.Lock()
		defer mu.Unlock()
		return statuses[status]
	}
	poll.Until(t, "writes before the outage", func() bool { return count(http.StatusCreated) > 0 })
	neo.Kill()
	poll.Until(t, "a write refused while Neo4j is down", func() bool { return count(http.StatusServiceUnavailable) > 0 })
	resp, err := http.Get(url + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	var ready httpapi.Readiness
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || ready.Checks["store"].Error == "" {
		t.Errorf("/ready with Neo4j down: %d %+v", resp.StatusCode, ready.Checks["store"])
	}
	neo.Restart()
	// Writes succeed again.
	before := count(http.StatusCreated)
	poll.Within(t, 2*poll.Timeout, "writes to resume once Neo4j is back", func() bool { return count(http.StatusCreated) > before+5 })
	close(stop)
	wg.Wait()
	t.Logf("statuses: %v", statuses)
	for s := range statuses {
		if s != http.StatusCreated && s != http.StatusServiceUnavailable {
			t.Errorf("status %d (%d times): only 201 and 503 are acceptable", s, statuses[s])
		}
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("no write failed while Neo4j was down")
	} else if !strings.Contains(strings.ToLower(sample503), "neo4j") {
		t.Errorf("503 body does not say Neo4j is the problem: %s", sample503)
	}
	for _, id := range acked {
		if _, err := c.WP(ctx, id); err != nil {
			t.Errorf("acknowledged WP %s: %v", id, err)
		}
	}
	if _, _, _, err := storemigrate.Verify(ctx, openNeo4jStore(t, neo)); err != nil {
		t.Errorf("chains after the outage: %v", err)
	}
}

// TestNeo4jKeysAcrossProcesses runs two servers on one Neo4j: a key
// created on A works on B at once, and once revoked on A, B refuses it at
// once (no process caches keys of a shared store).
func TestNeo4jKeysAcrossProcesses(t *testing.T) {
	neo := sharedNeo4j(t)
	ns := natstest.StartServer(t)
	env := neo4jEnv(neo)
	env["NATS_URL"] = ns.URL()
	urlA := startTestServerEnv(t, t.TempDir(), env)
	urlB := startTestServerEnv(t, t.TempDir(), env)
	ctx := context.Background()
	a := httpapi.NewClient(urlA)
	kc, err := a.CreateKey(ctx, agileplus.KeyCreate{Name: "ci-bot", Scope: agileplus.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	b := httpapi.NewClient(urlB, httpapi.WithToken(kc.Token))
	for range 2 { // the second would come from a cache, if there were one
		w, err := b.Whoami(ctx)
		if err != nil || w.Name != "ci-bot" {
			t.Fatalf("B with A's new key: %+v, %v; want ci-bot", w, err)
		}
	}
	if _, err := a.RevokeKey(ctx, kc.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Whoami(ctx); agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("B with the key A revoked: %v, want 401 revoked", err)
	}
}
