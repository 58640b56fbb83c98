package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/storemigrate"
)

// buildMigrationSource fills a data directory with the seeded sample and a
// project of bigWPs work packages with dependencies, references, claims
// (one released, so its fencing counter is above any lease it shows) and
// half the events marked published, and API keys (one used, one revoked).
// It returns the directory, the key of the WP whose claims were released
// and the token of the key in use.
func buildMigrationSource(t *testing.T, bigWPs int) (string, string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := agileplus.NewService(st)
	if _, err := seedSample(ctx, svc, sampleData()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "BIG", Name: "Big"}); err != nil {
		t.Fatal(err)
	}
	f, err := svc.CreateFeature(ctx, "BIG", agileplus.FeatureCreate{Slug: "big", Title: "Big"})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, bigWPs)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < bigWPs; i += 8 {
				est := float64(i%7 + 1)
				wp, err := svc.CreateWP(ctx, f.ID, agileplus.WPCreate{Title: fmt.Sprintf("big %d", i), Estimate: &est})
				if err != nil {
					errs <- err
					return
				}
				keys[i] = wp.Key
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	for i := 1; i < bigWPs; i += 3 {
		if _, err := svc.AddDependency(ctx, agileplus.DependencyCreate{From: keys[i], To: keys[i-1]}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.AddReference(ctx, keys[0], agileplus.ReferenceCreate{Repo: "github.com/acme/api", SHA: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddReference(ctx, keys[0], agileplus.ReferenceCreate{URL: "https://github.com/acme/api/pull/7", State: "merged"}); err != nil {
		t.Fatal(err)
	}
	// Comments, one edited, and an archived WP and feature: the digest
	// covers their bodies, histories and archived_at.
	c, err := svc.AddComment(ctx, keys[0], agileplus.CommentCreate{Body: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EditComment(ctx, c.ID, agileplus.CommentEdit{Body: "second"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddComment(ctx, "big", agileplus.CommentCreate{Body: "on the feature"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ArchiveWP(ctx, keys[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ArchiveFeature(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l, err := svc.Claim(ctx, keys[0], agileplus.ClaimRequest{Agent: "agent-a"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Release(ctx, keys[0], agileplus.ClaimRequest{Token: l.Token}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Claim(ctx, keys[1], agileplus.ClaimRequest{Agent: "agent-b", TTLSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	used, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeWrite, Projects: []string{"BIG"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.TouchKeys(ctx, map[string]time.Time{used.ID: time.Now()}); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	gone, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "old", Scope: agileplus.ScopeAdmin, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeKey(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingEvents(ctx, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range pending[:len(pending)/2] {
		ids = append(ids, e.ID)
	}
	if err := st.MarkPublished(ctx, ids); err != nil {
		t.Fatal(err)
	}
	return dir, keys[0], used.Token
}

// checkMigratedKeys fails t unless st holds the keys buildMigrationSource
// made, the one in use still matching its token.
func checkMigratedKeys(t *testing.T, st agileplus.Store, token string) {
	t.Helper()
	ctx := context.Background()
	svc := agileplus.NewService(st)
	prefix, secret, err := agileplus.ParseKeyToken(token)
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.Key(ctx, prefix)
	if err != nil || !agileplus.SecretMatches(secret, k.Hash) || k.LastUsedAt == nil || !k.Active(time.Now()) {
		t.Errorf("the key in use after migration: %+v, %v; want it active, used, matching its token", k, err)
	}
	ks, err := svc.Keys(ctx, agileplus.Page{})
	if err != nil || len(ks) != 2 {
		t.Fatalf("keys after migration: %d, %v; want 2", len(ks), err)
	}
	for _, k := range ks {
		if k.Name == "old" && (k.RevokedAt == nil || k.Version != 2 || k.ExpiresAt == nil) {
			t.Errorf("the revoked key after migration: %+v", k)
		}
	}
}

// storeDigest opens a data directory's store and verifies it.
func storeDigest(t *testing.T, dir string) (string, int, int) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(dir, "agileplus.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, ec, ac, err := storemigrate.Verify(context.Background(), st)
	if err != nil {
		t.Fatalf("verify %s: %v", dir, err)
	}
	return d, ec, ac
}

func TestMigrateSQLiteRoundTrip(t *testing.T) {
	src, released, token := buildMigrationSource(t, 10000)
	want, ec, ac := storeDigest(t, src)
	mid := filepath.Join(t.TempDir(), "mid")
	back := filepath.Join(t.TempDir(), "back")

	out, errOut, err := runCLI(t, "http://unused", "migrate", "--from", src, "--to", mid)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "10,") && !strings.Contains(out, "work packages") {
		t.Errorf("migrate output: %s", out)
	}
	if !strings.Contains(errOut, "events") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	if _, _, err := runCLI(t, "http://unused", "--json", "migrate", "--from", mid, "--to", back); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{mid, back} {
		got, gec, gac := storeDigest(t, dir)
		if got != want || gec != ec || gac != ac {
			t.Errorf("%s: digest %s (%d event chains, %d audit chains), want %s (%d, %d)", dir, got, gec, gac, want, ec, ac)
		}
	}
	if ec < 10000 || ac < 10 {
		t.Errorf("only %d event chains and %d audit chains verified", ec, ac)
	}

	// The copy carries on where the source stopped: a claim gets a token
	// above the released ones, and new events chain onto the old.
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(back, "agileplus.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkMigratedKeys(t, st, token)
	svc := agileplus.NewService(st)
	l, err := svc.Claim(ctx, released, agileplus.ClaimRequest{Agent: "agent-c"})
	if err != nil || l.Token != 4 {
		t.Fatalf("claim after migration: %+v, %v; want token 4 (three claims before)", l, err)
	}
	w, err := svc.CreateWP(ctx, "big", agileplus.WPCreate{Title: "after"})
	if err != nil || w.Key != "BIG-10001" {
		t.Fatalf("new WP after migration: %+v, %v; want BIG-10001", w, err)
	}
	if _, _, _, err := storemigrate.Verify(ctx, st); err != nil {
		t.Errorf("chains after new writes: %v", err)
	}
}

func TestMigrateRefuses(t *testing.T) {
	src, _, _ := buildMigrationSource(t, 10)
	other, _, _ := buildMigrationSource(t, 10)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--from", src}, "both --from and --to"},
		{"same store", []string{"--from", src, "--to", src}, "same store"},
		{"non-empty target", []string{"--from", src, "--to", other}, "already holds a store"},
		{"missing source", []string{"--from", filepath.Join(t.TempDir(), "nothing"), "--to", filepath.Join(t.TempDir(), "x")}, "holds no store"},
		{"bad URL", []string{"--from", "redis://x", "--to", filepath.Join(t.TempDir(), "x")}, "neither a data directory nor a Neo4j URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, "http://unused", append([]string{"migrate"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("migrate %v: %v, want an error about %q", tc.args, err, tc.want)
			}
		})
	}
	t.Run("source in use", func(t *testing.T) {
		lock, err := lockDataDir(src)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		_, _, err = runCLI(t, "http://unused", "migrate", "--from", src, "--to", filepath.Join(t.TempDir(), "x"))
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("migrate from a locked directory: %v", err)
		}
	})
	t.Run("non-empty store", func(t *testing.T) {
		ctx := context.Background()
		a, _ := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(src, "agileplus.db")})
		b, _ := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(other, "agileplus.db")})
		defer a.Close()
		defer b.Close()
		if _, err := storemigrate.Run(ctx, a, b, nil); agileplus.ErrorCode(err) != agileplus.ECONFLICT {
			t.Fatalf("migrate into a non-empty store: %v", err)
		}
	})
}
