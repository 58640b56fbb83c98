package keyauth_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/keyauth"
	"github.com/agileplus/agileplus/sqlitestore"
)

func newService(t testing.TB) *agileplus.Service {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return agileplus.NewService(st)
}

// countingKeys counts the store reads of an authenticator.
type countingKeys struct {
	keyauth.Keys
	mu sync.Mutex
	n  int
}

func (c *countingKeys) Key(ctx context.Context, ref string) (*agileplus.APIKey, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Keys.Key(ctx, ref)
}

func (c *countingKeys) reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func mustCreate(t testing.TB, k agileplus.KeyAdmin, c agileplus.KeyCreate) *agileplus.KeyCreated {
	t.Helper()
	kc, err := k.CreateKey(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func wantRefused(t *testing.T, err error, want string) {
	t.Helper()
	if agileplus.ErrorCode(err) != agileplus.EUNAUTHORIZED {
		t.Fatalf("got %v, want EUNAUTHORIZED", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestAuthenticate(t *testing.T) {
	for _, cache := range []bool{true, false} {
		name := "no cache"
		if cache {
			name = "cache"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			svc := newService(t)
			now := time.Now()
			a := keyauth.New(keyauth.Config{Keys: svc, Touch: svc, Cache: cache, Now: func() time.Time { return now }})
			admin := a.Admin(svc)
			if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
				t.Fatal(err)
			}
			bot := mustCreate(t, admin, agileplus.KeyCreate{Name: "ci-bot", Scope: agileplus.ScopeWrite, Projects: []string{"CORE"}})

			t.Run("valid", func(t *testing.T) {
				for range 2 { // the second from the cache, if any
					p, err := a.Authenticate(ctx, bot.Token)
					if err != nil {
						t.Fatal(err)
					}
					if p.KeyID != bot.ID || p.Name != "ci-bot" || p.Scope != agileplus.ScopeWrite || len(p.Projects) != 1 || p.Projects[0] != "CORE" {
						t.Fatalf("got %+v, want ci-bot write on CORE", p)
					}
				}
			})
			t.Run("malformed", func(t *testing.T) {
				for _, tok := range []string{"", "Bearer x", strings.Repeat("a", 76), "ap_ABCDEFGH_" + strings.Repeat("0", 64)} {
					_, err := a.Authenticate(ctx, tok)
					wantRefused(t, err, "malformed API key")
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				tok := bot.Token[:len(bot.Token)-1] + flip(bot.Token[len(bot.Token)-1])
				_, err := a.Authenticate(ctx, tok)
				wantRefused(t, err, "unknown API key ap_"+bot.Prefix)
				if strings.Contains(err.Error(), tok[12:]) {
					t.Fatalf("error %q repeats the secret", err)
				}
			})
			t.Run("unknown", func(t *testing.T) {
				tok, _, _ := agileplus.NewKeyToken()
				_, err := a.Authenticate(ctx, tok)
				wantRefused(t, err, "another deployment or a deleted one")
			})
			t.Run("expired", func(t *testing.T) {
				exp := now.Add(time.Hour)
				k := mustCreate(t, admin, agileplus.KeyCreate{Name: "temp", Scope: agileplus.ScopeRead, ExpiresAt: &exp})
				if _, err := a.Authenticate(ctx, k.Token); err != nil {
					t.Fatal(err)
				}
				now = now.Add(2 * time.Hour)
				defer func() { now = now.Add(-2 * time.Hour) }()
				_, err := a.Authenticate(ctx, k.Token)
				wantRefused(t, err, "expired at "+exp.UTC().Format(time.RFC3339))
			})
			t.Run("revoked at once", func(t *testing.T) {
				k := mustCreate(t, admin, agileplus.KeyCreate{Name: "gone", Scope: agileplus.ScopeRead})
				if _, err := a.Authenticate(ctx, k.Token); err != nil {
					t.Fatal(err)
				}
				if _, err := admin.RevokeKey(ctx, k.Prefix); err != nil {
					t.Fatal(err)
				}
				_, err := a.Authenticate(ctx, k.Token)
				wantRefused(t, err, "was revoked at")
			})
			t.Run("created after an unknown lookup", func(t *testing.T) {
				// The prefix was looked up (and missed) before the key existed.
				k := mustCreate(t, svc, agileplus.KeyCreate{Name: "later", Scope: agileplus.ScopeRead})
				a.Forget(k.Prefix)
				if _, err := a.Authenticate(ctx, k.Token); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("last used flushed", func(t *testing.T) {
				if err := a.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				k, err := svc.Key(ctx, bot.ID)
				if err != nil {
					t.Fatal(err)
				}
				if k.LastUsedAt == nil || k.LastUsedAt.Sub(now).Abs() > time.Second {
					t.Fatalf("last used %v, want %v", k.LastUsedAt, now.UTC())
				}
			})
		})
	}
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

// TestSharedStoreReadsEveryTime: without the cache, a revoke by another
// process (here straight on the store) takes effect on the next request.
func TestSharedStoreReadsEveryTime(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	keys := &countingKeys{Keys: svc}
	a := keyauth.New(keyauth.Config{Keys: keys})
	k := mustCreate(t, svc, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeRead})
	for range 3 {
		if _, err := a.Authenticate(ctx, k.Token); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys.reads(); got != 3 {
		t.Fatalf("got %d store reads for 3 requests, want 3", got)
	}
	if _, err := svc.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err := a.Authenticate(ctx, k.Token)
	wantRefused(t, err, "was revoked")
}

// TestCacheBounded: the cache reads a known key once, and unknown
// prefixes, which anyone can send, never grow it without bound.
func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	keys := &countingKeys{Keys: svc}
	a := keyauth.New(keyauth.Config{Keys: keys, Cache: true})
	k := mustCreate(t, svc, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeRead})
	for range 3 {
		if _, err := a.Authenticate(ctx, k.Token); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys.reads(); got != 1 {
		t.Fatalf("got %d store reads for 3 requests, want 1", got)
	}
	for range 10000 {
		tok, _, _ := agileplus.NewKeyToken()
		a.Authenticate(ctx, tok)
	}
	if got := keyauth.CacheSize(a); got > 4096+1 {
		t.Fatalf("cache holds %d entries after 10000 unknown prefixes, want at most 4097", got)
	}
	if _, err := a.Authenticate(ctx, k.Token); err != nil {
		t.Fatal(err)
	}
}

// TestCloseFlushes: last-used times reach the store at Close.
func TestCloseFlushes(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	a := keyauth.New(keyauth.Config{Keys: svc, Touch: svc, Cache: true, FlushEvery: time.Hour})
	a.Open()
	k := mustCreate(t, svc, agileplus.KeyCreate{Name: "ci", Scope: agileplus.ScopeRead})
	if _, err := a.Authenticate(ctx, k.Token); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Key(ctx, k.ID); got.LastUsedAt != nil {
		t.Fatalf("last used written at once (%v), want it batched", got.LastUsedAt)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Key(ctx, k.ID); got.LastUsedAt == nil {
		t.Fatal("last used not written at Close")
	}
}
