package neo4jstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
)

var _ agileplus.ArtifactTx = (*Tx)(nil)

func decodeArtifact(r *row) *agileplus.Artifact {
	a := &agileplus.Artifact{ID: r.str("id"), OwnerKind: r.str("owner_kind"), OwnerID: r.str("owner_id"), ProjectID: r.str("project_id"),
		ProjectKey: r.str("project_key"), FeatureID: r.str("feature_id"), Name: r.str("name"), ContentType: r.str("content_type"),
		Labels: r.strs("labels"), Size: r.i64("size"), SHA256: r.str("sha256"), Version: r.i64("version"),
		CreatedAt: r.time("created_at"), CreatedBy: r.str("created_by"), DeletedBy: r.str("deleted_by")}
	if r.str("deleted_at") != "" {
		t := r.time("deleted_at")
		a.DeletedAt = &t
	}
	return a
}

// deletedAt is the stored form of a deletion time: empty while live, so
// that the property is always there for the owner index.
func deletedAt(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

// Artifact returns an artifact by id.
func (t *Tx) Artifact(ctx context.Context, id string) (*agileplus.Artifact, error) {
	rows, err := t.runMaps(ctx, "artifact", `MATCH (a:Artifact {id: $id}) RETURN a {.*}`, map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	return decodeOne("artifact", rows, decodeArtifact, agileplus.ArtifactNotFound(id))
}

// Artifacts lists an owner's artifacts by id.
func (t *Tx) Artifacts(ctx context.Context, f agileplus.ArtifactFilter) ([]*agileplus.Artifact, error) {
	rows, err := t.runMaps(ctx, "artifacts", `MATCH (a:Artifact) WHERE a.owner_id = $owner AND a.id > $after
		AND (a.deleted_at <> '') = $deleted AND a.name STARTS WITH $prefix
		WITH a ORDER BY a.id LIMIT $limit RETURN a {.*}`,
		map[string]any{"owner": f.OwnerID, "after": f.After, "deleted": f.Deleted, "prefix": f.Prefix, "limit": limit(f.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("artifacts", rows, decodeArtifact)
}

// InsertArtifact stores a new artifact attached to its WP or feature.
func (t *Tx) InsertArtifact(ctx context.Context, a *agileplus.Artifact) error {
	label, ok := nodeLabel(a.OwnerID)
	if !ok {
		return agileplus.FieldErrorf("owner", "artifact owner %s is neither a WP nor a feature", agileplus.QuoteRef(a.OwnerID))
	}
	recs, err := t.run(ctx, "insert artifact", `MATCH (o:`+label+` {id: $owner})
		CREATE (a:Artifact {id: $id, owner_kind: $kind, owner_id: $owner, project_id: $project, project_key: $project_key,
			feature_id: $feature, name: $name, content_type: $type, labels: $labels, size: $size, sha256: $sha,
			version: $version, created_at: $created, created_by: $created_by, deleted_at: $deleted, deleted_by: $deleted_by})-[:ATTACHED_TO]->(o)
		RETURN a.id`,
		map[string]any{"owner": a.OwnerID, "id": a.ID, "kind": a.OwnerKind, "project": a.ProjectID, "project_key": a.ProjectKey,
			"feature": a.FeatureID, "name": a.Name, "type": a.ContentType, "labels": labelList(a.Labels), "size": a.Size, "sha": a.SHA256,
			"version": a.Version, "created": fmtTime(a.CreatedAt), "created_by": a.CreatedBy, "deleted": deletedAt(a.DeletedAt), "deleted_by": a.DeletedBy})
	if err != nil {
		return conflict(err, t, "artifact", fmt.Sprintf("artifact %s exists", a.ID))
	}
	if len(recs) == 0 {
		return notFound(a.OwnerKind, a.OwnerKind, a.OwnerID)
	}
	return nil
}

// UpdateArtifact writes an artifact's deletion guarded by its previous
// version.
func (t *Tx) UpdateArtifact(ctx context.Context, a *agileplus.Artifact) error {
	recs, err := t.run(ctx, "update artifact", `MATCH (a:Artifact {id: $id})`+lockGuard("a")+`
		SET a.deleted_at = $deleted, a.deleted_by = $deleted_by, a.version = $version RETURN a.id`,
		map[string]any{"id": a.ID, "prev": a.Version - 1, "deleted": deletedAt(a.DeletedAt), "deleted_by": a.DeletedBy, "version": a.Version})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("artifact", a.ID)
	}
	return nil
}
