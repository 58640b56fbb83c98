package agileplus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

func TestParseAsOf(t *testing.T) {
	for _, c := range []struct {
		in    string
		want  agileplus.AsOf
		field string // the refused field, "" if accepted
	}{
		{"1", agileplus.AsOf{Seq: 1}, ""},
		{"4242", agileplus.AsOf{Seq: 4242}, ""},
		{"2026-03-14T15:09:26Z", agileplus.AsOf{Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)}, ""},
		{"2026-03-14T16:09:26.5+01:00", agileplus.AsOf{Time: time.Date(2026, 3, 14, 15, 9, 26, 5e8, time.UTC)}, ""},
		{"0", agileplus.AsOf{}, "at"},
		{"99999999999999999999", agileplus.AsOf{}, "at"},
		{"", agileplus.AsOf{}, "at"},
		{"-3", agileplus.AsOf{}, "at"},
		{"yesterday", agileplus.AsOf{}, "at"},
		{"2026-03-14", agileplus.AsOf{}, "at"},
	} {
		got, err := agileplus.ParseAsOf(c.in)
		if c.field != "" {
			if agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != c.field {
				t.Errorf("ParseAsOf(%q): got %v, want EINVALID naming %s", c.in, err, c.field)
			}
			continue
		}
		if err != nil || got.Seq != c.want.Seq || !got.Time.Equal(c.want.Time) {
			t.Errorf("ParseAsOf(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// mapCache is a Cache in a map that records its writes and can be made
// to fail.
type mapCache struct {
	m    map[string][]byte
	ttls map[string]time.Duration
	down bool
	gets int
}

func (c *mapCache) err() error { return agileplus.Errorf(agileplus.EUNAVAILABLE, "cache down") }
func (c *mapCache) Ping(context.Context) error {
	if c.down {
		return c.err()
	}
	return nil
}
func (c *mapCache) Get(_ context.Context, k string) ([]byte, error) {
	c.gets++
	if c.down {
		return nil, c.err()
	}
	v, ok := c.m[k]
	if !ok {
		return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no %s", k)
	}
	return v, nil
}
func (c *mapCache) Set(_ context.Context, k string, v []byte, ttl time.Duration) error {
	if c.down {
		return c.err()
	}
	c.m[k], c.ttls[k] = slices.Clone(v), ttl
	return nil
}
func (c *mapCache) Delete(context.Context, ...string) error { return nil }
func (c *mapCache) SetHash(context.Context, string, map[string]string, time.Duration) error {
	return nil
}
func (c *mapCache) Hash(context.Context, string) (map[string]string, error) { return nil, c.err() }
func (c *mapCache) Expire(context.Context, string, time.Duration) error     { return nil }
func (c *mapCache) Close() error                                            { return nil }

// historyService is a Service over a fresh SQLite store with a WP that
// has had n updates.
func historyService(t testing.TB, n int) (*agileplus.Service, *agileplus.WP) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := agileplus.NewService(store)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Now = func() time.Time { now = now.Add(time.Millisecond); return now }
	s.IDs = agileplus.NewIDGenerator(s.Now)
	if _, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "TT", Name: "Time travel"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFeature(ctx, "TT", agileplus.FeatureCreate{Slug: "travel", Title: "Travel"}); err != nil {
		t.Fatal(err)
	}
	w, err := s.CreateWP(ctx, "travel", agileplus.WPCreate{Title: "title 0"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		title := fmt.Sprintf("title %d", i)
		if w, err = s.UpdateWP(ctx, "TT-1", agileplus.WPUpdate{Title: &title}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return s, w
}

// Snapshots are read through the cache when one is set: kept there for
// an hour under snapshot:<kind>:<id>:<seq>, served from it, and passed by
// when it fails.
func TestSnapshotsThroughCache(t *testing.T) {
	ctx := context.Background()
	s, w := historyService(t, 150)
	c := &mapCache{m: map[string][]byte{}, ttls: map[string]time.Duration{}}
	s.SnapshotCache = c
	es, err := s.Events(ctx, agileplus.EventQuery{Entity: "TT-1", Limit: agileplus.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]

	got, err := s.WPAt(ctx, "TT-1", agileplus.AsOf{Seq: last.GlobalSeq})
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != w.Title || got.Version != w.Version {
		t.Fatalf("got %q version %d, want %q version %d", got.Title, got.Version, w.Title, w.Version)
	}
	key := agileplus.SnapshotCacheKey(agileplus.KindWP, w.ID, agileplus.SnapshotEvery)
	if c.ttls[key] != time.Hour {
		t.Fatalf("cache keys %v: want %s kept for an hour", keys(c.m), key)
	}

	// Served from the cache: a cached snapshot is what the rebuild starts from.
	var snap agileplus.Snapshot
	if err := json.Unmarshal(c.m[key], &snap); err != nil {
		t.Fatal(err)
	}
	snap.State = []byte(strings.Replace(string(snap.State), "title 99", "from the cache", 1))
	c.m[key], _ = json.Marshal(snap)
	at := es[agileplus.SnapshotEvery-1].GlobalSeq // the snapshot's own event
	got, err = s.WPAt(ctx, "TT-1", agileplus.AsOf{Seq: at})
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "from the cache" {
		t.Fatalf("got title %q, want the cached snapshot's", got.Title)
	}

	// A cache that fails is passed by: the store answers.
	c.down = true
	gets := c.gets
	got, err = s.WPAt(ctx, "TT-1", agileplus.AsOf{Seq: at})
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "title 99" || c.gets == gets {
		t.Fatalf("got title %q after %d cache reads, want the store's title 99 after trying the cache", got.Title, c.gets-gets)
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// BenchmarkWPAt is time travel to the middle of a WP's 10,000 events;
// it reports the p99 of one rebuild (bench/README.md has the figure).
func BenchmarkWPAt(b *testing.B) {
	ctx := context.Background()
	s, w := historyService(b, 9999)
	es, err := s.Events(ctx, agileplus.EventQuery{Entity: w.ID, After: 0, Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	first := es[0].GlobalSeq
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Every point of the history in turn, so the replay length varies
		// from 0 to 99 events past the nearest snapshot.
		at := agileplus.AsOf{Seq: first + int64((i*7919)%10000)}
		t0 := time.Now()
		if _, err := s.WPAt(ctx, w.Key, at); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
}
