package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/agileplus/agileplus"
)

var _ agileplus.FenceReader = (*Tx)(nil)

// FenceTokens returns the fencing counters of the WPs, in order, with one
// query; it works in read transactions too.
func (t *Tx) FenceTokens(ctx context.Context, wpIDs []string) ([]int64, error) {
	if len(wpIDs) == 0 {
		return nil, nil
	}
	ids, err := json.Marshal(wpIDs)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT j.key, w.fence FROM json_each(?) j LEFT JOIN wps w ON w.id = j.value ORDER BY j.key`, string(ids))
	if err != nil {
		return nil, wrap("fence tokens", err)
	}
	defer rows.Close()
	out := make([]int64, len(wpIDs))
	for rows.Next() {
		var i int
		var f sql.NullInt64
		if err := rows.Scan(&i, &f); err != nil {
			return nil, wrap("fence tokens", err)
		}
		if !f.Valid {
			return nil, notFound("wp", "work package", wpIDs[i])
		}
		out[i] = f.Int64
	}
	return out, wrap("fence tokens", rows.Err())
}
