package neo4jstore

import (
	"context"
	"fmt"

	"github.com/agileplus/agileplus"
)

// References. A reference is a REFERENCES relationship from its WP, holding
// the reference's id, state and times, to the commit or pull request it
// names: a (:CodeCommit {repo, sha}) or a (:PullRequest {url}), shared by
// every WP that references it. Each reference keeps the repo it was given
// (two WPs may name one pull request URL with different repos); the
// pull request node keeps the first one, which is also what references
// stored without their own repo read back.

// refMap returns a reference r from w to the commit or pull request c.
const refMap = `r {.id, .state, .created_at, .updated_at, wp_id: w.id,
	kind: CASE WHEN c:CodeCommit THEN 'commit' ELSE 'pull_request' END,
	repo: coalesce(r.repo, c.repo, ''), sha: coalesce(c.sha, ''), url: coalesce(c.url, '')}`

func decodeReference(r *row) *agileplus.Reference {
	return &agileplus.Reference{ID: r.str("id"), WPID: r.str("wp_id"), Kind: r.str("kind"), Repo: r.str("repo"), SHA: r.str("sha"),
		URL: r.str("url"), State: r.str("state"), CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at")}
}

// References returns a WP's references, oldest first.
func (t *Tx) References(ctx context.Context, wpID string) ([]*agileplus.Reference, error) {
	rows, err := t.runMaps(ctx, "references", `MATCH (w:WorkPackage {id: $id})-[r:REFERENCES]->(c)
		RETURN `+refMap+` AS ref ORDER BY ref.id`, map[string]any{"id": wpID})
	if err != nil {
		return nil, err
	}
	return decodeAll("references", rows, decodeReference)
}

// AllReferences pages through every reference by id.
func (t *Tx) AllReferences(ctx context.Context, p agileplus.Page) ([]*agileplus.Reference, error) {
	rows, err := t.runMaps(ctx, "references", `MATCH (w:WorkPackage)-[r:REFERENCES]->(c) WHERE r.id > $after
		WITH w, r, c ORDER BY r.id LIMIT $limit RETURN `+refMap+` AS ref`, map[string]any{"after": p.After, "limit": limit(p.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("references", rows, decodeReference)
}

// PutReference inserts a reference, or updates the state of the one with
// the same id.
func (t *Tx) PutReference(ctx context.Context, r *agileplus.Reference) error {
	var target string
	switch r.Kind {
	case agileplus.RefCommit:
		target = `MERGE (c:CodeCommit {repo: $repo, sha: $sha})`
	case agileplus.RefPullRequest:
		target = `MERGE (c:PullRequest {url: $url}) ON CREATE SET c.repo = $repo`
	default:
		return agileplus.FieldErrorf("kind", "unknown reference kind %q: commit or pull_request", r.Kind)
	}
	params := map[string]any{"id": r.ID, "wp": r.WPID, "repo": r.Repo, "sha": r.SHA, "url": r.URL, "state": r.State,
		"created": fmtTime(r.CreatedAt), "updated": fmtTime(r.UpdatedAt)}
	recs, err := t.run(ctx, "put reference", `MATCH ()-[r:REFERENCES {id: $id}]->()
		SET r.state = $state, r.updated_at = $updated RETURN r.id`, params)
	if err != nil || len(recs) > 0 {
		return err
	}
	recs, err = t.run(ctx, "put reference", `MATCH (w:WorkPackage {id: $wp}) `+target+`
		CREATE (w)-[r:REFERENCES {id: $id, repo: $repo, state: $state, created_at: $created, updated_at: $updated}]->(c)
		RETURN r.id`, params)
	if err != nil {
		return conflict(err, t, "id", fmt.Sprintf("reference %s already exists", r.ID))
	}
	if len(recs) == 0 {
		return notFound("wp", "work package", r.WPID)
	}
	return nil
}

// AllDependencies pages through every dependency by id.
func (t *Tx) AllDependencies(ctx context.Context, p agileplus.Page) ([]*agileplus.Dependency, error) {
	rows, err := t.runMaps(ctx, "dependencies", `CALL {
			MATCH (f)-[d:DEPENDS_ON]->(t) WHERE d.id > $after RETURN `+depMap+` AS dep ORDER BY d.id LIMIT $limit
			UNION ALL
			MATCH (f)-[d:RELATES_TO]->(t) WHERE d.id > $after RETURN `+depMap+` AS dep ORDER BY d.id LIMIT $limit
		} RETURN dep ORDER BY dep.id LIMIT $limit`, map[string]any{"after": p.After, "limit": limit(p.Limit)})
	if err != nil {
		return nil, err
	}
	deps, err := decodeAll("dependencies", rows, decodeDep)
	if err != nil {
		return nil, err
	}
	out := make([]*agileplus.Dependency, len(deps))
	for i, r := range deps {
		out[i] = &r.d
	}
	return out, nil
}
