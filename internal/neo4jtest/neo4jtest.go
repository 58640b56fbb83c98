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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/childproc"
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
	if testing.Short() {
		t.Skip("needs Neo4j, a JVM: skipped under -short (make test runs it)")
	}
	l, err := buildLauncher()
	if err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	if l.cdsErr != nil {
		t.Logf("neo4jtest: no class-data archive, so the JVM starts more slowly: %v", l.cdsErr)
	}
	p, err := newProcess(l, t.TempDir())
	if err != nil {
		t.Fatalf("neo4jtest: %v", err)
	}
	t.Cleanup(func() {
		unexpected := p.exitedOnItsOwn()
		if err := p.stop(); err != nil {
			t.Errorf("neo4jtest: %v", err)
		}
		if unexpected != nil {
			t.Errorf("neo4jtest: %v", unexpected)
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

	mu    sync.Mutex
	proc  *childproc.Proc // the current run, nil before the first
	agent string          // "Neo4j/5.26.30", once ready
}

// newProcess makes a home under dir for a server on a free port.
func newProcess(l launcher, dir string) (*process, error) {
	ports, err := childproc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	return &process{
		launcher: l,
		port:     ports[0],
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

func (p *process) current() *childproc.Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc
}

func (p *process) running() bool {
	c := p.current()
	return c != nil && c.Running()
}

// state is how the last run exited, nil while it runs or before it.
func (p *process) state() *os.ProcessState {
	if c := p.current(); c != nil {
		return c.State()
	}
	return nil
}

// exitedOnItsOwn describes the process's exit if it exited without being
// told to, else it is nil.
func (p *process) exitedOnItsOwn() error {
	if c := p.current(); c != nil {
		return c.ExitedOnItsOwn()
	}
	return nil
}

// startAndWait starts the launcher and waits until the server accepts Bolt
// clients; on failure it has killed it. The caller shows the log's tail.
func (p *process) startAndWait() error {
	c, err := p.start()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := p.waitReady(ctx, c); err != nil {
		_ = c.Kill()
		return err
	}
	return nil
}

// start runs the launcher with its output appended to the log file. The
// launcher also shuts down when its stdin ends: on CloseStdin, or when
// this process dies (a second guard besides Pdeathsig, and the only one
// off Linux).
func (p *process) start() (*childproc.Proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && p.proc.Running() {
		return nil, fmt.Errorf("start Neo4j on %s: it is running", p.url())
	}
	var jvm []string
	if p.launcher.cds != "" {
		jvm = append(jvm, "-XX:SharedArchiveFile="+p.launcher.cds)
	}
	jvm = append(jvm, p.jvm...)
	c, err := childproc.Start(p.launcher.command(jvm, p.port, p.password, p.home), childproc.Options{
		Name:      "Neo4j on " + p.url(),
		LogFile:   p.logFile,
		Header:    "neo4jtest: starting Neo4j on " + p.url(),
		Grace:     stopTimeout,
		StdinPipe: true,
	})
	if err != nil {
		return nil, err
	}
	p.proc, p.agent = c, ""
	return c, nil
}

// waitReady waits for the launcher's ready line in this run's part of the
// log, then for a Bolt login to succeed.
func (p *process) waitReady(ctx context.Context, c *childproc.Proc) error {
	return c.WaitReady(ctx, pollInterval, func(ctx context.Context) error {
		line, err := p.readyLine(c.LogOffset())
		switch {
		case err != nil:
			return childproc.NotYet(err)
		case strings.HasPrefix(line, failedLine):
			return fmt.Errorf("Neo4j on %s failed to start: %s", p.url(), strings.TrimPrefix(line, failedLine))
		case line == "":
			return childproc.NotYet(errors.New("no ready line yet"))
		}
		agent, err := p.serverAgent(ctx)
		if err != nil {
			return childproc.NotYet(fmt.Errorf("Bolt login: %w", err))
		}
		p.mu.Lock()
		p.agent = agent
		p.mu.Unlock()
		return nil
	})
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
	if c := p.current(); c != nil {
		return c.Stop()
	}
	return nil
}

// closeStdin shuts the server down by ending its stdin, as the death of
// the test process would, then SIGKILL after timeout, and waits until its
// process is gone.
func (p *process) closeStdin(timeout time.Duration) error {
	if c := p.current(); c != nil {
		return c.CloseStdin(timeout)
	}
	return nil
}

// kill sends SIGKILL and waits until the process is gone.
func (p *process) kill() error {
	if c := p.current(); c != nil {
		return c.Kill()
	}
	return nil
}

// logTail is the end of the launcher's log and of Neo4j's debug.log.
func (p *process) logTail() string {
	return childproc.Tail("Neo4j launcher output", p.logFile) + childproc.Tail("Neo4j debug.log", filepath.Join(p.home, "logs", "debug.log"))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
