// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw, pinned in tools/versitygw) with its posix
// backend in a temporary directory, on a free loopback port. It stands in
// for MinIO, the server the docs recommend: both speak the S3 API the
// code uses. The binary is built into .tools/versitygw/ on first use;
// every server is stopped when its test ends.
package s3test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus/internal/childproc"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/internal/toolbin"
)

const module = "github.com/versity/versitygw"

var binary = sync.OnceValues(func() (string, error) {
	return toolbin.Build("versitygw", module, module+"/cmd/versitygw")
})

// Server is one running S3 server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // where the buckets are

	bin, log string
	port     int
	proc     *childproc.Proc
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	ports, err := childproc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		AccessKey: "agileplus-test",
		SecretKey: "agileplus-test-secret-key",
		Dir:       filepath.Join(dir, "buckets"),
		bin:       bin,
		log:       filepath.Join(dir, "versitygw.log"),
		port:      ports[0],
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(func() {
		if s.proc != nil {
			s.proc.Stop()
		}
	})
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(s.bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", fmt.Sprintf("127.0.0.1:%d", s.port), "posix", s.Dir)
	p, err := childproc.Start(cmd, childproc.Options{Name: "versitygw", LogFile: s.log, Grace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
	if !poll.Wait(time.Minute, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}) {
		t.Fatalf("versitygw did not listen on %d\n%s", s.port, s.Log())
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	s.proc = nil
}

// Restart starts a killed server again on the same port and directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.start(t)
}

// Log is the end of the server's log, for a failed test.
func (s *Server) Log() string { return childproc.Tail("versitygw", s.log) }
