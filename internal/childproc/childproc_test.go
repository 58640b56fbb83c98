package childproc

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, script string, o Options) *Proc {
	t.Helper()
	if o.LogFile == "" {
		o.LogFile = filepath.Join(t.TempDir(), "child.log")
	}
	if o.Name == "" {
		o.Name = "child"
	}
	if o.Grace == 0 {
		o.Grace = 10 * time.Second
	}
	p, err := Start(exec.Command("sh", "-c", script), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func waitExit(t *testing.T, p *Proc) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not exit")
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestStopKillsTheGroup checks that a child deaf to SIGTERM is killed after
// the grace, with the process it started.
func TestStopKillsTheGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := start(t, `trap "" TERM; sleep 300 & echo $! > `+pidFile+`; wait`, Options{Grace: 300 * time.Millisecond})
	var pid int
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.WaitReady(ctx, 10*time.Millisecond, func(context.Context) error {
		b, _ := os.ReadFile(pidFile)
		if pid, _ = strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 {
			return NotYet(errors.New("no pid yet"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop()
	if !errors.Is(err, ErrKilled) {
		t.Fatalf("stop: got %v, want ErrKilled", err)
	}
	if p.Running() {
		t.Fatal("still running after Stop")
	}
	for deadline := time.Now().Add(10 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("the child's child %d outlived the stop", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.ExitedOnItsOwn(); err != nil {
		t.Errorf("a stopped child: %v", err)
	}
}

// TestStopWithinGrace checks that a child ending on SIGTERM is not killed.
func TestStopWithinGrace(t *testing.T) {
	p := start(t, "sleep 300", Options{})
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// TestExitedOnItsOwn checks the report of a child that ended untold, and
// that its output follows the header in the log.
func TestExitedOnItsOwn(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	if err := os.WriteFile(log, []byte("an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "echo bye; echo oops >&2; exit 3", Options{Name: "c1", LogFile: log, Header: "test: starting c1"})
	waitExit(t, p)
	err := p.ExitedOnItsOwn()
	if err == nil || !strings.Contains(err.Error(), "c1 exited on its own: exit status 3") {
		t.Fatalf("got %v, want c1 exited on its own with status 3", err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || lines[0] != "an earlier run" || !strings.HasPrefix(lines[1], "=== test: starting c1 at ") || lines[2] != "bye" || lines[3] != "oops" {
		t.Fatalf("log:\n%s", b)
	}
	if got, want := p.LogOffset(), int64(len(lines[0])+len(lines[1])+2); got != want {
		t.Errorf("log offset %d, want %d", got, want)
	}
	if tail := Tail("c1", log); !strings.Contains(tail, "last 4 lines of c1") || !strings.HasSuffix(tail, "oops\n") {
		t.Errorf("tail:\n%s", tail)
	}
}

// TestKill checks that Kill ends a child at once and counts as told.
func TestKill(t *testing.T) {
	p := start(t, `trap "" TERM; sleep 300`, Options{})
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() || p.State() == nil {
		t.Fatal("running after Kill")
	}
	if err := p.ExitedOnItsOwn(); err != nil {
		t.Errorf("a killed child: %v", err)
	}
}

// TestCloseStdin checks that a child reading its stdin ends when it is
// closed.
func TestCloseStdin(t *testing.T) {
	p := start(t, "cat >/dev/null; echo stopped", Options{StdinPipe: true})
	if err := p.CloseStdin(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := p.State(); st == nil || !st.Success() {
		t.Fatalf("exit %v, want success", st)
	}
}

func TestWaitReady(t *testing.T) {
	ctx := context.Background()
	t.Run("ready", func(t *testing.T) {
		p := start(t, "sleep 300", Options{})
		calls := 0
		err := p.WaitReady(ctx, time.Millisecond, func(context.Context) error {
			if calls++; calls < 3 {
				return NotYet(errors.New("not yet"))
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("got %v after %d calls, want nil after 3", err, calls)
		}
	})
	t.Run("failed", func(t *testing.T) {
		p := start(t, "sleep 300", Options{})
		failed := errors.New("refused")
		if err := p.WaitReady(ctx, time.Millisecond, func(context.Context) error { return failed }); err != failed {
			t.Fatalf("got %v, want %v", err, failed)
		}
	})
	t.Run("exited", func(t *testing.T) {
		p := start(t, "exit 2", Options{Name: "c2"})
		err := p.WaitReady(ctx, time.Millisecond, func(context.Context) error { return NotYet(errors.New("no")) })
		if err == nil || !strings.Contains(err.Error(), "c2 exited while starting: exit status 2") {
			t.Fatalf("got %v, want c2 exited while starting", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		p := start(t, "sleep 300", Options{Name: "c3"})
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := p.WaitReady(tctx, time.Millisecond, func(context.Context) error { return NotYet(errors.New("still warming up")) })
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "c3 not ready") || !strings.Contains(err.Error(), "last: still warming up") {
			t.Fatalf("got %v, want c3 not ready naming the last reason", err)
		}
	})
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
