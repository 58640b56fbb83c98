package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedServerName is stable across restarts so the JetStream state in
// DataDir is always owned by the same server identity.
const embeddedServerName = "agileplus"

// startEmbedded runs a NATS server with JetStream in this process and waits
// until it accepts connections.
func startEmbedded(cfg Config) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("natsbus: DataDir is required for the embedded server")
	}
	opts := &server.Options{
		ServerName: embeddedServerName,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		DontListen: cfg.ListenAddr == "",
		// 0 is the server's default for both.
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
	}
	if cfg.MonitorAddr != "" {
		host, port, err := parseListenAddr(cfg.MonitorAddr)
		if err != nil {
			return nil, err
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	if cfg.ListenAddr != "" {
		host, port, err := parseListenAddr(cfg.ListenAddr)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
		opts.Authorization = cfg.ListenToken
	}

	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	// The server reports a failure to enable JetStream (bad or locked data
	// dir) only through its logger, so the adapter keeps the last fatal line
	// to put in the returned error.
	logger := &serverLogger{log: cfg.Logger}
	srv.SetLogger(logger, false, false)
	srv.Start()

	// Wait in short steps: a fatal error leaves the server never ready.
	deadline := time.Now().Add(embeddedStartTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		if logger.fatal() || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("natsbus: embedded server did not start%s", logger.fatalSuffix())
		}
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: embedded JetStream did not start in %s%s", cfg.DataDir, logger.fatalSuffix())
	}
	return srv, nil
}

// embeddedStartTimeout bounds server start, which includes recovering the
// JetStream store from disk.
const embeddedStartTimeout = time.Minute

// parseListenAddr turns "host:port" into server options. An empty host
// means loopback (the platform binds 127.0.0.1 unless told otherwise; the
// NATS default would be 0.0.0.0), and port 0 or -1 means a random port (for
// the NATS server 0 would mean 4222).
func parseListenAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("natsbus: listen address %q: %w", addr, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("natsbus: listen address %q: bad port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// serverLogger routes the embedded server's log to slog. Notices go to
// debug: the server's startup banner would otherwise dominate the log of a
// binary in which NATS is one component among several.
type serverLogger struct {
	log *slog.Logger

	mu        sync.Mutex
	lastFatal string
}

func (l *serverLogger) logf(level slog.Level, format string, v []any) {
	if l.log == nil || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l *serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }

// Fatalf must not exit the process, unlike the server's own logger: the
// failure is returned from Open instead.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.lastFatal = msg
	l.mu.Unlock()
	l.logf(slog.LevelError, "%s", []any{msg})
}

func (l *serverLogger) fatal() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal != ""
}

func (l *serverLogger) fatalSuffix() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastFatal == "" {
		return ""
	}
	return ": " + l.lastFatal
}
