package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/agileplus/agileplus/httpapi"
)

// request is one API call of a load: the body is encoded up front so the
// client spends as little of the shared CPUs as it can.
type request struct {
	method, path string
	body         []byte
}

// newHTTPClient returns the client every load worker shares: keep-alive,
// one idle connection per worker kept open.
func newHTTPClient(workers int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        2 * workers,
			MaxIdleConnsPerHost: 2 * workers,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// run is the outcome of one timed load.
type result struct {
	ops     int
	elapsed time.Duration
	lat     []time.Duration // sorted
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// pct returns the q-th percentile latency (nearest rank).
func (r result) pct(q float64) time.Duration { return percentile(r.lat, q) }

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// loadClient is how a load's workers send their requests: a lean
// keep-alive connection each (the default), or net/http's client when the
// run asks for it with -nethttp-client.
type loadClient struct {
	hc *http.Client // nil: lean connections
}

func (b *bench) loadClient(workers int) loadClient {
	if !b.netHTTP {
		return loadClient{}
	}
	return loadClient{newHTTPClient(workers)}
}

func (c loadClient) close() {
	if c.hc != nil {
		c.hc.CloseIdleConnections()
	}
}

// caller sends one request; each load worker has its own.
type caller interface {
	do(ctx context.Context, r request) error
	close()
}

type netHTTPCaller struct {
	hc   *http.Client
	base string
}

func (c netHTTPCaller) do(ctx context.Context, r request) error { return call(ctx, c.hc, c.base, r) }
func (netHTTPCaller) close()                                    {}

// load sends n requests from a fixed pool of workers; worker w makes the
// calls gen(w, 0), gen(w, 1), ... so a generator can give each worker WPs
// of its own. Any response other than 2xx stops the load with an error.
// The lean workers connect before the clock starts.
func load(ctx context.Context, lc loadClient, base string, n, workers int, gen func(w, j int) request) (result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	callers := make([]caller, workers)
	for w := range callers {
		if lc.hc != nil {
			callers[w] = netHTTPCaller{lc.hc, base}
			continue
		}
		c, err := newLeanConn(base)
		if err == nil {
			err = c.dial(ctx)
		}
		if err != nil {
			for _, c := range callers[:w] {
				c.close()
			}
			return result{}, err
		}
		callers[w] = c
	}
	defer func() {
		for _, c := range callers {
			c.close()
		}
	}()
	lats := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range workers {
		count := n / workers
		if w < n%workers {
			count++
		}
		lats[w] = make([]time.Duration, 0, count)
		wg.Go(func() {
			for j := range count {
				if ctx.Err() != nil {
					return
				}
				r := gen(w, j)
				t := time.Now()
				if err := callers[w].do(ctx, r); err != nil {
					cancel(err)
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if err := context.Cause(ctx); err != nil {
		return result{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	return result{ops: len(all), elapsed: elapsed, lat: all}, nil
}

func call(ctx context.Context, hc *http.Client, base string, r request) error {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	if err != nil {
		return err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(httpapi.ActorHeader, "bench")
	if tok := tokenFor(base); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s %s %s: %s: %s", r.method, r.path, r.body, resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
