package neo4jtest

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// shared is the test binary's shared server, started by the first Shared
// call and stopped by StopShared.
var shared struct {
	once sync.Once
	p    *process
	dir  string
	err  error
}

// Shared returns a handle on the test binary's shared server, starting it
// on first use, and starting it again if an earlier test stopped or killed
// it. Its data outlives the test: call Reset first. Tests on the shared
// server must not run in parallel with each other (no t.Parallel), since
// they share one database.
//
// The package's TestMain stops it:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		neo4jtest.StopShared()
//		os.Exit(code)
//	}
//
// Without that the server still dies with the test process, but its
// directory is left in the temporary directory.
func Shared(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Neo4j, a JVM: skipped under -short (make test runs it)")
	}
	shared.once.Do(func() {
		l, err := buildLauncher()
		if err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "neo4jtest-shared-"); err != nil {
			shared.err = err
			return
		}
		shared.p, shared.err = newProcess(l, shared.dir)
	})
	if shared.err != nil {
		t.Fatalf("neo4jtest: shared server: %v", shared.err)
	}
	p := shared.p
	t.Cleanup(func() {
		if err := p.exitedOnItsOwn(); err != nil {
			t.Errorf("neo4jtest: shared server: %v", err)
		}
		if t.Failed() {
			t.Log(p.logTail())
		}
	})
	if !p.running() {
		if err := p.launcher.cdsErr; err != nil {
			t.Logf("neo4jtest: no class-data archive, so the JVM starts more slowly: %v", err)
		}
		began := time.Now()
		if err := p.startAndWait(); err != nil {
			t.Fatalf("neo4jtest: shared server: %v", err)
		}
		t.Logf("neo4jtest: shared %s on %s ready in %s", p.agentString(), p.url(), time.Since(began).Round(time.Millisecond))
	}
	return &Server{t: t, p: p}
}

// StopShared stops the shared server, if one was started, and removes its
// directory. Call it from TestMain after m.Run.
func StopShared() {
	p := shared.p
	if p == nil {
		return
	}
	if err := p.exitedOnItsOwn(); err != nil {
		fmt.Fprintf(os.Stderr, "neo4jtest: shared server: %v\n%s", err, p.logTail())
	}
	if err := p.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "neo4jtest: shared server: %v\n%s", err, p.logTail())
	}
	_ = os.RemoveAll(shared.dir)
}

// Launch starts a Neo4j server outside of any test (a benchmark, an
// experiment by hand) with its home and log under dir, and waits until it
// accepts Bolt clients; extraJVM are added to the JVM's arguments (a later
// -Xmx wins over the default 512 MB heap). Close stops it. Of its methods,
// those that end a test on failure (Driver, Stop, Kill, Restart) are for
// servers from Start and Shared only; URL, User, Password, Reset and Close
// are for any.
func Launch(dir string, extraJVM ...string) (*Server, error) {
	l, err := buildLauncher()
	if err != nil {
		return nil, fmt.Errorf("neo4jtest: %w", err)
	}
	p, err := newProcess(l, dir)
	if err != nil {
		return nil, fmt.Errorf("neo4jtest: %w", err)
	}
	p.jvm = extraJVM
	if err := p.startAndWait(); err != nil {
		return nil, fmt.Errorf("neo4jtest: %w\n%s", err, p.logTail())
	}
	return &Server{p: p}, nil
}

// Close stops a server from Launch (SIGTERM, then SIGKILL after 30
// seconds) and waits until its process is gone.
func (s *Server) Close() error {
	if err := s.p.stop(); err != nil {
		return fmt.Errorf("neo4jtest: %w", err)
	}
	return nil
}
