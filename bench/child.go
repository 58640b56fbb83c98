package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agileplus/agileplus/httpapi"
)

// child is an `agileplus serve` process on a loopback port and its own data
// directory.
type child struct {
	cmd     *exec.Cmd
	base    string        // http://127.0.0.1:PORT
	dataDir string        // --data
	logPath string        // its stderr
	ready   time.Duration // from exec to the first /ready 200
	exited  chan struct{} // closed when the process is reaped
	waitErr error
}

// startChild runs serve on a fresh port and returns once /ready says 200.
func (b *bench) startChild(ctx context.Context, dataDir, durability string) (*child, error) {
	return b.startServe(ctx, dataDir, nil, "--nats-listen", "127.0.0.1:0", "--durability", durability)
}

// startServe runs serve on a fresh port with the data directory, the extra
// environment variables and flags, and returns once /ready says 200.
func (b *bench) startServe(ctx context.Context, dataDir string, env []string, args ...string) (*child, error) {
	c := &child{dataDir: dataDir, logPath: dataDir + ".log", exited: make(chan struct{})}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	c.cmd = exec.Command(b.bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dataDir}, args...)...)
	c.cmd.Env = append(childEnv(), env...)
	c.cmd.Stderr = logf
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}

	addrc := make(chan string, 1)
	t0 := time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", b.bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := servingAddr(sc.Text()); ok {
				select {
				case addrc <- addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()

	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	select {
	case addr := <-addrc:
		c.base = "http://" + addr
	case <-c.exited:
		return nil, fmt.Errorf("serve exited before listening (%v); log: %s", c.waitErr, tail(c.logPath))
	case <-timeout.C:
		c.kill()
		return nil, fmt.Errorf("serve did not print its address within 2m; log: %s", tail(c.logPath))
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}

	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(c.base + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.ready = time.Since(t0)
				if tok, err := os.ReadFile(filepath.Join(dataDir, "local-key")); err == nil {
					childTokens.Store(c.base, strings.TrimSpace(string(tok)))
				}
				return c, nil
			}
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("serve exited before ready (%v); log: %s", c.waitErr, tail(c.logPath))
		case <-timeout.C:
			c.kill()
			return nil, fmt.Errorf("serve not ready within 2m; log: %s", tail(c.logPath))
		case <-ctx.Done():
			c.kill()
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// childTokens holds the local key of each child by its base URL: every
// request of the benchmarks carries it, as a real client's would.
var childTokens sync.Map

// tokenFor returns the local key's token of the child at base ("" if none).
func tokenFor(base string) string {
	t, _ := childTokens.Load(base)
	s, _ := t.(string)
	return s
}

// client returns an API client of the child at base with its token.
func client(base string) *httpapi.Client {
	return httpapi.NewClient(base, httpapi.WithActor("bench"), httpapi.WithToken(tokenFor(base)))
}

// childEnv is this process's environment without the variables serve reads,
// so that the flags alone configure the child.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AGILEPLUS_") || strings.HasPrefix(k, "NATS_") || strings.HasPrefix(k, "SERVER_") || strings.HasPrefix(k, "NEO4J_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// servingAddr parses "agileplus VERSION serving on http://ADDR (data DIR)".
func servingAddr(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, " serving on http://")
	if !ok {
		return "", false
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr, addr != ""
}

// stop asks the child to shut down (SIGTERM) and waits for it.
func (c *child) stop() error {
	select {
	case <-c.exited:
		return c.waitErr
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		if c.waitErr != nil {
			return fmt.Errorf("serve exited with %v; log: %s", c.waitErr, tail(c.logPath))
		}
		return nil
	case <-time.After(30 * time.Second):
		c.kill()
		return errors.New("serve did not stop within 30s of SIGTERM; killed")
	}
}

func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

// readiness fetches /ready.
func (c *child) readiness(ctx context.Context) (*httpapi.Readiness, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ready", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r httpapi.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("decode /ready: %w", err)
	}
	return &r, nil
}

// busURL is the embedded NATS server's client URL, from /ready, with the
// token serve keeps in the data directory.
func (c *child) busURL(ctx context.Context) (string, error) {
	r, err := c.readiness(ctx)
	if err != nil {
		return "", err
	}
	u, _ := r.Checks["bus"].Detail["url"].(string)
	if u == "" {
		return "", fmt.Errorf("/ready has no checks.bus.detail.url (is --nats-listen honoured?)")
	}
	token, err := os.ReadFile(filepath.Join(c.dataDir, "nats-client-token"))
	if err != nil {
		return "", fmt.Errorf("the exposed NATS server's token: %w", err)
	}
	return strings.Replace(u, "nats://", "nats://"+strings.TrimSpace(string(token))+"@", 1), nil
}

// waitDrained waits until the relay has published every committed event
// (outbox_pending is 0) and returns how long that took.
func (c *child) waitDrained(ctx context.Context, limit time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		r, err := c.readiness(ctx)
		if err != nil {
			return 0, err
		}
		n, ok := r.Checks["bus"].Detail["outbox_pending"].(float64)
		if !ok {
			return 0, errors.New("/ready has no checks.bus.detail.outbox_pending")
		}
		if n == 0 {
			return time.Since(t0), nil
		}
		if time.Since(t0) > limit {
			return 0, fmt.Errorf("outbox still holds %.0f events after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// memory returns the child's resident set size and its peak, in bytes.
func (c *child) memory() (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of the child: %w (needs Linux /proc)", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s %q: %w", k, v, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}
