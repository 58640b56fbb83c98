package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Tx implements agileplus.Tx over one explicit Neo4j transaction.
type Tx struct {
	ntx   neo4j.ExplicitTransaction
	s     *Store
	write bool  // an Update: reads of what it may change lock it
	done  bool  // fn returned: the transaction must not be used
	err   error // the first failed statement; Neo4j has then rolled back

	// Write transactions: the heads of the chains this transaction
	// appended to or read, the appends not yet flushed, the events to give
	// a global sequence once committed (sequence.go) with the stamp that
	// orders them, the entities it locked, whether the dependency graph
	// changed, and the WP numbers taken from the allocator (keys.go).
	events, audits               map[string]chainHead
	pendingEvents, pendingAudits []any
	appended                     []*agileplus.Event
	stamp                        int64 // the highest stamp of a chain head read or of a flush
	locked                       map[string]bool
	graphWrite                   bool
	numbers                      []takenNumber
}

var _ agileplus.Tx = (*Tx)(nil)

// lockThen locks node v in a write transaction before anything of it is
// read, and passes it on. A write lock is held until the commit, and what
// is read after taking it is the latest committed state: Neo4j's
// documented way to avoid lost updates under read committed. A read
// transaction only passes v on.
func (t *Tx) lockThen(v string) string {
	if !t.write {
		return " WITH " + v
	}
	return " SET " + v + "._lock = true REMOVE " + v + "._lock WITH " + v
}

// lockGuard is lockThen for a write guarded by a version: the version is
// compared under the lock, so two writers of one version never both pass.
func lockGuard(v string) string {
	return " SET " + v + "._lock = true REMOVE " + v + "._lock WITH " + v + " WHERE " + v + ".version = $prev"
}

// run runs one statement and reads all of its records, so that its errors
// surface here.
func (t *Tx) run(ctx context.Context, op, q string, params map[string]any) ([]*neo4j.Record, error) {
	if t.done {
		return nil, fmt.Errorf("neo4jstore: %s: %w", op, errClosed)
	}
	if t.err != nil {
		return nil, t.s.unavailable(op, fmt.Errorf("the transaction failed earlier: %w", t.err))
	}
	res, err := t.ntx.Run(ctx, q, params)
	var recs []*neo4j.Record
	if err == nil {
		recs, err = res.Collect(ctx)
	}
	if err != nil {
		t.err = err
		return nil, t.s.unavailable(op, err)
	}
	return recs, nil
}

// runMaps runs a statement that returns one map per record.
func (t *Tx) runMaps(ctx context.Context, op, q string, params map[string]any) ([]row, error) {
	recs, err := t.run(ctx, op, q, params)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(recs))
	for i, r := range recs {
		m, ok := r.Values[0].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("neo4jstore: %s: got %T, want a map", op, r.Values[0])
		}
		out[i] = row{m: m}
	}
	return out, nil
}

// ---- decoding ----

// row decodes the properties of one result; the first problem sticks.
type row struct {
	m   map[string]any
	err error
}

func (r *row) fail(key string, v any, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("stored %s is %T, not %s", key, v, want)
	}
}

func (r *row) str(key string) string {
	switch v := r.m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		r.fail(key, v, "a string")
		return ""
	}
}

func (r *row) i64(key string) int64 {
	switch v := r.m[key].(type) {
	case nil:
		return 0
	case int64:
		return v
	default:
		r.fail(key, v, "an integer")
		return 0
	}
}

func (r *row) f64(key string) float64 {
	switch v := r.m[key].(type) {
	case nil:
		return 0
	case float64:
		return v
	case int64:
		return float64(v)
	default:
		r.fail(key, v, "a number")
		return 0
	}
}

func (r *row) boolean(key string) bool {
	switch v := r.m[key].(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		r.fail(key, v, "a boolean")
		return false
	}
}

// priority reads a stored priority rank; a node from before priorities
// has none and is the default.
func (r *row) priority(key string) string {
	if r.m[key] == nil {
		return agileplus.DefaultPriority
	}
	return agileplus.PriorityOfRank(int(r.i64(key)))
}

// strs reads a list of strings; a missing one is nil.
func (r *row) strs(key string) []string {
	v, _ := r.m[key].([]any)
	if r.m[key] != nil && v == nil {
		r.fail(key, r.m[key], "a list")
		return nil
	}
	var out []string
	for _, x := range v {
		s, ok := x.(string)
		if !ok {
			r.fail(key, x, "a string")
			return nil
		}
		out = append(out, s)
	}
	return out
}

// time parses a stored time; a missing one is the zero time.
func (r *row) time(key string) time.Time {
	s := r.str(key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("stored %s %q: %w", key, s, err)
	}
	return t
}

// optTime parses a stored time that may be missing (nil).
func (r *row) optTime(key string) *time.Time {
	if r.m[key] == nil {
		return nil
	}
	t := r.time(key)
	return &t
}

// fmtOptTime is the stored form of a time that may be missing: a missing
// property.
func fmtOptTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// andArchived is the condition a list's archived option puts on node n.
func andArchived(a, n string) string {
	switch a {
	case agileplus.ArchivedExclude:
		return " AND " + n + ".archived_at IS NULL"
	case agileplus.ArchivedOnly:
		return " AND " + n + ".archived_at IS NOT NULL"
	}
	return ""
}

// sub is the nested map under key, or nil.
func (r *row) sub(key string) *row {
	switch v := r.m[key].(type) {
	case nil:
		return nil
	case map[string]any:
		return &row{m: v}
	default:
		r.fail(key, v, "a map")
		return nil
	}
}

func (r *row) check(op string) error {
	if r.err != nil {
		return fmt.Errorf("neo4jstore: %s: %w", op, r.err)
	}
	return nil
}

// decodeAll decodes every row with dec.
func decodeAll[T any](op string, rows []row, dec func(*row) T) ([]T, error) {
	out := make([]T, 0, len(rows))
	for i := range rows {
		v := dec(&rows[i])
		if err := rows[i].check(op); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeOne decodes the only row, or returns notFound for none.
func decodeOne[T any](op string, rows []row, dec func(*row) T, notFound error) (T, error) {
	var zero T
	if len(rows) == 0 {
		return zero, notFound
	}
	v := dec(&rows[0])
	if err := rows[0].check(op); err != nil {
		return zero, err
	}
	return v, nil
}

// ---- errors ----

func notFound(field, what, ref string) error {
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s %s not found", what, agileplus.QuoteRef(ref))}
}

func versionConflict(what, key string) error {
	return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "version", Message: fmt.Sprintf("%s %s was changed concurrently: reload it and retry", what, key)}
}

// conflict maps a uniqueness violation of a failed insert to ECONFLICT on
// field; any other error is returned as it is.
func conflict(err error, t *Tx, field, msg string) error {
	if err != nil && isConstraint(t.err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: field, Message: msg}
	}
	return err
}

// limit is a page size for Cypher: negative means no limit, as in SQLite.
func limit(n int) int64 {
	if n < 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// ---- projects ----

func decodeProject(r *row) *agileplus.Project {
	return &agileplus.Project{ID: r.str("id"), Key: r.str("key"), Name: r.str("name"), Version: r.i64("version"),
		CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at"), ArchivedAt: r.optTime("archived_at")}
}

// Project returns a project by id or key.
func (t *Tx) Project(ctx context.Context, ref string) (*agileplus.Project, error) {
	prop := "key"
	if strings.HasPrefix(ref, agileplus.PrefixProject) {
		prop = "id"
	}
	rows, err := t.runMaps(ctx, "project", `MATCH (p:Project {`+prop+`: $ref}) RETURN p {.*}`, map[string]any{"ref": ref})
	if err != nil {
		return nil, err
	}
	return decodeOne("project", rows, decodeProject, notFound("project", "project", ref))
}

// Projects lists projects by id.
func (t *Tx) Projects(ctx context.Context, pg agileplus.Page) ([]*agileplus.Project, error) {
	rows, err := t.runMaps(ctx, "projects", `MATCH (p:Project) WHERE p.id > $after`+andArchived(pg.Archived, "p")+` WITH p ORDER BY p.id LIMIT $limit RETURN p {.*}`,
		map[string]any{"after": pg.After, "limit": limit(pg.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("projects", rows, decodeProject)
}

// InsertProject stores a new project.
func (t *Tx) InsertProject(ctx context.Context, p *agileplus.Project) error {
	_, err := t.run(ctx, "insert project", `CREATE (:Project {id: $id, key: $key, name: $name, version: $version, next_wp: 1,
		created_at: $created, updated_at: $updated, archived_at: $archived})`,
		map[string]any{"id": p.ID, "key": p.Key, "name": p.Name, "version": p.Version, "created": fmtTime(p.CreatedAt), "updated": fmtTime(p.UpdatedAt),
			"archived": fmtOptTime(p.ArchivedAt)})
	return conflict(err, t, "key", fmt.Sprintf("project key %q already exists", p.Key))
}

// UpdateProject writes a project guarded by its previous version.
func (t *Tx) UpdateProject(ctx context.Context, p *agileplus.Project) error {
	recs, err := t.run(ctx, "update project", `MATCH (p:Project {id: $id})`+lockGuard("p")+`
		SET p.name = $name, p.version = $version, p.updated_at = $updated, p.archived_at = $archived RETURN p.id`,
		map[string]any{"id": p.ID, "prev": p.Version - 1, "name": p.Name, "version": p.Version, "updated": fmtTime(p.UpdatedAt),
			"archived": fmtOptTime(p.ArchivedAt)})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("project", p.Key)
	}
	return nil
}

// NextWPNumber allocates the project's next WP number (keys.go); a
// project created by this transaction, which the allocator cannot see yet,
// takes its number here.
func (t *Tx) NextWPNumber(ctx context.Context, projectID string) (int64, error) {
	if t.done {
		return 0, errClosed
	}
	n, err := t.s.nextNumber(ctx, projectID)
	if err == nil {
		t.numbers = append(t.numbers, takenNumber{project: projectID, num: n, shared: true})
		return n, nil
	}
	if err != errNoProject {
		return 0, err
	}
	recs, err := t.run(ctx, "next wp number", `MATCH (p:Project {id: $id}) SET p.next_wp = p.next_wp + 1 RETURN p.next_wp - 1`,
		map[string]any{"id": projectID})
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, notFound("project", "project", projectID)
	}
	n, _ = recs[0].Values[0].(int64)
	return n, nil
}

// ReserveWPNumber raises the project's WP counter above num.
func (t *Tx) ReserveWPNumber(ctx context.Context, projectID string, num int64) error {
	_, err := t.run(ctx, "reserve wp number", `MATCH (p:Project {id: $id})
		SET p.next_wp = CASE WHEN p.next_wp <= $num THEN $num + 1 ELSE p.next_wp END
		WITH p OPTIONAL MATCH (k:WPCounter {project_id: p.id})
		FOREACH (_ IN CASE WHEN k IS NOT NULL AND k.next <= $num THEN [1] ELSE [] END | SET k.next = $num + 1)`,
		map[string]any{"id": projectID, "num": num})
	if err == nil {
		t.s.dropNumbers(projectID, num)
	}
	return err
}

// ---- features ----

func decodeFeature(r *row) *agileplus.Feature {
	return &agileplus.Feature{ID: r.str("id"), ProjectID: r.str("project_id"), ProjectKey: r.str("project_key"), Slug: r.str("slug"),
		Title: r.str("title"), Description: r.str("description"), State: r.str("state"), Version: r.i64("version"),
		Priority: r.priority("priority"), Labels: r.strs("labels"), CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at"),
		ArchivedAt: r.optTime("archived_at")}
}

// Feature returns a feature by id or slug.
func (t *Tx) Feature(ctx context.Context, ref string) (*agileplus.Feature, error) {
	prop := "slug"
	if strings.HasPrefix(ref, agileplus.PrefixFeature) {
		prop = "id"
	}
	rows, err := t.runMaps(ctx, "feature", `MATCH (f:Feature {`+prop+`: $ref})`+t.lockThen("f")+` RETURN f {.*`+hideSearch+`}`, map[string]any{"ref": ref})
	if err != nil {
		return nil, err
	}
	f, err := decodeOne("feature", rows, decodeFeature, notFound("feature", "feature", ref))
	if err == nil {
		t.markLocked(f.ID)
	}
	return f, err
}

// Features lists a project's features by id.
func (t *Tx) Features(ctx context.Context, projectID string, pg agileplus.Page) ([]*agileplus.Feature, error) {
	rows, err := t.runMaps(ctx, "features", `MATCH (f:Feature) WHERE f.project_id = $project AND f.id > $after`+andArchived(pg.Archived, "f")+`
		WITH f ORDER BY f.id LIMIT $limit RETURN f {.*`+hideSearch+`}`,
		map[string]any{"project": projectID, "after": pg.After, "limit": limit(pg.Limit)})
	if err != nil {
		return nil, err
	}
	return decodeAll("features", rows, decodeFeature)
}

// InsertFeature stores a new feature in its project.
func (t *Tx) InsertFeature(ctx context.Context, f *agileplus.Feature) error {
	recs, err := t.run(ctx, "insert feature", `MATCH (p:Project {id: $project})
		CREATE (f:Feature {id: $id, project_id: p.id, project_key: p.key, slug: $slug, title: $title, description: $description,
			state: $state, priority: $priority, labels: $labels, version: $version, created_at: $created, updated_at: $updated,
			archived_at: $archived, search_text: $search_text, search_title: $search_title})-[:IN_PROJECT]->(p)
		RETURN f.id`,
		searchParams(map[string]any{"project": f.ProjectID, "id": f.ID, "slug": f.Slug, "title": f.Title, "description": f.Description,
			"state": f.State, "priority": rank(f.Priority), "labels": labelList(f.Labels), "version": f.Version, "created": fmtTime(f.CreatedAt), "updated": fmtTime(f.UpdatedAt),
			"archived": fmtOptTime(f.ArchivedAt)},
			f.Slug, f.Title, f.Description))
	if err != nil {
		return conflict(err, t, "slug", fmt.Sprintf("feature slug %q already exists", f.Slug))
	}
	if len(recs) == 0 {
		return notFound("project", "project", f.ProjectID)
	}
	return nil
}

// UpdateFeature writes a feature guarded by its previous version.
func (t *Tx) UpdateFeature(ctx context.Context, f *agileplus.Feature) error {
	recs, err := t.run(ctx, "update feature", `MATCH (f:Feature {id: $id})`+lockGuard("f")+`
		SET f.title = $title, f.description = $description, f.state = $state, f.version = $version, f.updated_at = $updated,
			f.priority = $priority, f.labels = $labels, f.archived_at = $archived, f.search_text = $search_text, f.search_title = $search_title
		RETURN f.id`,
		searchParams(map[string]any{"id": f.ID, "prev": f.Version - 1, "title": f.Title, "description": f.Description, "state": f.State,
			"version": f.Version, "updated": fmtTime(f.UpdatedAt), "priority": rank(f.Priority), "labels": labelList(f.Labels),
			"archived": fmtOptTime(f.ArchivedAt)},
			f.Slug, f.Title, f.Description))
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("feature", f.Slug)
	}
	return nil
}

// ---- work packages ----

// wpReturn returns a WP with its lease, if any, as one map.
const wpReturn = ` RETURN w {.*` + hideSearch + `, lease: [(w)-[l:CLAIMED_BY]->(a:Agent) | l {.token, .claimed_at, .expires_at, agent: a.name}][0]}`

func decodeWP(r *row) *agileplus.WP {
	w := &agileplus.WP{ID: r.str("id"), Key: r.str("key"), ProjectID: r.str("project_id"), ProjectKey: r.str("project_key"),
		FeatureID: r.str("feature_id"), Title: r.str("title"), Description: r.str("description"), State: r.str("state"),
		Estimate: r.f64("estimate"), Version: r.i64("version"), CreatedAt: r.time("created_at"), UpdatedAt: r.time("updated_at"),
		Priority: r.priority("priority"), Labels: r.strs("labels"), Owner: r.str("owner"), ArchivedAt: r.optTime("archived_at")}
	if l := r.sub("lease"); l != nil {
		w.Lease = &agileplus.Lease{WPID: w.ID, Agent: l.str("agent"), Token: l.i64("token"), ClaimedAt: l.time("claimed_at"), ExpiresAt: l.time("expires_at")}
		if l.err != nil && r.err == nil {
			r.err = l.err
		}
	}
	return w
}

// WP returns a work package by id or key, with its lease if any.
func (t *Tx) WP(ctx context.Context, ref string) (*agileplus.WP, error) {
	prop := "key"
	if strings.HasPrefix(ref, agileplus.PrefixWP) {
		prop = "id"
	}
	rows, err := t.runMaps(ctx, "wp", `MATCH (w:WorkPackage {`+prop+`: $ref})`+t.lockThen("w")+wpReturn, map[string]any{"ref": ref})
	if err != nil {
		return nil, err
	}
	w, err := decodeOne("wp", rows, decodeWP, notFound("wp", "work package", ref))
	if err == nil {
		t.markLocked(w.ID)
	}
	return w, err
}

// WPs lists work packages by id.
func (t *Tx) WPs(ctx context.Context, f agileplus.WPFilter) ([]*agileplus.WP, error) {
	where := []string{"w.id > $after"}
	params := map[string]any{"after": f.After, "limit": limit(f.Limit)}
	order := "w.id"
	if f.ByPriority {
		// Nodes stored before priorities had none: the migration gave
		// them one, coalesce covers a node written by an older version.
		where[0], params["rank"] = "(coalesce(w.priority, 2) > $rank OR (coalesce(w.priority, 2) = $rank AND w.id > $after))", f.AfterRank
		order = "coalesce(w.priority, 2), w.id"
	}
	if len(f.Priorities) > 0 {
		ranks := make([]int, len(f.Priorities))
		for i, p := range f.Priorities {
			ranks[i] = rank(p)
		}
		where, params["priorities"] = append(where, "coalesce(w.priority, 2) IN $priorities"), ranks
	}
	if len(f.Labels) > 0 {
		q := "all"
		if f.AnyLabel {
			q = "any"
		}
		where, params["labels"] = append(where, q+"(l IN $labels WHERE l IN coalesce(w.labels, []))"), f.Labels
	}
	if f.Owner != "" {
		where, params["owner"] = append(where, "w.owner = $owner"), f.Owner
	}
	if f.ProjectID != "" {
		where, params["project"] = append(where, "w.project_id = $project"), f.ProjectID
	}
	if f.FeatureID != "" {
		where, params["feature"] = append(where, "w.feature_id = $feature"), f.FeatureID
	}
	if f.State != "" {
		where, params["state"] = append(where, "w.state = $state"), f.State
	}
	if a := andArchived(f.Archived, "w"); a != "" {
		where = append(where, strings.TrimPrefix(a, " AND "))
	}
	rows, err := t.runMaps(ctx, "wps", `MATCH (w:WorkPackage) WHERE `+strings.Join(where, " AND ")+
		` WITH w ORDER BY `+order+` LIMIT $limit`+wpReturn+` ORDER BY `+order, params)
	if err != nil {
		return nil, err
	}
	return decodeAll("wps", rows, decodeWP)
}

// leaseParams are the parameters of a lease; all nil for none.
func leaseParams(params map[string]any, l *agileplus.Lease) {
	params["agent"], params["token"], params["claimed"], params["expires"] = nil, nil, nil, nil
	if l != nil {
		params["agent"], params["token"], params["claimed"], params["expires"] = l.Agent, l.Token, fmtTime(l.ClaimedAt), fmtTime(l.ExpiresAt)
	}
}

// setLease replaces w's CLAIMED_BY relationship with the lease in the
// parameters, leaving it alone when it is the same.
const setLease = `
	OPTIONAL MATCH (w)-[old:CLAIMED_BY]->(oa:Agent)
	WITH w, old, (old IS NULL AND $agent IS NULL) OR (old IS NOT NULL AND oa.name = $agent AND old.token = $token
		AND old.claimed_at = $claimed AND old.expires_at = $expires) AS same
	FOREACH (_ IN CASE WHEN same OR old IS NULL THEN [] ELSE [1] END | DELETE old)
	FOREACH (_ IN CASE WHEN same OR $agent IS NULL THEN [] ELSE [1] END |
		MERGE (a:Agent {name: $agent})
		CREATE (w)-[:CLAIMED_BY {token: $token, claimed_at: $claimed, expires_at: $expires}]->(a))
	RETURN DISTINCT w.id`

// InsertWP stores a new work package in its feature and project.
func (t *Tx) InsertWP(ctx context.Context, w *agileplus.WP) error {
	num, err := strconv.ParseInt(w.Key[strings.LastIndexByte(w.Key, '-')+1:], 10, 64)
	if err != nil {
		return agileplus.FieldErrorf("key", "key %q is not a work package key such as CORE-12", w.Key)
	}
	params := map[string]any{"project": w.ProjectID, "feature": w.FeatureID, "id": w.ID, "key": w.Key, "num": num,
		"title": w.Title, "description": w.Description, "state": w.State, "estimate": w.Estimate, "version": w.Version,
		"created": fmtTime(w.CreatedAt), "updated": fmtTime(w.UpdatedAt),
		"priority": rank(w.Priority), "labels": labelList(w.Labels), "owner": w.Owner, "archived": fmtOptTime(w.ArchivedAt)}
	searchParams(params, w.Key, w.Title, w.Description)
	leaseParams(params, w.Lease)
	recs, err := t.run(ctx, "insert wp", `MATCH (p:Project {id: $project}), (f:Feature {id: $feature})
		CREATE (f)-[:DEFINES]->(w:WorkPackage {id: $id, key: $key, num: $num, project_id: p.id, project_key: p.key, feature_id: f.id,
			title: $title, description: $description, state: $state, estimate: $estimate, version: $version,
			priority: $priority, labels: $labels, owner: $owner, archived_at: $archived, search_text: $search_text, search_title: $search_title,
			fence: coalesce($token, 0), open_deps: 0, created_at: $created, updated_at: $updated})-[:IN_PROJECT]->(p)
		WITH w`+setLease, params)
	if err != nil {
		if isConstraint(t.err) && t.takenShared(w.ProjectID, num) {
			return errKeyTaken
		}
		return conflict(err, t, "key", fmt.Sprintf("work package %s already exists", w.Key))
	}
	t.graphWrite = true
	if len(recs) == 0 {
		return notFound("feature", "feature", w.FeatureID)
	}
	return nil
}

// UpdateWP writes a work package and its lease, guarded by its previous
// version; the fencing counter only rises.
func (t *Tx) UpdateWP(ctx context.Context, w *agileplus.WP) error {
	t.graphWrite = true
	params := map[string]any{"id": w.ID, "prev": w.Version - 1, "title": w.Title, "description": w.Description,
		"state": w.State, "estimate": w.Estimate, "version": w.Version, "updated": fmtTime(w.UpdatedAt),
		"priority": rank(w.Priority), "labels": labelList(w.Labels), "owner": w.Owner, "archived": fmtOptTime(w.ArchivedAt)}
	searchParams(params, w.Key, w.Title, w.Description)
	leaseParams(params, w.Lease)
	recs, err := t.run(ctx, "update wp", `MATCH (w:WorkPackage {id: $id})`+lockGuard("w")+`
		WITH w, w.state = 'done' AS wasDone
		SET w.title = $title, w.description = $description, w.state = $state, w.estimate = $estimate, w.version = $version,
			w.updated_at = $updated, w.fence = CASE WHEN coalesce($token, 0) > w.fence THEN $token ELSE w.fence END,
			w.priority = $priority, w.labels = $labels, w.owner = $owner, w.archived_at = $archived, w.search_text = $search_text, w.search_title = $search_title
		WITH w, wasDone
		CALL (w, wasDone) {
			WITH w, wasDone WHERE wasDone <> ($state = 'done')
			MATCH (x:WorkPackage)-[:DEPENDS_ON]->(w)
			SET x.open_deps = coalesce(x.open_deps, 0) + CASE WHEN wasDone THEN 1 ELSE -1 END
		}
		WITH w`+setLease, params)
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return versionConflict("work package", w.Key)
	}
	return nil
}

// FenceToken returns the highest fencing token issued for the WP.
func (t *Tx) FenceToken(ctx context.Context, wpID string) (int64, error) {
	recs, err := t.run(ctx, "fence token", `MATCH (w:WorkPackage {id: $id}) RETURN w.fence`, map[string]any{"id": wpID})
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, notFound("wp", "work package", wpID)
	}
	n, _ := recs[0].Values[0].(int64)
	return n, nil
}

// RaiseFence raises the WP's fencing counter to token.
func (t *Tx) RaiseFence(ctx context.Context, wpID string, token int64) error {
	recs, err := t.run(ctx, "raise fence", `MATCH (w:WorkPackage {id: $id})
		SET w.fence = CASE WHEN $token > w.fence THEN $token ELSE w.fence END RETURN w.id`,
		map[string]any{"id": wpID, "token": token})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return notFound("wp", "work package", wpID)
	}
	return nil
}

// Ready returns the planned WPs of a project whose depends_on targets are
// all done and that hold no live lease, by key number or by priority.
func (t *Tx) Ready(ctx context.Context, f agileplus.ReadyFilter) ([]*agileplus.WP, error) {
	params := map[string]any{"project": f.ProjectID, "after": f.AfterNum, "rank": f.AfterRank, "now": fmtTime(f.Now), "limit": limit(f.Limit)}
	index, order := "w:WorkPackage(project_id, state, open_deps, num)", "w.num"
	cond := `w.project_id = $project AND w.state = 'planned' AND w.open_deps = 0 AND w.num > $after
			AND w.archived_at IS NULL AND NOT EXISTS { (w)-[l:CLAIMED_BY]->() WHERE l.expires_at > $now }`
	if f.ByPriority {
		index, order = "w:WorkPackage(project_id, state, open_deps, priority, num)", "w.priority, w.num"
		cond = `w.project_id = $project AND w.state = 'planned' AND w.open_deps = 0 AND w.priority >= $rank
			AND (w.priority > $rank OR w.num > $after)
			AND w.archived_at IS NULL AND NOT EXISTS { (w)-[l:CLAIMED_BY]->() WHERE l.expires_at > $now }`
	}
	q := `MATCH (w:WorkPackage) USING INDEX ` + index + ` WHERE ` + cond + `
		WITH w ORDER BY ` + order + ` LIMIT $limit` + wpReturn + ` ORDER BY ` + order
	if t.write {
		// A claim of the next ready WP (Service.Next): each candidate is
		// locked in order and checked again under its lock, so two
		// claimers never take the same one and the one that waited moves
		// on to the next.
		q = `MATCH (w:WorkPackage) USING INDEX ` + index + ` WHERE ` + cond + `
		WITH w ORDER BY ` + order + t.lockThen("w") + ` WHERE ` + cond + `
		WITH w LIMIT $limit` + wpReturn + ` ORDER BY ` + order
	}
	rows, err := t.runMaps(ctx, "ready", q, params)
	if err != nil {
		return nil, err
	}
	return decodeAll("ready", rows, decodeWP)
}

// ---- dependencies ----

// nodeLabel is the label of the WP or feature with the id.
func nodeLabel(id string) (string, bool) {
	switch {
	case strings.HasPrefix(id, agileplus.PrefixWP):
		return "WorkPackage", true
	case strings.HasPrefix(id, agileplus.PrefixFeature):
		return "Feature", true
	}
	return "", false
}

// relType is the relationship type of a dependency kind.
func relType(kind string) (string, error) {
	switch kind {
	case agileplus.DependsOn:
		return "DEPENDS_ON", nil
	case agileplus.RelatesTo:
		return "RELATES_TO", nil
	}
	return "", agileplus.FieldErrorf("kind", "a stored dependency is depends_on or relates_to, not %q", kind)
}

// depMap returns a dependency d from f to t with the keys and states of
// both ends.
const depMap = `d {.id, .entity_kind, .version, .created_at,
	kind: CASE type(d) WHEN 'DEPENDS_ON' THEN 'depends_on' ELSE 'relates_to' END,
	from: f.id, to: t.id, from_key: coalesce(f.key, f.slug), to_key: coalesce(t.key, t.slug),
	from_state: f.state, to_state: t.state, from_archived: f.archived_at IS NOT NULL, to_archived: t.archived_at IS NOT NULL}`

type depRow struct {
	d                        agileplus.Dependency
	fromState, toState       string
	fromArchived, toArchived bool
}

func decodeDep(r *row) *depRow {
	return &depRow{
		d: agileplus.Dependency{ID: r.str("id"), EntityKind: r.str("entity_kind"), Kind: r.str("kind"), From: r.str("from"), To: r.str("to"),
			FromKey: r.str("from_key"), ToKey: r.str("to_key"), Version: r.i64("version"), CreatedAt: r.time("created_at")},
		fromState: r.str("from_state"), toState: r.str("to_state"), fromArchived: r.boolean("from_archived"), toArchived: r.boolean("to_archived"),
	}
}

// Dependency returns a dependency by id.
func (t *Tx) Dependency(ctx context.Context, id string) (*agileplus.Dependency, error) {
	rows, err := t.runMaps(ctx, "dependency", `CALL {
			MATCH (f)-[d:DEPENDS_ON {id: $id}]->(t) RETURN `+depMap+` AS dep
			UNION ALL
			MATCH (f)-[d:RELATES_TO {id: $id}]->(t) RETURN `+depMap+` AS dep
		} RETURN dep`, map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	r, err := decodeOne("dependency", rows, decodeDep, notFound("id", "dependency", id))
	if err != nil {
		return nil, err
	}
	return &r.d, nil
}

// Edges returns the dependencies touching id, seen from it.
func (t *Tx) Edges(ctx context.Context, id string) ([]*agileplus.Edge, error) {
	label, ok := nodeLabel(id)
	if !ok {
		return nil, nil
	}
	rows, err := t.runMaps(ctx, "edges", `MATCH (n:`+label+` {id: $id})-[d:DEPENDS_ON|RELATES_TO]-()
		WITH d, startNode(d) AS f, endNode(d) AS t
		RETURN `+depMap+` AS dep ORDER BY dep.id`, map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	deps, err := decodeAll("edges", rows, decodeDep)
	if err != nil {
		return nil, err
	}
	out := make([]*agileplus.Edge, 0, len(deps))
	for _, r := range deps {
		atFrom := r.d.From == id
		e := &agileplus.Edge{Dependency: r.d, Direction: agileplus.EdgeDirection(r.d.Kind, atFrom)}
		if atFrom {
			e.Other, e.OtherKey, e.OtherState, e.OtherArchived = r.d.To, r.d.ToKey, r.toState, r.toArchived
		} else {
			e.Other, e.OtherKey, e.OtherState, e.OtherArchived = r.d.From, r.d.FromKey, r.fromState, r.fromArchived
		}
		out = append(out, e)
	}
	return out, nil
}

// DependsOnPath returns the keys along a shortest depends_on chain from ->
// to (two WPs or two features), or nil. Neo4j's breadth-first
// shortestPath, from both ends, finds it; among equally short chains it
// picks one.
func (t *Tx) DependsOnPath(ctx context.Context, from, to string) ([]string, error) {
	label, ok := nodeLabel(from)
	if toLabel, ok2 := nodeLabel(to); !ok || !ok2 || toLabel != label {
		return nil, nil
	}
	if from == to {
		return nil, agileplus.FieldErrorf("to", "from and to are the same: %s", from)
	}
	if t.write {
		if err := t.lockReach(ctx, label, from, to); err != nil {
			return nil, err
		}
	}
	recs, err := t.run(ctx, "depends_on path", `MATCH (a:`+label+` {id: $from}), (b:`+label+` {id: $to})
		MATCH p = shortestPath((a)-[:DEPENDS_ON*]->(b))
		RETURN [n IN nodes(p) | coalesce(n.key, n.slug)]`, map[string]any{"from": from, "to": to})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	list, _ := recs[0].Values[0].([]any)
	keys := make([]string, len(list))
	for i, k := range list {
		keys[i], _ = k.(string)
	}
	return keys, nil
}

// countOpen is the clause that keeps open_deps when a depends_on edge
// between two WPs is created from f to t: f waits on one more WP unless t
// is done. Other edges count nothing.
func countOpen(label, typ string) string {
	if label != "WorkPackage" || typ != "DEPENDS_ON" {
		return ""
	}
	return `
			SET f.open_deps = coalesce(f.open_deps, 0) + CASE WHEN t.state <> 'done' THEN 1 ELSE 0 END`
}

// InsertDependency stores a new edge between two WPs or two features.
func (t *Tx) InsertDependency(ctx context.Context, d *agileplus.Dependency) error {
	t.graphWrite = true
	typ, err := relType(d.Kind)
	if err != nil {
		return err
	}
	label := "WorkPackage"
	if d.EntityKind == agileplus.KindFeature {
		label = "Feature"
	}
	if err := t.lockNodes(ctx, label, d.From, d.To); err != nil {
		return err
	}
	recs, err := t.run(ctx, "insert dependency", `MATCH (f:`+label+` {id: $from}), (t:`+label+` {id: $to})
		OPTIONAL MATCH (f)-[x:`+typ+`]->(t)
		WITH f, t, count(x) AS existing
		FOREACH (_ IN CASE WHEN existing = 0 THEN [1] ELSE [] END |
			CREATE (f)-[:`+typ+` {id: $id, entity_kind: $entityKind, version: $version, created_at: $created}]->(t)`+countOpen(label, typ)+`)
		RETURN existing`,
		map[string]any{"from": d.From, "to": d.To, "id": d.ID, "entityKind": d.EntityKind, "version": d.Version, "created": fmtTime(d.CreatedAt)})
	if err != nil {
		return conflict(err, t, "id", fmt.Sprintf("dependency %s already exists", d.ID))
	}
	if len(recs) == 0 {
		return notFound("from", d.EntityKind, d.From+" or "+d.To)
	}
	if n, _ := recs[0].Values[0].(int64); n > 0 {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "to", Message: fmt.Sprintf("%s already %s %s", d.FromKey, d.Kind, d.ToKey)}
	}
	return nil
}

// DeleteDependency removes an edge.
func (t *Tx) DeleteDependency(ctx context.Context, id string) error {
	t.graphWrite = true
	recs, err := t.run(ctx, "delete dependency", `CALL {
			MATCH ()-[d:DEPENDS_ON {id: $id}]->() RETURN d
			UNION ALL
			MATCH ()-[d:RELATES_TO {id: $id}]->() RETURN d
		}
		WITH d, startNode(d) AS f, endNode(d) AS t
		SET f._lock = true, t._lock = true REMOVE f._lock, t._lock
		WITH d, f, t
		FOREACH (_ IN CASE WHEN type(d) = 'DEPENDS_ON' AND f:WorkPackage AND t.state <> 'done' THEN [1] ELSE [] END |
			SET f.open_deps = coalesce(f.open_deps, 0) - 1)
		DELETE d RETURN count(*)`, map[string]any{"id": id})
	if err != nil {
		return err
	}
	if n, _ := recs[0].Values[0].(int64); n == 0 {
		return notFound("id", "dependency", id)
	}
	return nil
}

// errClosed reports use of a transaction after its function returned.
var errClosed = errors.New("transaction used after it ended")
