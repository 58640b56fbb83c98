package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/prommetrics"
	"github.com/agileplus/agileplus/relay"
)

// watchBackbone exports what the relay and the bus know at each scrape:
// the outbox's depth and age, the consumers' lag and the dead letters.
//
// What these gauges read (two store queries, JetStream API calls) is
// read at most once per backboneRefresh: scraped every second under a
// write load, reading them each time took several percent of the writes.
func watchBackbone(m *prommetrics.Metrics, rel *relay.Relay, bus *natsbus.Bus) {
	type backlog struct {
		pending int64
		oldest  time.Time
	}
	outbox := refreshed(func(ctx context.Context) (backlog, error) {
		p, o, err := rel.Backlog(ctx)
		return backlog{p, o}, err
	})
	m.WatchOutbox(func(ctx context.Context) (int64, time.Time, error) {
		b, err := outbox(ctx)
		return b.pending, b.oldest, err
	}, time.Now)
	m.WatchConsumers(refreshed(func(ctx context.Context) ([]prommetrics.ConsumerState, error) {
		stats, err := bus.ConsumerStats(ctx)
		out := make([]prommetrics.ConsumerState, len(stats))
		for i, s := range stats {
			out[i] = prommetrics.ConsumerState{Name: s.Name, Pending: s.Pending, AckPending: s.AckPending}
		}
		return out, err
	}))
	m.WatchDeadLetters(refreshed(bus.DeadLetterCount))
}

// backboneRefresh is how long a reading of the backbone gauges stands.
const backboneRefresh = 5 * time.Second

// refreshed returns read, answering from its last success for
// backboneRefresh; a failed read is not kept.
func refreshed[T any](read func(ctx context.Context) (T, error)) func(ctx context.Context) (T, error) {
	var mu sync.Mutex
	var last T
	var at time.Time
	return func(ctx context.Context) (T, error) {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) < backboneRefresh {
			return last, nil
		}
		v, err := read(ctx)
		if err != nil {
			return v, err
		}
		last, at = v, time.Now()
		return v, nil
	}
}

// metricsServer serves /metrics without a key on a listener of its own
// (--metrics-addr): for a Prometheus that scrapes without credentials, on
// an address only it reaches.
type metricsServer struct {
	ln     net.Listener
	srv    *http.Server
	served chan struct{}
}

func listenMetrics(addr string) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--metrics-addr): %w", addr, err)
	}
	return &metricsServer{ln: ln}, nil
}

// Addr is the address the metrics listener listens on.
func (s *metricsServer) Addr() net.Addr { return s.ln.Addr() }

// Serve starts serving h at /metrics; anything else is 404.
func (s *metricsServer) Serve(h http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", s.ln.Addr().String())
}

func (s *metricsServer) Close() error {
	if s.srv == nil {
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.served
	return err
}
