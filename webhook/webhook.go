// Package webhook delivers events to registered HTTP endpoints: each
// webhook is a durable consumer on the event stream that POSTs the events
// its filter selects, signed with the webhook's secret, retried with the
// consumer policy's backoff and dead-lettered after the last attempt.
//
// The registry and the delivery log live wherever the Registry puts them
// (the NATS adapter keeps them on the bus, so every server process sharing
// the bus delivers for every webhook, each event once).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agileplus/agileplus"
)

// Headers of a delivery.
const (
	HeaderDelivery  = "X-Agileplus-Delivery"  // stable per webhook and event: receivers de-duplicate by it
	HeaderTimestamp = "X-Agileplus-Timestamp" // Unix seconds when this attempt was signed
	HeaderSignature = "X-Agileplus-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderAttempt   = "X-Agileplus-Attempt"   // 1 for the first attempt
	HeaderEventType = "X-Agileplus-Event"     // the event type, e.g. wp.transitioned
	HeaderWebhook   = "X-Agileplus-Webhook"   // the webhook id
)

// Registry stores webhooks and their delivery log.
type Registry interface {
	PutWebhook(ctx context.Context, h *agileplus.Webhook) error
	GetWebhook(ctx context.Context, id string) (*agileplus.Webhook, error)
	ListWebhooks(ctx context.Context) ([]*agileplus.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	// UpdateWebhook passes the registration of id to fn and stores it if
	// fn reports a change and nobody changed the registration meanwhile
	// (fn then runs again on the new one). ENOTFOUND when id is not
	// registered.
	UpdateWebhook(ctx context.Context, id string, fn func(h *agileplus.Webhook) bool) error
	// WatchWebhooks passes every registration to fn (h nil when removed),
	// first the current ones (before returning), then changes until ctx
	// ends.
	WatchWebhooks(ctx context.Context, fn func(id string, h *agileplus.Webhook)) error
	AppendDelivery(ctx context.Context, d *agileplus.WebhookDelivery) error
	Deliveries(ctx context.Context, webhookID string, after uint64, limit int) ([]*agileplus.WebhookDelivery, error)
	MarkDelivered(ctx context.Context, webhookID, eventID string) error
	Delivered(ctx context.Context, webhookID, eventID string) (bool, error)
}

// Config configures a Dispatcher.
type Config struct {
	Registry  Registry
	Consumers agileplus.ConsumerHost
	// DenyPrivate refuses loopback, private, link-local and unspecified
	// targets, at registration for literal addresses and at every
	// connection for resolved names. Off by default here; serve turns it
	// on whenever it listens beyond loopback.
	DenyPrivate bool
	// SecretKey is the deployment secret (SecretKeySize bytes) that seals
	// webhook secrets in the registry. Every process sharing a registry
	// needs the same one; without it no webhook can be created and sealed
	// secrets do not open.
	SecretKey []byte
	// Timeout bounds one attempt (default 10s).
	Timeout   time.Duration
	UserAgent string
	// OrphanGrace is how old the durable consumer of a webhook that is not
	// registered must be before the sweep removes it (default 1 minute):
	// CreateWebhook makes the consumer a moment before the registration,
	// maybe in another process sharing the bus.
	OrphanGrace time.Duration
	// SweepEvery is how often the dispatcher looks for such consumers
	// (default 10 minutes; also once at Start).
	SweepEvery time.Duration
	// OnDelivery, if set, is told the outcome of each attempt (one of the
	// agileplus.Delivery* outcomes) and how long its POST took.
	OnDelivery func(outcome string, took time.Duration)
	Logger     *slog.Logger
	IDs        *agileplus.IDGenerator
	Now        func() time.Time
	// Tracer, if set, records a span for each delivery attempt, a child
	// of the event's trace; the receiver gets the span's traceparent.
	Tracer agileplus.Tracer
}

// Dispatcher runs the webhooks.
type Dispatcher struct {
	cfg     Config
	client  *http.Client
	dialer  *net.Dialer // tests give it a resolver of their own
	seal    *sealer     // nil without a key
	sealErr error       // a key of the wrong size, reported by Start

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running map[string]agileplus.Consumer // by webhook id
	closed  bool

	sweeping sync.WaitGroup
}

// ConsumerName is the durable consumer name of a webhook.
func ConsumerName(webhookID string) string { return "webhook-" + webhookID }

// New returns a dispatcher; Start runs it.
func New(cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IDs == nil {
		cfg.IDs = agileplus.NewIDGenerator(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OrphanGrace <= 0 {
		cfg.OrphanGrace = time.Minute
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 10 * time.Minute
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "agileplus-webhook"
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if cfg.DenyPrivate {
		dialer.Control = denyPrivateControl
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout,
	}
	if cfg.DenyPrivate {
		transport.Proxy = nil // a proxy would connect on our behalf, unchecked
	}
	var seal *sealer
	var sealErr error
	if cfg.SecretKey != nil {
		seal, sealErr = newSealer(cfg.SecretKey)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{
		cfg:     cfg,
		dialer:  dialer,
		seal:    seal,
		sealErr: sealErr,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect is an answer, not a delivery: receivers must
			// answer 2xx at the registered URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ctx:     ctx,
		cancel:  cancel,
		running: map[string]agileplus.Consumer{},
	}
}

// Start starts a consumer for every registered webhook and follows the
// registry, so webhooks registered or removed through any server process
// start or stop here too. In the background it removes, now and every
// SweepEvery, the consumers of webhooks that are not registered.
func (d *Dispatcher) Start(ctx context.Context) error {
	if d.sealErr != nil {
		return d.sealErr
	}
	err := d.cfg.Registry.WatchWebhooks(d.ctx, func(id string, h *agileplus.Webhook) {
		if h == nil {
			d.stop(id)
			return
		}
		if _, err := d.seal.open(h.ID, h.Secret); err != nil {
			// Started anyway: its deliveries fail, logged and retried
			// (maybe by a process with the right key), never unsigned.
			d.cfg.Logger.Error("webhook: cannot open its secret; its deliveries from this process fail", "webhook", id, "err", err)
		}
		if err := d.start(ctx, h); err != nil {
			d.cfg.Logger.Error("webhook: cannot start delivery", "webhook", id, "err", err)
		}
	})
	if err != nil {
		return err
	}
	if err := d.sealPlainSecrets(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed { // Close waits for the sweep only once Add is done
		d.sweeping.Add(1)
		go d.sweepLoop()
	}
	return nil
}

// sealPlainSecrets seals the secrets that registries kept in plain text
// before secrets were sealed.
func (d *Dispatcher) sealPlainSecrets(ctx context.Context) error {
	hs, err := d.cfg.Registry.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if sealed(h.Secret) {
			continue
		}
		if d.seal == nil {
			d.cfg.Logger.Warn("webhook: secret kept in plain text, and this process has no secret key to seal it", "webhook", h.ID)
			continue
		}
		err := d.cfg.Registry.UpdateWebhook(ctx, h.ID, func(h *agileplus.Webhook) bool {
			if sealed(h.Secret) {
				return false // another process sealed it
			}
			h.Secret = d.seal.seal(h.ID, h.Secret)
			return true
		})
		switch {
		case agileplus.ErrorCode(err) == agileplus.ENOTFOUND:
		case err != nil:
			return fmt.Errorf("webhook: seal the secret of %s: %w", h.ID, err)
		default:
			d.cfg.Logger.Info("webhook: sealed a secret kept in plain text", "webhook", h.ID)
		}
	}
	return nil
}

// sweepLoop runs SweepOrphans at once and then every SweepEvery until
// Close.
func (d *Dispatcher) sweepLoop() {
	defer d.sweeping.Done()
	t := time.NewTicker(d.cfg.SweepEvery)
	defer t.Stop()
	for {
		if _, err := d.SweepOrphans(d.ctx); err != nil && d.ctx.Err() == nil {
			d.cfg.Logger.Warn("webhook: sweep of unregistered consumers failed; will retry", "err", err, "retry_in", d.cfg.SweepEvery)
		}
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepOrphans removes the durable consumers of webhooks that are not
// registered and are older than OrphanGrace, and returns how many it
// removed. They are left behind when a process stops between creating a
// webhook's consumer and registering it, or when DeleteWebhook removed the
// registration but could not remove the consumer; each keeps a position
// and server state for nothing.
func (d *Dispatcher) SweepOrphans(ctx context.Context) (int, error) {
	// Only names a webhook's consumer can have: other consumers on the
	// stream are not the dispatcher's, whatever they are called.
	prefix := ConsumerName(agileplus.PrefixWebhook)
	cs, err := d.cfg.Consumers.Consumers(ctx, prefix)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, c := range cs {
		id := strings.TrimPrefix(c.Name, ConsumerName(""))
		if d.cfg.Now().Sub(c.Created) < d.cfg.OrphanGrace {
			continue
		}
		d.mu.Lock()
		running := d.running[id] != nil
		d.mu.Unlock()
		if running {
			continue
		}
		_, err := d.cfg.Registry.GetWebhook(ctx, id)
		if err == nil {
			continue
		}
		if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			return removed, err
		}
		if err := d.cfg.Consumers.DeleteConsumer(ctx, c.Name); err != nil {
			return removed, err
		}
		d.cfg.Logger.Warn("webhook: removed the durable consumer of a webhook that is not registered", "consumer", c.Name, "created", c.Created)
		removed++
	}
	return removed, nil
}

// Close stops every delivery in this process; durable consumers keep their
// position for the next start.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	cs := d.running
	d.running = map[string]agileplus.Consumer{}
	d.mu.Unlock()
	d.cancel()
	d.sweeping.Wait()
	for _, c := range cs {
		c.Stop()
	}
}

func (d *Dispatcher) start(ctx context.Context, h *agileplus.Webhook) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.running[h.ID] != nil {
		return nil
	}
	c, err := d.cfg.Consumers.Consume(ctx, d.spec(h))
	if err != nil {
		return err
	}
	d.running[h.ID] = c
	go d.watch(h, c)
	return nil
}

func (d *Dispatcher) spec(h *agileplus.Webhook) agileplus.ConsumerSpec {
	return agileplus.ConsumerSpec{
		Name:     ConsumerName(h.ID),
		Selector: h.Filter,
		Handle: func(ctx context.Context, e *agileplus.Event, dl agileplus.Delivery) error {
			return d.deliver(ctx, h, e, dl)
		},
	}
}

// restartDelay is how long the dispatcher waits before starting again a
// webhook whose consumer the bus removed.
const restartDelay = 5 * time.Second

// watch starts a webhook's delivery again when its consumer stops without
// the dispatcher asking (its durable consumer was deleted on the server),
// as long as the webhook is still registered.
func (d *Dispatcher) watch(h *agileplus.Webhook, c agileplus.Consumer) {
	<-c.Done()
	d.mu.Lock()
	mine := d.running[h.ID] == c && !d.closed
	if mine {
		delete(d.running, h.ID)
	}
	d.mu.Unlock()
	if !mine {
		return // stopped on purpose
	}
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(restartDelay):
		}
		if _, err := d.cfg.Registry.GetWebhook(d.ctx, h.ID); agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return
		}
		err := d.start(d.ctx, h)
		if err == nil {
			d.cfg.Logger.Warn("webhook: delivery restarted after its consumer was removed; events in between were not delivered", "webhook", h.ID)
			return
		}
		d.cfg.Logger.Error("webhook: cannot restart delivery", "webhook", h.ID, "err", err)
	}
}

func (d *Dispatcher) stop(id string) {
	d.mu.Lock()
	c := d.running[id]
	delete(d.running, id)
	d.mu.Unlock()
	if c != nil {
		c.Stop()
	}
}

// ---- the API ----

// CreateWebhook validates and registers a webhook and starts delivering to
// it the events committed from now on. The result carries the secret; no
// later read does.
func (d *Dispatcher) CreateWebhook(ctx context.Context, c agileplus.WebhookCreate) (*agileplus.Webhook, error) {
	u, err := d.checkURL(c.URL)
	if err != nil {
		return nil, err
	}
	filter := c.Filter.Normalize()
	if err := filter.Validate(); err != nil {
		var e *agileplus.Error
		if errors.As(err, &e) && e.Field != "" {
			// The selector names its query parameters; the filter's JSON
			// fields are plural.
			switch e.Field {
			case "entity":
				e.Field = "entities"
			case "type":
				e.Field = "types"
			}
			e.Field = "filter." + e.Field
		}
		return nil, err
	}
	secret := c.Secret
	switch {
	case secret == "":
		b := make([]byte, 32)
		rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	case len(secret) < 16 || len(secret) > 256:
		return nil, agileplus.FieldErrorf("secret", "secret must be 16-256 bytes, not %d (leave it empty to have one generated)", len(secret))
	case strings.ContainsFunc(secret, func(r rune) bool { return r < '!' || r > '~' }):
		// Counted in bytes and characters alike, and typed into a receiver's
		// configuration without an encoding to agree on.
		return nil, agileplus.FieldErrorf("secret", "secret must be printable ASCII without spaces (leave it empty to have one generated)")
	}
	if d.seal == nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "webhook: this server has no secret key to seal webhook secrets with")
	}
	h := &agileplus.Webhook{
		ID: d.cfg.IDs.New(agileplus.PrefixWebhook), URL: u, Filter: filter, Secret: secret,
		CreatedAt: d.cfg.Now().UTC(),
	}
	// The registry keeps the secret sealed; only the answer carries it.
	stored := *h
	stored.Secret = d.seal.seal(h.ID, secret)
	// Past this point the client leaving must not leave half a webhook.
	ctx = context.WithoutCancel(ctx)
	// The consumer first, so the webhook's position is "now" even if the
	// registration's watch reaches this process a little later.
	if err := d.start(ctx, &stored); err != nil {
		return nil, err
	}
	undo := func() {
		d.stop(h.ID)
		_ = d.cfg.Consumers.DeleteConsumer(ctx, ConsumerName(h.ID))
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		undo()
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "webhook: the server is shutting down")
	}
	if err := d.cfg.Registry.PutWebhook(ctx, &stored); err != nil {
		undo()
		return nil, err
	}
	return h, nil
}

// ListWebhooks lists the webhooks without their secrets.
func (d *Dispatcher) ListWebhooks(ctx context.Context) ([]*agileplus.Webhook, error) {
	hs, err := d.cfg.Registry.ListWebhooks(ctx)
	for _, h := range hs {
		h.Secret = ""
	}
	return hs, err
}

// GetWebhook returns a webhook without its secret.
func (d *Dispatcher) GetWebhook(ctx context.Context, id string) (*agileplus.Webhook, error) {
	h, err := d.cfg.Registry.GetWebhook(ctx, id)
	if h != nil {
		h.Secret = ""
	}
	return h, err
}

// DeleteWebhook stops deliveries and removes the webhook, its consumer and
// its delivery log.
func (d *Dispatcher) DeleteWebhook(ctx context.Context, id string) error {
	if _, err := d.cfg.Registry.GetWebhook(ctx, id); err != nil {
		return err
	}
	// The registration goes first (every process's watch then stops its
	// delivery), so a failure after it leaves at worst an idle consumer,
	// never a listed webhook that delivers nowhere.
	ctx = context.WithoutCancel(ctx)
	if err := d.cfg.Registry.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	d.stop(id)
	return d.cfg.Consumers.DeleteConsumer(ctx, ConsumerName(id))
}

// WebhookDeliveries returns the delivery log of a webhook, oldest first.
func (d *Dispatcher) WebhookDeliveries(ctx context.Context, id string, after uint64, limit int) ([]*agileplus.WebhookDelivery, error) {
	limit, err := agileplus.ClampLimit(limit)
	if err != nil {
		return nil, err
	}
	if _, err := d.cfg.Registry.GetWebhook(ctx, id); err != nil {
		return nil, err
	}
	return d.cfg.Registry.Deliveries(ctx, id, after, limit)
}

// checkURL validates a target URL and returns it normalized.
func (d *Dispatcher) checkURL(raw string) (string, error) {
	if raw == "" {
		return "", agileplus.FieldErrorf("url", "url is required")
	}
	if len(raw) > 2048 {
		return "", agileplus.FieldErrorf("url", "url is longer than 2048 bytes")
	}
	if !agileplus.IsWebhookURL(raw) {
		return "", agileplus.FieldErrorf("url", "url %q must be an http or https URL: a host name or IPv4 address, an optional port, and a path and query of URL characters, no fragment", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", agileplus.FieldErrorf("url", "url %q does not parse: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", agileplus.FieldErrorf("url", "url %q must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", agileplus.FieldErrorf("url", "url %q has no host", raw)
	case u.User != nil:
		return "", agileplus.FieldErrorf("url", "url must not carry credentials; receivers authenticate deliveries by their signature")
	case u.Fragment != "":
		return "", agileplus.FieldErrorf("url", "url must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", agileplus.FieldErrorf("url", "url %q has a bad port", raw)
		}
	}
	if d.cfg.DenyPrivate {
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".") // localhost. is localhost
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return "", agileplus.FieldErrorf("url", "url %q targets this machine, and private targets are turned off on this server", raw)
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			if ip.Zone() != "" || privateAddr(ip) {
				return "", agileplus.FieldErrorf("url", "url %q targets a private address, and private targets are turned off on this server", raw)
			}
		} else if numericHost(host) {
			// 127.1, 2130706433, 0x7f000001: resolvers read these as
			// addresses; refuse rather than guess which.
			return "", agileplus.FieldErrorf("url", "url %q: write the address in dotted form (a.b.c.d) or use a name", raw)
		}
	}
	return u.String(), nil
}

// numericHost reports whether a host that is not a plain address is made
// only of digits, dots and hex, which some resolvers take as an address.
func numericHost(h string) bool {
	if h == "" {
		return false
	}
	if strings.HasPrefix(h, "0x") {
		return true
	}
	for _, c := range h {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// deniedPrefixes are the ranges --webhook-deny-private refuses besides
// loopback, private, link-local, multicast and unspecified addresses:
// shared address space (CGNAT, also cloud metadata), IETF protocol
// assignments, benchmarking, reserved, and the IPv6 forms that embed an
// IPv4 address (checked on the embedded address too).
var deniedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fec0::/10"),
}

func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range deniedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		var v4 [4]byte
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(ip), // NAT64
			netip.MustParsePrefix("::/96").Contains(ip): // IPv4-compatible
			copy(v4[:], b[12:16])
		case netip.MustParsePrefix("2002::/16").Contains(ip): // 6to4
			copy(v4[:], b[2:6])
		default:
			return false
		}
		return privateAddr(netip.AddrFrom4(v4))
	}
	return false
}

// denyPrivateControl refuses connections to private addresses after name
// resolution, so a public name that resolves to a private address is
// refused too.
func denyPrivateControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(host); err != nil || privateAddr(ip) {
		return fmt.Errorf("webhook: %s is a private address, and private targets are turned off on this server", host)
	}
	return nil
}

// ---- delivery ----

// DeliveryID is the stable id of the delivery of one event to one webhook,
// the same on every attempt, so a receiver can de-duplicate.
func DeliveryID(webhookID, eventID string) string {
	sum := sha256.Sum256([]byte(webhookID + "\x00" + eventID))
	return "dlv_" + hex.EncodeToString(sum[:12])
}

// Sign returns the signature header value for a body signed at ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature headers against the secret and
// refuses timestamps further than tolerance from now (0: no check), which
// is what a receiver written in Go would call.
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: missing or bad %s header", HeaderTimestamp)
	}
	if tolerance > 0 {
		if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
			return fmt.Errorf("webhook: timestamp %d is outside the %s tolerance", ts, tolerance)
		}
	}
	if !hmac.Equal([]byte(header.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("webhook: signature does not match")
	}
	return nil
}

// deliver is the consumer handler: one attempt to POST one event.
func (d *Dispatcher) deliver(ctx context.Context, h *agileplus.Webhook, e *agileplus.Event, dl agileplus.Delivery) error {
	rec := &agileplus.WebhookDelivery{
		DeliveryID: DeliveryID(h.ID, e.ID), WebhookID: h.ID, EventID: e.ID, EventType: e.Type,
		GlobalSeq: e.GlobalSeq, Attempt: dl.Attempt, Redrive: dl.Redrive,
	}
	done, err := d.cfg.Registry.Delivered(ctx, h.ID, e.ID)
	if err != nil {
		return err
	}
	if done {
		// A redelivery (or a redrive) of an event that already arrived.
		rec.Time, rec.Outcome = d.cfg.Now().UTC(), agileplus.DeliverySkipped
		d.observe(rec)
		if lerr := d.cfg.Registry.AppendDelivery(context.WithoutCancel(ctx), rec); lerr != nil {
			d.cfg.Logger.Warn("webhook: could not log a delivery attempt", "webhook", h.ID, "event", e.ID, "err", lerr)
		}
		return nil
	}
	var status int
	secret, err := d.seal.open(h.ID, h.Secret)
	if err != nil {
		// Failed, not sent unsigned: the retry may reach a process that
		// has the right key.
		rec.Time = d.cfg.Now().UTC()
		d.cfg.Logger.Error("webhook: cannot sign a delivery", "webhook", h.ID, "event", e.ID, "err", err)
	} else {
		status, err = d.post(ctx, h, secret, e, rec.DeliveryID, dl.Attempt, rec)
	}
	rec.StatusCode = status
	switch {
	case err == nil:
		rec.Outcome = agileplus.DeliveryDelivered
	case dl.Last():
		rec.Outcome, rec.Error = agileplus.DeliveryDeadLettered, err.Error()
	default:
		rec.Outcome, rec.Error = agileplus.DeliveryFailed, err.Error()
		if !dl.Redrive {
			next := rec.Time.Add(time.Duration(rec.DurationMS*float64(time.Millisecond)) + dl.RetryIn)
			rec.NextAttempt = &next
		}
	}
	d.observe(rec)
	if lerr := d.cfg.Registry.AppendDelivery(context.WithoutCancel(ctx), rec); lerr != nil {
		d.cfg.Logger.Warn("webhook: could not log a delivery attempt", "webhook", h.ID, "event", e.ID, "err", lerr)
	}
	if err != nil {
		level := slog.LevelDebug
		if dl.Last() {
			level = slog.LevelWarn
		}
		d.cfg.Logger.Log(ctx, level, "webhook: delivery failed", "webhook", h.ID, "event", e.ID, "attempt", dl.Attempt, "err", err)
		return err
	}
	if err := d.cfg.Registry.MarkDelivered(context.WithoutCancel(ctx), h.ID, e.ID); err != nil {
		// Delivered but not marked: a redelivery would repeat it, which
		// the stable delivery id lets the receiver notice.
		d.cfg.Logger.Warn("webhook: could not mark a delivery", "webhook", h.ID, "event", e.ID, "err", err)
	}
	return nil
}

// observe tells Config.OnDelivery about an attempt.
func (d *Dispatcher) observe(rec *agileplus.WebhookDelivery) {
	if d.cfg.OnDelivery != nil {
		d.cfg.OnDelivery(rec.Outcome, time.Duration(rec.DurationMS*float64(time.Millisecond)))
	}
}

// maxErrorBody is how much of a failed answer the delivery log keeps:
// enough to tell what went wrong, too little to read internal answers
// through the log.
const maxErrorBody = 256

// truncatedMark ends an answer the delivery log cut short.
const truncatedMark = " [truncated]"

func (d *Dispatcher) post(ctx context.Context, h *agileplus.Webhook, secret string, e *agileplus.Event, deliveryID string, attempt int, rec *agileplus.WebhookDelivery) (status int, err error) {
	tp := traceParent(e)
	if d.cfg.Tracer != nil && agileplus.ValidTraceParent(e.TraceParent) {
		var span agileplus.Span
		ctx, span = d.cfg.Tracer.Start(agileplus.WithTraceParent(ctx, e.TraceParent), "webhook deliver", agileplus.SpanClient)
		span.SetAttributes("webhook.id", h.ID, "event.type", e.Type, "delivery.attempt", attempt)
		defer func() {
			span.SetAttributes("http.response.status_code", status)
			span.End(err)
		}()
		tp = agileplus.TraceParentFrom(ctx)
	}
	body, err := json.Marshal(e.CloudEvent())
	if err != nil {
		return 0, err
	}
	now := d.cfg.Now()
	rec.Time = now.UTC()
	defer func() { rec.DurationMS = float64(time.Since(now).Microseconds()) / 1000 }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	req.Header.Set(HeaderDelivery, deliveryID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderEventType, e.Type)
	req.Header.Set(HeaderWebhook, h.ID)
	if tp != "" {
		req.Header.Set("Traceparent", tp)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("receiver answered %s", resp.Status)
		if s := answerSnippet(snippet); s != "" {
			msg += ": " + s
		}
		return resp.StatusCode, errors.New(msg)
	}
	return resp.StatusCode, nil
}

// answerSnippet is what the delivery log keeps of an answer read up to
// maxErrorBody+1 bytes: at most maxErrorBody of them, valid UTF-8, marked
// when cut.
func answerSnippet(b []byte) string {
	cut := len(b) > maxErrorBody
	if cut {
		b = b[:maxErrorBody]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
	if cut {
		s += truncatedMark
	}
	return s
}

// traceParent continues the event's trace: same trace id and flags, a new
// span id for the delivery.
func traceParent(e *agileplus.Event) string {
	tp := e.TraceParent
	if !agileplus.ValidTraceParent(tp) {
		return ""
	}
	span := make([]byte, 8)
	rand.Read(span)
	return tp[:36] + hex.EncodeToString(span) + tp[52:]
}
