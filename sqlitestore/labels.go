package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
)

// rank is the stored form of a priority; "" (a record from before
// priorities) is the default.
func rank(p string) int {
	if r := agileplus.PriorityRank(p); r >= 0 {
		return r
	}
	return agileplus.PriorityRank(agileplus.DefaultPriority)
}

// joinLabels is the stored form of a sorted set of labels: joined by
// commas, which no label holds.
func joinLabels(ls []string) string { return strings.Join(ls, ",") }

func splitLabels(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

const labelCols = `l.id, l.project_id, p.key, l.name, l.color, l.description, l.version, l.created_at, l.updated_at`
const labelFrom = ` FROM label_defs l JOIN projects p ON p.id = l.project_id`

func scanLabel(sc interface{ Scan(...any) error }) (*agileplus.LabelDef, error) {
	var l agileplus.LabelDef
	if err := sc.Scan(&l.ID, &l.ProjectID, &l.ProjectKey, &l.Name, &l.Color, &l.Description, &l.Version, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt}); err != nil {
		return nil, err
	}
	return &l, nil
}

// LabelDef returns a project's label definition by name.
func (t *Tx) LabelDef(ctx context.Context, projectID, name string) (*agileplus.LabelDef, error) {
	l, err := scanLabel(t.queryRow(ctx, `SELECT `+labelCols+labelFrom+` WHERE l.project_id = ? AND l.name = ?`, projectID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, agileplus.LabelNotFound(name)
	}
	return l, wrap("label", err)
}

// LabelDefs lists a project's label definitions by name.
func (t *Tx) LabelDefs(ctx context.Context, projectID string, pg agileplus.Page) ([]*agileplus.LabelDef, error) {
	rows, err := t.query(ctx, `SELECT `+labelCols+labelFrom+` WHERE l.project_id = ? AND l.name > ? ORDER BY l.name LIMIT ?`, projectID, pg.After, pg.Limit)
	if err != nil {
		return nil, wrap("labels", err)
	}
	return collect(rows, scanLabel)
}

// InsertLabelDef stores a new label definition.
func (t *Tx) InsertLabelDef(ctx context.Context, l *agileplus.LabelDef) error {
	_, err := t.exec(ctx, `INSERT INTO label_defs (id, project_id, name, color, description, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.ProjectID, l.Name, l.Color, l.Description, l.Version, fmtTime(l.CreatedAt), fmtTime(l.UpdatedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "name", Message: fmt.Sprintf("label %q is already defined in project %s", l.Name, l.ProjectKey)}
	}
	return wrap("insert label", err)
}

// UpdateLabelDef writes a label definition guarded by its previous version.
func (t *Tx) UpdateLabelDef(ctx context.Context, l *agileplus.LabelDef) error {
	res, err := t.exec(ctx, `UPDATE label_defs SET color = ?, description = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
		l.Color, l.Description, l.Version, fmtTime(l.UpdatedAt), l.ID, l.Version-1)
	return guarded(res, err, "label", l.Name)
}

// DeleteLabelDef removes a label definition.
func (t *Tx) DeleteLabelDef(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM label_defs WHERE id = ?`, id)
	if err != nil {
		return wrap("delete label", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("delete label", err)
	} else if n == 0 {
		return notFound("label", "label", id)
	}
	return nil
}
