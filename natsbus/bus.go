// Package natsbus is the event bus on NATS JetStream: it publishes domain
// events into one stream, either on a NATS server embedded in the process
// or on an external server or cluster. The code path is the same for both;
// only the connection differs.
package natsbus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	_ agileplus.Publisher = (*Bus)(nil)
	_ agileplus.Pinger    = (*Bus)(nil)
)

// Headers set on every published message besides Nats-Msg-Id. The body is
// the structured CloudEvent (hence Content-Type); the Ce- headers repeat the
// attributes consumers filter on, so a headers-only consumer needs no body.
const (
	HeaderContentType = "Content-Type"
	HeaderSpecVersion = "Ce-Specversion"
	HeaderID          = "Ce-Id"
	HeaderType        = "Ce-Type"
	// HeaderTraceParent is the W3C trace context of the request that caused
	// the event, set when it has one (the exact W3C name: NATS headers are
	// case-sensitive).
	HeaderTraceParent = "traceparent"

	ContentTypeCloudEvent = "application/cloudevents+json"
)

// Config configures a Bus. Zero values mean the defaults noted per field.
type Config struct {
	// URL is empty to run the NATS server embedded in the process, or one
	// or more comma-separated URLs of an external server or cluster.
	URL string

	// Credentials for an external server; all optional.
	Token     string
	User      string
	Password  string
	CredsFile string

	// TLS for an external server: a CA bundle to trust (instead of the
	// system roots) and a client certificate and key, all PEM files and
	// all optional. A tls:// URL or a server that requires TLS uses TLS
	// with the system roots even when these are empty.
	TLSCA   string
	TLSCert string
	TLSKey  string

	// DataDir holds the embedded server's JetStream files. Required when
	// embedded.
	DataDir string
	// ListenAddr, when set, makes the embedded server also accept clients
	// on a TCP port, e.g. "127.0.0.1:4222"; port 0 or -1 picks a free port
	// and an empty host means 127.0.0.1. Empty: in-process clients only.
	ListenAddr string
	// ListenToken, when set, is the token every client of the embedded
	// server must present, this process's own connection included. Set it
	// whenever ListenAddr is: the server holds webhook secrets and accepts
	// publishes into the event stream.
	ListenToken string
	// SyncAlways makes the embedded server fsync every write instead of
	// every couple of minutes, trading throughput for surviving a power
	// loss (a process crash loses nothing either way).
	SyncAlways bool
	// MonitorAddr, when set, makes the embedded server serve its HTTP
	// monitoring endpoints (/healthz, /varz, /jsz, ...) on this host:port,
	// without authentication; port 0 picks a free port and an empty host
	// means 127.0.0.1. Empty: no monitoring endpoint.
	MonitorAddr string
	// MaxMemory and MaxStore limit the embedded server's JetStream memory
	// and file storage, in bytes; 0 leaves the server's defaults (three
	// quarters of the machine's memory; most of the free disk).
	MaxMemory int64
	MaxStore  int64

	// ConnectTimeout bounds each dial and the wait for the first
	// connection to an external server (default 10s).
	ConnectTimeout time.Duration

	// The stream: name (default "AGILEPLUS"), age and size limits (default
	// 7 days and unlimited; the oldest messages go first), de-duplication
	// window for Nats-Msg-Id (default 10 minutes) and replicas (default 1).
	StreamName string
	MaxAge     time.Duration
	MaxBytes   int64
	Duplicates time.Duration
	Replicas   int

	// Consumer is the policy of durable consumers (default
	// agileplus.DefaultConsumerPolicy).
	Consumer agileplus.ConsumerPolicy
	// OnAttempt, if set, is told about each attempt a durable consumer of
	// this process made at an event: the delivery and the handler's error.
	// It runs on the consumer's goroutine and must return quickly.
	OnAttempt func(d agileplus.Delivery, err error)

	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.StreamName == "" {
		c.StreamName = "AGILEPLUS"
	}
	if c.MaxAge == 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	if c.Duplicates == 0 {
		// The server refuses a window longer than the stream's max age.
		c.Duplicates = min(10*time.Minute, c.MaxAge)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Consumer.MaxDeliver == 0 {
		c.Consumer = agileplus.DefaultConsumerPolicy()
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Tuning of the async publisher.
const (
	// publishWindow is how many messages one Publish call sends before it
	// waits for their acks, so a huge batch cannot hit maxPending and
	// fail on a stall instead of just taking longer.
	publishWindow = 4096
	// maxPending leaves room for several concurrent Publish calls.
	maxPending = 4 * publishWindow
	// ackTimeout fails an ack that never comes (message lost during a
	// leader change), so Publish cannot hang when its ctx has no deadline.
	ackTimeout = 30 * time.Second
)

// Bus publishes events to the JetStream stream. It is safe for concurrent
// use.
type Bus struct {
	cfg    Config
	srv    *server.Server // nil when external
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	connFatal  chan error    // a first-connection error retrying cannot fix
	connClosed chan struct{} // closed by the NATS client when nc is closed
	done       chan struct{} // closed when Close starts
	closeOnce  sync.Once
	closeErr   error

	mu      sync.Mutex
	connErr error // last failed connection attempt

	consumers registry // durable consumers running in this process
	dlq       jetstream.Stream
	webhooks  *webhookStore
}

// Open connects to the bus (starting the embedded server if cfg.URL is
// empty) and creates or updates the stream. The caller closes the Bus. An
// unreachable server is an EUNAVAILABLE error.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	cfg = cfg.withDefaults()
	b := &Bus{
		cfg:        cfg,
		connFatal:  make(chan error, 1),
		connClosed: make(chan struct{}),
		done:       make(chan struct{}),
	}
	opts := []nats.Option{
		nats.Name("agileplus"),
		nats.ClosedHandler(func(*nats.Conn) { close(b.connClosed) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			cfg.Logger.Warn("natsbus: async error", "subject", subject, "err", err)
		}),
	}

	if cfg.URL == "" {
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		if cfg.ListenToken != "" {
			opts = append(opts, nats.Token(cfg.ListenToken))
		}
	} else {
		opts = append(opts,
			nats.MaxReconnects(-1),
			nats.RetryOnFailedConnect(true),
			nats.Timeout(cfg.ConnectTimeout),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				cfg.Logger.Warn("natsbus: disconnected", "err", err)
			}),
			nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
				b.setConnErr(err)
				if permanentConnError(err) {
					select {
					case b.connFatal <- err:
					default:
					}
				}
				cfg.Logger.Debug("natsbus: reconnect attempt failed", "err", err)
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				cfg.Logger.Info("natsbus: reconnected", "url", nc.ConnectedUrlRedacted())
			}),
		)
		if cfg.TLSCA != "" {
			opts = append(opts, nats.RootCAs(cfg.TLSCA))
		}
		if cfg.TLSCert != "" || cfg.TLSKey != "" {
			if cfg.TLSCert == "" || cfg.TLSKey == "" {
				return nil, errors.New("natsbus: a TLS client certificate needs both the certificate and the key file")
			}
			opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
		}
		switch {
		case cfg.CredsFile != "":
			opts = append(opts, nats.UserCredentials(cfg.CredsFile))
		case cfg.Token != "":
			opts = append(opts, nats.Token(cfg.Token))
		case cfg.User != "":
			opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
		}
	}

	servers := cfg.URL
	if servers == "" {
		servers = nats.DefaultURL // ignored with an in-process server
	}
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, unavailable(fmt.Errorf("natsbus: connect: %w", err))
	}
	b.nc = nc
	if err := b.waitConnected(ctx); err != nil {
		_ = b.Close() // the connect error is the one to report
		return nil, err
	}

	b.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncTimeout(ackTimeout),
	)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	b.stream, err = b.setUpStream(ctx, streamConfig(cfg))
	if err != nil {
		_ = b.Close()
		err = fmt.Errorf("natsbus: create stream %s: %w", cfg.StreamName, err)
		if isUnreachable(err) {
			return nil, unavailable(err)
		}
		return nil, err
	}
	if err := b.openAuxiliary(ctx); err != nil {
		_ = b.Close()
		if isUnreachable(err) {
			return nil, unavailable(err)
		}
		return nil, err
	}
	return b, nil
}

// streamConfig is the event stream's configuration.
func streamConfig(cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.StreamName,
		Description: "AgilePlus domain events (CloudEvents JSON, Nats-Msg-Id = event id)",
		Subjects:    []string{agileplus.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		MaxMsgs:     -1,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
	}
}

// apiAttempt bounds one JetStream API call that sets the bus up, and
// apiAttempts how many are made. On a cluster whose stream or meta leader
// just changed hands, a request can go unanswered; without a bound of its
// own it would wait for the caller's whole deadline. The calls are
// idempotent (create or update), so an unanswered one is sent again.
var (
	apiAttempt  = 10 * time.Second
	apiAttempts = 6
)

// setUpStream creates or updates a stream, sent again when unanswered.
func (b *Bus) setUpStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retryAPI(ctx, func(ctx context.Context) (jetstream.Stream, error) { return b.js.CreateOrUpdateStream(ctx, cfg) })
}

// setUpKeyValue creates or updates a bucket, sent again when unanswered.
func (b *Bus) setUpKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retryAPI(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return b.js.CreateOrUpdateKeyValue(ctx, cfg) })
}

// retryAPI runs fn, each attempt bounded by apiAttempt, until it succeeds,
// fails otherwise than by going unanswered, or ctx ends.
func retryAPI[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, apiAttempt)
		v, err := fn(actx)
		cancel()
		unanswered := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
		if err == nil || !unanswered || ctx.Err() != nil || attempt == apiAttempts {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitConnected waits for the first connection, which RetryOnFailedConnect
// lets happen in the background: a server that comes up a little after us
// is fine, one that stays away is EUNAVAILABLE.
func (b *Bus) waitConnected(ctx context.Context) error {
	if b.nc.IsConnected() {
		return nil
	}
	ch := b.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer b.nc.RemoveStatusListener(ch)
	if b.nc.IsConnected() {
		return nil
	}
	timer := time.NewTimer(b.cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case st := <-ch:
		if st == nats.CONNECTED {
			return nil
		}
		// The client closes after refusals such as bad credentials; its
		// last error says why, whether or not connFatal has it yet.
		if err := b.nc.LastError(); err != nil {
			return unavailable(fmt.Errorf("natsbus: connect to %s: connection closed: %w", redact(b.cfg.URL), err))
		}
		return unavailable(fmt.Errorf("natsbus: connect to %s: connection closed", redact(b.cfg.URL)))
	case err := <-b.connFatal:
		return unavailable(fmt.Errorf("natsbus: connect to %s: %w", redact(b.cfg.URL), err))
	case <-timer.C:
		return unavailable(fmt.Errorf("natsbus: connect to %s: not connected within %s%s", redact(b.cfg.URL), b.cfg.ConnectTimeout, b.lastConnError()))
	case <-ctx.Done():
		return unavailable(fmt.Errorf("natsbus: connect to %s: %w%s", redact(b.cfg.URL), ctx.Err(), b.lastConnError()))
	}
}

func (b *Bus) setConnErr(err error) {
	b.mu.Lock()
	b.connErr = err
	b.mu.Unlock()
}

// redact hides the user info of each URL in a comma-separated list, since
// it may hold a password or a token (nats://token@host).
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// permanentConnError reports whether a connection attempt failed in a way
// retrying cannot fix: the server's certificate is not trusted, or does not
// match its name.
func permanentConnError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host)
}

// lastConnError says why the last connection attempt failed (refused,
// authorization), if one did.
func (b *Bus) lastConnError() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.connErr != nil {
		return ": " + b.connErr.Error()
	}
	return ""
}

// Publish publishes the events in order, each as a CloudEvent on its
// subject with Nats-Msg-Id set to the event ID, and returns nil once the
// stream has acknowledged every one. Events the stream already holds
// (within the de-duplication window) are acknowledged without being stored
// again. An event without an ID or a valid subject (EINVALID), or whose
// data is not valid JSON, fails the whole batch before anything is sent.
func (b *Bus) Publish(ctx context.Context, events []*agileplus.Event) error {
	if len(events) == 0 {
		return nil
	}
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		m, err := newMsg(e)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	futures := make([]jetstream.PubAckFuture, 0, min(len(msgs), publishWindow))
	for start := 0; start < len(msgs); start += publishWindow {
		window := msgs[start:min(start+publishWindow, len(msgs))]
		futures = futures[:0]
		if err := b.checkConnected(); err != nil {
			return err
		}
		for _, m := range window {
			f, err := b.js.PublishMsgAsync(m)
			if err != nil {
				return unavailable(fmt.Errorf("natsbus: publish %s: %w", m.Subject, err))
			}
			futures = append(futures, f)
		}
		if err := b.waitAcks(ctx, futures); err != nil {
			return err
		}
	}
	return nil
}

// waitAcks waits for each future in turn rather than for
// PublishAsyncComplete, which tracks every publish on the connection and
// so could wait on concurrent Publish calls indefinitely.
func (b *Bus) waitAcks(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return unavailable(fmt.Errorf("natsbus: publish %s: %w", f.Msg().Subject, err))
		case <-ctx.Done():
			return unavailable(fmt.Errorf("natsbus: publish: waiting for acks: %w", ctx.Err()))
		case <-b.done:
			return unavailable(errors.New("natsbus: publish: bus closed"))
		}
	}
	return nil
}

// newMsg encodes one event. Setting the headers directly (rather than with
// jetstream.WithMsgID) saves an option allocation per message on the hot
// path; the result on the wire is identical.
func newMsg(e *agileplus.Event) (*nats.Msg, error) {
	subject := e.Subject()
	if err := checkSubject(subject); err != nil {
		return nil, agileplus.Errorf(agileplus.EINVALID, "natsbus: event %s: %v", e.ID, err)
	}
	if e.ID == "" {
		return nil, agileplus.Errorf(agileplus.EINVALID, "natsbus: event on %s has no id", subject)
	}
	ce := e.CloudEvent()
	data, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("natsbus: encode event %s: %w", e.ID, err)
	}
	msg := &nats.Msg{
		Subject: subject,
		Data:    data,
		Header: nats.Header{
			jetstream.MsgIDHeader: {e.ID},
			HeaderContentType:     {ContentTypeCloudEvent},
			HeaderSpecVersion:     {ce.SpecVersion},
			HeaderID:              {ce.ID},
			HeaderType:            {ce.Type},
		},
	}
	if agileplus.ValidTraceParent(e.TraceParent) {
		msg.Header[HeaderTraceParent] = []string{e.TraceParent}
	}
	return msg, nil
}

// checkSubject refuses subjects the server would drop or route elsewhere:
// an empty token (a missing project, kind, id or action) or a token holding
// a wildcard or whitespace. Dots inside a field show up as extra tokens, so
// the token count is checked too.
func checkSubject(subject string) error {
	const wantTokens = 5 // agileplus.<project>.<entity>.<id>.<action>
	n := 0
	for tok := range strings.SplitSeq(subject, ".") {
		n++
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return fmt.Errorf("invalid subject %q", subject)
		}
	}
	if n != wantTokens {
		return fmt.Errorf("invalid subject %q: want %d tokens, got %d", subject, wantTokens, n)
	}
	return nil
}

// Ping reports whether the connection is up and the stream answers.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.checkConnected(); err != nil {
		return err
	}
	if _, err := b.stream.Info(ctx); err != nil {
		return unavailable(fmt.Errorf("natsbus: stream %s: %w", b.cfg.StreamName, err))
	}
	return nil
}

// checkConnected fails fast while the client is reconnecting: publishing
// then would only fill the reconnect buffer and wait out the caller's ctx.
func (b *Bus) checkConnected() error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if st := b.nc.Status(); st != nats.CONNECTED {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "natsbus: not connected to NATS (%s)", strings.ToLower(st.String()))
	}
	return nil
}

func (b *Bus) checkOpen() error {
	select {
	case <-b.done:
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "natsbus: bus closed")
	default:
		return nil
	}
}

// JetStream returns the JetStream context the bus publishes with.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn returns the NATS connection of the bus.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// ClientURL is the URL other processes can connect to: the embedded
// server's client port when it listens, "" when it does not, or the
// configured external URL.
func (b *Bus) ClientURL() string {
	if b.srv == nil {
		return b.cfg.URL
	}
	if b.cfg.ListenAddr == "" {
		return ""
	}
	return b.srv.ClientURL()
}

// Close drains the connection and stops the embedded server, if any. It is
// safe to call more than once; later calls return the first result.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		b.consumers.stopAll()
		b.closeErr = b.closeConn()
		b.shutdownServer()
	})
	return b.closeErr
}

// drainTimeout bounds how long Close waits for in-flight messages.
const drainTimeout = 10 * time.Second

func (b *Bus) closeConn() error {
	if b.nc == nil {
		return nil
	}
	// Drain fails only when the connection is already closing or not
	// connected, in which case it closes it anyway; either way the closed
	// handler fires.
	_ = b.nc.Drain()
	select {
	case <-b.connClosed:
		return nil
	case <-time.After(drainTimeout):
		b.nc.Close()
		return fmt.Errorf("natsbus: close: drain did not finish within %s", drainTimeout)
	}
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// busError is an EUNAVAILABLE *agileplus.Error that keeps the NATS error it
// came from, so callers can still use errors.Is on either.
type busError struct {
	domain *agileplus.Error
	cause  error
}

func (e *busError) Error() string   { return e.domain.Error() }
func (e *busError) Unwrap() []error { return []error{e.domain, e.cause} }

func unavailable(err error) error {
	return &busError{domain: agileplus.Errorf(agileplus.EUNAVAILABLE, "%v", err), cause: err}
}

// isUnreachable reports whether err means the bus could not be reached (as
// opposed to refusing a request).
func isUnreachable(err error) bool {
	for _, target := range []error{
		context.DeadlineExceeded, context.Canceled,
		nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrDisconnected,
		nats.ErrConnectionReconnecting,
		jetstream.ErrNoStreamResponse, jetstream.ErrJetStreamNotEnabled, jetstream.ErrConnectionClosed,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
