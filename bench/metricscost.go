package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
)

// metricsRounds is how many write rounds run with and without scraping,
// in the order plain, scraped, scraped, plain, and again: throughput
// drifts down as the data grows, and in that order a steady drift weighs
// on both sets alike (plain then scraped, alternately, put every scraped
// round after a plain one and charged it the drift).
const metricsRounds = 4

// scrapedRound says whether round (from 0) scrapes: 0110 0110 ...
func scrapedRound(round int) bool { return round%4 == 1 || round%4 == 2 }

// metricsCost measures what scraping /metrics every second costs the write
// path: mixed write rounds on one serve child, alternately without and
// with a scraper, and the ratio of their throughputs.
func (b *bench) metricsCost(ctx context.Context) error {
	dir, err := b.dir("metrics")
	if err != nil {
		return err
	}
	c, err := b.startChild(ctx, dir, "normal")
	if err != nil {
		return err
	}
	defer c.stop()
	api := client(c.base)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: writeProject, Name: "Metrics benchmark"}); err != nil {
		return err
	}
	if _, err := api.CreateFeature(ctx, writeProject, agileplus.FeatureCreate{Slug: writeFeature, Title: "Metrics benchmark"}); err != nil {
		return err
	}
	hc := b.loadClient(b.sz.workers)
	defer hc.close()
	ops := b.sz.writeOps
	wl := &writeLoad{workers: b.sz.workers, cursor: make([]int, b.sz.workers)}
	if _, err := load(ctx, hc, c.base, ops, b.sz.workers, wl.create); err != nil {
		return fmt.Errorf("create the WPs: %w", err)
	}
	wl.setWPs(ops)

	var plain, scraped result
	var scrapes, scrapeBytes atomic.Int64
	var scrapeTime atomic.Int64 // ns
	for round := range 2 * metricsRounds {
		scraping := scrapedRound(round)
		stop := func() {}
		if scraping {
			stop = scrapeEvery(ctx, c.base+"/metrics", tokenFor(c.base), time.Second, &scrapes, &scrapeBytes, &scrapeTime)
		}
		r, err := load(ctx, hc, c.base, ops, b.sz.workers, wl.mixed)
		stop()
		if err != nil {
			return fmt.Errorf("mixed load (scraping %v): %w", scraping, err)
		}
		if _, err := c.waitDrained(ctx, b.sz.drainLimit); err != nil {
			return err
		}
		b.logf("metrics: round %d, scraping %-5v %s ops  %s", round+1, scraping, fmtInt(r.ops), fmtRate(r.rate()))
		sum := &plain
		if scraping {
			sum = &scraped
		}
		sum.ops += r.ops
		sum.elapsed += r.elapsed
	}
	if scrapes.Load() == 0 {
		return fmt.Errorf("no scrape of /metrics succeeded")
	}
	ratio := scraped.rate() / plain.rate()
	cost := (1 - ratio) * 100
	s := b.rep.section(fmt.Sprintf("Metrics cost: mixed writes (%d clients, serve child) with /metrics scraped every second, against none; %d rounds each, in the order plain, scraped, scraped, plain", b.sz.workers, metricsRounds),
		"load", "ops", "ops/s", "scraped/plain")
	s.row("no scraping", fmtInt(plain.ops), fmtRate(plain.rate()), "-")
	s.row("scraped every 1s", fmtInt(scraped.ops), fmtRate(scraped.rate()), fmt.Sprintf("%.3f", ratio))
	s.note("%d scrapes, %s bytes each, %s per scrape on average", scrapes.Load(), fmtInt(int(scrapeBytes.Load()/scrapes.Load())),
		fmtDur(time.Duration(scrapeTime.Load()/scrapes.Load())))
	b.rep.below("write throughput lost to a 1s scrape of /metrics (%)", cost, 3, func(v float64) string { return fmt.Sprintf("%.1f%%", v) })
	return nil
}

// scrapeEvery GETs url with the token every interval until the returned
// function is called, counting scrapes, bytes and time.
func scrapeEvery(ctx context.Context, url, token string, every time.Duration, n, size, took *atomic.Int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			m, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				n.Add(1)
				size.Add(m)
				took.Add(int64(time.Since(start)))
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}
