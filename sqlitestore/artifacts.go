package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
)

var _ agileplus.ArtifactTx = (*Tx)(nil)

const artifactCols = `id, owner_kind, owner_id, project_id, (SELECT key FROM projects p WHERE p.id = a.project_id), feature_id, name,
	content_type, labels, size, sha256, version, created_at, created_by, deleted_at, deleted_by`

func scanArtifact(sc interface{ Scan(...any) error }) (*agileplus.Artifact, error) {
	var a agileplus.Artifact
	var labels, deletedAt string
	if err := sc.Scan(&a.ID, &a.OwnerKind, &a.OwnerID, &a.ProjectID, &a.ProjectKey, &a.FeatureID, &a.Name, &a.ContentType, &labels,
		&a.Size, &a.SHA256, &a.Version, timeCol{&a.CreatedAt}, &a.CreatedBy, &deletedAt, &a.DeletedBy); err != nil {
		return nil, err
	}
	a.Labels = splitLabels(labels)
	if deletedAt != "" {
		t, err := parseStoredTime(deletedAt)
		if err != nil {
			return nil, err
		}
		a.DeletedAt = &t
	}
	return &a, nil
}

func fmtTimeOrEmpty(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

// Artifact returns an artifact by id.
func (t *Tx) Artifact(ctx context.Context, id string) (*agileplus.Artifact, error) {
	a, err := scanArtifact(t.queryRow(ctx, `SELECT `+artifactCols+` FROM artifacts a WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, agileplus.ArtifactNotFound(id)
	}
	return a, wrap("artifact", err)
}

// Artifacts lists an owner's artifacts by id.
func (t *Tx) Artifacts(ctx context.Context, f agileplus.ArtifactFilter) ([]*agileplus.Artifact, error) {
	deleted := "deleted_at = ''"
	if f.Deleted {
		deleted = "deleted_at <> ''"
	}
	rows, err := t.query(ctx, `SELECT `+artifactCols+` FROM artifacts a WHERE owner_id = ? AND id > ? AND `+deleted+`
		AND substr(name, 1, length(?)) = ? ORDER BY id LIMIT ?`, f.OwnerID, f.After, f.Prefix, f.Prefix, f.Limit)
	if err != nil {
		return nil, wrap("artifacts", err)
	}
	return collect(rows, scanArtifact)
}

// InsertArtifact stores a new artifact.
func (t *Tx) InsertArtifact(ctx context.Context, a *agileplus.Artifact) error {
	_, err := t.exec(ctx, `INSERT INTO artifacts (id, owner_kind, owner_id, project_id, feature_id, name, content_type, labels, size, sha256,
		version, created_at, created_by, deleted_at, deleted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.OwnerKind, a.OwnerID, a.ProjectID, a.FeatureID, a.Name, a.ContentType, joinLabels(a.Labels), a.Size, a.SHA256,
		a.Version, fmtTime(a.CreatedAt), a.CreatedBy, fmtTimeOrEmpty(a.DeletedAt), a.DeletedBy)
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "artifact", Message: fmt.Sprintf("artifact %s exists", a.ID)}
	}
	return wrap("insert artifact", err)
}

// UpdateArtifact writes an artifact's deletion guarded by its previous
// version.
func (t *Tx) UpdateArtifact(ctx context.Context, a *agileplus.Artifact) error {
	res, err := t.exec(ctx, `UPDATE artifacts SET deleted_at = ?, deleted_by = ?, version = ? WHERE id = ? AND version = ?`,
		fmtTimeOrEmpty(a.DeletedAt), a.DeletedBy, a.Version, a.ID, a.Version-1)
	return guarded(res, err, "artifact", a.ID)
}
