// Command bench measures AgilePlus against its performance targets and
// against baselines, in one run:
//
//  1. write commands through the HTTP API of a real `agileplus serve` child
//     process (normal and strict durability), next to raw JetStream async
//     publishing on the same embedded NATS server;
//  2. reads on a generated 10,000-WP project, in process, through the HTTP
//     handler and through the Service directly;
//  3. cold start, idle memory, and memory after loading 100,000 WPs;
//  4. graph queries (ready, layers, blockers, dependents, path, impact,
//     critical path, cycles, export) on a generated 100,000-WP project, in
//     process, through the HTTP handler and through the Service;
//  5. with -only mcp: agents: next with claim on a 10,000-WP project in
//     process, through MCP over HTTP and through REST, and the MCP
//     surface in calls and tokens;
//  6. with -only neo4j: the graph project copied into a real Neo4j, every
//     graph query on both stores side by side, and write commands through
//     HTTP on Neo4j with one and two serve processes.
//
// It prints an aligned table on stdout and progress on stderr. Figures never
// fail the run: it exits 0 unless something errors. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sizes is how much work each benchmark does.
type sizes struct {
	workers    int // concurrent HTTP clients
	writeOps   int // per write kind, normal durability
	strictOps  int // per write kind, strict durability
	rawMsgs    int // raw JetStream publishes, normal server
	rawStrict  int // raw JetStream publishes, strict server
	readWPs    int
	readFeats  int
	readCalls  int // measured calls per read kind
	starts     int // cold starts
	loadWPs    int
	loadFeats  int
	graphWPs   int // the graph benchmark's project
	graphEdges int
	graphFeats int
	graphCalls int // measured calls per cheap graph query; whole-project ones make fewer
	idle       time.Duration
	drainLimit time.Duration // longest wait for the relay to empty the outbox

	outboxEvents int           // events the relay drains
	eventSeconds time.Duration // how long the event benchmarks write
	sseClients   int           // SSE clients of the fan-out benchmark
}

var (
	full = sizes{
		workers: 32, writeOps: 20000, strictOps: 5000, rawMsgs: 100000, rawStrict: 10000,
		readWPs: 10000, readFeats: 20, readCalls: 2000,
		starts: 5, loadWPs: 100000, loadFeats: 100, idle: 2 * time.Second, drainLimit: 5 * time.Minute,
		graphWPs: 100000, graphEdges: 300000, graphFeats: 100, graphCalls: 2000,
		outboxEvents: 100000, eventSeconds: 10 * time.Second, sseClients: 100,
	}
	quick = sizes{
		workers: 32, writeOps: 2000, strictOps: 1000, rawMsgs: 20000, rawStrict: 2000,
		readWPs: 2000, readFeats: 10, readCalls: 500,
		starts: 3, loadWPs: 10000, loadFeats: 20, idle: 2 * time.Second, drainLimit: 2 * time.Minute,
		graphWPs: 10000, graphEdges: 30000, graphFeats: 20, graphCalls: 500,
		outboxEvents: 10000, eventSeconds: 3 * time.Second, sseClients: 100,
	}
)

// bench holds what the benchmarks share: sizes, the built binary, the
// scratch directory and the report being filled in.
type bench struct {
	sz       sizes
	mode     string
	bin      string
	revision string // git describe of the tree the binary was built from
	tmp      string
	stdout   io.Writer
	stderr   io.Writer
	rep      *report
	netHTTP  bool // loads send through net/http's client instead of lean connections
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

// dir returns a fresh directory under the scratch directory.
func (b *bench) dir(name string) (string, error) {
	return os.MkdirTemp(b.tmp, name+"-")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	quickMode := fs.Bool("quick", false, "smaller sizes: a smoke run of every benchmark in about a minute")
	workers := fs.Int("workers", 0, "concurrent HTTP clients (default 32)")
	base := fs.String("dir", "", "where to put the scratch directory (default: the system temp dir)")
	keep := fs.Bool("keep", false, "keep the scratch directory (data dirs, child logs)")
	only := fs.String("only", "", "run only these steps, comma-separated: writes, reads, start, graph, relay, events, metrics, mcp, ratelimit, search, neo4j, soak (mcp, ratelimit, search, neo4j and soak run only when named)")
	netHTTP := fs.Bool("nethttp-client", false, "send the loads through net/http's client instead of lean keep-alive connections (costs the shared CPUs about 23 µs more per request)")
	cpuprofile := fs.String("cpuprofile", "", "instead of the benchmarks, profile the HTTP write path in process and write a CPU profile here")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	b := &bench{sz: full, mode: "full", stdout: stdout, stderr: stderr, rep: &report{}}
	if *quickMode {
		b.sz, b.mode = quick, "quick"
	}
	b.netHTTP = *netHTTP
	if *workers > 0 {
		b.sz.workers = *workers
	}

	tmp, err := os.MkdirTemp(*base, "agileplus-bench-")
	if err != nil {
		return err
	}
	b.tmp = tmp
	defer func() {
		if *keep {
			b.logf("kept %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	if *cpuprofile != "" {
		return b.profileWrites(ctx, *cpuprofile)
	}

	start := time.Now()
	b.logf("%s mode, %d CPUs, %s, scratch %s", b.mode, runtime.NumCPU(), runtime.Version(), tmp)
	if err := b.build(ctx); err != nil {
		return err
	}
	steps := []struct {
		flag, name string
		fn         func(context.Context) error
	}{
		{"writes", "writes", b.writes},
		{"reads", "reads", b.reads},
		{"start", "cold start and memory", b.coldStart},
		{"graph", "graph queries", b.graphQueries},
		{"relay", "relay drain", b.relayDrain},
		{"events", "event delivery", b.events},
		{"neo4j", "Neo4j against the embedded index", b.neo4j},
		{"soak", "soak", b.soakRun},
		{"mcp", "agents and MCP", b.mcpAgents},
		{"ratelimit", "rate-limit cost", b.rateLimitCost},
		{"metrics", "metrics cost", b.metricsCost},
		{"search", "text search", b.search},
	}
	for _, s := range steps {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), s.flag) {
			continue
		}
		if *only == "" && (s.flag == "neo4j" || s.flag == "soak" || s.flag == "mcp" || s.flag == "ratelimit" || s.flag == "search") {
			continue // a JVM and a graph copy, ten minutes, node for the tokens, a redis-server, or a 100,000-WP import: only when asked
		}
		t := time.Now()
		b.logf("== %s", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.logf("== %s done in %s", s.name, time.Since(t).Round(time.Second))
	}
	b.rep.print(stdout, b.header(time.Since(start)))
	return nil
}

func (b *bench) header(took time.Duration) string {
	return fmt.Sprintf("AgilePlus benchmarks (%s mode, %d clients), tree %s, on %s/%s, %d CPUs, %s; run took %s",
		b.mode, b.sz.workers, b.revision, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), took.Round(time.Second))
}

// build compiles the agileplus binary from the module this command is in.
func (b *bench) build(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("run bench from inside the agileplus module (go run ./bench)")
	}
	b.bin = filepath.Join(b.tmp, "agileplus")
	b.logf("building %s", b.bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "./cmd/agileplus")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = b.stderr, b.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/agileplus: %w", err)
	}
	b.revision = "unknown"
	git := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	git.Dir = cmd.Dir
	if out, err := git.Output(); err == nil {
		b.revision = strings.TrimSpace(string(out))
	}
	return nil
}
