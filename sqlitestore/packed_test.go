package sqlitestore

import (
	"context"
	"database/sql"
	"github.com/agileplus/agileplus"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStoredTimeMatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for range 20000 {
		want := time.Unix(rng.Int64N(1<<35)-(1<<34), rng.Int64N(1e9)).UTC()
		s := fmtTime(want)
		got, err := parseStoredTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseStoredTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "2026-02-30T00:00:00.000000000Z", "2026-13-01T00:00:00.000000000Z", "2026-01-01T24:00:00.000000000Z",
		"2026-01-01T00:00:60.000000000Z", "2026-01-01T00:00:00.00000000xZ", "2026-01-01 00:00:00.000000000Z", "2026-01-01T00:00:00Z"} {
		if got, err := parseStoredTime(s); err == nil {
			t.Errorf("parseStoredTime(%q) = %v, want an error", s, got)
		}
	}
	for _, s := range []string{"2024-02-29T23:59:59.999999999Z", "2000-02-29T00:00:00.000000001Z", "0001-01-01T00:00:00.000000000Z"} {
		want, _ := time.Parse(timeLayout, s)
		if got, err := parseStoredTime(s); err != nil || !got.Equal(want) {
			t.Errorf("parseStoredTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

// TestPackedRoundTrip packs values in SQLite and cuts them out again.
func TestPackedRoundTrip(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 27, 10, 11, 12, 13, time.UTC)
	var row string
	err = db.QueryRowContext(context.Background(), `SELECT `+packed("?", "?", "?", "?", "?"), "wp_1", nil, int64(-42), fmtTime(now), "").Scan(&row)
	if err != nil {
		t.Fatal(err)
	}
	u := unpacker{s: row}
	id := u.str()
	_, nullOK := u.next()
	n, nOK := u.int()
	tm := u.time()
	empty, emptyOK := u.next()
	if err := u.done(); err != nil {
		t.Fatal(err)
	}
	if id != "wp_1" || nullOK || n != -42 || !nOK || !tm.Equal(now) || empty != "" || emptyOK {
		t.Fatalf("unpacked %q %v %d %v %v %q %v from %q", id, nullOK, n, nOK, tm, empty, emptyOK, row)
	}

	// Too few and too many fields, and bad values, are errors.
	u = unpacker{s: "a\x1fb"}
	u.str()
	if err := u.done(); err == nil || !strings.Contains(err.Error(), "more fields") {
		t.Errorf("done with a field left: %v", err)
	}
	u = unpacker{s: "a"}
	u.str()
	u.str()
	if err := u.done(); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("done after reading past the end: %v", err)
	}
	u = unpacker{s: "x1"}
	u.int()
	if err := u.done(); err == nil {
		t.Error("a non-numeric integer field was accepted")
	}
	u = unpacker{s: "yesterday"}
	u.time()
	if err := u.done(); err == nil {
		t.Error("a malformed time field was accepted")
	}
}

// TestWPFreeTextRoundTrips stores titles, descriptions and agent names that
// hold the separator, colons, digits and multi-byte text, and reads them
// back through every WP read (by key, list, ready).
func TestWPFreeTextRoundTrips(t *testing.T) {
	ctx := agileplus.WithActor(context.Background(), "test")
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := agileplus.NewService(s)
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "TXT", Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateFeature(ctx, "TXT", agileplus.FeatureCreate{Slug: "f", Title: "f"}); err != nil {
		t.Fatal(err)
	}
	texts := []string{"", "a\x1fb", "12:34", "3:abc", "\x1f\x1f", "ünïcødé — 漢字", "x:\x1f9:", strings.Repeat("long ", 2000)}
	keys := make([]string, len(texts))
	for i := range texts {
		est := 0.1 + float64(i)/3
		w, err := svc.CreateWP(ctx, "f", agileplus.WPCreate{Title: "t", Estimate: &est})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = w.Key
	}
	l, err := svc.Claim(ctx, "TXT-2", agileplus.ClaimRequest{Agent: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	// The Service refuses control characters in single-line fields now,
	// but databases written before that, and copies of them, hold such
	// text: put it in through the store.
	agent := "agent\x1f1:2"
	l.Agent = agent
	want := map[string]agileplus.WP{}
	err = s.Update(ctx, func(tx agileplus.Tx) error {
		for i, key := range keys {
			w, err := tx.WP(ctx, key)
			if err != nil {
				return err
			}
			if title := texts[i]; title != "" && len(title) <= 200 {
				w.Title = title
			}
			w.Description = texts[len(texts)-1-i]
			if w.Lease != nil {
				w.Lease.Agent = agent
			}
			w.Version++
			if err := tx.UpdateWP(ctx, w); err != nil {
				return err
			}
			want[key] = *w
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, got *agileplus.WP) {
		t.Helper()
		w := want[got.Key]
		if got.Title != w.Title || got.Description != w.Description || got.Estimate != w.Estimate || got.ID != w.ID ||
			got.ProjectKey != "TXT" || !got.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("%s %s: got %q %q %v, want %q %q %v", how, got.Key, got.Title, got.Description, got.Estimate, w.Title, w.Description, w.Estimate)
		}
	}
	for key := range want {
		got, err := svc.WP(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		check("get", got)
		if key == "TXT-2" {
			if got.Lease == nil || got.Lease.Agent != agent || got.Lease.Token != l.Token || !got.Lease.ExpiresAt.Equal(l.ExpiresAt) {
				t.Errorf("lease read back as %+v, want %+v", got.Lease, l)
			}
		} else if got.Lease != nil {
			t.Errorf("%s has a lease %+v", key, got.Lease)
		}
	}
	list, err := svc.WPs(ctx, agileplus.WPQuery{Feature: "f"})
	if err != nil || len(list) != len(texts) {
		t.Fatalf("feature WPs: %d, %v", len(list), err)
	}
	for _, w := range list {
		check("list", w)
	}
	ready, err := svc.Ready(ctx, "TXT", "", agileplus.Page{})
	if err != nil || len(ready) != len(texts)-1 {
		t.Fatalf("ready: %d, %v; want %d (all but the claimed one)", len(ready), err, len(texts)-1)
	}
	for _, w := range ready {
		check("ready", w)
	}
}
