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

// AllReferences pages through every reference by id.
func (t *Tx) AllReferences(ctx context.Context, p agileplus.Page) ([]*agileplus.Reference, error) {
	rows, err := t.query(ctx, `SELECT id, wp_id, kind, repo, sha, url, state, created_at, updated_at FROM wp_references WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.Limit)
	if err != nil {
		return nil, wrap("references", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (*agileplus.Reference, error) {
		var r agileplus.Reference
		err := sc.Scan(&r.ID, &r.WPID, &r.Kind, &r.Repo, &r.SHA, &r.URL, &r.State, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
		return &r, err
	})
}

// AllDependencies pages through every dependency by id.
func (t *Tx) AllDependencies(ctx context.Context, p agileplus.Page) ([]*agileplus.Dependency, error) {
	rows, err := t.query(ctx, `SELECT `+depCols+depFrom+` WHERE d.id > ? ORDER BY d.id LIMIT ?`, p.After, p.Limit)
	if err != nil {
		return nil, wrap("dependencies", err)
	}
	deps, err := collect(rows, scanDep)
	if err != nil {
		return nil, err
	}
	out := make([]*agileplus.Dependency, len(deps))
	for i, r := range deps {
		out[i] = &r.d
	}
	return out, nil
}

// ReserveWPNumber raises the project's WP counter above num.
func (t *Tx) ReserveWPNumber(ctx context.Context, projectID string, num int64) error {
	_, err := t.exec(ctx, `UPDATE projects SET next_wp = max(next_wp, ?) WHERE id = ?`, num+1, projectID)
	return wrap("reserve wp number", err)
}
