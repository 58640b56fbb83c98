package agileplus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// keyPlan makes two projects and three keys: one limited to projects with
// an expiry, one revoked, one used. It returns the tokens by key name.
func keyPlan(t *testing.T, svc *agileplus.Service) map[string]string {
	t.Helper()
	ctx := agileplus.WithActor(context.Background(), "admin")
	for _, p := range []string{"CORE", "WEB"} {
		if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: p, Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	exp := svc.Now().Add(30 * 24 * time.Hour)
	tokens := map[string]string{}
	for _, c := range []agileplus.KeyCreate{
		{Name: "ci", Scope: agileplus.ScopeWrite, Projects: []string{"WEB", "CORE"}, ExpiresAt: &exp},
		{Name: "old", Scope: agileplus.ScopeAdmin},
		{Name: "reader", Scope: agileplus.ScopeRead},
	} {
		kc, err := svc.CreateKey(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		tokens[c.Name] = kc.Token
	}
	prefix, _, _ := agileplus.ParseKeyToken(tokens["old"])
	if _, err := svc.RevokeKey(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	reader, _ := svc.Key(ctx, strings.Split(tokens["reader"], "_")[1])
	if err := svc.TouchKeys(ctx, map[string]time.Time{reader.ID: svc.Now()}); err != nil {
		t.Fatal(err)
	}
	return tokens
}

func export(t *testing.T, svc *agileplus.Service, opts agileplus.ExportOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := svc.BulkExport(context.Background(), &b, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// keyLines returns the key records of an export, decoded as maps.
func keyLines(t *testing.T, file string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(file), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == agileplus.RecKey {
			out = append(out, m)
		} else if len(out) > 0 {
			t.Errorf("a %s record after the key records: key records go last", m["type"])
		}
	}
	return out
}

func TestExportKeys(t *testing.T) {
	svc := openImportService(t)
	tokens := keyPlan(t, svc)
	ctx := context.Background()

	plain := export(t, svc, agileplus.ExportOptions{})
	recs := keyLines(t, plain)
	if len(recs) != 3 {
		t.Fatalf("got %d key records, want 3:\n%s", len(recs), plain)
	}
	for i, m := range recs {
		if _, ok := m["hash"]; ok {
			t.Errorf("key record %d has a hash without asking: %v", i, m)
		}
		if i > 0 && recs[i-1]["prefix"].(string) >= m["prefix"].(string) {
			t.Errorf("key records not by prefix: %v then %v", recs[i-1]["prefix"], m["prefix"])
		}
		if _, ok := m["last_used_at"]; ok {
			t.Errorf("key record %d has its last use: %v", i, m)
		}
	}
	for name, tok := range tokens {
		prefix, secret, _ := agileplus.ParseKeyToken(tok)
		k, _ := svc.Key(ctx, prefix)
		if strings.Contains(plain, k.Hash) || strings.Contains(plain, secret) {
			t.Errorf("the export without hashes holds key %s's hash or secret", name)
		}
	}
	byName := map[string]map[string]any{}
	for _, m := range recs {
		byName[m["name"].(string)] = m
	}
	if ci := byName["ci"]; ci["scope"] != "write" || fmt.Sprint(ci["projects"]) != "[WEB CORE]" || ci["expires_at"] == nil || ci["revoked_at"] != nil || ci["created_by"] != "admin" {
		t.Errorf("the ci key's record: %v", ci)
	}
	if old := byName["old"]; old["revoked_at"] == nil || old["projects"] != nil || old["expires_at"] != nil {
		t.Errorf("the revoked key's record: %v", old)
	}

	hashed := export(t, svc, agileplus.ExportOptions{KeyHashes: true})
	for _, m := range keyLines(t, hashed) {
		k, err := svc.Key(ctx, m["prefix"].(string))
		if err != nil || m["hash"] != k.Hash {
			t.Errorf("key %v: got hash %v, want the stored %s (%v)", m["prefix"], m["hash"], k.Hash, err)
		}
	}
	for name, tok := range tokens {
		if _, secret, _ := agileplus.ParseKeyToken(tok); strings.Contains(hashed, secret) {
			t.Errorf("the export holds key %s's secret", name)
		}
	}
	// Everything but the key records is the same either way.
	if strings.Count(plain, "\n") != strings.Count(hashed, "\n") || plain[:strings.Index(plain, `{"type":"key"`)] != hashed[:strings.Index(hashed, `{"type":"key"`)] {
		t.Errorf("the other records differ with key hashes")
	}
}

func TestImportKeys(t *testing.T) {
	src := openImportService(t)
	tokens := keyPlan(t, src)
	file := export(t, src, agileplus.ExportOptions{KeyHashes: true})
	ctx := context.Background()

	dst := openImportService(t)
	res := mustImport(t, dst, file, agileplus.ImportOptions{})
	if res.Created[agileplus.RecKey] != 3 || res.Unchanged[agileplus.RecKey] != 0 || len(res.Skipped) != 0 {
		t.Fatalf("import: got %+v, want 3 keys created", res)
	}
	for name, tok := range tokens {
		prefix, secret, _ := agileplus.ParseKeyToken(tok)
		want, _ := src.Key(ctx, prefix)
		got, err := dst.Key(ctx, prefix)
		if err != nil {
			t.Fatalf("key %s after import: %v", name, err)
		}
		if !agileplus.SecretMatches(secret, got.Hash) {
			t.Errorf("key %s: the token does not match after import", name)
		}
		if got.Name != want.Name || got.Scope != want.Scope || fmt.Sprint(got.Projects) != fmt.Sprint(want.Projects) ||
			!got.CreatedAt.Equal(want.CreatedAt) || got.CreatedBy != want.CreatedBy ||
			fmt.Sprint(got.ExpiresAt) != fmt.Sprint(want.ExpiresAt) || fmt.Sprint(got.RevokedAt) != fmt.Sprint(want.RevokedAt) ||
			got.Active(time.Now()) != want.Active(time.Now()) || got.Version != 1 || got.LastUsedAt != nil {
			t.Errorf("key %s after import:\n got %+v\nwant %+v", name, got, want)
		}
	}
	var keyEvents int
	for _, e := range allEvents(t, dst.Store) {
		if e.EntityKind != agileplus.KindKey {
			continue
		}
		keyEvents++
		if e.Type != "key.imported" || e.ProjectKey != agileplus.SystemProject || bytes.Contains(e.Data, []byte(`"hash"`)) {
			t.Errorf("key event: got %s on %s, data %s; want key.imported on _system, no hash", e.Type, e.ProjectKey, e.Data)
		}
	}
	if keyEvents != 3 {
		t.Errorf("got %d key events, want 3", keyEvents)
	}
	if got := export(t, dst, agileplus.ExportOptions{KeyHashes: true}); got != file {
		t.Errorf("export after import differs:\n got %s\nwant %s", got, file)
	}

	// Again: nothing changes.
	before := len(allEvents(t, dst.Store))
	res = mustImport(t, dst, file, agileplus.ImportOptions{})
	if res.Created[agileplus.RecKey] != 0 || res.Unchanged[agileplus.RecKey] != 3 || res.Events != 0 {
		t.Errorf("import again: got %+v, want 3 keys unchanged, no events", res)
	}
	if n := len(allEvents(t, dst.Store)); n != before {
		t.Errorf("import again appended %d events", n-before)
	}

	t.Run("without hashes", func(t *testing.T) {
		other := openImportService(t)
		res := mustImport(t, other, export(t, src, agileplus.ExportOptions{}), agileplus.ImportOptions{})
		if res.Skipped[agileplus.RecKey] != 3 || res.Created[agileplus.RecKey] != 0 || res.Created[agileplus.RecProject] != 2 {
			t.Errorf("got %+v, want 3 keys skipped and the projects created", res)
		}
		if ks, err := other.Keys(ctx, agileplus.Page{}); err != nil || len(ks) != 0 {
			t.Errorf("keys after an import without hashes: %d, %v; want none", len(ks), err)
		}
		b, _ := json.Marshal(res)
		if !strings.Contains(string(b), `"skipped":{"key":3}`) {
			t.Errorf("the result does not say what it skipped: %s", b)
		}
	})
}

func TestImportKeyProblems(t *testing.T) {
	svc := openImportService(t)
	ctx := context.Background()
	if _, err := svc.CreateProject(ctx, agileplus.ProjectCreate{Key: "CORE", Name: "Core"}); err != nil {
		t.Fatal(err)
	}
	held, err := svc.CreateKey(ctx, agileplus.KeyCreate{Name: "held", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("ab", 32)
	key := func(fields string) string {
		return `{"type":"key","name":"k","scope":"write",` + fields + `}`
	}
	file := strings.Join([]string{
		key(`"prefix":"abc","hash":"` + hash + `"`),                                                               // 1
		key(`"prefix":"aaaaaaaa","hash":"XYZ"`),                                                                   // 2
		`{"type":"key","name":"k","scope":"owner","prefix":"bbbbbbbb","hash":"` + hash + `"}`,                     // 3
		`{"type":"key","name":"k","scope":"admin","projects":["CORE"],"prefix":"cccccccc","hash":"` + hash + `"}`, // 4
		key(`"projects":["NOPE"],"prefix":"dddddddd","hash":"` + hash + `"`),                                      // 5
		key(`"prefix":"eeeeeeee","hash":"` + hash + `"`),                                                          // 6
		key(`"prefix":"eeeeeeee","hash":"` + hash + `"`),                                                          // 7
		key(`"prefix":"` + held.Prefix + `","hash":"` + hash + `"`),                                               // 8
		`{"type":"project","key":"WEB","name":"Web","prefix":"ffffffff"}`,                                         // 9
		`{"type":"key","name":"","scope":"read","prefix":"gggggggg","hash":"` + hash + `"}`,                       // 10
		key(`"prefix":"hhhhhhhh","hash":"` + hash + `","key":"CORE-1"`),                                           // 11
	}, "\n")
	probs := importProblems(t, svc, file, agileplus.ImportOptions{})
	hasProblem(t, probs, 1, "prefix", "8 characters")
	hasProblem(t, probs, 2, "hash", "64 lower-case hex")
	hasProblem(t, probs, 3, "scope", "owner")
	hasProblem(t, probs, 4, "projects", "admin")
	hasProblem(t, probs, 5, "projects", `no project "NOPE"`)
	hasProblem(t, probs, 7, "prefix", "appears twice")
	hasProblem(t, probs, 8, "prefix", "exists with other content")
	hasProblem(t, probs, 9, "prefix", "not a field of a project record")
	hasProblem(t, probs, 10, "name", "must not be empty")
	hasProblem(t, probs, 11, "key", "not a field of a key record")
	if ks, _ := svc.Keys(ctx, agileplus.Page{}); len(ks) != 1 {
		t.Errorf("a refused import left %d keys, want the 1 there before", len(ks))
	}
	// An unknown field is named.
	probs = importProblems(t, svc, key(`"prefix":"aaaaaaaa","hash":"`+hash+`","secret":"x"`), agileplus.ImportOptions{})
	hasProblem(t, probs, 1, "secret", "not a field of a key record")
}
