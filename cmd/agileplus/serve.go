package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/relay"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/webhook"
	"github.com/spf13/cobra"
)

// serveConfig is everything serve needs, from flags and environment.
type serveConfig struct {
	addr       string
	dataDir    string
	durability string // "normal" or "strict"
	// durabilityFrom names where durability came from when it was not the
	// flag: the environment variable.
	durabilityFrom string
	natsURL        string
	natsListen     string
	logLevel       string
	neo4jURL       string

	// Stream policy.
	replicas    int
	maxAge      time.Duration
	maxBytes    int64
	dedupWindow time.Duration

	// Consumers inside the server and webhooks.
	maxDeliver         int
	backoff            string
	ackWait            time.Duration
	webhookDenyPrivate bool
	webhookTimeout     time.Duration
}

func newServeCmd(e *env) *cobra.Command {
	var c serveConfig
	ed := &envDefaults{getenv: e.getenv}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: HTTP API, SQLite store and embedded NATS JetStream in one process",
		Long: `Run the server. With no configuration it needs nothing else installed: the
system of record is a SQLite file and events go to a NATS JetStream server
embedded in the process, both under --data. NATS_URL connects to an external
NATS server or cluster instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A flag given wins over its environment variable, even a
			// variable that does not parse.
			for _, bad := range ed.errs {
				if !cmd.Flags().Changed(bad.flag) {
					return bad.err
				}
			}
			if !cmd.Flags().Changed("durability") && e.getenv("AGILEPLUS_DURABILITY") != "" {
				c.durabilityFrom = "AGILEPLUS_DURABILITY"
			}
			return serve(cmd.Context(), e, c)
		},
	}
	dataDir := e.getenv("AGILEPLUS_DATA_DIR")
	if dataDir == "" {
		dataDir = "agileplus-data"
	}
	durability := e.getenv("AGILEPLUS_DURABILITY")
	if durability == "" {
		durability = "normal"
	}
	f := cmd.Flags()
	f.StringVar(&c.addr, "addr", defaultAddr(e.getenv), "HTTP listen address (env SERVER_HOST, SERVER_PORT)")
	f.StringVar(&c.dataDir, "data", dataDir, "data directory (env AGILEPLUS_DATA_DIR)")
	f.StringVar(&c.durability, "durability", durability, "normal: survive process crashes; strict: also survive power loss, fsync on every commit (env AGILEPLUS_DURABILITY)")
	f.StringVar(&c.natsURL, "nats-url", e.getenv("NATS_URL"), "external NATS server URL(s), comma-separated; empty runs NATS embedded (env NATS_URL)")
	f.StringVar(&c.natsListen, "nats-listen", e.getenv("AGILEPLUS_NATS_LISTEN"), "also expose the embedded NATS server to clients on this address, e.g. 127.0.0.1:4222; clients present the token in DATA/nats-client-token or AGILEPLUS_NATS_TOKEN (env AGILEPLUS_NATS_LISTEN)")
	f.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&c.neo4jURL, "neo4j-url", e.getenv("NEO4J_URL"), "keep the system of record in Neo4j (neo4j://, bolt://, +s for TLS; user and password from NEO4J_USER, NEO4J_PASSWORD) instead of SQLite in --data (env NEO4J_URL)")
	f.IntVar(&c.replicas, "stream-replicas", ed.int("stream-replicas", "NATS_STREAM_REPLICAS", 1), "replicas of the event stream: 1 embedded, 3 on a three-node cluster (env NATS_STREAM_REPLICAS)")
	f.DurationVar(&c.maxAge, "stream-max-age", ed.duration("stream-max-age", "AGILEPLUS_STREAM_MAX_AGE", 7*24*time.Hour), "events older than this leave the stream (env AGILEPLUS_STREAM_MAX_AGE)")
	f.Int64Var(&c.maxBytes, "stream-max-bytes", int64(ed.int("stream-max-bytes", "AGILEPLUS_STREAM_MAX_BYTES", -1)), "size limit of the stream in bytes, oldest events go first; -1 unlimited (env AGILEPLUS_STREAM_MAX_BYTES)")
	f.DurationVar(&c.dedupWindow, "dedup-window", ed.duration("dedup-window", "AGILEPLUS_DEDUP_WINDOW", 10*time.Minute), "the stream drops a re-published event id within this window (env AGILEPLUS_DEDUP_WINDOW)")
	f.IntVar(&c.maxDeliver, "consumer-max-deliver", ed.int("consumer-max-deliver", "AGILEPLUS_CONSUMER_MAX_DELIVER", 5), "attempts per event for webhooks and other consumers before the event is dead-lettered (env AGILEPLUS_CONSUMER_MAX_DELIVER)")
	f.StringVar(&c.backoff, "consumer-backoff", ed.str("AGILEPLUS_CONSUMER_BACKOFF", "1s,5s,30s"), "waits before the 2nd, 3rd, ... attempt; the last repeats (env AGILEPLUS_CONSUMER_BACKOFF)")
	f.DurationVar(&c.ackWait, "consumer-ack-wait", ed.duration("consumer-ack-wait", "AGILEPLUS_CONSUMER_ACK_WAIT", time.Minute), "an attempt not acknowledged within this is delivered again (a consumer that died) (env AGILEPLUS_CONSUMER_ACK_WAIT)")
	f.BoolVar(&c.webhookDenyPrivate, "webhook-deny-private", ed.bool("webhook-deny-private", "AGILEPLUS_WEBHOOK_DENY_PRIVATE", false), "refuse webhook targets on loopback, private and link-local addresses (env AGILEPLUS_WEBHOOK_DENY_PRIVATE)")
	f.DurationVar(&c.webhookTimeout, "webhook-timeout", ed.duration("webhook-timeout", "AGILEPLUS_WEBHOOK_TIMEOUT", 10*time.Second), "time limit of one webhook delivery attempt (env AGILEPLUS_WEBHOOK_TIMEOUT)")
	return cmd
}

func serve(ctx context.Context, e *env, c serveConfig) error {
	// Everything the command line can get wrong is checked before anything
	// is created or started.
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return configErrorf("--log-level must be debug, info, warn or error, not %q", c.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	if c.durability != "normal" && c.durability != "strict" {
		return configErrorf("%s must be normal or strict, not %q", cmpOr(c.durabilityFrom, "--durability"), c.durability)
	}
	if strings.TrimSpace(c.dataDir) == "" {
		return configErrorf("--data must name a directory (env AGILEPLUS_DATA_DIR)")
	}
	if err := checkListenAddr("--addr", c.addr); err != nil {
		return err
	}
	if c.natsListen != "" {
		if err := checkListenAddr("--nats-listen", c.natsListen); err != nil {
			return err
		}
	}
	if c.neo4jURL != "" && !isNeo4jURL(c.neo4jURL) {
		return configErrorf("--neo4j-url %q must start with neo4j://, bolt://, neo4j+s:// or bolt+s://", c.neo4jURL)
	}
	if err := checkNATSURLs(c.natsURL); err != nil {
		return err
	}
	if err := c.validateStream(); err != nil {
		return err
	}
	policy, err := c.consumerPolicy()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDataDir(c.dataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	// The port next, so that one in use stops the start before the store
	// and the bus open; connections that arrive meanwhile wait in the
	// backlog.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	defer ln.Close() // Serve owns it once it runs; closing twice is harmless

	store, err := openServeStore(ctx, e, c, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	var listenToken string
	if c.natsListen != "" && c.natsURL == "" {
		if listenToken, err = natsClientToken(e, c.dataDir); err != nil {
			return err
		}
	}
	bus, err := natsbus.Open(ctx, natsbus.Config{
		URL:         c.natsURL,
		Token:       e.getenv("NATS_TOKEN"),
		User:        e.getenv("NATS_USER"),
		Password:    e.getenv("NATS_PASSWORD"),
		CredsFile:   e.getenv("NATS_CREDS"),
		DataDir:     filepath.Join(c.dataDir, "nats"),
		ListenAddr:  c.natsListen,
		ListenToken: listenToken,
		SyncAlways:  c.durability == "strict",
		TLSCA:       e.getenv("NATS_TLS_CA"),
		TLSCert:     e.getenv("NATS_TLS_CERT"),
		TLSKey:      e.getenv("NATS_TLS_KEY"),
		Replicas:    c.replicas,
		MaxAge:      c.maxAge,
		MaxBytes:    c.maxBytes,
		Duplicates:  c.dedupWindow,
		Consumer:    policy,
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	defer bus.Close()

	rel := &relay.Relay{Outbox: store, Publisher: bus, Logger: logger}
	rel.Open()
	svc := agileplus.NewService(store)
	svc.OnCommit = rel.Poke

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
	}
	api := httpapi.NewServer(svc, checks, logger, version)

	// Webhooks: one durable consumer per webhook, registry on the bus.
	dispatcher := webhook.New(webhook.Config{
		Registry:    bus.Webhooks(),
		Consumers:   bus,
		DenyPrivate: c.webhookDenyPrivate,
		Timeout:     c.webhookTimeout,
		UserAgent:   "agileplus-webhook/" + version,
		Logger:      logger,
	})
	if err := dispatcher.Start(ctx); err != nil {
		rel.Close()
		return err
	}
	defer dispatcher.Close() // before the bus closes (defers run in reverse)
	api.Backbone = backbone{dispatcher, bus}

	// Live event stream (SSE): while a stream is open, this process follows
	// the bus and fans each event out to its open streams, which replay
	// history from the store. Only events the store confirms reach the
	// hub: one read per event, so that a forged event on the bus cannot
	// move the streams' positions.
	hub := httpapi.NewHub()
	api.Feed = hub
	confirmed := &httpapi.ConfirmedFeed{Tracker: svc, Broadcast: hub.Broadcast, Logger: logger}
	feed := &httpapi.LiveFeed{Bus: bus, Hub: hub, Confirm: confirmed.Confirm, Logger: logger}
	feed.Open()
	defer feed.Close() // before the bus closes

	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		// No whole-request timeout: a bulk import body may take minutes.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(api.CloseStreams) // open streams would hold Shutdown up
	fmt.Fprintf(e.stdout, "agileplus %s serving on http://%s (data %s)\n", version, ln.Addr(), c.dataDir)
	logger.Info("serving", "addr", ln.Addr().String(), "data", c.dataDir, "durability", c.durability, "nats", natsMode(c))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		logger.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	rel.Close()
	// Publish what the last requests committed, if the bus is there; what
	// is left stays in the outbox for the next start.
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	for {
		n, derr := rel.Drain(dctx)
		if derr != nil || n == 0 {
			break
		}
	}
	cancel()
	return err
}

// configError is a bad flag or environment value: a usage error (exit
// status 2) without a usage line, since serve's flags are many.
type configError struct{ msg string }

func (c *configError) Error() string        { return c.msg }
func (c *configError) Is(target error) bool { return target == errUsage }

func configErrorf(format string, args ...any) error {
	return &configError{fmt.Sprintf(format, args...)}
}

// checkListenAddr checks a host:port to listen on.
func checkListenAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return configErrorf("%s %q must be host:port, such as 127.0.0.1:8080 (:0 picks a free port): %v", flag, addr, err)
	}
	return nil
}

// checkNATSURLs checks the form of --nats-url's comma-separated URLs; a
// bare host:port means nats://host:port, as the NATS client reads it.
func checkNATSURLs(urls string) error {
	if urls == "" {
		return nil
	}
	for raw := range strings.SplitSeq(urls, ",") {
		raw = strings.TrimSpace(raw)
		s := raw
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err == nil && u.Host == "" {
			err = errors.New("no host")
		}
		if err == nil {
			switch u.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				err = fmt.Errorf("scheme %s is not nats, tls, ws or wss", u.Scheme)
			}
		}
		if err != nil {
			return configErrorf("--nats-url %q: %v (env NATS_URL; a URL such as nats://host:4222, comma-separated for a cluster)", raw, err)
		}
	}
	return nil
}

// serveStore is what serve needs of a system of record.
type serveStore interface {
	agileplus.Store
	agileplus.Outbox
	agileplus.Pinger
}

// openServeStore opens Neo4j when --neo4j-url is set, else SQLite in the
// data directory.
func openServeStore(ctx context.Context, e *env, c serveConfig, logger *slog.Logger) (serveStore, error) {
	if c.neo4jURL != "" {
		return neo4jstore.Open(ctx, neo4jstore.Config{
			URL: c.neo4jURL, User: cmpOr(e.getenv("NEO4J_USER"), "neo4j"), Password: e.getenv("NEO4J_PASSWORD"), Logger: logger,
		})
	}
	sync := "normal"
	if c.durability == "strict" {
		sync = "full"
	}
	return sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(c.dataDir, "agileplus.db"), Synchronous: sync})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func natsMode(c serveConfig) string {
	if c.natsURL == "" {
		return "embedded"
	}
	return redact(c.natsURL)
}

// redact hides credentials in URLs.
func redact(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// validateStream checks the stream policy flags before anything starts.
func (c serveConfig) validateStream() error {
	switch {
	case c.replicas < 1 || c.replicas > 5:
		return configErrorf("--stream-replicas must be between 1 and 5, not %d", c.replicas)
	case c.replicas > 1 && c.natsURL == "":
		return configErrorf("--stream-replicas %d needs a NATS cluster (--nats-url); the embedded server keeps one replica", c.replicas)
	case c.maxAge < time.Minute:
		return configErrorf("--stream-max-age must be at least 1m, not %s", c.maxAge)
	case c.maxBytes == 0 || c.maxBytes < -1:
		return configErrorf("--stream-max-bytes must be positive or -1 (unlimited), not %d", c.maxBytes)
	case c.dedupWindow < time.Second || c.dedupWindow > c.maxAge:
		return configErrorf("--dedup-window must be between 1s and --stream-max-age (%s), not %s", c.maxAge, c.dedupWindow)
	}
	return nil
}

// envDefaults reads flag defaults from the environment and remembers the
// first variable that does not parse, which serve reports before starting.
type envDefaults struct {
	getenv func(string) string
	errs   []envError // in the order the flags were defined
}

// envError is a variable that does not parse, and the flag it defaults.
type envError struct {
	flag string
	err  error
}

func (d *envDefaults) fail(flag, key, v, want string) {
	d.errs = append(d.errs, envError{flag, configErrorf("%s=%q is not %s (or pass --%s)", key, v, want, flag)})
}

func (d *envDefaults) int(flag, key string, def int) int {
	v := d.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		d.fail(flag, key, v, "an integer")
		return def
	}
	return n
}

func (d *envDefaults) str(key, def string) string {
	if v := d.getenv(key); v != "" {
		return v
	}
	return def
}

func (d *envDefaults) bool(flag, key string, def bool) bool {
	v := d.getenv(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		d.fail(flag, key, v, "a boolean (true or false)")
		return def
	}
	return b
}

func (d *envDefaults) duration(flag, key string, def time.Duration) time.Duration {
	v := d.getenv(key)
	if v == "" {
		return def
	}
	dur, err := time.ParseDuration(v)
	if err != nil {
		d.fail(flag, key, v, "a duration like 90s, 10m or 168h")
		return def
	}
	return dur
}

// consumerPolicy checks the consumer flags and returns the policy.
func (c serveConfig) consumerPolicy() (agileplus.ConsumerPolicy, error) {
	p := agileplus.ConsumerPolicy{MaxDeliver: c.maxDeliver, AckWait: c.ackWait}
	if c.maxDeliver < 1 || c.maxDeliver > 100 {
		return p, configErrorf("--consumer-max-deliver must be between 1 and 100, not %d", c.maxDeliver)
	}
	for part := range strings.SplitSeq(c.backoff, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 || d > time.Hour {
			return p, configErrorf("--consumer-backoff %q: each wait must be a duration between 0s and 1h, like 1s,5s,30s", c.backoff)
		}
		p.Backoff = append(p.Backoff, d)
	}
	if c.ackWait < time.Second {
		return p, configErrorf("--consumer-ack-wait must be at least 1s, not %s", c.ackWait)
	}
	if c.webhookTimeout < 100*time.Millisecond || c.webhookTimeout >= c.ackWait {
		return p, configErrorf("--webhook-timeout must be at least 100ms and shorter than --consumer-ack-wait (%s), not %s", c.ackWait, c.webhookTimeout)
	}
	return p, nil
}

// backbone serves webhooks from the dispatcher and dead letters from the bus.
type backbone struct {
	*webhook.Dispatcher
	*natsbus.Bus
}

// NATSTokenFile is where serve keeps the token clients of the embedded
// NATS server present when --nats-listen exposes it.
const NATSTokenFile = "nats-client-token"

// natsClientToken returns AGILEPLUS_NATS_TOKEN, else the token in the data
// directory, made on first use (readable by the owner only).
func natsClientToken(e *env, dataDir string) (string, error) {
	if t := e.getenv("AGILEPLUS_NATS_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(dataDir, NATSTokenFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	rand.Read(b)
	token := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the NATS client token: %w", err)
	}
	return token, nil
}
