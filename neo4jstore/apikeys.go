package neo4jstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

func decodeKey(r *row) *agileplus.APIKey {
	k := &agileplus.APIKey{ID: r.str("id"), Prefix: r.str("prefix"), Name: r.str("name"), Scope: r.str("scope"),
		Hash: r.str("hash"), CreatedAt: r.time("created_at"), CreatedBy: r.str("created_by"), Version: r.i64("version")}
	if p := r.str("projects"); p != "" {
		k.Projects = strings.Split(p, ",")
	}
	for _, c := range []struct {
		key string
		dst **time.Time
	}{{"expires_at", &k.ExpiresAt}, {"last_used_at", &k.LastUsedAt}, {"revoked_at", &k.RevokedAt}} {
		if r.str(c.key) != "" {
			t := r.time(c.key)
			*c.dst = &t
		}
	}
	return k
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// APIKey returns a key by id or prefix.
func (t *Tx) APIKey(ctx context.Context, ref string) (*agileplus.APIKey, error) {
	prop := "prefix"
	if strings.HasPrefix(ref, agileplus.PrefixKey) {
		prop = "id"
	}
	rows, err := t.runMaps(ctx, "key", `MATCH (k:ApiKey {`+prop+`: $ref}) RETURN k {.*}`, map[string]any{"ref": ref})
	if err != nil {
		return nil, err
	}
	return decodeOne("key", rows, decodeKey, notFound("key", "key", ref))
}

// APIKeys pages through keys by id.
func (t *Tx) APIKeys(ctx context.Context, pg agileplus.Page) ([]*agileplus.APIKey, error) {
	rows, err := t.runMaps(ctx, "keys", `MATCH (k:ApiKey) WHERE k.id > $after WITH k ORDER BY k.id LIMIT $limit RETURN k {.*}`,
		map[string]any{"after": pg.After, "limit": limit(pg.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("keys", rows, decodeKey)
}

// InsertAPIKey stores a new key.
func (t *Tx) InsertAPIKey(ctx context.Context, k *agileplus.APIKey) error {
	_, err := t.run(ctx, "insert key", `CREATE (:ApiKey {id: $id, prefix: $prefix, name: $name, scope: $scope, projects: $projects,
		hash: $hash, created_at: $created, created_by: $by, expires_at: $expires, last_used_at: $used, revoked_at: $revoked, version: $version})`,
		map[string]any{"id": k.ID, "prefix": k.Prefix, "name": k.Name, "scope": k.Scope, "projects": strings.Join(k.Projects, ","),
			"hash": k.Hash, "created": fmtTime(k.CreatedAt), "by": k.CreatedBy, "expires": optTime(k.ExpiresAt),
			"used": optTime(k.LastUsedAt), "revoked": optTime(k.RevokedAt), "version": k.Version})
	return conflict(err, t, "prefix", fmt.Sprintf("a key with prefix %q or id %q already exists", k.Prefix, k.ID))
}

// UpdateAPIKey writes a key guarded by its previous version.
func (t *Tx) UpdateAPIKey(ctx context.Context, k *agileplus.APIKey) error {
	recs, err := t.run(ctx, "update key", `MATCH (k:ApiKey {id: $id})`+lockGuard("k")+`
		SET k.name = $name, k.scope = $scope, k.projects = $projects, k.expires_at = $expires, k.revoked_at = $revoked, k.version = $version
		RETURN k.id`,
		map[string]any{"id": k.ID, "prev": k.Version - 1, "name": k.Name, "scope": k.Scope, "projects": strings.Join(k.Projects, ","),
			"expires": optTime(k.ExpiresAt), "revoked": optTime(k.RevokedAt), "version": k.Version})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("key", k.Prefix)
	}
	return nil
}

// TouchAPIKey raises the key's last use.
func (t *Tx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	ts := fmtTime(at)
	_, err := t.run(ctx, "touch key", `MATCH (k:ApiKey {id: $id}) WHERE k.last_used_at IS NULL OR k.last_used_at < $at SET k.last_used_at = $at`,
		map[string]any{"id": id, "at": ts})
	return err
}
