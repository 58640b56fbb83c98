package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/natsbus"
)

// BenchmarkConsumerHandOff measures how long events wait when the process
// running a consumer goes away while it holds one event and 20 more are
// queued behind it: the time from the stop until the same consumer in
// another process has handled all 21.
//
//   - graceful: the process stops its consumer (what serve does on SIGTERM);
//   - crash: its connection drops without a word (the process died), so the
//     held event waits out the ack wait, the baseline.
//
// It reports ms/handoff, and for graceful also how many times shorter than
// the crash path that is (x-faster-than-crash, from the crash run's mean in
// the same process when both run):
//
//	go test -run '^$' -bench ConsumerHandOff -benchtime 5x ./natsbus
func BenchmarkConsumerHandOff(b *testing.B) {
	const ackWait = 3 * time.Second
	policy := agileplus.ConsumerPolicy{MaxDeliver: 5, Backoff: []time.Duration{50 * time.Millisecond}, AckWait: ackWait}
	srv := openBus(b, natsbus.Config{DataDir: b.TempDir(), ListenAddr: "127.0.0.1:0", Consumer: policy})
	var crashMean atomic.Int64
	var round int // names and event ids never repeat: the stream drops a repeated id
	for _, mode := range []string{"crash", "graceful"} {
		b.Run(mode, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				round++
				total += handOff(b, srv, policy, fmt.Sprintf("%s-%d", mode, round), mode == "crash")
			}
			mean := total / time.Duration(b.N)
			b.ReportMetric(float64(mean.Microseconds())/1000, "ms/handoff")
			if mode == "crash" {
				crashMean.Store(int64(mean))
			} else if c := crashMean.Load(); c > 0 {
				b.ReportMetric(float64(c)/float64(mean), "x-faster-than-crash")
			}
		})
	}
}

// handOff runs one hand-off on consumer name and returns how long it took.
func handOff(b *testing.B, srv *natsbus.Bus, policy agileplus.ConsumerPolicy, name string, crash bool) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	proxy := newTCPProxy(b, srv.ClientURL())
	defer proxy.kill()
	leaving, err := natsbus.Open(ctx, natsbus.Config{URL: proxy.url(), Consumer: policy})
	if err != nil {
		b.Fatal(err)
	}
	defer leaving.Close() //nolint:errcheck // after a crash it has nothing to drain
	staying, err := natsbus.Open(ctx, natsbus.Config{URL: srv.ClientURL(), Consumer: policy})
	if err != nil {
		b.Fatal(err)
	}
	defer staying.Close()

	held := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	c1, err := leaving.Consume(ctx, agileplus.ConsumerSpec{Name: name, Handle: func(hctx context.Context, _ *agileplus.Event, _ agileplus.Delivery) error {
		select {
		case held <- struct{}{}:
		default:
		}
		select {
		case <-hctx.Done():
			return hctx.Err()
		case <-release:
			return context.Canceled
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer c1.Stop()
	events := testEvents(name, 21)
	if err := srv.Publish(ctx, events[:1]); err != nil {
		b.Fatal(err)
	}
	<-held
	if err := srv.Publish(ctx, events[1:]); err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	handled := map[string]bool{}
	all := make(chan struct{})
	start := time.Now()
	if crash {
		proxy.kill()
	} else {
		c1.Stop()
	}
	c2, err := staying.Consume(ctx, agileplus.ConsumerSpec{Name: name, Handle: func(_ context.Context, e *agileplus.Event, _ agileplus.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		handled[e.ID] = true
		if len(handled) == len(events) {
			close(all)
		}
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-all:
	case <-ctx.Done():
		b.Fatalf("%s: the other process did not get every event", name)
	}
	took := time.Since(start)
	c2.Stop()
	if err := staying.DeleteConsumer(ctx, name); err != nil {
		b.Fatal(err)
	}
	return took
}

// tcpProxy forwards connections to a NATS server; kill drops every one of
// them at once, as a process that dies does.
type tcpProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	once  sync.Once
}

func newTCPProxy(tb testing.TB, serverURL string) *tcpProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &tcpProxy{ln: ln, to: serverURL[len("nats://"):]}
	go p.accept()
	return p
}

func (p *tcpProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.to)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

func (p *tcpProxy) kill() {
	p.once.Do(func() {
		p.ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
}
