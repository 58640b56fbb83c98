package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/internal/soak"
)

// soakRun is the long soak: 32 clients with write keys, 200 idle event
// streams and 50 slow-header connections against one serve process for
// ten minutes (one with -quick), window by window.
func (b *bench) soakRun(ctx context.Context) error {
	dur := 10 * time.Minute
	if b.mode == "quick" {
		dur = time.Minute
	}
	dir, err := b.dir("soak")
	if err != nil {
		return err
	}
	c, err := b.startServe(ctx, dir, nil)
	if err != nil {
		return err
	}
	defer c.stop()
	local, err := os.ReadFile(filepath.Join(dir, "local-key"))
	if err != nil {
		return fmt.Errorf("read the local key: %w", err)
	}
	admin := httpapi.NewClient(c.base, httpapi.WithToken(strings.TrimSpace(string(local))))
	if _, err := admin.CreateProject(ctx, agileplus.ProjectCreate{Key: "SOAK", Name: "Soak"}); err != nil {
		return err
	}
	var writers, readers []string
	for i := range 4 {
		w, err := admin.CreateKey(ctx, agileplus.KeyCreate{Name: fmt.Sprintf("soak-writer-%d", i), Scope: agileplus.ScopeWrite})
		if err != nil {
			return err
		}
		r, err := admin.CreateKey(ctx, agileplus.KeyCreate{Name: fmt.Sprintf("soak-reader-%d", i), Scope: agileplus.ScopeRead})
		if err != nil {
			return err
		}
		writers, readers = append(writers, w.Token), append(readers, r.Token)
	}
	rep, err := soak.Run(ctx, soak.Config{
		Base: c.base, WriteTokens: writers, StreamTokens: readers, Project: "SOAK",
		Clients: b.sz.workers, Streams: 200, SlowHeaders: 50, Duration: dur, Window: dur / 10,
		Memory: func() (int64, error) { rss, _, err := c.memory(); return rss, err },
		Logf:   b.logf,
	})
	if err != nil {
		return err
	}
	s := b.rep.section(fmt.Sprintf("Soak: %d clients with keys, 200 idle event streams, 50 slow-header connections, %s", b.sz.workers, dur),
		"window end", "requests", "errors", "p50", "p99", "health ok/failed", "RSS")
	for _, w := range rep.Windows {
		s.row(w.End.Round(time.Second).String(), commas(int64(w.Requests)), commas(int64(w.Errors)), w.P50.Round(10*time.Microsecond).String(),
			w.P99.Round(10*time.Microsecond).String(), fmt.Sprintf("%d/%d", w.HealthOK, w.HealthFail), fmtMB(mb(w.Memory)))
	}
	s.note("streams open at the end: %d, refused: %d; slow-header connections made: %d", rep.StreamsOpen, rep.StreamsRefused, rep.SlowHeaderConns)
	if n := len(rep.Windows); n >= 4 {
		first, last := rep.Windows[1], rep.Windows[n-1] // the first window warms up
		s.note("p99 last/second window: %.2fx; RSS last-second window: %+.1f MB", float64(last.P99)/float64(max(first.P99, 1)), mb(last.Memory-first.Memory))
	}
	for _, e := range rep.FirstErrors {
		s.note("error: %s", e)
	}
	return nil
}
