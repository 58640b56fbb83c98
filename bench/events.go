package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go"
)

// Event delivery targets.
const (
	targetEventP99   = 5.0         // ms, write 2xx -> SSE client / NATS subscriber, embedded
	targetFanoutLag  = time.Second // the furthest any SSE client may fall behind
	eventRate        = 1000        // writes (events) per second
	eventProject     = "EVB"
	eventFeatureSlug = "event-bench"
)

// events measures how fast events reach followers: the latency from a
// write's 2xx to an SSE client and to a NATS subscriber at a steady 1,000
// writes/s, and fan-out to many SSE clients at that rate.
func (b *bench) events(ctx context.Context) error {
	dir, err := b.dir("events")
	if err != nil {
		return err
	}
	c, err := b.startChild(ctx, dir, "normal")
	if err != nil {
		return err
	}
	defer c.stop()
	api := client(c.base)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: eventProject, Name: "Event benchmark"}); err != nil {
		return err
	}
	f, err := api.CreateFeature(ctx, eventProject, agileplus.FeatureCreate{Slug: eventFeatureSlug, Title: "Event benchmark"})
	if err != nil {
		return err
	}
	if err := b.eventLatency(ctx, c, f.ID); err != nil {
		return err
	}
	return b.eventFanout(ctx, c, f.ID)
}

// pacedCreates creates WPs at rate per second for d and calls done with
// each WP's id and the time its 2xx arrived. Several workers share a
// ticker, so one slow answer does not hold the pace up.
func pacedCreates(ctx context.Context, base, featureID string, rate int, d time.Duration, done func(id string, at time.Time)) (int, error) {
	hc := newHTTPClient(16)
	defer hc.CloseIdleConnections()
	body := []byte(`{"title":"event bench","estimate":1}`)
	path := "/v1/features/" + featureID + "/wps"
	tokens := make(chan struct{}, rate)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 16 {
		wg.Go(func() {
			for range tokens {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
				if err != nil {
					cancel(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokenFor(base))
				resp, err := hc.Do(req)
				if err != nil {
					cancel(err)
					return
				}
				var w struct {
					ID string `json:"id"`
				}
				err = json.NewDecoder(resp.Body).Decode(&w)
				resp.Body.Close()
				at := time.Now()
				if resp.StatusCode != http.StatusCreated || err != nil {
					cancel(fmt.Errorf("create WP: %s (%v)", resp.Status, err))
					return
				}
				done(w.ID, at)
				n.Add(1)
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		tokens <- struct{}{}
	}
	close(tokens)
	wg.Wait()
	return int(n.Load()), context.Cause(ctx)
}

// sseFollower reads /v1/events/stream and calls fn with each frame's
// id, data and arrival time until ctx ends.
func sseFollower(ctx context.Context, url, token string, ready chan<- struct{}, fn func(id string, data []byte, at time.Time)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if ready != nil {
		close(ready)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var id string
	var data []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if data != nil {
				fn(id, data, time.Now())
			}
			id, data = "", nil
		case bytes.HasPrefix(line, []byte("id: ")):
			id = string(line[4:])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append([]byte(nil), line[6:]...)
		}
	}
}

// latencies pairs arrivals with 2xx times by WP id.
type latencies struct {
	mu      sync.Mutex
	acked   map[string]time.Time
	arrived map[string]time.Time
}

func newLatencies() *latencies {
	return &latencies{acked: map[string]time.Time{}, arrived: map[string]time.Time{}}
}

func (l *latencies) ack(id string, at time.Time) {
	l.mu.Lock()
	l.acked[id] = at
	l.mu.Unlock()
}

func (l *latencies) arrive(id string, at time.Time) {
	l.mu.Lock()
	if _, ok := l.arrived[id]; !ok {
		l.arrived[id] = at
	}
	l.mu.Unlock()
}

// sorted returns arrival minus 2xx for every acknowledged write; an event
// that arrived before the client had read its 2xx counts as 0.
func (l *latencies) sorted() (lat []time.Duration, missing int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, a := range l.acked {
		r, ok := l.arrived[id]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, max(0, r.Sub(a)))
	}
	slices.Sort(lat)
	return lat, missing
}

func (b *bench) eventLatency(ctx context.Context, c *child, featureID string) error {
	sse, nsub := newLatencies(), newLatencies()
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- sseFollower(fctx, c.base+"/v1/events/stream?project="+eventProject+"&type=wp.created", tokenFor(c.base), ready, func(_ string, data []byte, at time.Time) {
			var ce struct {
				EntityID string `json:"entityid"`
			}
			if json.Unmarshal(data, &ce) == nil {
				sse.arrive(ce.EntityID, at)
			}
		})
	}()
	select {
	case <-ready:
	case err := <-errc:
		return fmt.Errorf("SSE follower: %w", err)
	case <-time.After(30 * time.Second):
		return errors.New("SSE follower did not connect")
	}
	url, err := c.busURL(ctx)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, nats.Name("agileplus-bench"))
	if err != nil {
		return err
	}
	defer nc.Close()
	sub, err := nc.Subscribe(agileplus.SubjectPrefix+"."+eventProject+".wp.*.created", func(m *nats.Msg) {
		// agileplus.<project>.wp.<id>.created
		parts := strings.Split(m.Subject, ".")
		nsub.arrive(parts[3], time.Now())
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}

	d := b.sz.eventSeconds
	b.logf("events: %d writes/s for %s, an SSE client and a NATS subscriber following", eventRate, d)
	n, err := pacedCreates(ctx, c.base, featureID, eventRate, d, func(id string, at time.Time) {
		sse.ack(id, at)
		nsub.ack(id, at)
	})
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // the last events
	stop()
	sl, sMissing := sse.sorted()
	nl, nMissing := nsub.sorted()
	if sMissing > 0 || nMissing > 0 {
		return fmt.Errorf("of %d writes, %d never reached the SSE client and %d the NATS subscriber", n, sMissing, nMissing)
	}
	s := b.rep.section(fmt.Sprintf("Event latency: write 2xx -> follower, %d writes/s for %s (embedded NATS)", eventRate, d),
		"follower", "events", "p50", "p90", "p99", "max")
	s.row("SSE client (/v1/events/stream)", fmtInt(len(sl)), fmtDur(percentile(sl, 50)), fmtDur(percentile(sl, 90)), fmtDur(percentile(sl, 99)), fmtDur(sl[len(sl)-1]))
	s.row("NATS subscriber (core, agileplus.>)", fmtInt(len(nl)), fmtDur(percentile(nl, 50)), fmtDur(percentile(nl, 90)), fmtDur(percentile(nl, 99)), fmtDur(nl[len(nl)-1]))
	s.note("Measured from the moment the writing client has read the 2xx; an event that arrives earlier counts as 0.")
	s.note("The path: commit, relay poke, outbox read, JetStream publish and ack, then the server's ordered consumer and SSE flush, or NATS delivery to the subscriber.")
	b.logf("events: SSE p50 %s p99 %s; NATS p50 %s p99 %s", fmtDur(percentile(sl, 50)), fmtDur(percentile(sl, 99)), fmtDur(percentile(nl, 50)), fmtDur(percentile(nl, 99)))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.rep.below("event latency p99, 2xx -> SSE client", ms(percentile(sl, 99)), targetEventP99, fmtMS)
	b.rep.below("event latency p99, 2xx -> NATS subscriber", ms(percentile(nl, 99)), targetEventP99, fmtMS)
	return nil
}

// eventFanout runs many SSE clients at once while WPs are created at the
// event rate, and reports how far the slowest client fell behind, with the
// server's CPU and memory.
func (b *bench) eventFanout(ctx context.Context, c *child, featureID string) error {
	clients := b.sz.sseClients
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	type clientStats struct {
		n      atomic.Int64
		maxLag atomic.Int64 // ns
	}
	stats := make([]*clientStats, clients)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	readies := make([]chan struct{}, clients)
	// A key may hold a limited number of streams: the followers share
	// read keys, 50 to a key.
	var keys []string
	for i := 0; i < clients; i += 50 {
		k, err := client(c.base).CreateKey(ctx, agileplus.KeyCreate{Name: fmt.Sprintf("bench-follower-%d", i/50), Scope: agileplus.ScopeRead})
		if err != nil {
			return err
		}
		keys = append(keys, k.Token)
	}
	for i := range clients {
		st := &clientStats{}
		stats[i] = st
		readies[i] = make(chan struct{})
		wg.Go(func() {
			err := sseFollower(fctx, c.base+"/v1/events/stream?since=0s&project="+eventProject, keys[i/50], readies[i], func(_ string, data []byte, at time.Time) {
				// The CloudEvent's time is when the server recorded the
				// event; find it without decoding the whole event.
				k := bytes.Index(data, []byte(`"time":"`))
				if k < 0 {
					return
				}
				end := bytes.IndexByte(data[k+8:], '"')
				t, err := time.Parse(time.RFC3339Nano, string(data[k+8:k+8+end]))
				if err != nil {
					return
				}
				st.n.Add(1)
				if lag := int64(at.Sub(t)); lag > st.maxLag.Load() {
					st.maxLag.Store(lag)
				}
			})
			if err != nil && fctx.Err() == nil {
				errc <- err
			}
		})
	}
	for i := range clients {
		select {
		case <-readies[i]:
		case err := <-errc:
			return fmt.Errorf("SSE client: %w", err)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("SSE client %d did not connect", i)
		}
	}
	d := b.sz.eventSeconds
	b.logf("events: %d SSE clients following, %d writes/s for %s", clients, eventRate, d)
	cpu0, err := procCPU(c.cmd.Process.Pid)
	if err != nil {
		return err
	}
	self0, err := procCPU(os.Getpid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	n, err := pacedCreates(ctx, c.base, featureID, eventRate, d, func(string, time.Time) {})
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	cpu1, err := procCPU(c.cmd.Process.Pid)
	if err != nil {
		return err
	}
	self1, err := procCPU(os.Getpid())
	if err != nil {
		return err
	}
	clientShare := (self1 - self0).Seconds() / elapsed.Seconds()
	rss, _, err := c.memory()
	if err != nil {
		return err
	}
	// Wait for every client to have every event, or give up after a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for _, st := range stats {
			if st.n.Load() < int64(n) {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()
	var lags []time.Duration
	short := 0
	for _, st := range stats {
		lags = append(lags, time.Duration(st.maxLag.Load()))
		if st.n.Load() < int64(n) {
			short++
		}
	}
	slices.Sort(lags)
	cpuShare := (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	s := b.rep.section(fmt.Sprintf("SSE fan-out: %d clients, %d writes/s for %s", clients, eventRate, d),
		"clients", "events each", "worst lag, median client", "worst lag, slowest client", "clients missing events", "server CPU", "server RSS")
	s.row(strconv.Itoa(clients), fmtInt(n), fmtDur(percentile(lags, 50)), fmtDur(lags[len(lags)-1]), strconv.Itoa(short),
		fmt.Sprintf("%.0f%% of a core", 100*cpuShare), fmtMB(float64(rss)/(1<<20)))
	s.note("Lag: arrival at the client minus the event's time as the server recorded it (same clock).")
	s.note("The clients, the writer and the server share the machine's cores; the benchmark process (clients and writer) used %.0f%% of a core.", 100*clientShare)
	b.logf("events: fan-out worst lag %s, server CPU %.0f%%, RSS %s; clients and writer %.0f%%", fmtDur(lags[len(lags)-1]), 100*cpuShare, fmtMB(float64(rss)/(1<<20)), 100*clientShare)
	if short > 0 {
		return fmt.Errorf("%d of %d SSE clients did not get all %d events", short, clients, n)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.rep.below(fmt.Sprintf("SSE fan-out, %d clients: slowest client's lag", clients), ms(lags[len(lags)-1]), ms(targetFanoutLag), fmtMS)
	b.rep.info("SSE fan-out: server CPU, RSS", fmt.Sprintf("%.0f%% of a core, %s", 100*cpuShare, fmtMB(float64(rss)/(1<<20))))
	return nil
}

// procCPU returns the user+system CPU time a process has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of the child: %w (needs Linux /proc)", err)
	}
	// Fields after the command name, which is in parentheses.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}
