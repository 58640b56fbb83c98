package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

const keyCols = `id, prefix, name, scope, projects, hash, created_at, created_by, expires_at, last_used_at, revoked_at, version`

func scanKey(sc interface{ Scan(...any) error }) (*agileplus.APIKey, error) {
	var k agileplus.APIKey
	var projects string
	var expires, used, revoked sql.NullString
	if err := sc.Scan(&k.ID, &k.Prefix, &k.Name, &k.Scope, &projects, &k.Hash, timeCol{&k.CreatedAt}, &k.CreatedBy, &expires, &used, &revoked, &k.Version); err != nil {
		return nil, err
	}
	if projects != "" {
		k.Projects = strings.Split(projects, ",")
	}
	var err error
	for _, c := range []struct {
		s   sql.NullString
		dst **time.Time
	}{{expires, &k.ExpiresAt}, {used, &k.LastUsedAt}, {revoked, &k.RevokedAt}} {
		if c.s.Valid {
			var t time.Time
			if e := (timeCol{&t}).Scan(c.s.String); e != nil {
				err = e
			}
			*c.dst = &t
		}
	}
	return &k, err
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// APIKey returns a key by id or prefix.
func (t *Tx) APIKey(ctx context.Context, ref string) (*agileplus.APIKey, error) {
	col := "prefix"
	if strings.HasPrefix(ref, agileplus.PrefixKey) {
		col = "id"
	}
	k, err := scanKey(t.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE `+col+` = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("key", "key", ref)
	}
	return k, wrap("key", err)
}

// APIKeys pages through keys by id.
func (t *Tx) APIKeys(ctx context.Context, p agileplus.Page) ([]*agileplus.APIKey, error) {
	rows, err := t.query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.Limit)
	if err != nil {
		return nil, wrap("keys", err)
	}
	return collect(rows, scanKey)
}

// InsertAPIKey stores a new key.
func (t *Tx) InsertAPIKey(ctx context.Context, k *agileplus.APIKey) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Prefix, k.Name, k.Scope, strings.Join(k.Projects, ","), k.Hash, fmtTime(k.CreatedAt), k.CreatedBy,
		nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt), k.Version)
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "prefix", Message: fmt.Sprintf("a key with prefix %q or id %q already exists", k.Prefix, k.ID)}
	}
	return wrap("insert key", err)
}

// UpdateAPIKey writes a key guarded by its previous version.
func (t *Tx) UpdateAPIKey(ctx context.Context, k *agileplus.APIKey) error {
	res, err := t.exec(ctx, `UPDATE api_keys SET name = ?, scope = ?, projects = ?, expires_at = ?, revoked_at = ?, version = ? WHERE id = ? AND version = ?`,
		k.Name, k.Scope, strings.Join(k.Projects, ","), nullTime(k.ExpiresAt), nullTime(k.RevokedAt), k.Version, k.ID, k.Version-1)
	return guarded(res, err, "key", k.Prefix)
}

// TouchAPIKey raises the key's last use.
func (t *Tx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	ts := fmtTime(at)
	_, err := t.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, ts, id, ts)
	return wrap("touch key", err)
}
