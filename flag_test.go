package agileplus_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/localcache"
	"github.com/agileplus/agileplus/sqlitestore"
)

func TestFlagDefParse(t *testing.T) {
	integer := agileplus.FlagDef{Name: "n", Type: agileplus.FlagInteger, Min: 0, Max: 10}
	boolean := agileplus.FlagDef{Name: "b", Type: agileplus.FlagBool}
	text := agileplus.FlagDef{Name: "s", Type: agileplus.FlagString, MaxLength: 3}
	for _, tt := range []struct {
		def       agileplus.FlagDef
		raw, want string // want "" for a refusal
	}{
		{integer, "3", "3"},
		{integer, "3.0", "3"},
		{integer, "1e1", "10"},
		{integer, "0", "0"},
		{integer, "-1", ""},
		{integer, "11", ""},
		{integer, "2.5", ""},
		{integer, `"3"`, ""},
		{integer, "true", ""},
		{integer, "1e400", ""},
		{integer, "99999999999999999999", ""},
		{boolean, "true", "true"},
		{boolean, " false ", "false"},
		{boolean, "1", ""},
		{boolean, `"true"`, ""},
		{boolean, "null", ""},
		{text, `"abc"`, `"abc"`},
		{text, `"abcd"`, ""},
		{text, `"a\u0001"`, ""},
		{text, "3", ""},
		{text, "[]", ""},
		{boolean, "true false", ""},
		{boolean, "", ""},
	} {
		got, err := tt.def.Parse("set."+tt.def.Name, json.RawMessage(tt.raw))
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s %s: got %s, want a refusal", tt.def.Type, tt.raw, got)
		case tt.want == "" && (agileplus.ErrorCode(err) != agileplus.EINVALID || agileplus.ErrorField(err) != "set."+tt.def.Name):
			t.Errorf("%s %s: got %v, want EINVALID naming set.%s", tt.def.Type, tt.raw, err, tt.def.Name)
		case tt.want != "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s %s: got %s, %v, want %s", tt.def.Type, tt.raw, got, err, tt.want)
		}
	}
}

func TestFlagFromText(t *testing.T) {
	d, err := agileplus.LookupFlag("name", agileplus.FlagMaxClaimsPerAgent)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.FromText("value", " 4 "); err != nil || string(v) != "4" {
		t.Errorf("got %s, %v, want 4", v, err)
	}
	if _, err := d.FromText("value", "four"); agileplus.ErrorField(err) != "value" {
		t.Errorf("got %v, want a refusal naming value", err)
	}
	text := agileplus.FlagDef{Name: "s", Type: agileplus.FlagString}
	if v, err := text.FromText("value", "true"); err != nil || string(v) != `"true"` {
		t.Errorf("string flag: got %s, %v, want the text as a string", v, err)
	}
	if _, err := agileplus.LookupFlag("name", "wip.nope"); agileplus.ErrorField(err) != "name" || !strings.Contains(err.Error(), agileplus.FlagRequireReview) {
		t.Errorf("unknown flag: got %v, want a refusal naming name and listing the flags", err)
	}
}

// failingCache is a cache server that cannot be reached.
type failingCache struct{ agileplus.Cache }

func (failingCache) Hash(context.Context, string) (map[string]string, error) {
	return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "cache down")
}
func (failingCache) SetHash(context.Context, string, map[string]string, time.Duration) error {
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "cache down")
}
func (failingCache) Delete(context.Context, ...string) error {
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "cache down")
}

func flagService(t *testing.T) (*agileplus.Service, agileplus.Store) {
	t.Helper()
	store, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return agileplus.NewService(store), store
}

func claimsLimit(t *testing.T, s *agileplus.Service, project string) string {
	t.Helper()
	fs, err := s.Flags(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return string(fs.Get(agileplus.FlagMaxClaimsPerAgent).Value)
}

func setClaimsLimit(t *testing.T, s *agileplus.Service, project, v string) {
	t.Helper()
	if _, err := s.SetFlags(context.Background(), project, agileplus.FlagsUpdate{Set: map[string]json.RawMessage{agileplus.FlagMaxClaimsPerAgent: json.RawMessage(v)}}); err != nil {
		t.Fatal(err)
	}
}

// Flags are read through the cache, one hash per scope, and a change
// deletes the hash; a cache that fails is passed by.
func TestFlagsReadThroughCache(t *testing.T) {
	ctx := context.Background()
	s, store := flagService(t)
	cache, err := localcache.New(localcache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	s.FlagCache = cache
	if _, err := s.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	setClaimsLimit(t, s, "", "2")
	if got := claimsLimit(t, s, ""); got != "2" {
		t.Fatalf("got %s, want 2", got)
	}
	h, err := cache.Hash(ctx, agileplus.FlagCacheKey(""))
	if err != nil || h[agileplus.FlagMaxClaimsPerAgent] != "2" {
		t.Fatalf("cached global hash: got %v, %v, want the stored values", h, err)
	}

	// A write behind the Service's back is not seen while the hash lives:
	// the read came from the cache.
	if err := store.Update(ctx, func(tx agileplus.Tx) error {
		return tx.PutFlagValues(ctx, "", map[string]string{agileplus.FlagMaxClaimsPerAgent: "7"}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if got := claimsLimit(t, s, ""); got != "2" {
		t.Errorf("got %s, want the cached 2", got)
	}
	// A change through the Service deletes the hash.
	setClaimsLimit(t, s, "", "3")
	if _, err := cache.Hash(ctx, agileplus.FlagCacheKey("")); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("after a change: got %v, want the hash gone", err)
	}
	if got := claimsLimit(t, s, ""); got != "3" {
		t.Errorf("got %s, want 3", got)
	}

	// A project's hash, also with nothing stored in it.
	if got := claimsLimit(t, s, "CORE"); got != "3" {
		t.Errorf("CORE: got %s, want the global 3", got)
	}
	p, err := s.Project(ctx, "CORE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Hash(ctx, agileplus.FlagCacheKey(p.ID)); err != nil {
		t.Errorf("CORE's hash: %v, want one for a project with no values", err)
	}
	setClaimsLimit(t, s, "CORE", "4")
	if got := claimsLimit(t, s, "CORE"); got != "4" {
		t.Errorf("CORE: got %s, want 4", got)
	}

	// The cache down: reads and writes go to the store.
	s.FlagCache = failingCache{}
	setClaimsLimit(t, s, "", "5")
	if got := claimsLimit(t, s, ""); got != "5" {
		t.Errorf("cache down: got %s, want 5", got)
	}
}

// The rules read the store in the writing transaction, never the cache:
// a stale hash does not let a claim past the limit.
func TestFlagRulesIgnoreTheCache(t *testing.T) {
	ctx := context.Background()
	s, store := flagService(t)
	cache, err := localcache.New(localcache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	s.FlagCache = cache
	for _, err := range []error{
		ignoreValue(s.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"})),
		ignoreValue(s.CreateFeature(ctx, "CORE", agileplus.FeatureCreate{Slug: "f", Title: "F"})),
		ignoreValue(s.CreateWP(ctx, "f", agileplus.WPCreate{Title: "One"})),
		ignoreValue(s.CreateWP(ctx, "f", agileplus.WPCreate{Title: "Two"})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	claimsLimit(t, s, "") // caches "0", no limit
	if err := store.Update(ctx, func(tx agileplus.Tx) error {
		return tx.PutFlagValues(ctx, "", map[string]string{agileplus.FlagMaxClaimsPerAgent: "1"}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "CORE-1", agileplus.ClaimRequest{Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, "CORE-2", agileplus.ClaimRequest{Agent: "a"})
	if agileplus.ErrorCode(err) != agileplus.ERULE || agileplus.ErrorField(err) != agileplus.FlagMaxClaimsPerAgent {
		t.Errorf("got %v, want a rule error naming %s", err, agileplus.FlagMaxClaimsPerAgent)
	}
}

func ignoreValue[T any](_ T, err error) error { return err }

// Global flags act on the whole deployment: a key limited to projects
// reads them but cannot set them.
func TestGlobalFlagsRefuseLimitedKeys(t *testing.T) {
	s, _ := flagService(t)
	ctx := agileplus.WithPrincipal(context.Background(), &agileplus.Principal{KeyID: "key_x", Name: "ci", Scope: agileplus.ScopeWrite, Projects: []string{"CORE"}})
	if _, err := s.Flags(ctx, ""); err != nil {
		t.Errorf("read: got %v, want the global flags", err)
	}
	_, err := s.SetFlags(ctx, "", agileplus.FlagsUpdate{Unset: []string{agileplus.FlagRequireReview}})
	if agileplus.ErrorCode(err) != agileplus.EFORBIDDEN {
		t.Errorf("set: got %v, want %s", err, agileplus.EFORBIDDEN)
	}
}
