package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// testKey returns key i: its id and prefix sort as i does, its hash is
// made up (the store keeps what it is given).
func testKey(i int, now time.Time) *agileplus.APIKey {
	return &agileplus.APIKey{ID: fmt.Sprintf("key_%026d", i), Prefix: fmt.Sprintf("p%07d", i), Name: fmt.Sprintf("bot %d", i),
		Scope: agileplus.ScopeWrite, CreatedAt: now, CreatedBy: Actor, Version: 1, Hash: fmt.Sprintf("%064x", i)}
}

func (f *fixture) insertKeys(t *testing.T, ks ...*agileplus.APIKey) {
	t.Helper()
	mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error {
		for _, k := range ks {
			if err := tx.InsertAPIKey(f.ctx, k); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (f *fixture) apiKey(t *testing.T, ref string) (k *agileplus.APIKey, err error) {
	t.Helper()
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) error {
		k, err = tx.APIKey(f.ctx, ref)
		return nil
	}))
	return k, err
}

func (f *fixture) mustAPIKey(t *testing.T, ref string) *agileplus.APIKey {
	t.Helper()
	k, err := f.apiKey(t, ref)
	mustOK(t, err)
	return k
}

// testAPIKeys: keys come back as stored, by id and by prefix, every field
// and time to the nanosecond, and page by id.
func testAPIKeys(t *testing.T, f *fixture) {
	now := f.clock.Now()
	plain := testKey(1, now)
	full := testKey(2, now)
	full.Scope, full.Projects = agileplus.ScopeRead, []string{"WEB", "CORE"}
	exp, used, rev := now.Add(90*24*time.Hour+tick), now.Add(3*tick), now.Add(5*tick)
	full.ExpiresAt, full.LastUsedAt, full.RevokedAt, full.Version = &exp, &used, &rev, 4
	f.insertKeys(t, plain, full)

	for _, want := range []*agileplus.APIKey{plain, full} {
		for _, ref := range []string{want.ID, want.Prefix} {
			got := f.mustAPIKey(t, ref)
			mustSame(t, "key by "+ref, got, want)
			mustEqual(t, "hash by "+ref, got.Hash, want.Hash)
		}
	}
	got := f.mustAPIKey(t, plain.ID)
	if got.Projects != nil || got.ExpiresAt != nil || got.LastUsedAt != nil || got.RevokedAt != nil {
		t.Errorf("a key without projects or times: got projects %v, expires %v, last used %v, revoked %v; want all nil",
			got.Projects, got.ExpiresAt, got.LastUsedAt, got.RevokedAt)
	}
	if got := f.mustAPIKey(t, full.Prefix).Projects; len(got) != 2 || got[0] != "WEB" || got[1] != "CORE" {
		t.Errorf("projects: got %v, want [WEB CORE] in the order given", got)
	}

	for _, ref := range []string{"key_00000000000000000000000009", "zzzzzzzz"} {
		_, err := f.apiKey(t, ref)
		mustField(t, err, agileplus.ENOTFOUND, "key")
		mustMention(t, err, ref)
	}

	t.Run("paging by id", func(t *testing.T) {
		// Inserted out of order: the list is by id.
		var more []*agileplus.APIKey
		for _, i := range []int{7, 3, 5, 4, 6} {
			more = append(more, testKey(i, now))
		}
		f.insertKeys(t, more...)
		var ids []string
		var pages int
		for pg := (agileplus.Page{Limit: 3}); ; pages++ {
			var ks []*agileplus.APIKey
			mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) (err error) {
				ks, err = tx.APIKeys(f.ctx, pg)
				return err
			}))
			for _, k := range ks {
				ids = append(ids, k.ID)
				if k.Hash == "" {
					t.Errorf("key %s listed without its hash", k.ID)
				}
			}
			if len(ks) < pg.Limit {
				break
			}
			pg.After = ks[len(ks)-1].ID
		}
		var want []string
		for i := 1; i <= 7; i++ {
			want = append(want, testKey(i, now).ID)
		}
		mustEqual(t, "listed ids", fmt.Sprint(ids), fmt.Sprint(want))
		mustEqual(t, "full pages", pages, 2)
	})

	t.Run("unique prefix", func(t *testing.T) {
		dup := testKey(8, now)
		dup.Prefix = plain.Prefix
		err := f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.InsertAPIKey(f.ctx, dup) })
		mustField(t, err, agileplus.ECONFLICT, "prefix")
		_, err = f.apiKey(t, dup.ID)
		mustCode(t, err, agileplus.ENOTFOUND)
		mustSame(t, "the key whose prefix was taken", f.mustAPIKey(t, plain.Prefix), plain)
	})
}

// testAPIKeyUpdates: UpdateAPIKey is guarded by the version; TouchAPIKey
// only ever raises the last use, changes no version and ignores a key
// that is not there.
func testAPIKeyUpdates(t *testing.T, f *fixture) {
	now := f.clock.Now()
	k := testKey(1, now)
	f.insertKeys(t, k)

	rev := f.clock.Advance(tick)
	exp := rev.Add(time.Hour)
	upd := *k
	upd.Name, upd.Scope, upd.Projects, upd.ExpiresAt, upd.RevokedAt, upd.Version = "renamed", agileplus.ScopeRead, []string{"CORE"}, &exp, &rev, 2
	mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.UpdateAPIKey(f.ctx, &upd) }))
	mustSame(t, "updated key", f.mustAPIKey(t, k.ID), &upd)

	// Written again as version 2, the update expects version 1 stored.
	stale := upd
	stale.Name = "stale"
	err := f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.UpdateAPIKey(f.ctx, &stale) })
	mustField(t, err, agileplus.ECONFLICT, "version")
	mustSame(t, "key after a stale update", f.mustAPIKey(t, k.ID), &upd)

	// Clearing times writes them as absent.
	cleared := upd
	cleared.ExpiresAt, cleared.RevokedAt, cleared.Projects, cleared.Version = nil, nil, nil, 3
	mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.UpdateAPIKey(f.ctx, &cleared) }))
	got := f.mustAPIKey(t, k.Prefix)
	if got.ExpiresAt != nil || got.RevokedAt != nil || got.Projects != nil {
		t.Errorf("cleared key: got expires %v, revoked %v, projects %v; want nil", got.ExpiresAt, got.RevokedAt, got.Projects)
	}

	touch := func(id string, at time.Time) {
		t.Helper()
		mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.TouchAPIKey(f.ctx, id, at) }))
	}
	t1 := now.Add(10 * tick)
	touch(k.ID, t1)
	got = f.mustAPIKey(t, k.ID)
	if got.LastUsedAt == nil {
		t.Fatalf("last used after a touch: got nil, want %s", t1)
	}
	mustTime(t, "last used", *got.LastUsedAt, t1)
	mustEqual(t, "version after a touch", got.Version, cleared.Version)
	touch(k.ID, t1.Add(-time.Nanosecond)) // earlier: no change
	mustTime(t, "last used after an earlier touch", *f.mustAPIKey(t, k.ID).LastUsedAt, t1)
	t2 := t1.Add(time.Nanosecond)
	touch(k.ID, t2)
	got = f.mustAPIKey(t, k.ID)
	mustTime(t, "last used after a later touch", *got.LastUsedAt, t2)
	mustEqual(t, "version after touches", got.Version, cleared.Version)
	touch("key_00000000000000000000000009", t2) // no such key: no error

	// A later update keeps the last use (it is not the update's to write).
	again := *got
	again.Name, again.Version = "again", got.Version+1
	again.LastUsedAt = nil
	mustOK(t, f.store.Update(f.ctx, func(tx agileplus.Tx) error { return tx.UpdateAPIKey(f.ctx, &again) }))
	if lu := f.mustAPIKey(t, k.ID).LastUsedAt; lu == nil || !lu.Equal(t2) {
		t.Errorf("last used after an update: got %v, want %s", lu, t2)
	}
}

// testAPIKeyRollback: a failed Update leaves no key and no change to one.
func testAPIKeyRollback(t *testing.T, f *fixture) {
	now := f.clock.Now()
	k := testKey(1, now)
	f.insertKeys(t, k)
	added := testKey(2, now)
	err := f.store.Update(f.ctx, func(tx agileplus.Tx) error {
		if err := tx.InsertAPIKey(f.ctx, added); err != nil {
			return err
		}
		if got, err := tx.APIKey(f.ctx, added.Prefix); err != nil || got.ID != added.ID {
			t.Errorf("key inside the transaction: got %v, %v, want %s", got, err, added.ID)
		}
		upd := *k
		upd.RevokedAt, upd.Version = &now, 2
		if err := tx.UpdateAPIKey(f.ctx, &upd); err != nil {
			return err
		}
		if err := tx.TouchAPIKey(f.ctx, k.ID, now.Add(tick)); err != nil {
			return err
		}
		return errBoom{}
	})
	if !errors.As(err, new(errBoom)) {
		t.Fatalf("Update: got error %v, want the error fn returned", err)
	}
	_, err = f.apiKey(t, added.ID)
	mustField(t, err, agileplus.ENOTFOUND, "key")
	_, err = f.apiKey(t, added.Prefix)
	mustField(t, err, agileplus.ENOTFOUND, "key")
	mustSame(t, "key after a rolled back update", f.mustAPIKey(t, k.ID), k)
}

// testAPIKeyImport: a key record with its hash imports once, keeps its
// prefix, hash and times, and exports again as it came.
func testAPIKeyImport(t *testing.T, f *fixture) {
	hash := fmt.Sprintf("%064x", 42)
	// Times as an export writes them: UTC, to the nanosecond.
	file := `{"type":"project","key":"CORE","name":"CORE"}` + "\n" +
		`{"type":"key","name":"ci","prefix":"k3v9x2mq","scope":"write","projects":["CORE"],"created_at":"2026-01-02T03:04:05.000000006Z","created_by":"admin","expires_at":"2036-01-02T03:04:05.123456789Z","hash":"` + hash + `"}` + "\n" +
		`{"type":"key","name":"gone","prefix":"zzzz0000","scope":"admin","created_at":"2026-01-02T03:04:05Z","created_by":"admin","revoked_at":"2026-02-03T04:05:06.7Z","hash":"` + hash + `"}` + "\n" +
		`{"type":"key","name":"nohash","prefix":"yyyy0000","scope":"read","created_at":"2026-01-02T03:04:05Z","created_by":"admin"}` + "\n"
	res, err := f.svc.BulkImport(f.ctx, strings.NewReader(file), agileplus.ImportOptions{})
	mustOK(t, err)
	mustEqual(t, "keys created", res.Created[agileplus.RecKey], 2)
	mustEqual(t, "keys skipped", res.Skipped[agileplus.RecKey], 1)
	k := f.mustAPIKey(t, "k3v9x2mq")
	mustEqual(t, "hash", k.Hash, hash)
	mustEqual(t, "projects", strings.Join(k.Projects, ","), "CORE")
	mustTime(t, "created at", k.CreatedAt, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	if k.ExpiresAt == nil || k.RevokedAt != nil {
		t.Fatalf("imported key: got expires %v, revoked %v; want an expiry, not revoked", k.ExpiresAt, k.RevokedAt)
	}
	mustTime(t, "expires at", *k.ExpiresAt, time.Date(2036, 1, 2, 3, 4, 5, 123456789, time.UTC))
	if g := f.mustAPIKey(t, "zzzz0000"); g.RevokedAt == nil || g.Active(f.clock.Now()) {
		t.Errorf("imported revoked key: got revoked %v, want revoked", g.RevokedAt)
	}
	_, err = f.apiKey(t, "yyyy0000")
	mustCode(t, err, agileplus.ENOTFOUND)
	var es []*agileplus.Event
	mustOK(t, f.store.View(f.ctx, func(tx agileplus.ReadTx) (err error) {
		es, err = tx.Events(f.ctx, agileplus.EventFilter{EntityID: k.ID, Limit: 10})
		return err
	}))
	if len(es) != 1 || es[0].Type != "key.imported" || es[0].ProjectKey != agileplus.SystemProject || strings.Contains(string(es[0].Data), hash) {
		t.Errorf("events of the imported key: %v", es)
	}

	var out bytes.Buffer
	mustOK(t, f.svc.BulkExport(f.ctx, &out, agileplus.ExportOptions{KeyHashes: true}))
	if want := strings.Replace(file, `{"type":"key","name":"nohash"`, "", 1); !strings.HasPrefix(want, out.String()) || !strings.Contains(out.String(), `"prefix":"zzzz0000"`) {
		t.Errorf("export after import:\n got %s\nwant the file without the key that had no hash", out.String())
	}
	res, err = f.svc.BulkImport(f.ctx, strings.NewReader(file), agileplus.ImportOptions{})
	mustOK(t, err)
	mustEqual(t, "keys unchanged on a second import", res.Unchanged[agileplus.RecKey], 2)
	mustEqual(t, "keys created on a second import", res.Created[agileplus.RecKey], 0)
}
