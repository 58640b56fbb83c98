// Package soak drives a running server with mixed reads and writes from
// many clients with keys, while idle event streams and slow-header
// connections hold server resources, and reports, window by window, the
// request latencies, errors, /health answers and the server's memory. The
// test command runs it briefly and asserts the behaviour; the benchmark
// runs it longer and prints the figures.
package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// Config is one soak run.
type Config struct {
	Base string // http://host:port
	// WriteTokens authenticate the clients (round robin); StreamTokens the
	// idle event streams.
	WriteTokens  []string
	StreamTokens []string
	Project      string // an existing project the clients work in
	Clients      int
	Streams      int // idle event streams
	SlowHeaders  int // connections that send headers a byte at a time
	Duration     time.Duration
	Window       time.Duration // default Duration/6
	// Memory returns the server's memory in bytes: the resident set of a
	// server process, or the live heap of one in this process.
	Memory func() (int64, error)
	// Logf, if set, says what happens as it happens.
	Logf func(format string, args ...any)
	// OnStall, if set, is called once when a request has been waiting
	// for StallAfter (default 10 s): the moment to look at what the
	// server is doing, for example with a goroutine dump.
	OnStall    func(waited time.Duration)
	StallAfter time.Duration
}

// Window is what one stretch of the run measured.
type Window struct {
	End         time.Duration // since the start
	Requests    int
	Errors      int
	P50, P99    time.Duration
	Memory      int64
	HealthOK    int
	HealthFail  int
	HealthWorst time.Duration
}

// Report is the whole run.
type Report struct {
	Windows []Window
	// FirstErrors are the first few request errors, for the log.
	FirstErrors []string
	// StreamsOpen is the fewest event streams open at any window's end
	// after the first (by then all have opened); StreamsRefused how many
	// the server refused to open.
	StreamsOpen, StreamsRefused int
	// SlowHeaderConns is how many slow-header connections were made in
	// all (the server closes each when its header timeout ends).
	SlowHeaderConns int
}

// Run soaks cfg.Base until cfg.Duration has passed or ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Window <= 0 {
		cfg.Window = cfg.Duration / 6
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if len(cfg.WriteTokens) == 0 {
		return nil, errors.New("soak: no write tokens")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	rep := &Report{StreamsOpen: -1}
	var mu sync.Mutex
	var lat []time.Duration
	cur := Window{}
	record := func(d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		cur.Requests++
		lat = append(lat, d)
		if err != nil {
			cur.Errors++
			if len(rep.FirstErrors) < 10 {
				rep.FirstErrors = append(rep.FirstErrors, err.Error())
			}
		}
	}

	var wg sync.WaitGroup
	streamTokens := cfg.StreamTokens
	if len(streamTokens) == 0 {
		streamTokens = cfg.WriteTokens
	}
	var open, refused atomic.Int64
	streamTr := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}
	defer streamTr.CloseIdleConnections()
	for i := range cfg.Streams {
		wg.Go(func() { idleStream(ctx, streamTr, cfg.Base, streamTokens[i%len(streamTokens)], &open, &refused) })
	}
	var slowConns atomic.Int64
	for range cfg.SlowHeaders {
		wg.Go(func() { slowHeaders(ctx, cfg.Base, &slowConns) })
	}

	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Clients + 4, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	setup := httpapi.NewClient(cfg.Base, httpapi.WithHTTPClient(hc), httpapi.WithToken(cfg.WriteTokens[0]))
	f, err := setup.CreateFeature(ctx, cfg.Project, agileplus.FeatureCreate{Slug: fmt.Sprintf("soak-%d", time.Now().UnixNano()), Title: "Soak"})
	if err != nil {
		cancel()
		wg.Wait()
		return nil, fmt.Errorf("soak: create the feature: %w", err)
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 10 * time.Second
	}
	// inflight[i] is when client i's request started (UnixNano), 0 between requests.
	inflight := make([]atomic.Int64, cfg.Clients)
	for i := range cfg.Clients {
		c := httpapi.NewClient(cfg.Base, httpapi.WithHTTPClient(hc), httpapi.WithToken(cfg.WriteTokens[i%len(cfg.WriteTokens)]))
		wg.Go(func() { client(ctx, c, cfg.Project, f.Slug, uint64(i), &inflight[i], record) })
	}
	stalled := false

	healthc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := start.Add(cfg.Window)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			t0 := time.Now()
			resp, err := healthc.Get(cfg.Base + "/health")
			d := time.Since(t0)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if resp != nil {
				resp.Body.Close()
			}
			mu.Lock()
			if ok {
				cur.HealthOK++
			} else if ctx.Err() == nil {
				cur.HealthFail++
			}
			cur.HealthWorst = max(cur.HealthWorst, d)
			mu.Unlock()
			if cfg.OnStall != nil && !stalled {
				if w := oldest(inflight); w >= cfg.StallAfter {
					stalled = true
					cfg.OnStall(w)
				}
			}
		}
		if now := time.Now(); now.After(next) || done {
			w := closeWindow(&mu, &cur, &lat, now.Sub(start))
			if cfg.Memory != nil {
				w.Memory, _ = cfg.Memory()
			}
			if o := int(open.Load()); len(rep.Windows) > 0 && !done && (rep.StreamsOpen < 0 || o < rep.StreamsOpen) {
				rep.StreamsOpen = o
			}
			rep.Windows = append(rep.Windows, w)
			cfg.Logf("soak %5s: %6d requests, %d errors, p50 %s, p99 %s, health %d ok %d failed (worst %s), memory %d MiB, streams %d open %d refused, slow-header conns %d",
				w.End.Round(time.Second), w.Requests, w.Errors, w.P50, w.P99, w.HealthOK, w.HealthFail, w.HealthWorst.Round(time.Millisecond),
				w.Memory>>20, open.Load(), refused.Load(), slowConns.Load())
			next = now.Add(cfg.Window)
		}
	}
	rep.StreamsRefused = int(refused.Load())
	rep.SlowHeaderConns = int(slowConns.Load())
	cancel()
	wg.Wait()
	return rep, nil
}

// oldest is how long the longest-waiting request has waited.
func oldest(inflight []atomic.Int64) time.Duration {
	var w time.Duration
	now := time.Now().UnixNano()
	for i := range inflight {
		if t := inflight[i].Load(); t != 0 {
			w = max(w, time.Duration(now-t))
		}
	}
	return w
}

func closeWindow(mu *sync.Mutex, cur *Window, lat *[]time.Duration, end time.Duration) Window {
	mu.Lock()
	defer mu.Unlock()
	w := *cur
	w.End = end
	if l := *lat; len(l) > 0 {
		slices.Sort(l)
		w.P50, w.P99 = l[len(l)/2], l[len(l)*99/100]
	}
	*cur, *lat = Window{}, (*lat)[:0]
	return w
}

// client runs a mix of reads and writes until ctx ends: it creates its
// first 50 WPs, then reads them back, lists them, asks what is ready and
// updates them. The data stops growing (but for the events of the
// updates), so memory that keeps climbing is a leak.
func client(ctx context.Context, c *httpapi.Client, project, feature string, seed uint64, inflight *atomic.Int64, record func(time.Duration, error)) {
	rng := rand.New(rand.NewPCG(seed, 42))
	var mine []*agileplus.WP
	for ctx.Err() == nil {
		t0 := time.Now()
		inflight.Store(t0.UnixNano())
		var err error
		switch p := rng.IntN(100); {
		case len(mine) < 50:
			var w *agileplus.WP
			if w, err = c.CreateWP(ctx, feature, agileplus.WPCreate{Title: "soak work"}); err == nil {
				mine = append(mine, w)
			}
		case p < 40:
			_, err = c.WP(ctx, mine[rng.IntN(len(mine))].Key)
		case p < 60:
			_, err = c.WPs(ctx, agileplus.WPQuery{Feature: feature, Page: agileplus.Page{Limit: 50}})
		case p < 80:
			_, err = c.Ready(ctx, project, "", agileplus.Page{Limit: 20})
		default:
			i := rng.IntN(len(mine))
			w := mine[i]
			title := fmt.Sprintf("soak work %d", rng.IntN(1000))
			var u *agileplus.WP
			if u, err = c.UpdateWP(ctx, w.Key, agileplus.WPUpdate{Title: &title}, w.Version); err == nil {
				mine[i] = u
			}
		}
		inflight.Store(0)
		if ctx.Err() != nil {
			return // the run ended during the request: not a failure
		}
		record(time.Since(t0), err)
	}
}

// idleStream holds an event stream open, reading what comes, until ctx
// ends, reopening it if the server ends it.
func idleStream(ctx context.Context, tr *http.Transport, base, token string, open, refused *atomic.Int64) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stream", nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			refused.Add(1)
			resp.Body.Close()
			sleep(ctx, 5*time.Second)
			continue
		}
		open.Add(1)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		open.Add(-1)
	}
}

// slowHeaders keeps a connection that sends its request header one line a
// second, reconnecting when the server gives up on it.
func slowHeaders(ctx context.Context, base string, conns *atomic.Int64) {
	u, err := url.Parse(base)
	if err != nil {
		return
	}
	var d net.Dialer
	for ctx.Err() == nil {
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		conns.Add(1)
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		w := bufio.NewWriter(conn)
		fmt.Fprintf(w, "GET /health HTTP/1.1\r\nHost: %s\r\n", u.Host)
		for i := 0; ctx.Err() == nil; i++ {
			fmt.Fprintf(w, "X-Slow-%d: x\r\n", i)
			if w.Flush() != nil {
				break
			}
			sleep(ctx, time.Second)
		}
		stop()
		conn.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
