package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/natsbus"
	"github.com/agileplus/agileplus/relay"
	"github.com/agileplus/agileplus/sqlitestore"
)

// profileWrites runs the write loads against a server wired in this process
// the way serve wires it (SQLite store, embedded JetStream, relay, HTTP on a
// loopback port) and writes a CPU profile of the whole process: server,
// relay and the load's HTTP clients (net/http client frames are the load's).
func (b *bench) profileWrites(ctx context.Context, path string) error {
	dir, err := b.dir("profile")
	if err != nil {
		return err
	}
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		return err
	}
	defer store.Close()
	bus, err := natsbus.Open(ctx, natsbus.Config{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		return err
	}
	defer bus.Close()
	rel := &relay.Relay{Outbox: store, Publisher: bus}
	rel.Open()
	defer rel.Close()
	svc := agileplus.NewService(store)
	svc.OnCommit = rel.Poke

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httpapi.NewServer(svc, nil, slog.New(slog.DiscardHandler), "bench")}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	api := client(base)
	if _, err := api.CreateProject(ctx, agileplus.ProjectCreate{Key: writeProject, Name: "Write benchmark"}); err != nil {
		return err
	}
	if _, err := api.CreateFeature(ctx, writeProject, agileplus.FeatureCreate{Slug: writeFeature, Title: "Write benchmark"}); err != nil {
		return err
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	hc := b.loadClient(b.sz.workers)
	defer hc.close()
	wl := &writeLoad{workers: b.sz.workers, cursor: make([]int, b.sz.workers)}
	ops := b.sz.writeOps
	for i, kind := range writeKinds {
		gen := []func(w, j int) request{wl.create, wl.transition, wl.dependency, wl.mixed}[i]
		if i == 1 {
			wl.setWPs(ops)
		}
		r, err := load(ctx, hc, base, ops, b.sz.workers, gen)
		if err != nil {
			pprof.StopCPUProfile()
			return fmt.Errorf("%s: %w", kind, err)
		}
		b.logf("profile: %-16s %s  p99 %s", kind, fmtRate(r.rate()), fmtDur(r.pct(99)))
	}
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	b.logf("CPU profile in %s; read it with: go tool pprof -top %s", path, path)
	return nil
}
