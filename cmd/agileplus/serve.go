package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/oteltrace"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/spf13/cobra"
)

// serveConfig is serve's flags and environment as given; check turns it
// into the app's configuration.
type serveConfig struct {
	addr       string
	dataDir    string
	durability string // "normal" or "strict"
	natsURL    string
	natsListen string
	logLevel   string
	logFormat  string
	neo4jURL   string

	// Operations: metrics, the embedded NATS server's monitoring and limits.
	metricsAddr   string
	natsMonitor   string
	natsMaxMemory string
	natsMaxStore  string

	// Stream policy.
	replicas    int
	maxAge      time.Duration
	maxBytes    int64
	dedupWindow time.Duration

	// Consumers inside the server and webhooks.
	maxDeliver          int
	backoff             string
	ackWait             time.Duration
	webhookDenyPrivate  bool
	webhookAllowPrivate bool
	webhookTimeout      time.Duration
	importLimit         string
	artifactMaxSize     string

	// Identity and the edge.
	insecureNoAuth bool
	tlsCert        string
	tlsKey         string
	maxConns       int

	// The cache and rate limits (cache.go).
	cache cacheFlags

	// badEnv are the variables behind flag defaults that do not parse.
	badEnv []envError
}

func newServeCmd(e *env) *cobra.Command {
	var c serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: HTTP API, SQLite store and embedded NATS JetStream in one process",
		Long: `Run the server. With no configuration it needs nothing else installed: the
system of record is a SQLite file and events go to a NATS JetStream server
embedded in the process, both under --data. NATS_URL connects to an external
NATS server or cluster instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.check(e, cmd.Flags().Changed)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), e, cfg)
		},
	}
	c.addFlags(cmd, e.getenv)
	return cmd
}

// addFlags defines serve's flags on cmd, with defaults from getenv.
func (c *serveConfig) addFlags(cmd *cobra.Command, getenv func(string) string) {
	ed := &envDefaults{getenv: getenv}
	dataDir := getenv("AGILEPLUS_DATA_DIR")
	if dataDir == "" {
		dataDir = "agileplus-data"
	}
	durability := getenv("AGILEPLUS_DURABILITY")
	if durability == "" {
		durability = "normal"
	}
	f := cmd.Flags()
	f.StringVar(&c.addr, "addr", defaultAddr(getenv), "HTTP listen address (env SERVER_HOST, SERVER_PORT)")
	f.StringVar(&c.dataDir, "data", dataDir, "data directory (env AGILEPLUS_DATA_DIR)")
	f.StringVar(&c.durability, "durability", durability, "normal: survive process crashes; strict: also survive power loss, fsync on every commit (env AGILEPLUS_DURABILITY)")
	f.StringVar(&c.natsURL, "nats-url", getenv("NATS_URL"), "external NATS server URL(s), comma-separated; empty runs NATS embedded (env NATS_URL)")
	f.StringVar(&c.natsListen, "nats-listen", getenv("AGILEPLUS_NATS_LISTEN"), "also expose the embedded NATS server to clients on this address, e.g. 127.0.0.1:4222; clients present the token in DATA/nats-client-token or AGILEPLUS_NATS_TOKEN (env AGILEPLUS_NATS_LISTEN)")
	f.StringVar(&c.logLevel, "log-level", ed.str("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	f.StringVar(&c.logFormat, "log-format", ed.str("AGILEPLUS_LOG_FORMAT", "text"), "text (logfmt) or json, one object a line (env AGILEPLUS_LOG_FORMAT)")
	f.StringVar(&c.metricsAddr, "metrics-addr", getenv("AGILEPLUS_METRICS_ADDR"), "also serve /metrics without a key on this address, e.g. 127.0.0.1:9464, for a Prometheus that scrapes without one; /metrics on --addr always needs a key with read scope (env AGILEPLUS_METRICS_ADDR)")
	f.StringVar(&c.natsMonitor, "nats-monitor", getenv("AGILEPLUS_NATS_MONITOR"), "serve the embedded NATS server's monitoring endpoint (/healthz, /varz, /jsz) without authentication on this address, e.g. 127.0.0.1:8222 (env AGILEPLUS_NATS_MONITOR)")
	f.StringVar(&c.natsMaxMemory, "nats-max-memory", getenv("AGILEPLUS_NATS_MAX_MEMORY"), "memory the embedded JetStream may use, in bytes or with a unit: 256MiB, 1GiB; empty: the server's default, 3/4 of the machine's (env AGILEPLUS_NATS_MAX_MEMORY)")
	f.StringVar(&c.natsMaxStore, "nats-max-store", getenv("AGILEPLUS_NATS_MAX_STORE"), "disk the embedded JetStream may use, in bytes or with a unit: 10GiB; empty: the server's default, most of the free disk (env AGILEPLUS_NATS_MAX_STORE)")
	f.StringVar(&c.neo4jURL, "neo4j-url", getenv("NEO4J_URL"), "keep the system of record in Neo4j (neo4j://, bolt://, +s for TLS; user and password from NEO4J_USER, NEO4J_PASSWORD) instead of SQLite in --data (env NEO4J_URL)")
	f.IntVar(&c.replicas, "stream-replicas", ed.int("stream-replicas", "NATS_STREAM_REPLICAS", 1), "replicas of the event stream: 1 embedded, 3 on a three-node cluster (env NATS_STREAM_REPLICAS)")
	f.DurationVar(&c.maxAge, "stream-max-age", ed.duration("stream-max-age", "AGILEPLUS_STREAM_MAX_AGE", 7*24*time.Hour), "events older than this leave the stream (env AGILEPLUS_STREAM_MAX_AGE)")
	f.Int64Var(&c.maxBytes, "stream-max-bytes", int64(ed.int("stream-max-bytes", "AGILEPLUS_STREAM_MAX_BYTES", -1)), "size limit of the stream in bytes, oldest events go first; -1 unlimited (env AGILEPLUS_STREAM_MAX_BYTES)")
	f.DurationVar(&c.dedupWindow, "dedup-window", ed.duration("dedup-window", "AGILEPLUS_DEDUP_WINDOW", 10*time.Minute), "the stream drops a re-published event id within this window (env AGILEPLUS_DEDUP_WINDOW)")
	f.IntVar(&c.maxDeliver, "consumer-max-deliver", ed.int("consumer-max-deliver", "AGILEPLUS_CONSUMER_MAX_DELIVER", 5), "attempts per event for webhooks and other consumers before the event is dead-lettered (env AGILEPLUS_CONSUMER_MAX_DELIVER)")
	f.StringVar(&c.backoff, "consumer-backoff", ed.str("AGILEPLUS_CONSUMER_BACKOFF", "1s,5s,30s"), "waits before the 2nd, 3rd, ... attempt; the last repeats (env AGILEPLUS_CONSUMER_BACKOFF)")
	f.DurationVar(&c.ackWait, "consumer-ack-wait", ed.duration("consumer-ack-wait", "AGILEPLUS_CONSUMER_ACK_WAIT", time.Minute), "an attempt not acknowledged within this is delivered again (a consumer that died) (env AGILEPLUS_CONSUMER_ACK_WAIT)")
	f.BoolVar(&c.webhookDenyPrivate, "webhook-deny-private", ed.bool("webhook-deny-private", "AGILEPLUS_WEBHOOK_DENY_PRIVATE", false), "refuse webhook targets on loopback, private and link-local addresses, also on loopback where they are allowed by default (env AGILEPLUS_WEBHOOK_DENY_PRIVATE)")
	f.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", ed.bool("webhook-allow-private", "AGILEPLUS_WEBHOOK_ALLOW_PRIVATE", false), "allow webhook targets on loopback, private and link-local addresses when --addr is not loopback, where they are refused by default (env AGILEPLUS_WEBHOOK_ALLOW_PRIVATE)")
	f.DurationVar(&c.webhookTimeout, "webhook-timeout", ed.duration("webhook-timeout", "AGILEPLUS_WEBHOOK_TIMEOUT", 10*time.Second), "time limit of one webhook delivery attempt (env AGILEPLUS_WEBHOOK_TIMEOUT)")
	f.StringVar(&c.importLimit, "import-limit", ed.str("AGILEPLUS_IMPORT_LIMIT", "512MiB"), "largest body POST /v1/import takes, in bytes or with a unit: 512MiB, 2GiB (env AGILEPLUS_IMPORT_LIMIT)")
	f.StringVar(&c.artifactMaxSize, "artifact-max-size", ed.str("AGILEPLUS_ARTIFACT_MAX_SIZE", "5GiB"), "largest artifact an upload may bring, in bytes or with a unit: 5GiB, 100MiB; larger is refused with 413 (env AGILEPLUS_ARTIFACT_MAX_SIZE)")
	f.BoolVar(&c.insecureNoAuth, "insecure-no-auth", ed.bool("insecure-no-auth", "AGILEPLUS_INSECURE_NO_AUTH", false), "serve without API keys: every caller may do everything; only behind a proxy that authenticates (env AGILEPLUS_INSECURE_NO_AUTH)")
	f.StringVar(&c.tlsCert, "tls-cert", getenv("AGILEPLUS_TLS_CERT"), "serve HTTPS (and HTTP/2) with this PEM certificate chain; needs --tls-key (env AGILEPLUS_TLS_CERT)")
	f.StringVar(&c.tlsKey, "tls-key", getenv("AGILEPLUS_TLS_KEY"), "the PEM private key of --tls-cert (env AGILEPLUS_TLS_KEY)")
	f.IntVar(&c.maxConns, "max-connections", ed.int("max-connections", "AGILEPLUS_MAX_CONNECTIONS", 1024), "connections served at once; more wait until one closes (env AGILEPLUS_MAX_CONNECTIONS)")
	c.cache.addFlags(cmd, getenv)
	c.badEnv = ed.errs
}

// check checks everything the command line and the environment can get
// wrong, creating nothing, and returns the app's configuration. changed
// reports whether a flag was given.
func (c serveConfig) check(e *env, changed func(flag string) bool) (appConfig, error) {
	// A flag given wins over its environment variable, even a variable
	// that does not parse.
	for _, bad := range c.badEnv {
		if !changed(bad.flag) {
			return appConfig{}, bad.err
		}
	}
	durabilityFrom := "--durability"
	if !changed("durability") && e.getenv("AGILEPLUS_DURABILITY") != "" {
		durabilityFrom = "AGILEPLUS_DURABILITY"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		from := "--log-level"
		if !changed("log-level") {
			from = "LOG_LEVEL"
		}
		return appConfig{}, configErrorf("%s must be debug, info, warn or error, not %q", from, c.logLevel)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return appConfig{}, configErrorf("--log-format must be text or json, not %q (env AGILEPLUS_LOG_FORMAT)", c.logFormat)
	}
	ops, err := c.operations()
	if err != nil {
		return appConfig{}, err
	}
	if c.durability != "normal" && c.durability != "strict" {
		return appConfig{}, configErrorf("%s must be normal or strict, not %q", durabilityFrom, c.durability)
	}
	if strings.TrimSpace(c.dataDir) == "" {
		return appConfig{}, configErrorf("--data must name a directory (env AGILEPLUS_DATA_DIR)")
	}
	if err := checkListenAddr("--addr", c.addr); err != nil {
		return appConfig{}, err
	}
	if c.natsListen != "" {
		if err := checkListenAddr("--nats-listen", c.natsListen); err != nil {
			return appConfig{}, err
		}
	}
	if c.neo4jURL != "" && !isNeo4jURL(c.neo4jURL) {
		return appConfig{}, configErrorf("--neo4j-url %q must start with neo4j://, bolt://, neo4j+s:// or bolt+s://", c.neo4jURL)
	}
	if err := checkNATSURLs(c.natsURL); err != nil {
		return appConfig{}, err
	}
	if err := c.validateStream(); err != nil {
		return appConfig{}, err
	}
	policy, err := c.consumerPolicy()
	if err != nil {
		return appConfig{}, err
	}
	denyPrivate, err := webhookDenyPrivate(c.addr, c.webhookDenyPrivate, c.webhookAllowPrivate)
	if err != nil {
		return appConfig{}, err
	}
	secretKey, err := secretKeyFromEnv(e.getenv)
	if err != nil {
		return appConfig{}, err
	}
	importLimit, err := parseByteSize(c.importLimit)
	if err != nil {
		return appConfig{}, configErrorf("--import-limit (env AGILEPLUS_IMPORT_LIMIT): %v", err)
	}

	blobs, err := blobConfigFrom(e.getenv, c.dataDir, c.artifactMaxSize)
	if err != nil {
		return appConfig{}, err
	}

	if c.maxConns < 1 {
		return appConfig{}, configErrorf("--max-connections must be at least 1, not %d", c.maxConns)
	}
	tlsConfig, err := loadTLS(c.tlsCert, c.tlsKey)
	if err != nil {
		return appConfig{}, err
	}
	cache, err := c.cache.check(c.addr, changed)
	if err != nil {
		return appConfig{}, err
	}

	tracing, err := oteltrace.FromEnv(e.getenv, version)
	if err != nil {
		return appConfig{}, configErrorf("tracing: %v", err)
	}

	logger := newLogger(e.stderr, c.logFormat, level)
	strict := c.durability == "strict"
	sync := "normal"
	if strict {
		sync = "full"
	}
	cfg := appConfig{
		addr:       c.addr,
		dataDir:    c.dataDir,
		durability: c.durability,
		sqlite:     sqlitestore.Config{Path: filepath.Join(c.dataDir, "agileplus.db"), Synchronous: sync},
		bus: natsbus.Config{
			URL:        c.natsURL,
			Token:      e.getenv("NATS_TOKEN"),
			User:       e.getenv("NATS_USER"),
			Password:   e.getenv("NATS_PASSWORD"),
			CredsFile:  e.getenv("NATS_CREDS"),
			DataDir:    filepath.Join(c.dataDir, "nats"),
			ListenAddr: c.natsListen,
			SyncAlways: strict,
			TLSCA:      e.getenv("NATS_TLS_CA"),
			TLSCert:    e.getenv("NATS_TLS_CERT"),
			TLSKey:     e.getenv("NATS_TLS_KEY"),
			Replicas:   c.replicas,
			MaxAge:     c.maxAge,
			MaxBytes:   c.maxBytes,
			Duplicates: c.dedupWindow,
			Consumer:   policy,
			Logger:     logger,

			MonitorAddr: ops.natsMonitor,
			MaxMemory:   ops.natsMaxMemory,
			MaxStore:    ops.natsMaxStore,
		},
		metricsAddr:        c.metricsAddr,
		natsToken:          e.getenv("AGILEPLUS_NATS_TOKEN"),
		webhookDenyPrivate: denyPrivate,
		webhookTimeout:     c.webhookTimeout,
		secretKey:          secretKey,
		importLimit:        importLimit,
		blobs:              blobs,
		logger:             logger,
		insecureNoAuth:     c.insecureNoAuth,
		localKeyName:       cmpOr(e.getenv("USER"), "local"),
		tls:                tlsConfig,
		maxConns:           c.maxConns,
		tracing:            tracing,
		cache:              cache,
	}
	if c.neo4jURL != "" {
		cfg.neo4j = neo4jstore.Config{
			URL: c.neo4jURL, User: cmpOr(e.getenv("NEO4J_USER"), "neo4j"), Password: e.getenv("NEO4J_PASSWORD"), Logger: logger,
		}
	}
	return cfg, nil
}

// serve runs the app until ctx ends or HTTP fails.
func serve(ctx context.Context, e *env, cfg appConfig) error {
	a := newApp(cfg)
	if err := a.Open(ctx); err != nil {
		return err
	}
	scheme, auth := "http", "keys"
	if cfg.tls != nil {
		scheme = "https"
	}
	if cfg.insecureNoAuth {
		auth = "insecure-no-auth"
	}
	fmt.Fprintf(e.stdout, "agileplus %s serving on %s://%s (data %s)\n", version, scheme, a.Addr(), cfg.dataDir)
	if !cfg.insecureNoAuth {
		fmt.Fprintf(e.stdout, "web board: agileplus board signs your browser in\n")
	}
	if ma := a.MetricsAddr(); ma != nil {
		fmt.Fprintf(e.stdout, "metrics without a key on http://%s/metrics\n", ma)
	}
	cfg.logger.Info("serving", "addr", a.Addr().String(), "data", cfg.dataDir, "durability", cfg.durability, "nats", natsMode(cfg.bus.URL), "tls", cfg.tls != nil, "auth", auth)
	var err error
	select {
	case err = <-a.Failed():
	case <-ctx.Done():
		cfg.logger.Info("shutting down")
	}
	if cerr := a.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// loadTLS loads the certificate and key of --tls-cert and --tls-key; nil
// when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, configErrorf("--tls-key needs --tls-cert, the certificate it belongs to (env AGILEPLUS_TLS_CERT)")
	case keyFile == "":
		return nil, configErrorf("--tls-cert needs --tls-key, its private key (env AGILEPLUS_TLS_KEY)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, configErrorf("--tls-cert %s and --tls-key %s: %v (want PEM files of one certificate and its private key)", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// natsMode is how the log names the bus: embedded, or its URLs.
func natsMode(urls string) string {
	if urls == "" {
		return "embedded"
	}
	return redact(urls)
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

// operationsConfig is what the operations flags resolve to.
type operationsConfig struct {
	natsMonitor                 string
	natsMaxMemory, natsMaxStore int64 // 0: the server's default
}

// operations checks the flags of metrics and of the embedded NATS server's
// monitoring and limits.
func (c serveConfig) operations() (operationsConfig, error) {
	var o operationsConfig
	if c.metricsAddr != "" {
		if err := checkListenAddr("--metrics-addr", c.metricsAddr); err != nil {
			return o, err
		}
	}
	embeddedOnly := []struct{ flag, value string }{
		{"--nats-monitor", c.natsMonitor}, {"--nats-max-memory", c.natsMaxMemory}, {"--nats-max-store", c.natsMaxStore},
	}
	for _, f := range embeddedOnly {
		if f.value != "" && c.natsURL != "" {
			return o, configErrorf("%s configures the embedded NATS server, and --nats-url (env NATS_URL) replaces it by an external one: configure that one in its own nats.conf", f.flag)
		}
	}
	if c.natsMonitor != "" {
		if err := checkListenAddr("--nats-monitor", c.natsMonitor); err != nil {
			return o, err
		}
		o.natsMonitor = c.natsMonitor
	}
	for _, s := range []struct {
		flag, env, value string
		to               *int64
	}{
		{"--nats-max-memory", "AGILEPLUS_NATS_MAX_MEMORY", c.natsMaxMemory, &o.natsMaxMemory},
		{"--nats-max-store", "AGILEPLUS_NATS_MAX_STORE", c.natsMaxStore, &o.natsMaxStore},
	} {
		if s.value == "" {
			continue
		}
		n, err := parseByteSize(s.value)
		if err != nil {
			return o, configErrorf("%s (env %s): %v", s.flag, s.env, err)
		}
		*s.to = n
	}
	return o, nil
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
