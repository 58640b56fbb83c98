package sqlitestore

import (
	"context"

	"github.com/agileplus/agileplus"
)

// References returns a WP's references, oldest first.
func (t *Tx) References(ctx context.Context, wpID string) ([]*agileplus.Reference, error) {
	rows, err := t.query(ctx, `SELECT id, wp_id, kind, repo, sha, url, state, created_at, updated_at FROM wp_references WHERE wp_id = ? ORDER BY id`, wpID)
	if err != nil {
		return nil, wrap("references", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (*agileplus.Reference, error) {
		var r agileplus.Reference
		err := sc.Scan(&r.ID, &r.WPID, &r.Kind, &r.Repo, &r.SHA, &r.URL, &r.State, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
		return &r, err
	})
}

// PutReference inserts a reference or updates the state of an existing one.
func (t *Tx) PutReference(ctx context.Context, r *agileplus.Reference) error {
	_, err := t.exec(ctx, `INSERT INTO wp_references (id, wp_id, kind, repo, sha, url, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		r.ID, r.WPID, r.Kind, r.Repo, r.SHA, r.URL, r.State, fmtTime(r.CreatedAt), fmtTime(r.UpdatedAt))
	return wrap("put reference", err)
}
