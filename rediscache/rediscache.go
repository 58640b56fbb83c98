// Package rediscache is the Redis-protocol adapter of agileplus.Cache and
// agileplus.RateLimiter, on rueidis: one server (Dragonfly, Valkey or
// Redis) shared by every process that names it in REDIS_URL.
//
// It sends only commands that Redis 7, Valkey 7 and 8 and Dragonfly all
// serve: HELLO, AUTH and SELECT when it connects, then PING, GET, SET with
// PX, DEL, HGETALL, PEXPIRE, and EVALSHA (EVAL when the server does not
// have the script yet) for two scripts that call GET, SET, DEL, HSET,
// PEXPIRE and TIME on the one key they declare, as Dragonfly requires.
// It keeps no client-side cache (no CLIENT TRACKING).
package rediscache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/redis/rueidis"
)

var (
	_ agileplus.Cache       = (*Cache)(nil)
	_ agileplus.RateLimiter = (*Cache)(nil)
)

// DefaultTimeout bounds each call unless Config.Timeout says otherwise.
const DefaultTimeout = time.Second

// Config says which server to use.
type Config struct {
	// URL is redis://[[user]:password@]host[:port][/db] or rediss:// for
	// TLS; the port defaults to 6379 and the database to 0.
	URL string
	// Timeout bounds each call, and the dial (default DefaultTimeout).
	Timeout time.Duration
	// TLS, if set, is the TLS configuration of a rediss:// URL (its
	// ServerName is filled in from the URL when empty).
	TLS *tls.Config
}

// Cache is a client of one Redis-protocol server.
type Cache struct {
	client  rueidis.Client
	timeout time.Duration
	addr    string
}

// Parse checks a REDIS_URL and returns the client options it stands for.
// Its errors are EINVALID and name what is wrong.
func Parse(raw string, tlsConfig *tls.Config) (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	u, err := url.Parse(raw)
	if err != nil {
		return opt, agileplus.FieldErrorf("REDIS_URL", "not a URL: %v", redactErr(err))
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsConfig != nil {
			opt.TLSConfig = tlsConfig.Clone()
		}
	default:
		return opt, agileplus.FieldErrorf("REDIS_URL", "the scheme is %q; want redis:// or rediss:// (TLS)", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return opt, agileplus.FieldErrorf("REDIS_URL", "no host: want %s://[:password@]host[:port][/db]", u.Scheme)
	}
	if port == "" {
		port = "6379"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return opt, agileplus.FieldErrorf("REDIS_URL", "the port %q is not a number from 1 to 65535", port)
	}
	opt.InitAddress = []string{net.JoinHostPort(host, port)}
	if opt.TLSConfig != nil && opt.TLSConfig.ServerName == "" {
		opt.TLSConfig.ServerName = host
	}
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 || strings.Contains(p, "/") {
			return opt, agileplus.FieldErrorf("REDIS_URL", "the database is %q; want a number from 0, as in redis://host:6379/0", p)
		}
		opt.SelectDB = db
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return opt, agileplus.FieldErrorf("REDIS_URL", "takes no query or fragment; want %s://[:password@]host[:port][/db]", u.Scheme)
	}
	// One server, the commands listed in the package doc, no tracking.
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.ClientSetInfo = rueidis.DisableClientSetInfo
	return opt, nil
}

// redactErr drops the URL, which may hold the password, from a parse error.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Open connects, authenticates and selects the database, and answers
// PING. Its error says which of these failed: EINVALID for the URL, a
// wrong password, a database the server does not have, or TLS on one
// side only; EUNAVAILABLE for a server that cannot be reached.
func Open(ctx context.Context, cfg Config) (*Cache, error) {
	opt, err := Parse(cfg.URL, cfg.TLS)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opt.Dialer.Timeout = timeout
	opt.ConnWriteTimeout = timeout
	addr := opt.InitAddress[0]
	client, err := rueidis.NewClient(opt)
	if err == nil {
		c := &Cache{client: client, timeout: timeout, addr: addr}
		if err = c.Ping(ctx); err == nil {
			return c, nil
		}
		client.Close()
	}
	if _, isRedis := rueidis.IsRedisErr(err); !isRedis {
		if mismatch := tlsMismatch(ctx, addr, opt.TLSConfig != nil, timeout); mismatch != nil {
			return nil, mismatch
		}
	}
	return nil, openError(addr, opt.TLSConfig != nil, err)
}

// tlsMismatch tells a server that speaks plain to a rediss:// URL, or TLS
// to a redis:// one: neither side then gets an answer it understands, and
// the first connection fails with a timeout or a closed connection. It
// asks the server the other way, and returns nil when that fails too.
func tlsMismatch(ctx context.Context, addr string, useTLS bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if useTLS {
		// A plain server answers an inline PING with +PONG or -NOAUTH.
		if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
			return nil
		}
		var b [1]byte
		if _, err := io.ReadFull(conn, b[:]); err != nil || (b[0] != '+' && b[0] != '-') {
			return nil
		}
		return agileplus.FieldErrorf("REDIS_URL", "rediss:// asks for TLS, but the server at %s answered without it: use redis://", addr)
	}
	// Only whether the server speaks TLS is asked, not whom to trust.
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil
	}
	return agileplus.FieldErrorf("REDIS_URL", "redis:// is plain, but the server at %s speaks TLS: use rediss://", addr)
}

// openError says why the first connection failed.
func openError(addr string, useTLS bool, err error) error {
	msg := err.Error()
	var recordErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "without any password configured"):
		return agileplus.FieldErrorf("REDIS_URL", "the server at %s refused the user or password: %s", addr, msg)
	case strings.Contains(msg, "NOAUTH"):
		return agileplus.FieldErrorf("REDIS_URL", "the server at %s needs a password: put it in the URL, redis://:PASSWORD@%s", addr, addr)
	case strings.Contains(msg, "DB index is out of range"), strings.Contains(msg, "invalid DB index"), strings.Contains(msg, "SELECT"):
		return agileplus.FieldErrorf("REDIS_URL", "the server at %s has no such database: %s", addr, msg)
	case useTLS && errors.As(err, &recordErr):
		return agileplus.FieldErrorf("REDIS_URL", "rediss:// asks for TLS, but the server at %s answered without it: use redis://", addr)
	case useTLS && strings.Contains(msg, "certificate"):
		return agileplus.FieldErrorf("REDIS_URL", "TLS: the server at %s presented a certificate this process does not trust: %v", addr, err)
	case useTLS && errors.As(err, &certErr):
		return agileplus.FieldErrorf("REDIS_URL", "TLS: the server at %s presented a certificate this process does not trust: %v", addr, certErr.Err)
	}
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "cannot reach the Redis-protocol server at %s: %v", addr, err)
}

// Addr is the server's host:port.
func (c *Cache) Addr() string { return c.addr }

// Close closes the connections.
func (c *Cache) Close() error {
	c.client.Close()
	return nil
}

// bound gives a call the cache's timeout unless ctx ends sooner.
func (c *Cache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// fail turns a client error into a domain error.
func (c *Cache) fail(op, key string, err error) error {
	if rueidis.IsRedisNil(err) {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no cache entry %s", agileplus.QuoteRef(key))
	}
	if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "WRONGTYPE") {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no cache entry %s of that kind", agileplus.QuoteRef(key))
	}
	if _, ok := rueidis.IsRedisErr(err); ok {
		return fmt.Errorf("rediscache: %s %s: %w", op, key, err)
	}
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "the cache at %s: %s: %v", c.addr, op, err)
}

// broken reports whether err is a connection that the server closed or
// reset under a command, which the client replaces on the next one. The
// client sends reads again by itself; scripts, which may write, it does
// not. A server that cannot be reached is not broken: it fails at once.
func broken(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Ping asks the server to answer.
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.client.Do(ctx, c.client.B().Ping().Build()).Error(); err != nil {
		return c.fail("PING", "", err)
	}
	return nil
}

// ms is a TTL in whole milliseconds, at least 1: PX and PEXPIRE take no less.
func ms(ttl time.Duration) int64 { return max(1, ttl.Milliseconds()) }

// Get returns key's value.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	b, err := c.client.Do(ctx, c.client.B().Get().Key(key).Build()).AsBytes()
	if err != nil {
		return nil, c.fail("GET", key, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// Set stores value under key for ttl.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cmd := c.client.B().Set().Key(key).Value(rueidis.BinaryString(value)).PxMilliseconds(ms(ttl)).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		return c.fail("SET", key, err)
	}
	return nil
}

// Delete removes keys.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.client.Do(ctx, c.client.B().Del().Key(keys...).Build()).Error(); err != nil {
		return c.fail("DEL", strings.Join(keys, " "), err)
	}
	return nil
}

// setHash replaces a hash and sets its TTL in one step.
var setHash = rueidis.NewLuaScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// SetHash replaces key's hash with fields for ttl, atomically.
func (c *Cache) SetHash(ctx context.Context, key string, fields map[string]string, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	if len(fields) == 0 {
		return agileplus.FieldErrorf("fields", "the hash %s has no fields", agileplus.QuoteRef(key))
	}
	args := make([]string, 0, 1+2*len(fields))
	args = append(args, strconv.FormatInt(ms(ttl), 10))
	for f, v := range fields {
		args = append(args, f, v)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	err := setHash.Exec(ctx, c.client, []string{key}, args).Error()
	if broken(err) { // as in Allow; running it twice is running it once
		err = setHash.Exec(ctx, c.client, []string{key}, args).Error()
	}
	if err != nil {
		return c.fail("set hash", key, err)
	}
	return nil
}

// Hash returns key's hash.
func (c *Cache) Hash(ctx context.Context, key string) (map[string]string, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	m, err := c.client.Do(ctx, c.client.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return nil, c.fail("HGETALL", key, err)
	}
	if len(m) == 0 {
		return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no cache entry %s", agileplus.QuoteRef(key))
	}
	return m, nil
}

// Expire gives key a new TTL.
func (c *Cache) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := agileplus.CheckCacheWrite(key, ttl); err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	ok, err := c.client.Do(ctx, c.client.B().Pexpire().Key(key).Milliseconds(ms(ttl)).Build()).AsBool()
	if err != nil {
		return c.fail("PEXPIRE", key, err)
	}
	if !ok {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no cache entry %s", agileplus.QuoteRef(key))
	}
	return nil
}

// gcra is localcache.GCRA as one script: the bucket is the theoretical
// arrival time in microseconds of the server's clock (TIME), so that every
// process shares one clock. Numbers stay below 2^53, exact in Lua's
// doubles; SET gets them formatted as integers, not in Lua's %.14g.
var gcra = rueidis.NewLuaScript(`
local interval = tonumber(ARGV[1])
local window = interval * tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
`)

// Allow takes one request from key's bucket under l (see
// agileplus.RateLimiter) in one script run on the server.
func (c *Cache) Allow(ctx context.Context, key string, l agileplus.RateLimit) (agileplus.RateDecision, error) {
	if err := agileplus.CheckCacheKey(key); err != nil {
		return agileplus.RateDecision{}, err
	}
	if err := l.Check("limit"); err != nil {
		return agileplus.RateDecision{}, err
	}
	if l.Off() {
		return agileplus.RateDecision{Allowed: true}, nil
	}
	interval := l.Interval().Microseconds()
	ctx, cancel := c.bound(ctx)
	defer cancel()
	args := []string{strconv.FormatInt(interval, 10), strconv.Itoa(l.Quota)}
	vs, err := gcra.Exec(ctx, c.client, []string{key}, args).AsIntSlice()
	if broken(err) {
		// The first call after a server restart can meet a connection the
		// old server closed. Should the lost try have run, this request
		// takes one more token than it needed: it errs on the side of
		// the limit.
		vs, err = gcra.Exec(ctx, c.client, []string{key}, args).AsIntSlice()
	}
	if err != nil {
		return agileplus.RateDecision{}, c.fail("rate limit", key, err)
	}
	if len(vs) != 4 {
		return agileplus.RateDecision{}, fmt.Errorf("rediscache: rate limit %s: the script answered %d values, want 4", key, len(vs))
	}
	return agileplus.RateDecision{
		Allowed:    vs[0] == 1,
		Remaining:  int(vs[1]),
		RetryAfter: time.Duration(vs[2]) * time.Microsecond,
		Reset:      time.Duration(vs[3]) * time.Microsecond,
	}, nil
}
