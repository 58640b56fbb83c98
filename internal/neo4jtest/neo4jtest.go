// Package neo4jtest runs a real Neo4j Community server for tests: Neo4j
// 5.26 embedded in a small Java launcher, built with Maven from Maven
// Central artifacts, run as a separate JVM with Bolt on a loopback port and
// authentication on. A separate process is what makes failure tests
// honest: Kill is a SIGKILL that drops every socket and every unflushed
// page, and Restart recovers from the transaction log as in production.
//
// Start gives a test a server of its own. A JVM start costs seconds, so a
// package with many tests can share one server instead: Shared starts it on
// first use and StopShared, called from TestMain, stops it. Tests on the
// shared server must not run in parallel with each other, and each should
// begin with Reset.
//
// Every server is stopped when its test (or, for the shared one, its test
// binary) ends, and on Linux also when the test process dies.
package neo4jtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

// Timeouts of the helpers. The machine running the tests may be small and
// busy and a JVM is slow to start, so they are generous; a healthy server
// needs a fraction of each.
const (
	startTimeout = 3 * time.Minute  // until a (re)started server accepts Bolt clients
	stopTimeout  = 30 * time.Second // SIGTERM to SIGKILL
	pollInterval = 100 * time.Millisecond
	logTailLines = 60
)

// User is the Neo4j user the tests log in as.
const User = "neo4j"

// Database is Community's one user database.
const Database = "neo4j"

// Lines the launcher prints on stdout.
const (
	readyLine  = "NEO4J READY "
	failedLine = "NEO4J FAILED "
)

// jvmArgs keep the JVM modest on a shared two-core machine: a 512 MB heap
// (the page cache, 96 MB, is off-heap), the serial collector, and the
// module openings Neo4j's own start scripts add for Java 17.
var jvmArgs = []string{
	"-Xms128m",
	"-Xmx512m",
	"-XX:+UseSerialGC",
	"-XX:+ExitOnOutOfMemoryError",
	"-XX:-OmitStackTraceInFastThrow",
	"-Djdk.nio.maxCachedBufferSize=1024",
	"-Dio.netty.tryReflectionSetAccessible=true",
	"--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
}

// Server is a handle on a Neo4j server for one test. Its methods that can
// fail end that test, so call them from the test goroutine; Reset returns
// its error instead.
type Server struct {
	t       testing.TB
	p       *process
	mu      sync.Mutex
	drivers []neo4j.DriverWithContext
}

// URL is the Bolt URL, bolt://127.0.0.1:PORT.
func (s *Server) URL() string { return s.p.url() }

// User is the user to log in as, always "neo4j".
func (s *Server) User() string { return User }

// Password is the password of User.
func (s *Server) Password() string { return s.p.password }

// Version is what the server reports as its agent, e.g. "Neo4j/5.26.30".
func (s *Server) Version() string { return s.p.agentString() }

// Dir is the server's home: data under data/, Neo4j's own logs (debug.log)
// under logs/.
func (s *Server) Dir() string { return s.p.home }

// LogFile is where the launcher's output goes, across restarts.
func (s *Server) LogFile() string { return s.p.logFile }

// Running reports whether the server's process is alive.
func (s *Server) Running() bool { return s.p.running() }

// Driver returns a driver logged in to the server, closed when the test
// ends. It survives Kill and Restart: the driver reconnects, and managed
// transactions (ExecuteRead, ExecuteWrite, ExecuteQuery) retry.
func (s *Server) Driver() neo4j.DriverWithContext {
	s.t.Helper()
	d, err := s.p.driver(neo4j.BasicAuth(User, s.p.password, ""))
	if err != nil {
		s.t.Fatalf("neo4jtest: %v", err)
	}
	s.mu.Lock()
	first := len(s.drivers) == 0
	s.drivers = append(s.drivers, d)
	s.mu.Unlock()
	if first {
		s.t.Cleanup(s.closeDrivers)
	}
	return d
}

func (s *Server) closeDrivers() {
	s.mu.Lock()
	ds := s.drivers
	s.drivers = nil
	s.mu.Unlock()
	for _, d := range ds {
		_ = d.Close(context.Background())
	}
}

// Stop shuts the server down cleanly (SIGTERM, then SIGKILL after
// stopTimeout) and waits until its process is gone.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.p.stop(); err != nil {
		s.t.Fatalf("neo4jtest: %v", err)
	}
}

// Kill sends SIGKILL to the server and waits until its process is gone.
// Nothing is flushed; a Restart recovers.
func (s *Server) Kill() {
	s.t.Helper()
	if err := s.p.kill(); err != nil {
		s.t.Fatalf("neo4jtest: %v", err)
	}
}

// Restart starts the server again with the same port, password and data,
// stopping it cleanly first if it runs, and waits until it accepts Bolt
// clients.
func (s *Server) Restart() {
	s.t.Helper()
	if s.p.running() {
		s.Stop()
	}
	if err := s.p.startAndWait(); err != nil {
		s.t.Fatalf("neo4jtest: %v", err)
	}
}

// Reset empties the database for the next test: it drops every constraint
// and every index but the built-in token lookup indexes, and deletes every
// node and relationship.
func (s *Server) Reset(ctx context.Context) error {
	d, err := s.p.driver(neo4j.BasicAuth(User, s.p.password, ""))
	if err != nil {
		return fmt.Errorf("neo4jtest: reset: %w", err)
	}
	defer d.Close(ctx)
	if err := reset(ctx, d); err != nil {
		return fmt.Errorf("neo4jtest: reset: %w", err)
	}
	return nil
}

func reset(ctx context.Context, d neo4j.DriverWithContext) error {
	q := func(query string) (*neo4j.EagerResult, error) {
		return neo4j.ExecuteQuery(ctx, d, query, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database))
	}
	// Constraints first: dropping one drops the index that backs it.
	for _, kind := range []struct{ show, drop string }{
		{"SHOW CONSTRAINTS YIELD name RETURN name", "DROP CONSTRAINT %s IF EXISTS"},
		{"SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name", "DROP INDEX %s IF EXISTS"},
	} {
		res, err := q(kind.show)
		if err != nil {
			return err
		}
		for _, rec := range res.Records {
			name, _ := rec.Values[0].(string)
			if _, err := q(fmt.Sprintf(kind.drop, quoteName(name))); err != nil {
				return err
			}
		}
	}
	// In batches, so a large graph does not need one huge transaction. CALL
	// IN TRANSACTIONS needs an auto-commit transaction, so not ExecuteQuery.
	sess := d.NewSession(ctx, neo4j.SessionConfig{DatabaseName: Database})
	defer sess.Close(ctx)
	res, err := sess.Run(ctx, "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", nil)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// quoteName quotes a schema name for Cypher.
func quoteName(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Start starts a Neo4j server of the test's own, with an empty database in
// a directory of the test, and stops it when the test ends. Tests with
// servers of their own may run in parallel; each JVM takes about 350 MB.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := buildLauncher()
	if err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	if l.cdsErr != nil {
		t.Logf("neo4jtest: no class-data archive, so the JVM starts more slowly: %v", l.cdsErr)
	}
	p, err := newProcess(l, t.TempDir(), freePort(t))
	if err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	t.Cleanup(func() {
		unexpected := p.exitedOnItsOwn()
		if err := p.stop(); err != nil {
			t.Errorf("neo4jtest: %v", err)
		}
		if unexpected != "" {
			t.Errorf("neo4jtest: %s", unexpected)
		}
		if t.Failed() {
			t.Log(p.logTail())
		}
	})
	began := time.Now()
	if err := p.startAndWait(); err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	s := &Server{t: t, p: p}
	t.Logf("neo4jtest: %s on %s ready in %s", s.Version(), s.URL(), time.Since(began).Round(time.Millisecond))
	return s
}

// process is one Neo4j home (data, logs and port) and the JVM running on
// it, if any.
type process struct {
	launcher launcher
	port     int
	password string
	home     string   // Neo4j's home: data/ and logs/
	logFile  string   // the launcher's stdout and stderr
	jvm      []string // extra JVM arguments

	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   *os.File      // closing it makes the launcher shut down
	exited  chan struct{} // closed when cmd has exited
	stopped bool          // we stopped or killed cmd on purpose
	agent   string        // "Neo4j/5.26.30", once ready
}

func newProcess(l launcher, dir string, port int) (*process, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	return &process{
		launcher: l,
		port:     port,
		password: "test-" + randomHex(12),
		home:     home,
		logFile:  filepath.Join(dir, "neo4j.log"),
	}, nil
}

func (p *process) agentString() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.agent
}

func (p *process) url() string { return fmt.Sprintf("bolt://127.0.0.1:%d", p.port) }

func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *process) runningLocked() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitedOnItsOwn describes the process's exit if it exited without being
// told to, else it is "".
func (p *process) exitedOnItsOwn() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil || p.stopped || p.runningLocked() {
		return ""
	}
	return fmt.Sprintf("Neo4j on %s exited on its own: %v", p.url(), p.cmd.ProcessState)
}

// startAndWait starts the launcher and waits until the server accepts Bolt
// clients; on failure it has killed it. The caller shows the log's tail.
func (p *process) startAndWait() error {
	offset, err := p.start()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := p.waitReady(ctx, offset); err != nil {
		_ = p.kill()
		return err
	}
	return nil
}

// start runs the launcher with its output appended to the log file, which
// it writes itself, so nothing of ours has to copy it. It returns the log
// offset where this run's output begins.
func (p *process) start() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		return 0, fmt.Errorf("start Neo4j on %s: it is running", p.url())
	}
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== neo4jtest: starting Neo4j on %s at %s\n", p.url(), time.Now().Format(time.RFC3339Nano))
	offset, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	// The launcher shuts down when its stdin ends: when closeStdin closes
	// w, or when this process dies (a second guard besides Pdeathsig, and
	// the only one off Linux).
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var jvm []string
	if p.launcher.cds != "" {
		jvm = append(jvm, "-XX:SharedArchiveFile="+p.launcher.cds)
	}
	jvm = append(jvm, p.jvm...)
	cmd := p.launcher.command(jvm, p.port, p.password, p.home)
	cmd.Stdin = r
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("start Neo4j on %s: %w", p.url(), err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		w.Close()
		close(exited)
	}()
	p.cmd, p.stdin, p.exited, p.stopped, p.agent = cmd, w, exited, false, ""
	return offset, nil
}

// waitReady waits for the launcher's ready line in the log after offset,
// then for a Bolt login to succeed.
func (p *process) waitReady(ctx context.Context, offset int64) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	last := "no ready line yet"
	for {
		select {
		case <-exited:
			return fmt.Errorf("Neo4j on %s exited while starting: %v", p.url(), cmd.ProcessState)
		default:
		}
		line, err := p.readyLine(offset)
		switch {
		case err != nil:
			last = err.Error()
		case strings.HasPrefix(line, failedLine):
			return fmt.Errorf("Neo4j on %s failed to start: %s", p.url(), strings.TrimPrefix(line, failedLine))
		case line != "":
			agent, err := p.serverAgent(ctx)
			if err == nil {
				p.mu.Lock()
				p.agent = agent
				p.mu.Unlock()
				return nil
			}
			last = "Bolt login: " + err.Error()
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return fmt.Errorf("Neo4j on %s not ready: %w (last: %s)", p.url(), err, last)
		}
	}
}

// readyLine is the launcher's ready or failed line in the log after
// offset, "" if there is none yet.
func (p *process) readyLine(offset int64) (string, error) {
	f, err := os.Open(p.logFile)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, readyLine) || strings.HasPrefix(line, failedLine) {
			return line, nil
		}
	}
	return "", sc.Err()
}

// serverAgent logs in over Bolt and returns the server's agent string.
func (p *process) serverAgent(ctx context.Context) (string, error) {
	d, err := p.driver(neo4j.BasicAuth(User, p.password, ""))
	if err != nil {
		return "", err
	}
	defer d.Close(ctx)
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.VerifyAuthentication(actx, nil); err != nil {
		return "", err
	}
	info, err := d.GetServerInfo(actx)
	if err != nil {
		return "", err
	}
	return info.Agent(), nil
}

// driver returns a new driver for the server with the given credentials,
// with timeouts suited to a local server.
func (p *process) driver(auth neo4j.AuthToken) (neo4j.DriverWithContext, error) {
	return neo4j.NewDriverWithContext(p.url(), auth, func(c *config.Config) {
		c.SocketConnectTimeout = 2 * time.Second
		c.ConnectionAcquisitionTimeout = 30 * time.Second
	})
}

// stop shuts the server down with SIGTERM, then SIGKILL after stopTimeout,
// and waits until its process is gone. A server that is not running is
// left alone.
func (p *process) stop() error {
	return p.shutdown(func() { p.signal(syscall.SIGTERM) }, stopTimeout)
}

// closeStdin shuts the server down by ending its stdin, as the death of
// the test process would, then SIGKILL after timeout, and waits until its
// process is gone.
func (p *process) closeStdin(timeout time.Duration) error {
	return p.shutdown(func() { _ = p.stdin.Close() }, timeout)
}

// shutdown asks the server to stop with ask, called with p.mu held,
// SIGKILLs it after timeout, and waits until its process is gone.
func (p *process) shutdown(ask func(), timeout time.Duration) error {
	p.mu.Lock()
	exited := p.exited
	if exited == nil || !p.runningLocked() {
		p.stopped = true
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	ask()
	p.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-time.After(timeout):
	}
	p.mu.Lock()
	p.signal(syscall.SIGKILL)
	p.mu.Unlock()
	select {
	case <-exited:
		return fmt.Errorf("Neo4j on %s did not stop within %s; killed it", p.url(), timeout)
	case <-time.After(stopTimeout):
		return fmt.Errorf("Neo4j on %s did not die within %s of SIGKILL", p.url(), stopTimeout)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *process) kill() error {
	p.mu.Lock()
	exited := p.exited
	p.stopped = true
	if p.runningLocked() {
		p.signal(syscall.SIGKILL)
	}
	p.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("Neo4j on %s did not die within %s of SIGKILL", p.url(), stopTimeout)
	}
}

// signal signals the launcher's process group (it runs in its own group,
// so nothing it might spawn outlives it). p.mu is held.
func (p *process) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// logTail is the end of the launcher's log and of Neo4j's debug.log.
func (p *process) logTail() string {
	return tail("Neo4j launcher output", p.logFile) + tail("Neo4j debug.log", filepath.Join(p.home, "logs", "debug.log"))
}

func tail(what, file string) string {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Sprintf("--- %s: %v\n", what, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*logTailLines {
			lines = append(lines[:0], lines[len(lines)-logTailLines:]...)
		}
	}
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return fmt.Sprintf("--- last %d lines of %s (%s):\n%s\n", len(lines), what, file, strings.Join(lines, "\n"))
}

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

// freePort returns a free TCP port on 127.0.0.1 below the kernel's
// ephemeral range: a port the kernel may hand out for an outgoing
// connection or a ":0" listener could be taken while a killed server is
// down, and a restart needs its old port back.
func freePort(t testing.TB) int {
	t.Helper()
	p, err := pickPort()
	if err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	return p
}

func pickPort() (int, error) {
	lo, hi := 20000, 32000
	if eph := ephemeralLow(); eph > 0 && eph < hi {
		hi = eph
	}
	if hi-lo < 1000 {
		// An unusual ephemeral range: fall back to a port the kernel picks.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	for range 1000 {
		p := lo + randInt(hi-lo)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free port in " + strconv.Itoa(lo) + "-" + strconv.Itoa(hi))
}

// ephemeralLow is the first port of Linux's ephemeral range, 0 if unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
