package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Write targets.
const (
	targetWriteRate = 10000.0 // writes/s
	targetWriteP99  = 10.0    // ms
)

const (
	writeProject = "BENCH"
	writeFeature = "bench-writes"
)

// writeKinds names the timed loads in the order they run.
var writeKinds = []string{"create WP", "transition WP", "add dependency", "mixed (1/3 each)"}

// writeResult is one serve child's write benchmark.
type writeResult struct {
	durability string
	runs       []result        // per writeKinds
	drains     []time.Duration // outbox drain after each run
	single     result          // mixed commands from one client
	raw        rawResult
}

func (b *bench) writes(ctx context.Context) error {
	normal, err := b.writeRun(ctx, "normal", b.sz.writeOps, b.sz.rawMsgs)
	if err != nil {
		return err
	}
	strict, err := b.writeRun(ctx, "strict", b.sz.strictOps, b.sz.rawStrict)
	if err != nil {
		return err
	}

	s := b.rep.section(fmt.Sprintf("1. Write commands through the HTTP API (%d keep-alive clients; serve child; normal vs strict durability)", b.sz.workers),
		"command", "ops", "ops/s", "p50", "p99", "vs 10k/s", "p99<10ms", "strict ops", "strict ops/s", "strict p99", "strict/normal", "outbox drain")
	for i, k := range writeKinds {
		n, st := normal.runs[i], strict.runs[i]
		s.row(k, fmtInt(n.ops), fmtRate(n.rate()), fmtDur(n.pct(50)), fmtDur(n.pct(99)),
			fmt.Sprintf("%.2fx", n.rate()/targetWriteRate), metOrMissed(ms(n.pct(99)) < targetWriteP99),
			fmtInt(st.ops), fmtRate(st.rate()), fmtDur(st.pct(99)), fmt.Sprintf("%.2fx", st.rate()/n.rate()), fmtDur(normal.drains[i]))
	}
	n1, s1 := normal.single, strict.single
	s.row("mixed, 1 client", fmtInt(n1.ops), fmtRate(n1.rate()), fmtDur(n1.pct(50)), fmtDur(n1.pct(99)),
		"-", metOrMissed(ms(n1.pct(99)) < targetWriteP99),
		fmtInt(s1.ops), fmtRate(s1.rate()), fmtDur(s1.pct(99)), fmt.Sprintf("%.2fx", s1.rate()/n1.rate()), "-")
	mixed, mixedStrict := normal.runs[3], strict.runs[3]
	s.note("outbox drain: time after the load until the relay had published every event to JetStream (normal run).")
	s.note("baseline: raw JetStream async publish on the same embedded server, stream BENCHRAW (file storage), %d-byte CloudEvent payloads with Nats-Msg-Id:", normal.raw.size)
	s.note("  normal server: %s msgs in %s = %s  |  strict server (sync always): %s msgs = %s",
		fmtInt(normal.raw.msgs), fmtDur(normal.raw.elapsed), fmtRate(normal.raw.rate()), fmtInt(strict.raw.msgs), fmtRate(strict.raw.rate()))
	s.note("HTTP writes/s : raw publish/s = %s : %s = 1 : %.1f (mixed load, normal durability); strict: 1 : %.1f",
		fmtRate(mixed.rate()), fmtRate(normal.raw.rate()), normal.raw.rate()/mixed.rate(), strict.raw.rate()/mixedStrict.rate())

	for i, k := range writeKinds {
		b.rep.atLeast("HTTP "+k+" throughput", normal.runs[i].rate(), targetWriteRate, fmtRate)
		b.rep.below("HTTP "+k+" p99", ms(normal.runs[i].pct(99)), targetWriteP99, fmtMS)
	}
	b.rep.below("HTTP mixed p99, 1 client (unloaded)", ms(n1.pct(99)), targetWriteP99, fmtMS)
	b.rep.info("HTTP mixed throughput, --durability strict", fmt.Sprintf("%s (%.2fx normal)", fmtRate(mixedStrict.rate()), mixedStrict.rate()/mixed.rate()))
	b.rep.info("raw JetStream async publish (baseline)", fmtRate(normal.raw.rate()))
	b.rep.info("HTTP mixed writes / raw publish", fmt.Sprintf("%.3f", mixed.rate()/normal.raw.rate()))
	return nil
}

// writeRun starts a serve child with the durability, runs every write load
// against it, then the raw publish baseline on its NATS server.
func (b *bench) writeRun(ctx context.Context, durability string, ops, rawMsgs int) (*writeResult, error) {
	if ops < 2*b.sz.workers {
		return nil, fmt.Errorf("%d ops per kind is too few for %d workers", ops, b.sz.workers)
	}
	dir, err := b.dir("writes-" + durability)
	if err != nil {
		return nil, err
	}
	c, err := b.startChild(ctx, dir, durability)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	b.logf("writes (%s): serve ready at %s in %s", durability, c.base, fmtDur(c.ready))

	api := client(c.base)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: writeProject, Name: "Write benchmark"}); err != nil {
		return nil, err
	}
	if _, err := api.CreateFeature(ctx, writeProject, agileplus.FeatureCreate{Slug: writeFeature, Title: "Write benchmark"}); err != nil {
		return nil, err
	}

	hc := b.loadClient(b.sz.workers)
	defer hc.close()
	wl := &writeLoad{workers: b.sz.workers, cursor: make([]int, b.sz.workers)}
	res := &writeResult{durability: durability}
	for i, kind := range writeKinds {
		var gen func(w, j int) request
		switch i {
		case 0:
			gen = wl.create
		case 1:
			// The WPs the create load made are BENCH-1..BENCH-ops.
			if _, err := api.WP(ctx, wl.key(ops-1)); err != nil {
				return nil, fmt.Errorf("after the create load: %w", err)
			}
			wl.setWPs(ops)
			gen = wl.transition
		case 2:
			gen = wl.dependency
		case 3:
			gen = wl.mixed
		}
		r, err := load(ctx, hc, c.base, ops, b.sz.workers, gen)
		if err != nil {
			return nil, fmt.Errorf("%s load (%s): %w", kind, durability, err)
		}
		drain, err := c.waitDrained(ctx, b.sz.drainLimit)
		if err != nil {
			return nil, err
		}
		b.logf("writes (%s): %-16s %s ops  %s  p50 %s  p99 %s  outbox drained %s later",
			durability, kind, fmtInt(r.ops), fmtRate(r.rate()), fmtDur(r.pct(50)), fmtDur(r.pct(99)), fmtDur(drain))
		res.runs = append(res.runs, r)
		res.drains = append(res.drains, drain)
	}

	// Unloaded latency: the same mixed commands from one client.
	one, err := load(ctx, hc, c.base, max(ops/10, 100), 1, wl.mixed)
	if err != nil {
		return nil, fmt.Errorf("mixed load, 1 client (%s): %w", durability, err)
	}
	res.single = one
	b.logf("writes (%s): mixed, 1 client     %s ops  %s  p50 %s  p99 %s",
		durability, fmtInt(one.ops), fmtRate(one.rate()), fmtDur(one.pct(50)), fmtDur(one.pct(99)))
	if _, err := c.waitDrained(ctx, b.sz.drainLimit); err != nil {
		return nil, err
	}

	payload, err := sampleCloudEvent(ctx, api)
	if err != nil {
		return nil, err
	}
	url, err := c.busURL(ctx)
	if err != nil {
		return nil, err
	}
	if res.raw, err = rawPublish(ctx, url, rawMsgs, payload); err != nil {
		return nil, fmt.Errorf("raw publish (%s): %w", durability, err)
	}
	b.logf("writes (%s): raw JetStream publish %s msgs of %d bytes: %s", durability, fmtInt(res.raw.msgs), res.raw.size, fmtRate(res.raw.rate()))
	if err := c.stop(); err != nil {
		return nil, err
	}
	return res, nil
}

// writeLoad generates the write commands. Transitions need each WP's state
// to be known: worker w owns the WPs whose index is w modulo the worker
// count and toggles them planned -> blocked -> planned, which is always
// legal. Dependencies join an upper-half WP to a lower-half one; lower-half
// WPs never depend on anything, so no edge can close a cycle and every
// cycle check is short, and every (from, to) pair is new.
type writeLoad struct {
	workers int
	nWP     int    // WPs BENCH-1..BENCH-nWP exist
	blocked []bool // per WP index; touched only by its owner
	cursor  []int  // per worker: transitions made
	created atomic.Int64
	edges   atomic.Int64
}

func (l *writeLoad) setWPs(n int) {
	l.nWP, l.blocked = n, make([]bool, n)
}

func (l *writeLoad) key(idx int) string { return writeProject + "-" + strconv.Itoa(idx+1) }

func (l *writeLoad) create(_, _ int) request {
	n := l.created.Add(1)
	return request{"POST", "/v1/features/" + writeFeature + "/wps",
		fmt.Appendf(nil, `{"title":"bench wp %d","description":"made by the write benchmark","estimate":2}`, n)}
}

func (l *writeLoad) transition(w, _ int) request {
	owned := (l.nWP - w + l.workers - 1) / l.workers
	idx := w + (l.cursor[w]%owned)*l.workers
	l.cursor[w]++
	to := agileplus.WPBlocked
	if l.blocked[idx] {
		to = agileplus.WPPlanned
	}
	l.blocked[idx] = !l.blocked[idx]
	return request{"POST", "/v1/wps/" + l.key(idx) + "/transition", fmt.Appendf(nil, `{"to":%q}`, to)}
}

func (l *writeLoad) dependency(_, _ int) request {
	half := l.nWP / 2
	k := int(l.edges.Add(1) - 1)
	i, round := k%half, k/half
	from, to := half+i, (i+round)%half
	return request{"POST", "/v1/dependencies",
		fmt.Appendf(nil, `{"from":%q,"to":%q,"kind":"depends_on"}`, l.key(from), l.key(to))}
}

// mixed interleaves the three commands; workers start at different ones so
// all three are in flight at once.
func (l *writeLoad) mixed(w, j int) request {
	switch (w + j) % 3 {
	case 0:
		return l.create(w, j)
	case 1:
		return l.transition(w, j)
	default:
		return l.dependency(w, j)
	}
}

// sampleCloudEvent returns a real event as the relay publishes it: the
// CloudEvent JSON of the last transition of BENCH-1.
func sampleCloudEvent(ctx context.Context, api *httpapi.Client) ([]byte, error) {
	es, err := api.Events(ctx, agileplus.EventQuery{Entity: writeProject + "-1", Limit: agileplus.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, errors.New("no events for " + writeProject + "-1")
	}
	return json.Marshal(es[len(es)-1].CloudEvent())
}

// rawResult is the raw JetStream publish baseline.
type rawResult struct {
	msgs    int
	size    int
	elapsed time.Duration
}

func (r rawResult) rate() float64 { return float64(r.msgs) / r.elapsed.Seconds() }

// rawPublish measures async publishing straight to JetStream on the server
// at url: see rawPublishConn.
func rawPublish(ctx context.Context, url string, n int, payload []byte) (rawResult, error) {
	nc, err := nats.Connect(url, nats.Name("agileplus-bench"))
	if err != nil {
		return rawResult{}, fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Close()
	return rawPublishConn(ctx, nc, n, payload)
}

// rawPublishConn measures async publishing on an existing connection: a
// stream of its own, messages shaped like the relay's (same headers, a real
// CloudEvent body, unique Nats-Msg-Id), every ack awaited.
func rawPublishConn(ctx context.Context, nc *nats.Conn, n int, payload []byte) (rawResult, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return rawResult{}, err
	}
	const stream = "BENCHRAW"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"benchraw.>"}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		return rawResult{}, fmt.Errorf("create stream %s: %w", stream, err)
	}
	defer js.DeleteStream(context.Background(), stream)

	prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	stall := jetstream.WithStallWait(time.Minute)
	futures := make([]jetstream.PubAckFuture, 0, n)
	t0 := time.Now()
	for i := range n {
		id := prefix + strconv.Itoa(i)
		f, err := js.PublishMsgAsync(&nats.Msg{
			Subject: "benchraw.BENCH.wp." + strconv.Itoa(i%1024) + ".transitioned",
			Data:    payload,
			Header: nats.Header{
				jetstream.MsgIDHeader:     {id},
				natsbus.HeaderContentType: {natsbus.ContentTypeCloudEvent},
				natsbus.HeaderSpecVersion: {"1.0"},
				natsbus.HeaderID:          {id},
				natsbus.HeaderType:        {"dev.agileplus.wp.transitioned"},
			},
		}, stall)
		if err != nil {
			return rawResult{}, fmt.Errorf("publish %d: %w", i, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return rawResult{}, fmt.Errorf("publish %d: %w", i, err)
		case <-ctx.Done():
			return rawResult{}, ctx.Err()
		}
	}
	elapsed := time.Since(t0)
	info, err := js.Stream(ctx, stream)
	if err != nil {
		return rawResult{}, err
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(n) {
		return rawResult{}, fmt.Errorf("stream %s holds %d messages, want %d", stream, got, n)
	}
	return rawResult{msgs: n, size: len(payload), elapsed: elapsed}, nil
}

func metOrMissed(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}
