package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agileplus/agileplus"
)

// Cold start and memory targets.
const (
	targetColdStart = 300.0 // ms
	targetIdleRSS   = 60.0  // MB
	targetLoadedRSS = 200.0 // MB
	loadProject     = "LOAD"
)

func (b *bench) coldStart(ctx context.Context) error {
	var starts []time.Duration
	var last *child
	for i := range b.sz.starts {
		dir, err := b.dir(fmt.Sprintf("start-%d", i+1))
		if err != nil {
			return err
		}
		c, err := b.startChild(ctx, dir, "normal")
		if err != nil {
			return err
		}
		starts = append(starts, c.ready)
		b.logf("cold start %d: %s", i+1, fmtDur(c.ready))
		if i < b.sz.starts-1 {
			if err := c.stop(); err != nil {
				return err
			}
			continue
		}
		last = c
	}
	defer last.stop()
	sorted := slices.Sorted(slices.Values(starts))
	median := sorted[len(sorted)/2]

	time.Sleep(b.sz.idle)
	idleRSS, _, err := last.memory()
	if err != nil {
		return err
	}
	b.logf("idle RSS after %s: %s", b.sz.idle, fmtMB(mb(idleRSS)))

	// Load WPs into the same process through the API.
	api := client(last.base)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: loadProject, Name: "Load"}); err != nil {
		return err
	}
	slugs := make([]string, b.sz.loadFeats)
	for f := range slugs {
		slugs[f] = fmt.Sprintf("load-%03d", f+1)
		if _, err := api.CreateFeature(ctx, loadProject, agileplus.FeatureCreate{Slug: slugs[f], Title: "Load " + slugs[f]}); err != nil {
			return err
		}
	}
	hc := b.loadClient(b.sz.workers)
	defer hc.close()
	body := []byte(`{"title":"loaded work package","description":"Loaded by the memory benchmark through the HTTP API, with a sentence of description.","estimate":3}`)
	r, err := load(ctx, hc, last.base, b.sz.loadWPs, b.sz.workers, func(w, j int) request {
		return request{"POST", "/v1/features/" + slugs[(j*b.sz.workers+w)%len(slugs)] + "/wps", body}
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	b.logf("loaded %s WPs: %s, p99 %s", fmtInt(r.ops), fmtRate(r.rate()), fmtDur(r.pct(99)))
	drain, err := last.waitDrained(ctx, b.sz.drainLimit)
	if err != nil {
		return err
	}
	rssEnd, _, err := last.memory()
	if err != nil {
		return err
	}
	time.Sleep(b.sz.idle)
	loadedRSS, peak, err := last.memory()
	if err != nil {
		return err
	}
	b.logf("RSS after the load: %s right after the outbox drained, %s %s later (peak %s)", fmtMB(mb(rssEnd)), fmtMB(mb(loadedRSS)), b.sz.idle, fmtMB(mb(peak)))
	if err := last.stop(); err != nil {
		return err
	}

	s := b.rep.section("3. Cold start and memory (serve child, fresh data dir, normal durability)",
		"figure", "measured", "target", "status")
	var all []string
	for _, d := range starts {
		all = append(all, fmtDur(d))
	}
	s.row(fmt.Sprintf("cold start, exec to first /ready 200 (median of %d)", len(starts)), fmtDur(median), "< 300 ms", metOrMissed(ms(median) < targetColdStart))
	s.row(fmt.Sprintf("RSS idle (%s after start)", b.sz.idle), fmtMB(mb(idleRSS)), "< 60 MB", metOrMissed(mb(idleRSS) < targetIdleRSS))
	s.row(fmt.Sprintf("load %s WPs over HTTP (%d features, %d clients)", fmtInt(r.ops), len(slugs), b.sz.workers), fmtRate(r.rate()), "-", "-")
	s.row(fmt.Sprintf("RSS loaded (%s after the outbox drained)", b.sz.idle), fmtMB(mb(loadedRSS)), "< 200 MB", metOrMissed(mb(loadedRSS) < targetLoadedRSS))
	s.row("peak RSS (VmHWM)", fmtMB(mb(peak)), "-", "-")
	s.note("starts: %v; load p50 %s, p99 %s; outbox drained %s after the load", all, fmtDur(r.pct(50)), fmtDur(r.pct(99)), fmtDur(drain))

	b.rep.below(fmt.Sprintf("cold start (median of %d)", len(starts)), ms(median), targetColdStart, fmtMS)
	b.rep.below("RSS idle", mb(idleRSS), targetIdleRSS, fmtMB)
	b.rep.info(fmt.Sprintf("load rate, %s WPs over HTTP", fmtInt(r.ops)), fmtRate(r.rate()))
	b.rep.below(fmt.Sprintf("RSS after %s WPs", fmtInt(r.ops)), mb(loadedRSS), targetLoadedRSS, fmtMB)
	return nil
}
