package agileplus_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/sqlitestore"
)

// keyService is a Service over a SQLite store in dir, on a clock the test
// moves.
func keyService(t *testing.T, dir string) (*agileplus.Service, *sqlitestore.Store, *time.Time) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(dir, "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	clock := func() time.Time { return now }
	return &agileplus.Service{Store: st, Now: clock, IDs: agileplus.NewIDGenerator(clock)}, st, &now
}

func allEvents(t *testing.T, st agileplus.Store) []*agileplus.Event {
	t.Helper()
	var es []*agileplus.Event
	err := st.View(context.Background(), func(tx agileplus.ReadTx) (err error) {
		es, err = tx.Events(context.Background(), agileplus.EventFilter{Limit: 10000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestCreateKeyRefusesBadInput(t *testing.T) {
	svc, st, now := keyService(t, t.TempDir())
	ctx := agileplus.WithActor(context.Background(), "admin")
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	before := len(allEvents(t, st))
	past := now.Add(-time.Second)
	for _, tc := range []struct {
		name  string
		in    agileplus.KeyCreate
		field string
		says  string
	}{
		{"no name", agileplus.KeyCreate{Name: "  ", Scope: "read"}, "name", "name is required"},
		{"long name", agileplus.KeyCreate{Name: strings.Repeat("é", 101), Scope: "read"}, "name", "longer than 100"},
		{"control character", agileplus.KeyCreate{Name: "ci\nbot", Scope: "read"}, "name", "control characters"},
		{"no scope", agileplus.KeyCreate{Name: "ci", Scope: ""}, "scope", "read, write or admin"},
		{"unknown scope", agileplus.KeyCreate{Name: "ci", Scope: "owner"}, "scope", "owner"},
		{"unknown project", agileplus.KeyCreate{Name: "ci", Scope: "write", Projects: []string{"CORE", "NOPE"}}, "projects", "no project \"NOPE\""},
		{"not a project key", agileplus.KeyCreate{Name: "ci", Scope: "write", Projects: []string{"core team"}}, "projects", "project keys"},
		{"admin with projects", agileplus.KeyCreate{Name: "ci", Scope: "admin", Projects: []string{"CORE"}}, "projects", "admin"},
		{"expired", agileplus.KeyCreate{Name: "ci", Scope: "read", ExpiresAt: &past}, "expires_at", "not in the future"},
		{"expires now", agileplus.KeyCreate{Name: "ci", Scope: "read", ExpiresAt: now}, "expires_at", "not in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Well formed but naming no project, or past: not malformed.
			code := map[string]string{"unknown project": agileplus.ENOTFOUND, "expired": agileplus.ERULE, "expires now": agileplus.ERULE}[tc.name]
			code = cmp.Or(code, agileplus.EINVALID)
			k, err := svc.CreateKey(ctx, tc.in)
			if k != nil || agileplus.ErrorCode(err) != code || agileplus.ErrorField(err) != tc.field {
				t.Fatalf("got %v, %v (field %q), want %s naming %s", k, err, agileplus.ErrorField(err), code, tc.field)
			}
			if !strings.Contains(agileplus.ErrorMessage(err), tc.says) {
				t.Errorf("got message %q, want it to say %q", agileplus.ErrorMessage(err), tc.says)
			}
		})
	}
	if ks, err := svc.Keys(ctx, agileplus.Page{}); err != nil || len(ks) != 0 {
		t.Errorf("keys after refusals: got %d, %v, want none", len(ks), err)
	}
	if n := len(allEvents(t, st)); n != before {
		t.Errorf("refusals appended %d events", n-before)
	}
}

func TestCreateKeyToken(t *testing.T) {
	svc, _, now := keyService(t, t.TempDir())
	ctx := agileplus.WithActor(context.Background(), "admin")
	for _, p := range []string{"CORE", "WEB"} {
		if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: p, Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	exp := now.Add(time.Hour).In(time.FixedZone("x", 3600))
	kc, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: " ci-bot ", Scope: "write", Projects: []string{"WEB", "CORE", "WEB"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	prefix, secret, err := agileplus.ParseKeyToken(kc.Token)
	if err != nil {
		t.Fatalf("the token does not parse: %v", err)
	}
	if prefix != kc.Prefix || !strings.HasPrefix(kc.ID, agileplus.PrefixKey) {
		t.Errorf("got prefix %s, id %s; want the token's prefix %s and a key_ id", kc.Prefix, kc.ID, prefix)
	}
	for _, ref := range []string{kc.ID, kc.Prefix} {
		k, err := svc.Key(ctx, ref)
		if err != nil {
			t.Fatalf("Key(%s): %v", ref, err)
		}
		if !agileplus.SecretMatches(secret, k.Hash) {
			t.Errorf("Key(%s): the token's secret does not match the stored hash", ref)
		}
		if agileplus.SecretMatches(strings.Repeat("0", 64), k.Hash) {
			t.Errorf("Key(%s): another secret matches the stored hash", ref)
		}
		if k.Name != "ci-bot" || k.Scope != "write" || strings.Join(k.Projects, ",") != "WEB,CORE" || k.CreatedBy != "admin" ||
			k.Version != 1 || !k.CreatedAt.Equal(*now) || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || k.RevokedAt != nil || k.LastUsedAt != nil {
			t.Errorf("Key(%s): got %+v", ref, k)
		}
	}
	// The answer carries the token once; no key carries its hash.
	b, err := json.Marshal(kc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["token"] != kc.Token || m["prefix"] != kc.Prefix {
		t.Errorf("the answer: got %s, want the token and the key's fields", b)
	}
	if bytes.Contains(b, []byte(kc.Hash)) {
		t.Errorf("the answer holds the hash: %s", b)
	}
	other, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "ci-bot", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Prefix == kc.Prefix || other.Token == kc.Token || other.Hash == kc.Hash {
		t.Errorf("two keys share a prefix, token or hash")
	}
	ks, err := svc.Keys(ctx, agileplus.Page{Limit: 1})
	if err != nil || len(ks) != 1 {
		t.Fatalf("Keys: got %d, %v, want 1", len(ks), err)
	}
	ks2, err := svc.Keys(ctx, agileplus.Page{After: ks[0].ID})
	if err != nil || len(ks2) != 1 || ks2[0].ID == ks[0].ID {
		t.Errorf("Keys after %s: got %v, %v, want the other key", ks[0].ID, ks2, err)
	}
	for _, ref := range []string{"", strings.Repeat("k", 65)} {
		if _, err := svc.Key(ctx, ref); agileplus.ErrorField(err) != "key" || agileplus.ErrorCode(err) != agileplus.EINVALID {
			t.Errorf("Key(%q): got %v, want EINVALID naming key", ref, err)
		}
	}
	if _, err := svc.Key(ctx, "zzzzzzzz"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND || agileplus.ErrorField(err) != "key" {
		t.Errorf("Key of no key: got %v, want ENOTFOUND naming key", err)
	}
}

// TestKeyTokenStoredNowhere looks for the token and its secret in every
// byte the store wrote and in every event.
func TestKeyTokenStoredNowhere(t *testing.T) {
	dir := t.TempDir()
	svc, st, _ := keyService(t, dir)
	ctx := agileplus.WithActor(context.Background(), "admin")
	var tokens []string
	for _, scope := range agileplus.Scopes {
		kc, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "k " + scope, Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, kc.Token)
		if _, err := svc.RevokeKey(ctx, kc.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	events := allEvents(t, st)
	look := func(where string, b []byte) {
		t.Helper()
		for _, tok := range tokens {
			_, secret, _ := agileplus.ParseKeyToken(tok)
			if bytes.Contains(b, []byte(tok)) || bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a token's secret", where)
			}
		}
	}
	for _, e := range events {
		b, _ := json.Marshal(e)
		look("event "+e.ID, b)
	}
	scan := func() {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) == 0 {
			t.Fatal("no store files to scan")
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			look(filepath.Base(name), b)
		}
	}
	scan()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	scan() // after the WAL went into the database
}

func TestKeyEvents(t *testing.T) {
	svc, st, now := keyService(t, t.TempDir())
	ctx := agileplus.WithActor(context.Background(), "admin")
	kc, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "ci", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Minute)
	rk, err := svc.RevokeKey(ctx, kc.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if rk.RevokedAt == nil || !rk.RevokedAt.Equal(*now) || rk.Version != 2 || rk.Active(now.Add(-time.Hour)) {
		t.Errorf("revoked key: got revoked %v, version %d; want %s, 2", rk.RevokedAt, rk.Version, *now)
	}
	// Revoking again changes nothing and records nothing.
	*now = now.Add(time.Minute)
	again, err := svc.RevokeKey(ctx, kc.ID)
	if err != nil || again.Version != 2 || !again.RevokedAt.Equal(*rk.RevokedAt) {
		t.Errorf("revoke again: got %+v, %v; want version 2, revoked at %s", again, err, rk.RevokedAt)
	}
	refusal := agileplus.Refusal{Method: "DELETE", Path: "/v1/keys/x", Need: "admin"}
	if err := svc.RecordRefusal(ctx, kc.Prefix, refusal); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordRefusal(ctx, "key_nothere", refusal); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("refusal of no key: got %v, want ENOTFOUND", err)
	}
	if _, err := svc.RevokeKey(ctx, "zzzzzzzz"); agileplus.ErrorCode(err) != agileplus.ENOTFOUND || agileplus.ErrorField(err) != "key" {
		t.Errorf("revoke no key: got %v, want ENOTFOUND naming key", err)
	}

	es := allEvents(t, st)
	var types []string
	for i, e := range es {
		types = append(types, e.Type)
		if e.EntityKind != agileplus.KindKey || e.EntityID != kc.ID || e.ProjectKey != agileplus.SystemProject || e.Actor != "admin" || e.Seq != int64(i+1) {
			t.Errorf("event %d: got kind %s, entity %s, project %s, actor %s, seq %d; want key, %s, _system, admin, %d",
				i, e.EntityKind, e.EntityID, e.ProjectKey, e.Actor, e.Seq, kc.ID, i+1)
		}
		if e.ComputeHash() != e.Hash {
			t.Errorf("event %d: the hash does not verify", i)
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		_, secret, _ := agileplus.ParseKeyToken(kc.Token)
		if _, ok := data["hash"]; ok || bytes.Contains(e.Data, []byte(kc.Hash)) || bytes.Contains(e.Data, []byte(secret)) {
			t.Errorf("event %s carries the hash or the secret: %s", e.Type, e.Data)
		}
		if _, ok := data["token"]; ok {
			t.Errorf("event %s carries a token field: %s", e.Type, e.Data)
		}
	}
	if got := strings.Join(types, ","); got != "key.created,key.revoked,key.refused" {
		t.Fatalf("got events %s, want key.created,key.revoked,key.refused", got)
	}
	var created, revoked map[string]any
	json.Unmarshal(es[0].Data, &created)
	json.Unmarshal(es[1].Data, &revoked)
	if created["prefix"] != kc.Prefix || created["scope"] != "admin" || revoked["revoked_at"] == nil {
		t.Errorf("event data: created %v, revoked %v", created, revoked)
	}
	var ref agileplus.Refusal
	if err := json.Unmarshal(es[2].Data, &ref); err != nil || ref != refusal {
		t.Errorf("key.refused data: got %s, want %+v", es[2].Data, refusal)
	}

	// The key's events are its audit trail: listed by its id for an
	// admin, refused to others, selectable by entity and type.
	byKey, err := svc.Events(ctx, agileplus.EventQuery{Entity: kc.ID})
	if err != nil || len(byKey) != 3 {
		t.Errorf("events of the key: got %d, %v; want 3", len(byKey), err)
	}
	reader := agileplus.WithPrincipal(ctx, &agileplus.Principal{KeyID: "key_r", Name: "r", Scope: agileplus.ScopeRead})
	if _, err := svc.Events(reader, agileplus.EventQuery{Entity: kc.ID}); agileplus.ErrorCode(err) != agileplus.EFORBIDDEN {
		t.Errorf("events of the key for a read key: got %v, want EFORBIDDEN", err)
	}
	if _, err := svc.Events(ctx, agileplus.EventQuery{Entity: "key_nothere"}); agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Errorf("events of no key: got %v, want ENOTFOUND", err)
	}
	sel := agileplus.EventSelector{Entities: []string{"key"}, Types: []string{"key.revoked"}}.Normalize()
	if err := sel.Validate(); err != nil || !sel.Match(es[1]) || sel.Match(es[0]) {
		t.Errorf("selector %v: validate %v, matches revoked %v, created %v", sel, err, sel.Match(es[1]), sel.Match(es[0]))
	}
}

func TestTouchKeys(t *testing.T) {
	svc, _, now := keyService(t, t.TempDir())
	ctx := context.Background()
	a, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "a", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	used := now.Add(time.Second).In(time.FixedZone("x", -7200))
	if err := svc.TouchKeys(ctx, map[string]time.Time{a.ID: used, "key_gone": used}); err != nil {
		t.Fatal(err)
	}
	k, err := svc.Key(ctx, a.ID)
	if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(used) || k.Version != 1 {
		t.Errorf("touched key: got %+v, %v; want last used %s, version 1", k, err, used)
	}
	if err := svc.TouchKeys(ctx, nil); err != nil {
		t.Errorf("TouchKeys(nil): %v", err)
	}
}
