// Package natstest runs real NATS servers for tests: a standalone server
// (optionally with TLS) or a JetStream cluster, each server a separate
// nats-server process built from the nats-server module this repository
// requires. Separate processes are what make failover tests honest: a
// SIGKILL drops every socket and every unsynced write, as in production.
//
// Every server is stopped when its test ends, and on Linux also when the
// test process dies.
package natstest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// serverModule is the package built into the nats-server binary.
const serverModule = "github.com/nats-io/nats-server/v2"

// Timeouts of the helpers. The machine running the tests may be small and
// busy, so they are generous; a healthy server needs a fraction of each.
const (
	startTimeout = 60 * time.Second // until a (re)started server is ready
	stopTimeout  = 10 * time.Second // SIGTERM to SIGKILL
	pollInterval = 50 * time.Millisecond
	logTailLines = 60
)

// Binary returns the path of a nats-server binary built from the version
// of github.com/nats-io/nats-server/v2 in go.mod. It lives in the
// repository's .tools directory and is built at most once, even when
// several test processes ask at the same time; a binary of the right
// version already there is reused.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return bin
}

var binary = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out, err := goCmd(root, "list", "-m", "-f", "{{.Version}}", serverModule)
	if err != nil {
		return "", err
	}
	return ensureBinary(filepath.Join(root, ".tools"), root, strings.TrimSpace(out))
})

// repoRoot is the directory of the main module's go.mod.
func repoRoot() (string, error) {
	out, err := goCmd("", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// ensureBinary returns toolsDir/nats-server, building it from the module
// root when it is missing or reports another version than want. Builds are
// serialized by a lock file and land under a temporary name renamed into
// place, so a concurrent reader never runs a half-written binary.
func ensureBinary(toolsDir, root, want string) (string, error) {
	bin := filepath.Join(toolsDir, "nats-server")
	if binaryVersion(bin) == want {
		return bin, nil
	}
	if err := os.MkdirAll(toolsDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(toolsDir, "nats-server.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	// Another process may have built it while we waited for the lock.
	if binaryVersion(bin) == want {
		return bin, nil
	}
	tmpDir, err := os.MkdirTemp(toolsDir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "nats-server")
	if _, err := goCmd(root, "build", "-o", tmp, serverModule); err != nil {
		return "", err
	}
	// A replaced or pseudo-versioned module reports another version than
	// go.mod names, so such a binary is rebuilt once per test process;
	// the Go build cache makes that quick.
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// binaryVersion is the version a nats-server binary reports ("v2.15.2"),
// or "" when it is missing or does not run.
func binaryVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	// "nats-server: v2.15.2"
	_, v, ok := strings.Cut(strings.TrimSpace(string(out)), ": ")
	if !ok {
		return ""
	}
	return v
}

// Option configures StartServer.
type Option func(*serverOptions)

type serverOptions struct {
	tls bool
}

// WithTLS makes the server require TLS from clients, with a certificate for
// 127.0.0.1 and localhost signed by a CA generated for the test; the CA is
// at Server.CAFile.
func WithTLS() Option { return func(o *serverOptions) { o.tls = true } }

// Server is one nats-server process with JetStream. Its methods that can
// fail end the test, so call them from the test goroutine.
type Server struct {
	t    testing.TB
	bin  string
	name string
	dir  string // config, log, TLS files and the JetStream store

	clientPort, clusterPort, monitorPort int
	tls                                  bool
	caFile                               string

	mu   sync.Mutex
	proc *childproc.Proc // the current run, nil before the first
}

// Name is the server name, e.g. "n1".
func (s *Server) Name() string { return s.name }

// URL is the client URL: nats://127.0.0.1:port, or tls://127.0.0.1:port
// for a TLS server.
func (s *Server) URL() string {
	scheme := "nats"
	if s.tls {
		scheme = "tls"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, s.clientPort)
}

// CAFile is the PEM file of the CA that signed a TLS server's certificate,
// "" without TLS.
func (s *Server) CAFile() string { return s.caFile }

// StoreDir is the server's JetStream directory.
func (s *Server) StoreDir() string { return filepath.Join(s.dir, "jetstream") }

// LogFile is where the server's output goes, across restarts.
func (s *Server) LogFile() string { return filepath.Join(s.dir, s.name+".log") }

func (s *Server) confFile() string { return filepath.Join(s.dir, s.name+".conf") }

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	p := s.current()
	return p != nil && p.Running()
}

func (s *Server) current() *childproc.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// StartServer starts one standalone JetStream server on loopback and stops
// it when the test ends.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := Binary(t)
	ports := freePorts(t, 2)
	s := &Server{t: t, bin: bin, name: "s1", dir: t.TempDir(), clientPort: ports[0], monitorPort: ports[1], tls: o.tls}
	var tlsBlock string
	if o.tls {
		ca, cert, key, err := writeTLSFiles(s.dir)
		if err != nil {
			t.Fatalf("natstest: TLS files: %v", err)
		}
		s.caFile = ca
		tlsBlock = fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  timeout: 5\n}\n", cert, key)
	}
	s.writeConf(tlsBlock)
	t.Cleanup(func() { cleanup(t, []*Server{s}) })
	if err := s.start(); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		t.Fatalf("natstest: %v\n%s", err, s.logTail())
	}
	return s
}

// Cluster is a JetStream cluster of nats-server processes with a full route
// mesh. Its methods that can fail end the test, so call them from the test
// goroutine; StreamLeader and WaitStreamHealthy return errors instead.
type Cluster struct {
	t       testing.TB
	Name    string
	Servers []*Server
}

// StartCluster starts n (at least 2) JetStream servers named n1..nN on
// loopback, routed to each other, waits until every one accepts clients and
// the cluster has a JetStream meta leader, and stops them all when the test
// ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 2 {
		t.Fatalf("natstest: a cluster needs at least 2 servers, not %d; use StartServer", n)
	}
	bin := Binary(t)
	ports := freePorts(t, 3*n)
	c := &Cluster{t: t, Name: "natstest"}
	routes := make([]string, n)
	for i := range n {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1])
	}
	base := t.TempDir()
	for i := range n {
		s := &Server{
			t: t, bin: bin, name: fmt.Sprintf("n%d", i+1),
			clientPort: ports[3*i], clusterPort: ports[3*i+1], monitorPort: ports[3*i+2],
		}
		s.dir = filepath.Join(base, s.name)
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "cluster {\n  name: %q\n  listen: \"127.0.0.1:%d\"\n  routes: [\n", c.Name, s.clusterPort)
		for _, r := range routes {
			fmt.Fprintf(&b, "    %q\n", r)
		}
		b.WriteString("  ]\n}\n")
		s.writeConf(b.String())
		c.Servers = append(c.Servers, s)
	}
	t.Cleanup(func() { cleanup(t, c.Servers) })
	for _, s := range c.Servers {
		if err := s.start(); err != nil {
			t.Fatalf("natstest: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, s := range c.Servers {
		if err := s.waitReady(ctx); err != nil {
			t.Fatalf("natstest: %v\n%s", err, c.logTails())
		}
	}
	if err := c.waitJetStream(ctx); err != nil {
		t.Fatalf("natstest: %v\n%s", err, c.logTails())
	}
	return c
}

// URLs is the comma-separated client URLs of every server.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}

// Kill sends SIGKILL to server i (0-based) and waits until it is gone.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.Servers[i].Kill()
}

// Restart starts server i again with the same ports and store directory
// and waits until it accepts clients and is in contact with the meta
// leader. Wait for its streams with WaitStreamHealthy.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Servers[i].Restart()
}

// Kill sends SIGKILL to the server and waits until it is gone.
func (s *Server) Kill() {
	s.t.Helper()
	p := s.current()
	if p == nil {
		return
	}
	if err := p.Kill(); err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
}

// Restart starts a killed server again with the same ports, configuration
// and store, and waits until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	if s.Running() {
		s.t.Fatalf("natstest: restart %s: it is running; Kill it first", s.name)
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		s.t.Fatalf("natstest: %v\n%s", err, s.logTail())
	}
}

// StreamLeader returns the index of the server leading the stream, waiting
// while the stream has no leader (during an election) until ctx ends.
func (c *Cluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	var last error
	for {
		info, err := c.streamInfo(ctx, stream)
		switch {
		case err != nil:
			last = err
		case info.Cluster == nil || info.Cluster.Leader == "":
			last = fmt.Errorf("stream %s has no leader", stream)
		default:
			for i, s := range c.Servers {
				if s.name == info.Cluster.Leader {
					return i, nil
				}
			}
			return -1, fmt.Errorf("natstest: stream %s is led by %q, which is not in the cluster", stream, info.Cluster.Leader)
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return -1, fmt.Errorf("natstest: leader of stream %s: %w (last: %v)", stream, err, last)
		}
	}
}

// WaitStreamHealthy waits until the stream has a leader and replicas-1
// followers that are all online and current.
func (c *Cluster) WaitStreamHealthy(ctx context.Context, stream string, replicas int) error {
	var last string
	for {
		info, err := c.streamInfo(ctx, stream)
		if err != nil {
			last = err.Error()
		} else {
			last = describeCluster(info.Cluster)
			if healthy(info.Cluster, replicas) {
				return nil
			}
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return fmt.Errorf("natstest: stream %s not healthy with %d replicas: %w (last: %s)", stream, replicas, err, last)
		}
	}
}

func healthy(ci *jetstream.ClusterInfo, replicas int) bool {
	if ci == nil || ci.Leader == "" || len(ci.Replicas) != replicas-1 {
		return false
	}
	for _, p := range ci.Replicas {
		if !p.Current || p.Offline {
			return false
		}
	}
	return true
}

func describeCluster(ci *jetstream.ClusterInfo) string {
	if ci == nil {
		return "no cluster info"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "leader %q", ci.Leader)
	for _, p := range ci.Replicas {
		fmt.Fprintf(&b, ", %s current=%t offline=%t lag=%d", p.Name, p.Current, p.Offline, p.Lag)
	}
	return b.String()
}

// streamInfo asks the cluster for the stream's info once, bounded by a
// short timeout so a caller's loop can retry during elections.
func (c *Cluster) streamInfo(ctx context.Context, stream string) (*jetstream.StreamInfo, error) {
	nc, err := c.connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.Stream(rctx, stream)
	if err != nil {
		return nil, err
	}
	return st.CachedInfo(), nil
}

// connect connects to any live server of the cluster.
func (c *Cluster) connect() (*nats.Conn, error) {
	return nats.Connect(c.URLs(), nats.Name("natstest"), nats.Timeout(2*time.Second), nats.NoReconnect())
}

// waitJetStream waits until the JetStream API answers, which needs a meta
// leader.
func (c *Cluster) waitJetStream(ctx context.Context) error {
	var last error
	for {
		last = c.accountInfo(ctx)
		if last == nil {
			return nil
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return fmt.Errorf("JetStream API of cluster %s does not answer: %w (last: %v)", c.Name, err, last)
		}
	}
}

func (c *Cluster) accountInfo(ctx context.Context) error {
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(rctx)
	return err
}

func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, s := range c.Servers {
		b.WriteString(s.logTail())
	}
	return b.String()
}

// writeConf writes the server's configuration with extra appended.
func (s *Server) writeConf(extra string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\n", s.name)
	fmt.Fprintf(&b, "listen: \"127.0.0.1:%d\"\n", s.clientPort)
	fmt.Fprintf(&b, "http: \"127.0.0.1:%d\"\n", s.monitorPort)
	b.WriteString("logtime: true\n")
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", s.StoreDir())
	b.WriteString(extra)
	if err := os.WriteFile(s.confFile(), []byte(b.String()), 0o644); err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
}

// start runs the process; its output goes to the log file.
func (s *Server) start() error {
	p, err := childproc.Start(exec.Command(s.bin, "-c", s.confFile()), childproc.Options{
		Name:    s.name,
		LogFile: s.LogFile(),
		Header:  "natstest: starting " + s.name,
		Grace:   stopTimeout,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady waits until the server answers on its client port and its
// health check, which in a cluster includes contact with the meta leader.
func (s *Server) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz?js-meta-only=true", s.monitorPort)
	return s.current().WaitReady(ctx, pollInterval, func(context.Context) error {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.clientPort), time.Second)
		if err != nil {
			return childproc.NotYet(err)
		}
		conn.Close()
		resp, err := hc.Get(url)
		if err != nil {
			return childproc.NotYet(err)
		}
		body := make([]byte, 512)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return childproc.NotYet(fmt.Errorf("healthz %s: %s", resp.Status, bytes.TrimSpace(body[:n])))
		}
		return nil
	})
}

// cleanup stops the servers (SIGTERM, then SIGKILL after stopTimeout),
// reports any that died without being told to, and prints the tail of
// every log when the test failed.
func cleanup(t testing.TB, servers []*Server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		p := s.current()
		if p == nil {
			continue
		}
		if err := p.ExitedOnItsOwn(); err != nil {
			t.Errorf("natstest: %v", err)
			continue
		}
		wg.Go(func() {
			// A server slow to stop is killed without a word, as a test
			// may have left it busy; one that outlives SIGKILL is not.
			if err := p.Stop(); err != nil && !errors.Is(err, childproc.ErrKilled) {
				t.Errorf("natstest: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		for _, s := range servers {
			t.Log(s.logTail())
		}
	}
}

// logTail is the end of the server's log, headed by its name.
func (s *Server) logTail() string { return childproc.Tail(s.name, s.LogFile()) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// freePorts returns n distinct free loopback ports a restarted server
// gets back.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := childproc.FreePorts(n)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return ports
}

// writeTLSFiles writes a CA and a server certificate for 127.0.0.1, ::1
// and localhost signed by it, and returns the PEM files.
func writeTLSFiles(dir string) (caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "natstest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "natstest server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "server-cert.pem")
	keyFile = filepath.Join(dir, "server-key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{caFile, "CERTIFICATE", caDER, 0o644},
		{certFile, "CERTIFICATE", der, 0o644},
		{keyFile, "PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}

// WriteTLSFiles writes, in dir, a CA generated for the test and a server
// certificate for 127.0.0.1 and localhost that it signed, with the
// certificate's key: for other test servers that need TLS (redistest).
func WriteTLSFiles(dir string) (caFile, certFile, keyFile string, err error) {
	return writeTLSFiles(dir)
}
