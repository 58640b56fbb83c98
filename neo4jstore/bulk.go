package neo4jstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
)

// Bulk writes (agileplus.BulkTx) and reads (agileplus.FenceReader): one
// UNWIND statement per kind of record for a whole slice, instead of a
// round trip per record, storing exactly the nodes, labels, properties
// and relationships the per-record methods store. Rows go in slice order,
// so records are created in the same order as by the per-record methods.
// storemigrate.Run uses them to copy a store into Neo4j and to read fencing
// counters out of it.

var (
	_ agileplus.BulkTx      = (*Tx)(nil)
	_ agileplus.FenceReader = (*Tx)(nil)
)

// InsertProjects stores new projects, as InsertProject does.
func (t *Tx) InsertProjects(ctx context.Context, ps []*agileplus.Project) error {
	if len(ps) == 0 {
		return nil
	}
	rows := make([]any, len(ps))
	for i, p := range ps {
		rows[i] = map[string]any{"id": p.ID, "key": p.Key, "name": p.Name, "version": p.Version,
			"created": fmtTime(p.CreatedAt), "updated": fmtTime(p.UpdatedAt), "archived": fmtOptTime(p.ArchivedAt)}
	}
	_, err := t.run(ctx, "insert projects", `UNWIND $rows AS r
		CREATE (:Project {id: r.id, key: r.key, name: r.name, version: r.version, next_wp: 1,
			created_at: r.created, updated_at: r.updated, archived_at: r.archived})`, map[string]any{"rows": rows})
	return conflict(err, t, "key", fmt.Sprintf("a project id or key of %d new projects already exists", len(ps)))
}

// InsertFeatures stores new features in their projects, as InsertFeature
// does.
func (t *Tx) InsertFeatures(ctx context.Context, fs []*agileplus.Feature) error {
	if len(fs) == 0 {
		return nil
	}
	rows := make([]any, len(fs))
	projects := make([]string, len(fs))
	for i, f := range fs {
		projects[i] = f.ProjectID
		rows[i] = map[string]any{"project": f.ProjectID, "id": f.ID, "slug": f.Slug, "title": f.Title, "description": f.Description,
			"state": f.State, "version": f.Version, "created": fmtTime(f.CreatedAt), "updated": fmtTime(f.UpdatedAt),
			"priority": rank(f.Priority), "labels": labelList(f.Labels), "archived": fmtOptTime(f.ArchivedAt)}
		searchParams(rows[i].(map[string]any), f.Slug, f.Title, f.Description)
	}
	recs, err := t.run(ctx, "insert features", `UNWIND $rows AS r
		MATCH (p:Project {id: r.project})
		CREATE (f:Feature {id: r.id, project_id: p.id, project_key: p.key, slug: r.slug, title: r.title, description: r.description,
			state: r.state, priority: r.priority, labels: r.labels, version: r.version, created_at: r.created, updated_at: r.updated,
			archived_at: r.archived, search_text: r.search_text, search_title: r.search_title})-[:IN_PROJECT]->(p)
		RETURN count(f)`, map[string]any{"rows": rows})
	if err != nil {
		return conflict(err, t, "slug", fmt.Sprintf("a feature id or slug of %d new features already exists", len(fs)))
	}
	if n, _ := recs[0].Values[0].(int64); n != int64(len(fs)) {
		if err := t.missing(ctx, "Project", "project", "project", projects); err != nil {
			return err
		}
		return notFound("project", "project", "of a feature")
	}
	return nil
}

// InsertWPs stores new work packages with their leases, as InsertWP does,
// each with its fencing counter at fences[i] or its lease's token,
// whichever is higher (as InsertWP then RaiseFence leave it).
func (t *Tx) InsertWPs(ctx context.Context, ws []*agileplus.WP, fences []int64) error {
	t.graphWrite = true
	if len(fences) != len(ws) {
		return fmt.Errorf("neo4jstore: insert wps: %d fencing counters for %d work packages", len(fences), len(ws))
	}
	if len(ws) == 0 {
		return nil
	}
	rows := make([]any, len(ws))
	var leases []any
	features := make([]string, len(ws))
	projects := make([]string, len(ws))
	for i, w := range ws {
		num, err := strconv.ParseInt(w.Key[strings.LastIndexByte(w.Key, '-')+1:], 10, 64)
		if err != nil {
			return agileplus.FieldErrorf("key", "key %q is not a work package key such as CORE-12", w.Key)
		}
		var fence int64
		if l := w.Lease; l != nil {
			fence = l.Token
			leases = append(leases, map[string]any{"wp": w.ID, "agent": l.Agent, "token": l.Token,
				"claimed": fmtTime(l.ClaimedAt), "expires": fmtTime(l.ExpiresAt)})
		}
		if fences[i] > 0 && fences[i] > fence {
			fence = fences[i]
		}
		features[i], projects[i] = w.FeatureID, w.ProjectID
		rows[i] = map[string]any{"project": w.ProjectID, "feature": w.FeatureID, "id": w.ID, "key": w.Key, "num": num,
			"title": w.Title, "description": w.Description, "state": w.State, "estimate": w.Estimate, "version": w.Version,
			"fence": fence, "created": fmtTime(w.CreatedAt), "updated": fmtTime(w.UpdatedAt),
			"priority": rank(w.Priority), "labels": labelList(w.Labels), "owner": w.Owner, "archived": fmtOptTime(w.ArchivedAt)}
		searchParams(rows[i].(map[string]any), w.Key, w.Title, w.Description)
	}
	recs, err := t.run(ctx, "insert wps", `UNWIND $rows AS r
		MATCH (p:Project {id: r.project}), (f:Feature {id: r.feature})
		CREATE (f)-[:DEFINES]->(w:WorkPackage {id: r.id, key: r.key, num: r.num, project_id: p.id, project_key: p.key, feature_id: f.id,
			title: r.title, description: r.description, state: r.state, estimate: r.estimate, version: r.version,
			priority: r.priority, labels: r.labels, owner: r.owner, search_text: r.search_text, search_title: r.search_title, fence: r.fence, open_deps: 0, created_at: r.created, updated_at: r.updated,
			archived_at: r.archived})-[:IN_PROJECT]->(p)
		RETURN count(w)`, map[string]any{"rows": rows})
	if err != nil {
		return conflict(err, t, "key", fmt.Sprintf("a work package id or key of %d new work packages already exists", len(ws)))
	}
	if n, _ := recs[0].Values[0].(int64); n != int64(len(ws)) {
		if err := t.missing(ctx, "Feature", "feature", "feature", features); err != nil {
			return err
		}
		if err := t.missing(ctx, "Project", "project", "project", projects); err != nil {
			return err
		}
		return notFound("feature", "feature", "of a work package")
	}
	if len(leases) == 0 {
		return nil
	}
	// MERGE sees the agents the rows before created, as in one
	// InsertWP after another.
	_, err = t.run(ctx, "insert wp leases", `UNWIND $leases AS l
		MATCH (w:WorkPackage {id: l.wp})
		MERGE (a:Agent {name: l.agent})
		CREATE (w)-[:CLAIMED_BY {token: l.token, claimed_at: l.claimed, expires_at: l.expires}]->(a)`,
		map[string]any{"leases": leases})
	return err
}

// InsertDependencies stores new edges, as InsertDependency does: an edge
// that exists already, or twice in ds, is ECONFLICT (field "to").
func (t *Tx) InsertDependencies(ctx context.Context, ds []*agileplus.Dependency) error {
	t.graphWrite = true
	if len(ds) == 0 {
		return nil
	}
	// One statement per label and relationship type, which Cypher cannot
	// take as parameters; groups keep ds's order and go in the order they
	// first appear.
	type group struct {
		label, typ string
		rows       []any
		ends       []string
	}
	var groups []*group
	byKey := map[string]*group{}
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		typ, err := relType(d.Kind)
		if err != nil {
			return err
		}
		label := "WorkPackage"
		if d.EntityKind == agileplus.KindFeature {
			label = "Feature"
		}
		k := label + "\x00" + typ + "\x00" + d.From + "\x00" + d.To
		if seen[k] {
			return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "to", Message: fmt.Sprintf("%s already %s %s", d.FromKey, d.Kind, d.ToKey)}
		}
		seen[k] = true
		g := byKey[label+" "+typ]
		if g == nil {
			g = &group{label: label, typ: typ}
			byKey[label+" "+typ] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, map[string]any{"from": d.From, "to": d.To, "id": d.ID, "entityKind": d.EntityKind,
			"version": d.Version, "created": fmtTime(d.CreatedAt), "fromKey": d.FromKey, "toKey": d.ToKey})
		g.ends = append(g.ends, d.From, d.To)
	}
	for _, g := range groups {
		recs, err := t.run(ctx, "insert dependencies", `UNWIND $rows AS r
			MATCH (f:`+g.label+` {id: r.from}), (t:`+g.label+` {id: r.to})
			WITH r, f, t, EXISTS { (f)-[:`+g.typ+`]->(t) } AS existing
			FOREACH (_ IN CASE WHEN existing THEN [] ELSE [1] END |
				CREATE (f)-[:`+g.typ+` {id: r.id, entity_kind: r.entityKind, version: r.version, created_at: r.created}]->(t)`+countOpen(g.label, g.typ)+`)
			WITH r, existing
			RETURN count(r), collect(CASE WHEN existing THEN r END)[0]`,
			map[string]any{"rows": g.rows})
		if err != nil {
			return conflict(err, t, "id", fmt.Sprintf("a dependency id of %d new dependencies already exists", len(ds)))
		}
		if dup, ok := recs[0].Values[1].(map[string]any); ok {
			r := row{m: dup}
			kind := agileplus.DependsOn
			if g.typ == "RELATES_TO" {
				kind = agileplus.RelatesTo
			}
			return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "to", Message: fmt.Sprintf("%s already %s %s", r.str("fromKey"), kind, r.str("toKey"))}
		}
		if n, _ := recs[0].Values[0].(int64); n != int64(len(g.rows)) {
			what := agileplus.KindWP
			if g.label == "Feature" {
				what = agileplus.KindFeature
			}
			if err := t.missing(ctx, g.label, "from", what, g.ends); err != nil {
				return err
			}
			return notFound("from", what, "of a dependency")
		}
	}
	return nil
}

// PutReferences inserts references or updates the state of those with
// the same id, as PutReference does.
func (t *Tx) PutReferences(ctx context.Context, rs []*agileplus.Reference) error {
	if len(rs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if r.Kind != agileplus.RefCommit && r.Kind != agileplus.RefPullRequest {
			return agileplus.FieldErrorf("kind", "unknown reference kind %q: commit or pull_request", r.Kind)
		}
		if seen[r.ID] {
			// The later one updates the earlier one: one at a time.
			for _, r := range rs {
				if err := t.PutReference(ctx, r); err != nil {
					return err
				}
			}
			return nil
		}
		seen[r.ID] = true
	}
	rows := make([]any, len(rs))
	for i, r := range rs {
		rows[i] = map[string]any{"id": r.ID, "wp": r.WPID, "repo": r.Repo, "sha": r.SHA, "url": r.URL, "state": r.State,
			"created": fmtTime(r.CreatedAt), "updated": fmtTime(r.UpdatedAt)}
	}
	recs, err := t.run(ctx, "put references", `UNWIND $rows AS r
		MATCH ()-[x:REFERENCES {id: r.id}]->()
		SET x.state = r.state, x.updated_at = r.updated RETURN r.id`, map[string]any{"rows": rows})
	if err != nil {
		return err
	}
	existing := make(map[string]bool, len(recs))
	for _, rec := range recs {
		id, _ := rec.Values[0].(string)
		existing[id] = true
	}
	var commits, prs []any
	var wps []string
	for i, r := range rs {
		if existing[r.ID] {
			continue
		}
		wps = append(wps, r.WPID)
		if r.Kind == agileplus.RefCommit {
			commits = append(commits, rows[i])
		} else {
			prs = append(prs, rows[i])
		}
	}
	for _, g := range []struct {
		rows   []any
		target string
	}{
		{commits, `MERGE (c:CodeCommit {repo: r.repo, sha: r.sha})`},
		{prs, `MERGE (c:PullRequest {url: r.url}) ON CREATE SET c.repo = r.repo`},
	} {
		if len(g.rows) == 0 {
			continue
		}
		recs, err := t.run(ctx, "put references", `UNWIND $rows AS r
			MATCH (w:WorkPackage {id: r.wp}) `+g.target+`
			CREATE (w)-[x:REFERENCES {id: r.id, repo: r.repo, state: r.state, created_at: r.created, updated_at: r.updated}]->(c)
			RETURN count(x)`, map[string]any{"rows": g.rows})
		if err != nil {
			return conflict(err, t, "id", fmt.Sprintf("a reference id of %d new references already exists", len(rs)))
		}
		if n, _ := recs[0].Values[0].(int64); n != int64(len(g.rows)) {
			if err := t.missing(ctx, "WorkPackage", "wp", "work package", wps); err != nil {
				return err
			}
			return notFound("wp", "work package", "of a reference")
		}
	}
	return nil
}

// AppendEvents stores the events in order and puts them in the outbox
// (label Pending), as AppendEvent does, in one statement with whatever was
// appended before. Their global sequences, consecutive unless another
// command's event must come between them for its chain, are set after the
// commit (sequence.go).
func (t *Tx) AppendEvents(ctx context.Context, es []*agileplus.Event) error {
	for _, e := range es {
		if err := t.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return t.flush(ctx)
}

// AppendAudits stores audit entries, as AppendAudit does, in one statement
// with whatever was appended before.
func (t *Tx) AppendAudits(ctx context.Context, as []*agileplus.AuditEntry) error {
	for _, a := range as {
		if err := t.AppendAudit(ctx, a); err != nil {
			return err
		}
	}
	return t.flush(ctx)
}

// FenceTokens returns the fencing counters of the WPs, in order, in one
// statement; it works in read transactions too.
func (t *Tx) FenceTokens(ctx context.Context, wpIDs []string) ([]int64, error) {
	if len(wpIDs) == 0 {
		return nil, nil
	}
	recs, err := t.run(ctx, "fence tokens", `UNWIND $ids AS id MATCH (w:WorkPackage {id: id}) RETURN w.id, w.fence`,
		map[string]any{"ids": wpIDs})
	if err != nil {
		return nil, err
	}
	got := make(map[string]int64, len(recs))
	for _, rec := range recs {
		id, _ := rec.Values[0].(string)
		got[id], _ = rec.Values[1].(int64)
	}
	out := make([]int64, len(wpIDs))
	for i, id := range wpIDs {
		f, ok := got[id]
		if !ok {
			return nil, notFound("wp", "work package", id)
		}
		out[i] = f
	}
	return out, nil
}

// missing returns ENOTFOUND (on field, for a what) naming the first of
// ids with no label node, or nil if each has one. It explains why a bulk
// insert matched fewer rows than it was given.
func (t *Tx) missing(ctx context.Context, label, field, what string, ids []string) error {
	recs, err := t.run(ctx, "find missing", `UNWIND range(0, size($ids) - 1) AS i
		WITH i, $ids[i] AS id WHERE NOT EXISTS { MATCH (n:`+label+` {id: id}) }
		RETURN id ORDER BY i LIMIT 1`, map[string]any{"ids": ids})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	id, _ := recs[0].Values[0].(string)
	return notFound(field, what, id)
}
