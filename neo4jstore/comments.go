package neo4jstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/agileplus/agileplus"
)

// Comments are (:Comment) nodes ON their WP or feature; see migration 0005.

func decodeComment(r *row) *agileplus.Comment {
	c := &agileplus.Comment{ID: r.str("id"), EntityKind: r.str("entity_kind"), EntityID: r.str("entity_id"), EntityKey: r.str("entity_key"),
		ProjectKey: r.str("project_key"), FeatureID: r.str("feature_id"), Author: r.str("author"), Body: r.str("body"),
		Version: r.i64("version"), CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at")}
	if h := r.str("history"); h != "" {
		if err := json.Unmarshal([]byte(h), &c.History); err != nil && r.err == nil {
			r.err = fmt.Errorf("comment %s: history: %w", c.ID, err)
		}
	}
	return c
}

func historyText(h []agileplus.CommentRevision) (string, error) {
	if h == nil {
		h = []agileplus.CommentRevision{}
	}
	b, err := json.Marshal(h)
	return string(b), err
}

// Comment returns a comment by id.
func (t *Tx) Comment(ctx context.Context, id string) (*agileplus.Comment, error) {
	rows, err := t.runMaps(ctx, "comment", `MATCH (c:Comment {id: $id}) RETURN c {.*}`, map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	return decodeOne("comment", rows, decodeComment, notFound("comment", "comment", id))
}

// Comments pages through the comments on a WP or feature by id.
func (t *Tx) Comments(ctx context.Context, entityID string, p agileplus.Page) ([]*agileplus.Comment, error) {
	rows, err := t.runMaps(ctx, "comments", `MATCH (c:Comment) WHERE c.entity_id = $entity AND c.id > $after
		WITH c ORDER BY c.id LIMIT $limit RETURN c {.*}`, map[string]any{"entity": entityID, "after": p.After, "limit": limit(p.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("comments", rows, decodeComment)
}

// AllComments pages through every comment by id.
func (t *Tx) AllComments(ctx context.Context, p agileplus.Page) ([]*agileplus.Comment, error) {
	rows, err := t.runMaps(ctx, "comments", `MATCH (c:Comment) WHERE c.id > $after
		WITH c ORDER BY c.id LIMIT $limit RETURN c {.*}`, map[string]any{"after": p.After, "limit": limit(p.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("comments", rows, decodeComment)
}

// InsertComment stores a new comment on its WP or feature.
func (t *Tx) InsertComment(ctx context.Context, c *agileplus.Comment) error {
	label, ok := nodeLabel(c.EntityID)
	if !ok {
		return agileplus.FieldErrorf("ref", "a comment is on a WP or a feature, not %s", agileplus.QuoteRef(c.EntityID))
	}
	h, err := historyText(c.History)
	if err != nil {
		return fmt.Errorf("neo4jstore: insert comment: %w", err)
	}
	recs, err := t.run(ctx, "insert comment", `MATCH (n:`+label+` {id: $entity})
		CREATE (c:Comment {id: $id, entity_kind: $kind, entity_id: $entity, entity_key: $key, project_key: $project, feature_id: $feature,
			author: $author, body: $body, history: $history, version: $version, created_at: $created, updated_at: $updated})-[:ON]->(n)
		RETURN c.id`,
		map[string]any{"entity": c.EntityID, "id": c.ID, "kind": c.EntityKind, "key": c.EntityKey, "project": c.ProjectKey, "feature": c.FeatureID,
			"author": c.Author, "body": c.Body, "history": h, "version": c.Version, "created": fmtTime(c.CreatedAt), "updated": fmtTime(c.UpdatedAt)})
	if err != nil {
		return conflict(err, t, "id", fmt.Sprintf("comment %s already exists", c.ID))
	}
	if len(recs) == 0 {
		return notFound("ref", c.EntityKind, c.EntityID)
	}
	return nil
}

// UpdateComment writes a comment guarded by its previous version.
func (t *Tx) UpdateComment(ctx context.Context, c *agileplus.Comment) error {
	h, err := historyText(c.History)
	if err != nil {
		return fmt.Errorf("neo4jstore: update comment: %w", err)
	}
	recs, err := t.run(ctx, "update comment", `MATCH (c:Comment {id: $id})`+lockGuard("c")+`
		SET c.body = $body, c.history = $history, c.version = $version, c.updated_at = $updated RETURN c.id`,
		map[string]any{"id": c.ID, "prev": c.Version - 1, "body": c.Body, "history": h, "version": c.Version, "updated": fmtTime(c.UpdatedAt)})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("comment", c.ID)
	}
	return nil
}

// DeleteWP removes a WP with its lease, references and comments; the
// commits and pull requests it referenced stay for the other WPs.
func (t *Tx) DeleteWP(ctx context.Context, id string) error {
	t.graphWrite = true
	recs, err := t.run(ctx, "delete wp", `MATCH (w:WorkPackage {id: $id})
		OPTIONAL MATCH (c:Comment)-[:ON]->(w)
		DETACH DELETE c
		WITH DISTINCT w
		DETACH DELETE w
		RETURN count(*)`, map[string]any{"id": id})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return notFound("wp", "work package", id)
	}
	if n, _ := recs[0].Values[0].(int64); n == 0 {
		return notFound("wp", "work package", id)
	}
	return nil
}
