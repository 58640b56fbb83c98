package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agileplus/agileplus"
)

const commentCols = `id, entity_kind, entity_id, entity_key, project_key, feature_id, author, body, history, version, created_at, updated_at`

func scanComment(sc interface{ Scan(...any) error }) (*agileplus.Comment, error) {
	var c agileplus.Comment
	var history string
	if err := sc.Scan(&c.ID, &c.EntityKind, &c.EntityID, &c.EntityKey, &c.ProjectKey, &c.FeatureID, &c.Author, &c.Body, &history,
		&c.Version, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(history), &c.History); err != nil {
		return nil, fmt.Errorf("comment %s: history: %w", c.ID, err)
	}
	return &c, nil
}

// historyText is the stored form of a comment's history: a JSON array.
func historyText(h []agileplus.CommentRevision) (string, error) {
	if h == nil {
		h = []agileplus.CommentRevision{}
	}
	b, err := json.Marshal(h)
	return string(b), err
}

// Comment returns a comment by id.
func (t *Tx) Comment(ctx context.Context, id string) (*agileplus.Comment, error) {
	c, err := scanComment(t.queryRow(ctx, `SELECT `+commentCols+` FROM comments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("comment", "comment", id)
	}
	return c, wrap("comment", err)
}

// Comments pages through the comments on a WP or feature by id.
func (t *Tx) Comments(ctx context.Context, entityID string, p agileplus.Page) ([]*agileplus.Comment, error) {
	rows, err := t.query(ctx, `SELECT `+commentCols+` FROM comments WHERE entity_id = ? AND id > ? ORDER BY id LIMIT ?`, entityID, p.After, p.Limit)
	if err != nil {
		return nil, wrap("comments", err)
	}
	return collect(rows, scanComment)
}

// AllComments pages through every comment by id.
func (t *Tx) AllComments(ctx context.Context, p agileplus.Page) ([]*agileplus.Comment, error) {
	rows, err := t.query(ctx, `SELECT `+commentCols+` FROM comments WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.Limit)
	if err != nil {
		return nil, wrap("comments", err)
	}
	return collect(rows, scanComment)
}

// InsertComment stores a new comment.
func (t *Tx) InsertComment(ctx context.Context, c *agileplus.Comment) error {
	h, err := historyText(c.History)
	if err != nil {
		return wrap("insert comment", err)
	}
	_, err = t.exec(ctx, `INSERT INTO comments (`+commentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.EntityKind, c.EntityID, c.EntityKey, c.ProjectKey, c.FeatureID, c.Author, c.Body, h, c.Version, fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "id", Message: fmt.Sprintf("comment %s already exists", c.ID)}
	}
	return wrap("insert comment", err)
}

// UpdateComment writes a comment guarded by its previous version.
func (t *Tx) UpdateComment(ctx context.Context, c *agileplus.Comment) error {
	h, err := historyText(c.History)
	if err != nil {
		return wrap("update comment", err)
	}
	res, err := t.exec(ctx, `UPDATE comments SET body = ?, history = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`,
		c.Body, h, c.Version, fmtTime(c.UpdatedAt), c.ID, c.Version-1)
	return guarded(res, err, "comment", c.ID)
}

// DeleteWP removes a WP with its references and comments.
func (t *Tx) DeleteWP(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM wp_references WHERE wp_id = ?`, id); err != nil {
		return wrap("delete wp references", err)
	}
	if _, err := t.exec(ctx, `DELETE FROM comments WHERE entity_id = ?`, id); err != nil {
		return wrap("delete wp comments", err)
	}
	res, err := t.exec(ctx, `DELETE FROM wps WHERE id = ?`, id)
	if err != nil {
		return wrap("delete wp", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("delete wp", err)
	} else if n == 0 {
		return notFound("wp", "work package", id)
	}
	t.gops = append(t.gops, graphOp{removeNode: id})
	return nil
}
