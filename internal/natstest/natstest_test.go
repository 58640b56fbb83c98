package natstest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterLeaderKillAndRestart checks the cluster helpers against each
// other: an R3 stream gets a leader, SIGKILL of the leader makes another
// server lead, and the killed server rejoins as a current follower.
func TestClusterLeaderKillAndRestart(t *testing.T) {
	c := StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitStreamHealthy(ctx, "T", 3); err != nil {
		t.Fatal(err)
	}
	leader, err := c.StreamLeader(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.before", []byte("1")); err != nil {
		t.Fatal(err)
	}

	c.Kill(leader)
	if c.Servers[leader].Running() {
		t.Fatalf("%s still runs after Kill", c.Servers[leader].Name())
	}
	next, err := c.StreamLeader(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("killed server %s still reported as leader", c.Servers[leader].Name())
	}
	t.Logf("leader %s killed, %s took over", c.Servers[leader].Name(), c.Servers[next].Name())
	if _, err := js.Publish(ctx, "t.during", []byte("2"), jetstream.WithRetryAttempts(50)); err != nil {
		t.Fatalf("publish with one server down: %v", err)
	}

	c.Restart(leader)
	if err := c.WaitStreamHealthy(ctx, "T", 3); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != 2 {
		t.Fatalf("got %d messages, want 2", got)
	}
	if got, want := len(strings.Split(c.URLs(), ",")), 3; got != want {
		t.Fatalf("URLs has %d entries, want %d", got, want)
	}
}

// TestStartServerTLS checks that a TLS server is trusted with its CA file
// and refused without it.
func TestStartServerTLS(t *testing.T) {
	s := StartServer(t, WithTLS())
	if !strings.HasPrefix(s.URL(), "tls://") {
		t.Fatalf("URL %s, want tls://", s.URL())
	}
	nc, err := nats.Connect(s.URL(), nats.RootCAs(s.CAFile()))
	if err != nil {
		t.Fatalf("connect with the CA: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream over TLS: %v", err)
	}

	_, err = nats.Connect(s.URL(), nats.Timeout(2*time.Second))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("connect without the CA: got %v, want a certificate error", err)
	}
}

// TestBinaryBuildOnceConcurrently builds into a fresh tools directory from
// several goroutines at once (each with its own lock file descriptor, as
// separate processes would have): all get the same working binary, and a
// later call reuses it.
func TestBinaryBuildOnceConcurrently(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := binaryVersion(Binary(t))
	if want == "" {
		t.Fatal("the shared binary reports no version")
	}
	tools := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = ensureBinary(tools, root, want)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if p != paths[0] {
			t.Fatalf("got paths %v, want one", paths)
		}
	}
	if got := binaryVersion(paths[0]); got != want {
		t.Fatalf("built binary reports %q, want %q", got, want)
	}
	before, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ensureBinary(tools, root, want); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("a binary of the right version was rebuilt instead of reused")
	}
	left, _ := filepath.Glob(filepath.Join(tools, "build-*"))
	if len(left) > 0 {
		t.Fatalf("temporary build directories left behind: %v", left)
	}
}
