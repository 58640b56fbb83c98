package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/mcpserver"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/oteltrace"
	"github.com/agileplus/agileplus/prommetrics"
	"github.com/agileplus/agileplus/relay"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/webhook"
)

// appConfig is what the server runs with: serve's flags and environment,
// checked and resolved (serveConfig.check) before anything is created.
type appConfig struct {
	addr       string
	dataDir    string
	durability string // normal or strict
	// neo4j keeps the system of record in Neo4j when its URL is set;
	// otherwise it is SQLite, as sqlite says.
	neo4j  neo4jstore.Config
	sqlite sqlitestore.Config
	// bus is complete but for ListenToken, which Open reads from the data
	// directory (natsToken, when set, instead).
	bus                natsbus.Config
	natsToken          string
	webhookDenyPrivate bool
	webhookTimeout     time.Duration
	secretKey          secretKeySource // seals webhook secrets on the bus
	importLimit        int64           // bytes; 0 is httpapi's default
	blobs              blobConfig      // artifacts' bytes
	logger             *slog.Logger
	// metricsAddr, when set, serves /metrics without a key on a listener
	// of its own.
	metricsAddr string

	// Identity and the edge (serve_auth.go).
	insecureNoAuth bool
	localKeyName   string      // the local key's name: the user
	tls            *tls.Config // nil serves plain HTTP
	maxConns       int         // concurrent connections

	// tracing, when set, exports spans over OTLP (the OTEL_ variables).
	tracing *oteltrace.Config
	// cache is the cache and the rate limits (cache.go).
	cache cacheConfig
}

// app is the server: the store, the bus, the relay between them, the
// webhook consumers, the live event feed and HTTP. Open starts them in
// that order and Close stops them in reverse, so that nothing runs on top
// of a part already stopped.
type app struct {
	cfg appConfig

	ln      net.Listener
	metrics *metricsServer // nil without cfg.metricsAddr
	failed  chan error     // the HTTP server's error, if it stops on its own
	closers []func() error // what Open started, in order
	rel     *relay.Relay
	serving bool // HTTP served requests, whose events the relay owes the bus
}

func newApp(cfg appConfig) *app { return &app{cfg: cfg} }

// Open takes the data directory, listens on the HTTP address, opens the
// store and the bus, and starts the relay, the webhook consumers, the live
// event feed and HTTP. ctx bounds the opening only: once Open returned,
// Close stops the app. When a step fails, Open stops what it started and
// returns the step's error.
func (a *app) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			if cerr := a.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	cfg, log := a.cfg, a.cfg.logger

	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	a.onClose(lock.Close)
	secretKey, err := cfg.secretKey.load(cfg.dataDir)
	if err != nil {
		return err
	}
	// The port next, so that one in use stops the start before the store
	// and the bus open; connections that arrive meanwhile wait in the
	// backlog.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	a.ln = ln
	a.onClose(func() error {
		// Serve owns it once it runs, and closes it on Shutdown.
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})

	if cfg.metricsAddr != "" {
		if a.metrics, err = listenMetrics(cfg.metricsAddr); err != nil {
			return err
		}
		a.onClose(a.metrics.Close)
	}
	m := prommetrics.New(version)
	cache, limiter, cacheCheck, err := a.openCache(ctx, m)
	if err != nil {
		return err
	}

	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	a.onClose(store.Close)

	busCfg := cfg.bus
	if busCfg.ListenAddr != "" && busCfg.URL == "" {
		if busCfg.ListenToken, err = natsClientToken(cfg.natsToken, cfg.dataDir); err != nil {
			return err
		}
	}
	busCfg.OnAttempt = func(d agileplus.Delivery, err error) { m.ObserveAttempt(d.Consumer, d.Attempt, err) }
	bus, err := natsbus.Open(ctx, busCfg)
	if err != nil {
		return err
	}
	a.onClose(bus.Close)
	if u := bus.MonitorURL(); u != "" {
		log.Info("serving the NATS monitoring endpoint", "url", u)
	}

	// Spans go out in batches; Close exports what is left once everything
	// that records them has stopped.
	var tracer agileplus.Tracer
	if cfg.tracing != nil {
		t, err := oteltrace.New(ctx, *cfg.tracing)
		if err != nil {
			return err
		}
		a.onClose(func() error {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return t.Shutdown(sctx)
		})
		tracer = t
		log.Info("exporting traces", "endpoint", cfg.tracing.Endpoint, "service", cfg.tracing.ServiceName, "sampler", cfg.tracing.Sampling)
	}

	rel := &relay.Relay{Outbox: store, Publisher: bus, Logger: log, OnPublish: m.ObservePublish, Tracer: tracer}
	rel.Open()
	a.rel = rel
	a.onClose(a.closeRelay)
	svc := agileplus.NewService(prommetrics.Store(store, m))
	svc.OnCommit = rel.Poke
	svc.OnClaim = m.ObserveClaim
	watchBackbone(m, rel, bus)
	svc.Tracer = tracer
	svc.SnapshotCache = cache
	svc.FlagCache = cache

	checks := []httpapi.Check{
		{Name: "store", Func: func(ctx context.Context) (map[string]any, error) { return nil, store.Ping(ctx) }},
		{Name: "bus", Func: func(ctx context.Context) (map[string]any, error) {
			detail := map[string]any{}
			if n, err := store.PendingCount(ctx); err == nil {
				detail["outbox_pending"] = n
			}
			if err := rel.LastError(); err != nil {
				detail["relay_error"] = err.Error()
			}
			if u := bus.ClientURL(); u != "" {
				detail["url"] = redact(u)
			}
			return detail, bus.Ping(ctx)
		}},
		cacheCheck,
	}
	blobs, err := openBlobs(ctx, cfg.blobs)
	if err != nil {
		return err
	}
	checks = append(checks, httpapi.Check{Name: "blobs", Func: func(ctx context.Context) (map[string]any, error) { return nil, blobs.Ping(ctx) }})
	api := httpapi.NewServer(prommetrics.Tracker(svc, m), checks, log, version)
	api.Artifacts = &agileplus.ArtifactService{Svc: svc, Blobs: blobs, MaxSize: cfg.blobs.maxSize}
	api.ImportLimit = cfg.importLimit
	api.Requests, api.Metrics = m, m.Handler()
	api.Limiter, api.RateLimits = limiter, cfg.cache.limits
	m.WatchStreams(api.OpenStreams)
	api.Tracer = tracer
	api.MCP = mcpserver.Handler(mcpserver.New(svc, mcpserver.Options{Version: version, Logger: log}))
	if err := a.setupAuth(ctx, api, svc); err != nil {
		return err
	}

	// Webhooks: one durable consumer per webhook, registry on the bus. The
	// dispatcher starts the consumers of webhooks registered later with
	// the context it starts with: one that lasts until Close, which ctx
	// ends only while Open runs.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	a.onClose(func() error { stopRun(); return nil })
	stopBound := context.AfterFunc(ctx, stopRun)
	defer stopBound()
	dispatcher := webhook.New(webhook.Config{
		Registry:    bus.Webhooks(),
		Consumers:   bus,
		SecretKey:   secretKey,
		DenyPrivate: cfg.webhookDenyPrivate,
		Timeout:     cfg.webhookTimeout,
		UserAgent:   "agileplus-webhook/" + version,
		OnDelivery:  m.ObserveDelivery,
		Logger:      log,
		Tracer:      tracer,
	})
	a.onClose(func() error { dispatcher.Close(); return nil })
	if err := dispatcher.Start(runCtx); err != nil {
		return err
	}
	api.Backbone = backbone{dispatcher, bus}

	// Live event stream (SSE): while a stream is open, this process follows
	// the bus and fans each event out to its open streams, which replay
	// history from the store. Only events the store confirms reach the
	// hub: one read per event, so that a forged event on the bus cannot
	// move the streams' positions.
	hub := httpapi.NewHub()
	api.Feed = hub
	confirmed := &httpapi.ConfirmedFeed{Tracker: svc, Broadcast: hub.Broadcast, Logger: log}
	feed := &httpapi.LiveFeed{Bus: bus, Hub: hub, Confirm: confirmed.Confirm, Logger: log}
	feed.Open()
	a.onClose(feed.Close)

	board, err := a.board(api, cache)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           board, // the web board, in front of the API
		ReadHeaderTimeout: 10 * time.Second,
		// No whole-request timeout: a bulk import body may take minutes.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: maxHeaderBytes,
		// HTTP/2 (with TLS): streams one connection may hold at once.
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: maxStreamsPerConn},
		TLSConfig: cfg.tls,
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln = newLimitListener(ln, cfg.maxConns)
	srv.RegisterOnShutdown(api.CloseStreams) // open streams would hold Shutdown up
	a.failed = make(chan error, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		serve := srv.Serve
		if cfg.tls != nil {
			// The certificate is in TLSConfig; ServeTLS adds h2 to it.
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.failed <- err
		}
	}()
	if a.metrics != nil {
		a.metrics.Serve(m.Handler(), log)
	}
	a.serving = true
	a.onClose(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-served
		return err
	})
	return nil
}

// Limits of the edge: a header bigger than this is refused (431), and one
// HTTP/2 connection carries at most this many requests at once.
const (
	maxHeaderBytes    = 64 << 10
	maxStreamsPerConn = 100
)

// Addr is the address HTTP listens on, once Open succeeded.
func (a *app) Addr() net.Addr { return a.ln.Addr() }

// MetricsAddr is the address of --metrics-addr's listener, nil without one.
func (a *app) MetricsAddr() net.Addr {
	if a.metrics == nil {
		return nil
	}
	return a.metrics.Addr()
}

// Failed delivers the HTTP server's error if it stops serving without
// Close. Close is still needed to stop the rest.
func (a *app) Failed() <-chan error { return a.failed }

// Close stops what Open started, in reverse order, and returns their
// errors. It is safe to call more than once.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// onClose adds a step to Close: the one before the steps added earlier.
func (a *app) onClose(f func() error) { a.closers = append(a.closers, f) }

// closeRelay stops the relay and, after HTTP served, publishes what the
// last requests committed if the bus is there; what is left stays in the
// outbox for the next start.
func (a *app) closeRelay() error {
	a.rel.Close()
	if !a.serving {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		n, err := a.rel.Drain(ctx)
		if err != nil || n == 0 {
			return nil
		}
	}
}

// serveStore is what serve needs of a system of record.
type serveStore interface {
	agileplus.Store
	agileplus.Outbox
	agileplus.Pinger
}

// openStore opens Neo4j when its URL is set, else SQLite in the data
// directory.
func (a *app) openStore(ctx context.Context) (serveStore, error) {
	if a.cfg.neo4j.URL != "" {
		return neo4jstore.Open(ctx, a.cfg.neo4j)
	}
	return sqlitestore.Open(ctx, a.cfg.sqlite)
}

// backbone serves webhooks from the dispatcher and dead letters from the bus.
type backbone struct {
	*webhook.Dispatcher
	*natsbus.Bus
}

// NATSTokenFile is where serve keeps the token clients of the embedded
// NATS server present when --nats-listen exposes it.
const NATSTokenFile = "nats-client-token"

// natsClientToken returns token (AGILEPLUS_NATS_TOKEN) if set, else the
// token in the data directory, made on first use (readable by the owner
// only).
func natsClientToken(token, dataDir string) (string, error) {
	if token != "" {
		return token, nil
	}
	path := filepath.Join(dataDir, NATSTokenFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	rand.Read(b)
	token = hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the NATS client token: %w", err)
	}
	return token, nil
}
