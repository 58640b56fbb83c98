package rediscache_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/cachetest"
	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/redistest"
	"github.com/agileplus/agileplus/rediscache"
)

func open(t testing.TB, url string) *rediscache.Cache {
	t.Helper()
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv.URL(0))
	cachetest.Run(t, func(t *testing.T) cachetest.Adapter { return c })
}

// Two clients, as two processes would hold, share one limit exactly.
func TestLimiterSharedByClients(t *testing.T) {
	srv := redistest.Start(t)
	a, b := open(t, srv.URL(0)), open(t, srv.URL(0))
	cachetest.LimiterExact(t, []agileplus.RateLimiter{a, b}, 30, 120)
}

// Database numbers keep keys apart.
func TestDatabaseNumber(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	db0, db3 := open(t, srv.URL(0)), open(t, srv.URL(3))
	if err := db3.Set(ctx, "k", []byte("in 3"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := db0.Get(ctx, "k"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Fatalf("Get in database 0 of a key set in 3: %v; want not found", err)
	}
	if v, err := db3.Get(ctx, "k"); err != nil || string(v) != "in 3" {
		t.Fatalf("Get in database 3 = %q, %v", v, err)
	}
}

func TestOpenSaysWhatIsWrong(t *testing.T) {
	srv := redistest.Start(t)
	ports, err := childproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	nobody := "redis://127.0.0.1:" + itoa(ports[0])
	for _, tc := range []struct {
		name, url, code, want string
	}{
		{"bad scheme", "http://" + srv.Addr(), agileplus.EINVALID, `the scheme is "http"`},
		{"no host", "redis://", agileplus.EINVALID, "no host"},
		{"bad port", "redis://127.0.0.1:99999", agileplus.EINVALID, "port"},
		{"bad database", "redis://" + srv.Addr() + "/x", agileplus.EINVALID, "database"},
		{"query", srv.URL(0) + "?protocol=2", agileplus.EINVALID, "no query"},
		{"wrong password", "redis://:wrong@" + srv.Addr(), agileplus.EINVALID, "refused the user or password"},
		{"no password", "redis://" + srv.Addr(), agileplus.EINVALID, "needs a password"},
		{"database out of range", srv.URL(99), agileplus.EINVALID, "no such database"},
		{"TLS to a plain server", strings.Replace(srv.URL(0), "redis://", "rediss://", 1), agileplus.EINVALID, "answered without it"},
		{"unreachable", nobody, agileplus.EUNAVAILABLE, "cannot reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rediscache.Open(context.Background(), rediscache.Config{URL: tc.url, Timeout: 5 * time.Second})
			if err == nil {
				c.Close()
				t.Fatalf("Open(%s) succeeded", tc.url)
			}
			if agileplus.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%s): %v (code %s); want code %s and %q", tc.url, err, agileplus.ErrorCode(err), tc.code, tc.want)
			}
			if strings.Contains(err.Error(), srv.Password()) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// A server that goes away gives EUNAVAILABLE errors, and the client
// reconnects by itself once the server is back.
func TestServerGoesAwayAndComesBack(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv.URL(0))
	ctx := context.Background()
	l := agileplus.RateLimit{Quota: 5, Window: time.Hour}
	if _, err := c.Allow(ctx, "k", l); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for _, err := range []error{
		c.Ping(ctx),
		c.Set(ctx, "k2", []byte("x"), time.Hour),
		func() error { _, err := c.Allow(ctx, "k", l); return err }(),
	} {
		if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE {
			t.Fatalf("with the server down: %v; want unavailable", err)
		}
	}
	srv.Restart()
	poll.Until(t, "the client to reconnect", func() bool { return c.Ping(ctx) == nil })
	// The restarted server is empty, and the script is loaded again.
	d, err := c.Allow(ctx, "k", l)
	if err != nil || !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after the restart: %+v, %v; want a full bucket", d, err)
	}
	if err := errors.Join(c.SetHash(ctx, "h", map[string]string{"a": "b"}, time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A TLS server: rediss:// with its CA works, redis:// is told to use
// rediss://, and a certificate nobody trusts is named as such.
func TestTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	ctx := context.Background()
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c, err := rediscache.Open(ctx, rediscache.Config{URL: srv.URL(0), TLS: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatalf("rediss:// with the CA: %v", err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, url, want string }{
		{"plain to TLS", strings.Replace(srv.URL(0), "rediss://", "redis://", 1), "redis:// is plain, but the server at " + srv.Addr() + " speaks TLS: use rediss://"},
		{"untrusted certificate", srv.URL(0), "presented a certificate this process does not trust"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rediscache.Open(ctx, rediscache.Config{URL: tc.url, Timeout: 5 * time.Second})
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			if agileplus.ErrorCode(err) != agileplus.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want invalid and %q", err, tc.want)
			}
		})
	}
}
