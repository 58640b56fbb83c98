package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestEndToEnd boots the real program in-process and drives it through the
// HTTP client, then follows the events on the embedded NATS server.
func TestEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	url := startTestServerIn(t, dataDir, "--nats-listen", "127.0.0.1:0")
	ctx := context.Background()
	c := httpapi.NewClient(url, httpapi.WithActor("e2e"))

	t.Run("plan", func(t *testing.T) {
		for _, key := range []string{"CORE", "WEB"} {
			if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: key, Name: key + " project"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "auth", Title: "Auth"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateFeature(ctx, "WEB", agileplus.FeatureCreate{Slug: "login-page", Title: "Login page"}); err != nil {
			t.Fatal(err)
		}
		for _, title := range []string{"Token service", "Session store", "Password hashing"} {
			if _, err := c.CreateWP(ctx, "auth", agileplus.WPCreate{Title: title}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.CreateWP(ctx, "login-page", agileplus.WPCreate{Title: "Login form"}); err != nil {
			t.Fatal(err)
		}
		// WEB-1 depends on CORE-1 (cross-project); CORE-3 blocks CORE-2.
		if _, err := c.AddDependency(ctx, agileplus.DependencyCreate{From: "WEB-1", To: "CORE-1"}); err != nil {
			t.Fatal(err)
		}
		d, err := c.AddDependency(ctx, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-2", Kind: agileplus.Blocks})
		if err != nil {
			t.Fatal(err)
		}
		if d.From != mustWP(t, c, "CORE-2").ID || d.Kind != agileplus.DependsOn {
			t.Fatalf("got %+v, want blocks stored as CORE-2 depends_on CORE-3", d)
		}
		_, err = c.AddDependency(ctx, agileplus.DependencyCreate{From: "CORE-3", To: "CORE-2"})
		if agileplus.ErrorCode(err) != agileplus.ERULE {
			t.Fatalf("got %v, want a cycle refusal", err)
		}
	})

	t.Run("ready", func(t *testing.T) {
		got := keys(must(c.Ready(ctx, "CORE", "", agileplus.Page{})))
		if fmt.Sprint(got) != "[CORE-1 CORE-3]" {
			t.Fatalf("got ready %v, want [CORE-1 CORE-3]", got)
		}
		if got := keys(must(c.Ready(ctx, "WEB", "", agileplus.Page{}))); len(got) != 0 {
			t.Fatalf("got ready %v, want none (WEB-1 waits on CORE-1)", got)
		}
	})

	t.Run("fifty claimers", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins []*agileplus.Lease
		others := map[string]int{}
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := c.Claim(ctx, "CORE-1", agileplus.ClaimRequest{Agent: fmt.Sprintf("agent-%d", i), TTLSeconds: 60})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					others[agileplus.ErrorCode(err)]++
					return
				}
				wins = append(wins, l)
			}()
		}
		wg.Wait()
		if len(wins) != 1 || others[agileplus.ECONFLICT] != 49 {
			t.Fatalf("got %d winners and errors %v, want 1 winner and 49 conflicts", len(wins), others)
		}
		lease := wins[0]
		if got := keys(must(c.Ready(ctx, "CORE", "", agileplus.Page{}))); fmt.Sprint(got) != "[CORE-3]" {
			t.Fatalf("got ready %v, want [CORE-3] while CORE-1 is claimed", got)
		}
		if _, err := c.TransitionWP(ctx, "CORE-1", agileplus.Transition{To: agileplus.WPDoing, Token: lease.Token + 1}, 0); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Fatalf("got %v, want a stale-token conflict", err)
		}
		for _, to := range []string{agileplus.WPDoing, agileplus.WPReview, agileplus.WPDone} {
			if _, err := c.TransitionWP(ctx, "CORE-1", agileplus.Transition{To: to, Token: lease.Token}, 0); err != nil {
				t.Fatalf("move to %s: %v", to, err)
			}
		}
		if got := keys(must(c.Ready(ctx, "WEB", "", agileplus.Page{}))); fmt.Sprint(got) != "[WEB-1]" {
			t.Fatalf("got ready %v, want [WEB-1] once CORE-1 is done", got)
		}
	})

	t.Run("forced start is audited", func(t *testing.T) {
		if _, err := c.TransitionWP(ctx, "CORE-2", agileplus.Transition{To: agileplus.WPDoing}, 0); agileplus.ErrorCode(err) != agileplus.ERULE {
			t.Fatalf("got %v, want a refusal: CORE-2 waits on CORE-3", err)
		}
		if _, err := c.TransitionWP(ctx, "CORE-2", agileplus.Transition{To: agileplus.WPDoing, Force: true, Reason: "spike"}, 0); err != nil {
			t.Fatal(err)
		}
		entries := must(c.Audit(ctx, "auth", 0, 0))
		last := entries[len(entries)-1]
		if !last.Forced || last.Reason != "spike" || last.Actor != "tester/e2e" {
			t.Fatalf("got last audit entry %+v, want forced with reason spike by tester/e2e (the local key's name narrowed by the actor header)", last)
		}
		v := must(c.VerifyAudit(ctx, "auth"))
		if !v.Valid || v.Entries != int64(len(entries)) {
			t.Fatalf("got %+v, want a valid chain of %d entries", v, len(entries))
		}
	})

	t.Run("feature skips recorded", func(t *testing.T) {
		f, err := c.TransitionFeature(ctx, "auth", agileplus.Transition{To: agileplus.FeaturePlanned}, 1)
		if err != nil || f.State != agileplus.FeaturePlanned {
			t.Fatalf("got %+v, %v", f, err)
		}
		entries := must(c.Audit(ctx, "auth", 0, 0))
		if s := entries[len(entries)-1].Summary; s != "feature auth: created -> planned (skipped specified, researched)" {
			t.Fatalf("got summary %q", s)
		}
	})

	t.Run("graph", func(t *testing.T) {
		// CORE-1 done; CORE-2 doing (forced), waits on CORE-3; WEB-1 waits on CORE-1.
		l := must(c.Layers(ctx, "CORE", ""))
		if len(l.Layers) != 2 || nodeKeys(l.Layers[0]) != "CORE-3" || nodeKeys(l.Layers[1]) != "CORE-2" {
			t.Fatalf("got layers %+v, want [[CORE-3] [CORE-2]]", l.Layers)
		}
		p := must(c.Path(ctx, "WEB-1", "CORE-1"))
		if nodeKeys(p) != "WEB-1 CORE-1" {
			t.Fatalf("got path %s", nodeKeys(p))
		}
		if _, err := c.Path(ctx, "CORE-1", "WEB-1"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			t.Fatalf("got %v, want no path", err)
		}
		cp := must(c.CriticalPath(ctx, "CORE", "", agileplus.Page{}))
		if cp.Length != 2 || len(cp.Path) != 2 || cp.Total != 2 || len(cp.WPs) != 2 || cp.Next != "" {
			t.Fatalf("got critical path %+v, want CORE-3 -> CORE-2 of 2h, both WPs on one page", cp)
		}
		cp = must(c.CriticalPath(ctx, "CORE", "", agileplus.Page{Limit: 1}))
		if len(cp.WPs) != 1 || cp.WPs[0].Key != "CORE-2" || cp.Next != "CORE-2" || cp.Total != 2 || len(cp.Path) != 2 {
			t.Fatalf("got first page %+v, want CORE-2 of 2, next CORE-2, the whole path", cp)
		}
		cp = must(c.CriticalPath(ctx, "CORE", "", agileplus.Page{After: cp.Next, Limit: 1}))
		if len(cp.WPs) != 1 || cp.WPs[0].Key != "CORE-3" || cp.Next != "" || len(cp.Path) != 2 {
			t.Fatalf("got last page %+v, want CORE-3, no next, the whole path", cp)
		}
		im := must(c.Impact(ctx, "CORE-3", 0))
		if im.Count != 1 || im.WPs[0].Key != "CORE-2" {
			t.Fatalf("got impact %+v", im)
		}
		br := must(c.Blockers(ctx, "WEB-1", true, 3))
		if len(br.WPs) != 1 || br.WPs[0].Key != "CORE-1" {
			t.Fatalf("got blockers %+v", br)
		}
		fg := must(c.FeatureGraph(ctx, "WEB"))
		if len(fg.Features) != 1 || fg.Features[0].Slug != "login-page" || len(fg.Features[0].DependsOn) != 1 ||
			fg.Features[0].DependsOn[0].Slug != "auth" || fg.Features[0].DependsOn[0].Open != 0 {
			t.Fatalf("got feature graph %+v, want login-page waiting on auth through one done WP", fg)
		}
		if fmt.Sprint(fg.Layers) != "[[login-page]]" {
			t.Fatalf("got feature layers %v, want [[login-page]]", fg.Layers)
		}
		if cy := must(c.Cycles(ctx, "CORE")); len(cy.Cycles) != 0 {
			t.Fatalf("got cycles %v", cy.Cycles)
		}
		out := string(must(c.Export(ctx, "WEB", agileplus.ExportCompact)))
		if !strings.Contains(out, "WEB-1 [planned 1h]") {
			t.Fatalf("got compact export %q", out)
		}
		if dot := string(must(c.Export(ctx, "CORE", agileplus.ExportDOT))); !strings.Contains(dot, "digraph") || !strings.Contains(dot, `"CORE-3" -> "CORE-2"`) {
			t.Fatalf("got dot export %q", dot)
		}
	})

	t.Run("events reach JetStream", func(t *testing.T) {
		events := must(c.Events(ctx, agileplus.EventQuery{Limit: 1000}))
		r, err := c.Readiness(ctx)
		if err != nil {
			t.Fatal(err)
		}
		natsURL, _ := r.Checks["bus"].Detail["url"].(string)
		if natsURL == "" {
			t.Fatalf("ready reports no NATS url: %+v", r)
		}
		// The exposed server wants the token serve keeps in the data dir.
		if _, err := nats.Connect(natsURL, nats.MaxReconnects(0)); err == nil {
			t.Fatal("connected to the exposed NATS server without its token")
		}
		token, err := os.ReadFile(filepath.Join(dataDir, NATSTokenFile))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(natsURL, nats.Token(strings.TrimSpace(string(token))))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		poll.Until(t, fmt.Sprintf("%d messages in the stream", len(events)), func() bool {
			s, err := js.Stream(ctx, "AGILEPLUS")
			return err == nil && s.CachedInfo().State.Msgs == uint64(len(events))
		})
		stream, err := js.Stream(ctx, "AGILEPLUS")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := stream.GetLastMsgForSubject(ctx, "agileplus.CORE.wp.*.transitioned")
		if err != nil {
			t.Fatal(err)
		}
		var ce agileplus.CloudEvent
		if err := json.Unmarshal(msg.Data, &ce); err != nil {
			t.Fatal(err)
		}
		if ce.SpecVersion != "1.0" || ce.Type != "dev.agileplus.wp.transitioned" || msg.Header.Get("Nats-Msg-Id") != ce.ID {
			t.Fatalf("got %+v with msg id %s", ce, msg.Header.Get("Nats-Msg-Id"))
		}
		if got := ce.Event().ComputeHash(); got != ce.Hash {
			t.Fatalf("published event hash does not verify: got %s, want %s", got, ce.Hash)
		}
	})

	t.Run("health and openapi", func(t *testing.T) {
		for _, p := range []string{"/health", "/ready", "/openapi.json"} {
			resp, err := http.Get(url + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: got %d, want 200", p, resp.StatusCode)
			}
		}
	})
}

// TestSecondServeOnSameDataDirExits checks one process per data directory.
func TestSecondServeOnSameDataDirExits(t *testing.T) {
	dir := t.TempDir()
	startTestServerIn(t, dir)
	var out, errb syncBuffer
	err := run(context.Background(), []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", dir}, func(string) string { return "" }, nil, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "in use by another agileplus process") {
		t.Fatalf("got %v, want a clear in-use error", err)
	}
}

func mustWP(t *testing.T, c *httpapi.Client, ref string) *agileplus.WP {
	t.Helper()
	w, err := c.WP(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func nodeKeys(ns []agileplus.GraphNode) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Key)
	}
	return strings.Join(out, " ")
}

func keys(ws []*agileplus.WP) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Key)
	}
	return out
}
