// Package childproc runs the servers test helpers start as child processes
// (natstest's nats-server, neo4jtest's Neo4j JVM) so that none outlives its
// test: each runs in its own process group, which a stop signals as a
// whole, and on Linux the kernel kills it when the test process dies. It
// also picks the loopback ports such servers listen on, and reads the end
// of their logs for a failed test.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Options configures Start.
type Options struct {
	// Name names the process in errors: "n1", "Neo4j on bolt://...".
	Name string
	// LogFile receives the process's stdout and stderr, appended, so that
	// it holds every run of a restarted server. The process writes it
	// itself: nothing of ours has to copy its output.
	LogFile string
	// Header, when set, is written to the log before the process starts,
	// as "=== Header at TIME".
	Header string
	// Grace is how long Stop waits after SIGTERM before SIGKILL, and how
	// long any stop waits for the process to go after SIGKILL.
	Grace time.Duration
	// StdinPipe makes the process's stdin a pipe that ends on CloseStdin
	// or when the test process dies, on any system: for a child that
	// shuts down at the end of its stdin, a guard besides Pdeathsig.
	StdinPipe bool
}

// Proc is one run of a child process: a restarted server is a new Proc.
type Proc struct {
	o      Options
	cmd    *exec.Cmd
	stdin  *os.File      // the pipe's write end, nil without StdinPipe
	exited chan struct{} // closed when cmd has exited and been reaped
	offset int64         // where this run's output begins in the log

	mu      sync.Mutex
	stopped bool // we stopped or killed it on purpose
}

// ErrKilled is wrapped by the error of a stop that had to SIGKILL a
// process that did not end within the grace.
var ErrKilled = errors.New("killed it")

// Start starts cmd in a process group of its own, with its output appended
// to o.LogFile; on Linux the kernel kills it if the test process dies.
// Start sets cmd's Stdout, Stderr and SysProcAttr, and its Stdin with
// o.StdinPipe.
func Start(cmd *exec.Cmd, o Options) (*Proc, error) {
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if o.Header != "" {
		fmt.Fprintf(logf, "=== %s at %s\n", o.Header, time.Now().Format(time.RFC3339Nano))
	}
	offset, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	var w *os.File
	if o.StdinPipe {
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		cmd.Stdin, w = r, pw
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		if w != nil {
			w.Close()
		}
		return nil, fmt.Errorf("start %s: %w", o.Name, err)
	}
	p := &Proc{o: o, cmd: cmd, stdin: w, exited: make(chan struct{}), offset: offset}
	go func() {
		_ = cmd.Wait()
		if w != nil {
			w.Close()
		}
		close(p.exited)
	}()
	return p, nil
}

// LogOffset is where this run's output begins in the log file.
func (p *Proc) LogOffset() int64 { return p.offset }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// State is how the process exited; nil while it runs.
func (p *Proc) State() *os.ProcessState {
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// ExitedOnItsOwn describes the exit of a process that ended without Stop,
// CloseStdin or Kill; it is nil while the process runs, or after those.
func (p *Proc) ExitedOnItsOwn() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.Running() {
		return nil
	}
	return fmt.Errorf("%s exited on its own: %v", p.o.Name, p.cmd.ProcessState)
}

// Stop asks the process group to end with SIGTERM, sends SIGKILL after
// the grace, and waits until the process is gone. Its error wraps
// ErrKilled when SIGKILL was needed. A process that has exited is left
// alone.
func (p *Proc) Stop() error {
	return p.shutdown(func() { p.signal(syscall.SIGTERM) }, p.o.Grace)
}

// CloseStdin ends the process's stdin (see Options.StdinPipe), as the
// death of the test process would, sends SIGKILL if it still runs after
// timeout, and waits until it is gone.
func (p *Proc) CloseStdin(timeout time.Duration) error {
	return p.shutdown(func() {
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
	}, timeout)
}

// Kill sends SIGKILL to the process group and waits until the process is
// gone.
func (p *Proc) Kill() error {
	p.mu.Lock()
	p.stopped = true
	if p.Running() {
		p.signal(syscall.SIGKILL)
	}
	p.mu.Unlock()
	return p.awaitKill()
}

// shutdown asks the process to end with ask, called with p.mu held,
// SIGKILLs it after timeout, and waits until it is gone.
func (p *Proc) shutdown(ask func(), timeout time.Duration) error {
	p.mu.Lock()
	p.stopped = true
	if !p.Running() {
		p.mu.Unlock()
		return nil
	}
	ask()
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	}
	p.mu.Lock()
	p.signal(syscall.SIGKILL)
	p.mu.Unlock()
	if err := p.awaitKill(); err != nil {
		return err
	}
	return fmt.Errorf("%s did not stop within %s; %w", p.o.Name, timeout, ErrKilled)
}

func (p *Proc) awaitKill() error {
	t := time.NewTimer(p.o.Grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		return fmt.Errorf("%s did not die within %s of SIGKILL", p.o.Name, p.o.Grace)
	}
}

// signal signals the process group: nothing the child started outlives
// it. p.mu is held, so that it races no other signal.
func (p *Proc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// NotYet marks the error of a readiness check that may pass later; see
// WaitReady.
func NotYet(err error) error { return notYet{err} }

type notYet struct{ err error }

func (e notYet) Error() string { return e.err.Error() }
func (e notYet) Unwrap() error { return e.err }

// WaitReady calls ready every interval until it returns nil (ready) or an
// error not made by NotYet (failed), the process exits, or ctx ends. A
// timeout's error names the last NotYet.
func (p *Proc) WaitReady(ctx context.Context, interval time.Duration, ready func(context.Context) error) error {
	last := "no answer yet"
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited while starting: %v", p.o.Name, p.cmd.ProcessState)
		default:
		}
		err := ready(ctx)
		var ny notYet
		if err == nil || !errors.As(err, &ny) {
			return err
		}
		last = ny.Error()
		t.Reset(interval)
		select {
		case <-p.exited:
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %s)", p.o.Name, ctx.Err(), last)
		case <-t.C:
		}
	}
}
