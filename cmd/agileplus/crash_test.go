package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/poll"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// buildBinary builds the agileplus binary once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agileplus-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "agileplus")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// child is the server running as a separate process.
type child struct {
	cmd *exec.Cmd
	url string
}

func startChild(t *testing.T, bin, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dataDir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "NATS_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving on ") {
				lines <- sc.Text()
			}
		}
	}()
	select {
	case line := <-lines:
		url := strings.Fields(strings.SplitN(line, "serving on ", 2)[1])[0]
		waitReady(t, url)
		useLocalKey(t, url, dataDir)
		return &child{cmd: cmd, url: url}
	case <-time.After(2 * poll.Timeout):
		t.Fatalf("child did not start within %s\n%s", 2*poll.Timeout, stderr.String())
	}
	return nil
}

// ackedWP is what the client was told about a WP by 2xx answers.
type ackedWP struct {
	id      string
	version int64
}

// TestCrashLosesNoAcknowledgedWrite kills the server with SIGKILL in the
// middle of a write load, restarts it on the same data directory, and
// checks every acknowledged write, the stream and every chain.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	ctx := context.Background()

	srv := startChild(t, bin, dataDir)
	c := httpapi.NewClient(srv.url, httpapi.WithActor("crash-test"))
	if _, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "CRASH", Name: "Crash"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFeature(ctx, "CRASH", agileplus.FeatureCreate{Slug: "load", Title: "Load"}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]*ackedWP{} // by id
	const rounds = 5
	for round := range rounds {
		t.Logf("round %d: load then kill -9", round+1)
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; loadCtx.Err() == nil; i++ {
					w, err := c.CreateWP(loadCtx, "load", agileplus.WPCreate{Title: fmt.Sprintf("r%d g%d #%d", round, g, i)})
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked[w.ID] = &ackedWP{id: w.ID, version: w.Version}
					mu.Unlock()
					if i%2 == 0 {
						if w2, err := c.TransitionWP(loadCtx, w.ID, agileplus.Transition{To: agileplus.WPDoing}, 0); err == nil {
							mu.Lock()
							acked[w.ID].version = w2.Version
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+round*150) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		stopLoad()
		wg.Wait()

		srv = startChild(t, bin, dataDir)
		c = httpapi.NewClient(srv.url, httpapi.WithActor("crash-test"))
		mu.Lock()
		for _, a := range acked {
			w, err := c.WP(ctx, a.id)
			if err != nil {
				t.Fatalf("round %d: acknowledged WP %s lost: %v", round+1, a.id, err)
			}
			if w.Version < a.version {
				t.Fatalf("round %d: WP %s at version %d, but version %d was acknowledged", round+1, w.Key, w.Version, a.version)
			}
		}
		t.Logf("round %d: %d acknowledged WPs all present", round+1, len(acked))
		mu.Unlock()
	}

	// Let the relay drain the outbox, stop the server cleanly, then check
	// the data directory itself.
	waitOutboxEmpty(t, c)
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	verifyDataDir(t, dataDir)
}

func waitOutboxEmpty(t *testing.T, c *httpapi.Client) {
	t.Helper()
	// A relay that backed off while the bus was away needs a while.
	poll.Within(t, 2*poll.Timeout, "the outbox to drain", func() bool {
		r, err := c.Readiness(context.Background())
		if err != nil {
			return false
		}
		n, ok := r.Checks["bus"].Detail["outbox_pending"].(float64)
		return ok && n == 0
	})
}

// verifyDataDir checks a stopped server's data directory: every committed
// event is in the JetStream stream exactly once, and every event chain and
// audit chain verifies.
func verifyDataDir(t *testing.T, dataDir string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dataDir, "agileplus.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	byEntity := map[string][]*agileplus.Event{}
	committed := map[string]bool{}
	err = store.AllEvents(ctx, func(e *agileplus.Event) error {
		byEntity[e.EntityID] = append(byEntity[e.EntityID], e)
		committed[e.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, evs := range byEntity {
		if err := agileplus.VerifyEventChain(evs); err != nil {
			t.Errorf("event chain of %s: %v", id, err)
		}
	}
	svc := agileplus.NewService(store)
	fs, err := svc.Features(ctx, "CRASH", agileplus.FeatureQuery{Page: agileplus.Page{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		v, err := svc.VerifyAudit(ctx, f.ID)
		if err != nil || !v.Valid {
			t.Errorf("audit chain of %s: %+v %v", f.Slug, v, err)
		}
	}

	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: filepath.Join(dataDir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	msgs, err := bus.StreamMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.MsgID]++
		if m.Event.ID != m.MsgID {
			t.Errorf("message %d: Nats-Msg-Id %s carries event %s", m.Seq, m.MsgID, m.Event.ID)
		}
	}
	for id := range committed {
		if seen[id] != 1 {
			t.Errorf("committed event %s is in the stream %d times, want 1", id, seen[id])
		}
	}
	for id := range seen {
		if !committed[id] {
			t.Errorf("stream holds event %s that was never committed", id)
		}
	}
	t.Logf("%d committed events, %d stream messages, %d entity chains verified", len(committed), len(msgs), len(byEntity))
	if len(committed) == 0 {
		t.Error("no events were committed: the load did nothing")
	}
}
