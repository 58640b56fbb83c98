package neo4jstore

import (
	"context"
	"fmt"

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

// labelList is the stored form of labels: a list, empty rather than null
// (null would remove the property).
func labelList(ls []string) []string {
	if ls == nil {
		return []string{}
	}
	return ls
}

// Label definitions are (:LabelDef {id, key, project_id, project_key, name,
// color, description, version, created_at, updated_at}) where key is
// "<project id>/<name>", which a uniqueness constraint keeps unique.

func decodeLabel(r *row) *agileplus.LabelDef {
	return &agileplus.LabelDef{ID: r.str("id"), ProjectID: r.str("project_id"), ProjectKey: r.str("project_key"), Name: r.str("name"),
		Color: r.str("color"), Description: r.str("description"), Version: r.i64("version"),
		CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at")}
}

// LabelDef returns a project's label definition by name.
func (t *Tx) LabelDef(ctx context.Context, projectID, name string) (*agileplus.LabelDef, error) {
	rows, err := t.runMaps(ctx, "label", `MATCH (l:LabelDef {key: $key}) RETURN l {.*}`, map[string]any{"key": projectID + "/" + name})
	if err != nil {
		return nil, err
	}
	return decodeOne("label", rows, decodeLabel, agileplus.LabelNotFound(name))
}

// LabelDefs lists a project's label definitions by name.
func (t *Tx) LabelDefs(ctx context.Context, projectID string, pg agileplus.Page) ([]*agileplus.LabelDef, error) {
	rows, err := t.runMaps(ctx, "labels", `MATCH (l:LabelDef) WHERE l.project_id = $project AND l.name > $after
		WITH l ORDER BY l.name LIMIT $limit RETURN l {.*}`,
		map[string]any{"project": projectID, "after": pg.After, "limit": limit(pg.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("labels", rows, decodeLabel)
}

// InsertLabelDef stores a new label definition in its project.
func (t *Tx) InsertLabelDef(ctx context.Context, l *agileplus.LabelDef) error {
	recs, err := t.run(ctx, "insert label", `MATCH (p:Project {id: $project})
		CREATE (l:LabelDef {id: $id, key: p.id + '/' + $name, project_id: p.id, project_key: p.key, name: $name, color: $color,
			description: $description, version: $version, created_at: $created, updated_at: $updated})-[:IN_PROJECT]->(p)
		RETURN l.id`,
		map[string]any{"project": l.ProjectID, "id": l.ID, "name": l.Name, "color": l.Color, "description": l.Description,
			"version": l.Version, "created": fmtTime(l.CreatedAt), "updated": fmtTime(l.UpdatedAt)})
	if err != nil {
		return conflict(err, t, "name", fmt.Sprintf("label %q is already defined in project %s", l.Name, l.ProjectKey))
	}
	if len(recs) == 0 {
		return notFound("project", "project", l.ProjectID)
	}
	return nil
}

// UpdateLabelDef writes a label definition guarded by its previous version.
func (t *Tx) UpdateLabelDef(ctx context.Context, l *agileplus.LabelDef) error {
	recs, err := t.run(ctx, "update label", `MATCH (l:LabelDef {id: $id})`+lockGuard("l")+`
		SET l.color = $color, l.description = $description, l.version = $version, l.updated_at = $updated RETURN l.id`,
		map[string]any{"id": l.ID, "prev": l.Version - 1, "color": l.Color, "description": l.Description, "version": l.Version, "updated": fmtTime(l.UpdatedAt)})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("label", l.Name)
	}
	return nil
}

// DeleteLabelDef removes a label definition.
func (t *Tx) DeleteLabelDef(ctx context.Context, id string) error {
	recs, err := t.run(ctx, "delete label", `MATCH (l:LabelDef {id: $id}) DETACH DELETE l RETURN $id`, map[string]any{"id": id})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return notFound("label", "label", id)
	}
	return nil
}
