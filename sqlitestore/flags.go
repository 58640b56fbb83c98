package sqlitestore

import (
	"context"
	"time"
)

// FlagValues returns the flag values stored in a scope.
func (t *Tx) FlagValues(ctx context.Context, scope string) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT name, value FROM flags WHERE scope = ?`, scope)
	if err != nil {
		return nil, wrap("flags", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, wrap("flags", err)
		}
		out[name] = value
	}
	return out, wrap("flags", rows.Err())
}

// PutFlagValues stores and removes flag values of a scope.
func (t *Tx) PutFlagValues(ctx context.Context, scope string, set map[string]string, unset []string) error {
	for name, value := range set {
		if _, err := t.exec(ctx, `INSERT INTO flags (scope, name, value) VALUES (?, ?, ?)
			ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value`, scope, name, value); err != nil {
			return wrap("put flag", err)
		}
	}
	for _, name := range unset {
		if _, err := t.exec(ctx, `DELETE FROM flags WHERE scope = ? AND name = ?`, scope, name); err != nil {
			return wrap("unset flag", err)
		}
	}
	return nil
}

// LiveLeases counts the leases agent holds that expire after now.
func (t *Tx) LiveLeases(ctx context.Context, agent string, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM wps WHERE lease_agent = ? AND lease_expires_at > ?`, agent, fmtTime(now)).Scan(&n)
	return n, wrap("live leases", err)
}

// CountWPs counts a project's WPs in a state.
func (t *Tx) CountWPs(ctx context.Context, projectID, state string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM wps WHERE project_id = ? AND state = ?`, projectID, state).Scan(&n)
	return n, wrap("count wps", err)
}
