// Package redistest runs a real redis-server for tests (Debian's package
// redis-server, which scripts/test.sh installs when missing): on a free
// loopback port, with a password, nothing written to disk, stopped when
// its test ends and, on Linux, when the test process dies.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/agileplus/agileplus/internal/natstest"
)

// Timeouts of the helpers, generous for a small, busy machine.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	pollInterval = 20 * time.Millisecond
)

// Server is one redis-server process. Its methods that can fail end the
// test (Kill and Restart are for tests only), so call them from the test
// goroutine.
type Server struct {
	t        testing.TB
	bin      string
	dir      string
	port     int
	password string
	tlsFiles []string // CA, certificate and key, for a TLS server

	mu   sync.Mutex
	proc *childproc.Proc
}

// Start starts a redis-server and stops it when the test ends. Without
// redis-server installed the test fails, saying how to install it.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := newServer(t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.t = t
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("redistest: %v", err)
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

// StartTLS is Start for a server that speaks only TLS, with a certificate
// for 127.0.0.1 signed by a CA made for the test (CAFile); clients need no
// certificate of their own.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	s, err := newServer(t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.t = t
	ca, cert, key, err := natstest.WriteTLSFiles(s.dir)
	if err != nil {
		t.Fatalf("redistest: TLS files: %v", err)
	}
	s.tlsFiles = []string{ca, cert, key}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("redistest: %v", err)
		}
	})
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

// CAFile is the PEM file of the CA of a TLS server, "" without TLS.
func (s *Server) CAFile() string {
	if s.tlsFiles == nil {
		return ""
	}
	return s.tlsFiles[0]
}

// Launch starts a redis-server outside a test, for the benchmarks, with
// its files in dir; the caller stops it with Stop.
func Launch(dir string) (*Server, error) {
	s, err := newServer(dir)
	if err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed: apt-get install redis-server (scripts/test.sh does it)")
	}
	ports, err := childproc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	var pw [16]byte
	rand.Read(pw[:])
	return &Server{bin: bin, dir: dir, port: ports[0], password: hex.EncodeToString(pw[:])}, nil
}

// Stop ends the server (SIGTERM, then SIGKILL after a grace).
func (s *Server) Stop() error {
	if p := s.current(); p != nil {
		return p.Stop()
	}
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Password is the server's password.
func (s *Server) Password() string { return s.password }

// URL is redis://:PASSWORD@127.0.0.1:PORT/db, rediss:// for TLS.
func (s *Server) URL(db int) string {
	scheme := "redis"
	if s.tlsFiles != nil {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, User: url.UserPassword("", s.password), Host: s.Addr(), Path: "/" + strconv.Itoa(db)}
	return u.String()
}

// LogFile is where the server's output goes, across restarts.
func (s *Server) LogFile() string { return filepath.Join(s.dir, "redis.log") }

func (s *Server) current() *childproc.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	p := s.current()
	return p != nil && p.Running()
}

// Kill sends SIGKILL to the server and waits until it is gone: every
// connection drops and every key is lost.
func (s *Server) Kill() {
	s.t.Helper()
	if p := s.current(); p != nil {
		if err := p.Kill(); err != nil {
			s.t.Fatalf("redistest: %v", err)
		}
	}
}

// Restart starts a killed server again on the same port with the same
// password, empty, and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	if s.Running() {
		s.t.Fatalf("redistest: restart: the server is running; Kill it first")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

func (s *Server) start() error {
	args := []string{"--bind", "127.0.0.1", "--requirepass", s.password, "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}
	if s.tlsFiles == nil {
		args = append(args, "--port", strconv.Itoa(s.port))
	} else {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-ca-cert-file", s.tlsFiles[0], "--tls-cert-file", s.tlsFiles[1], "--tls-key-file", s.tlsFiles[2],
			"--tls-auth-clients", "no")
	}
	cmd := exec.Command(s.bin, args...)
	p, err := childproc.Start(cmd, childproc.Options{Name: "redis-server on " + s.Addr(), LogFile: s.LogFile(), Header: "redis-server", Grace: stopTimeout})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := p.WaitReady(ctx, pollInterval, s.ping); err != nil {
		return fmt.Errorf("%v\n%s", err, childproc.Tail("redis-server", s.LogFile()))
	}
	return nil
}

// ping authenticates and sends PING over a connection of its own, in the
// protocol's inline form, so that the helper needs no client library.
func (s *Server) ping(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return childproc.NotYet(err)
	}
	defer conn.Close()
	if s.tlsFiles != nil {
		pem, err := os.ReadFile(s.tlsFiles[0])
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		tc := tls.Client(conn, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err := tc.HandshakeContext(ctx); err != nil {
			return childproc.NotYet(err)
		}
		conn = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "AUTH %s\r\nPING\r\n", s.password); err != nil {
		return childproc.NotYet(err)
	}
	r := bufio.NewReader(conn)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := r.ReadString('\n')
		if err != nil {
			return childproc.NotYet(err)
		}
		if got := strings.TrimSpace(line); got != want {
			// LOADING and the like pass; anything else is final.
			if strings.HasPrefix(got, "-LOADING") {
				return childproc.NotYet(fmt.Errorf("answered %s", got))
			}
			return fmt.Errorf("redis-server answered %q, want %q", got, want)
		}
	}
	return nil
}
