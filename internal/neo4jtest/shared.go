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
	shared.once.Do(func() {
		l, err := buildLauncher()
		if err != nil {
			shared.err = err
			return
		}
		port, err := pickPort()
		if err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "neo4jtest-shared-"); err != nil {
			shared.err = err
			return
		}
		shared.p, shared.err = newProcess(l, shared.dir, port)
	})
	if shared.err != nil {
		t.Fatalf("neo4jtest: shared server: %v", shared.err)
	}
	p := shared.p
	t.Cleanup(func() {
		if msg := p.exitedOnItsOwn(); msg != "" {
			t.Errorf("neo4jtest: shared server: %s", msg)
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
	if msg := p.exitedOnItsOwn(); msg != "" {
		fmt.Fprintf(os.Stderr, "neo4jtest: shared server: %s\n%s", msg, p.logTail())
	}
	if err := p.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "neo4jtest: shared server: %v\n%s", err, p.logTail())
	}
	_ = os.RemoveAll(shared.dir)
}
