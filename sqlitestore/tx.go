package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// Tx implements agileplus.Tx over one SQLite transaction.
type Tx struct {
	tx    *sql.Tx
	stmts *statements          // write transactions only
	heads *headCache           // write transactions only
	gops  []graphOp            // graph changes of the running command (writes only)
	s     *Store               // for the graph index
	local map[string]*sql.Stmt // statements bound to this write transaction
	read  bool                 // a View: statements come from Store.readStmt
}

var _ agileplus.Tx = (*Tx)(nil)

// stmt returns the prepared form of q bound to this transaction, or nil; a
// query seen for the first time is prepared after this transaction ends.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.read {
		if st := t.s.readStmt(q); st != nil {
			return t.tx.StmtContext(ctx, st)
		}
		return nil
	}
	if t.stmts == nil {
		return nil
	}
	// The statement bound to this transaction is kept for its other
	// commands: a batch runs the same few statements many times.
	if s := t.local[q]; s != nil {
		return s
	}
	var s *sql.Stmt
	if ready := t.stmts.ready[q]; ready != nil {
		s = t.tx.StmtContext(ctx, ready)
	} else {
		// Until it is prepared for good (after this transaction), prepare
		// it for this transaction: a long one (an import) then parses it
		// once.
		t.stmts.pending[q] = true
		var err error
		if s, err = t.tx.PrepareContext(ctx, q); err != nil {
			return nil
		}
	}
	if t.local == nil {
		t.local = map[string]*sql.Stmt{}
	}
	t.local[q] = s
	return s
}

// stmtCtx is the context statements run with. In a write transaction a
// canceled caller must not interrupt SQLite: that would roll back the whole
// shared transaction and every other command of the batch. The writer checks
// each caller's context before running its command instead.
func (t *Tx) stmtCtx(ctx context.Context) context.Context {
	if t.stmts != nil {
		return context.Background() // the driver needs no value from ctx
	}
	return ctx
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.stmtCtx(ctx)
	if s := t.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.stmtCtx(ctx)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.stmtCtx(ctx)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func notFound(field, what, ref string) error {
	return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s %s not found", what, agileplus.QuoteRef(ref))}
}

// wrap gives a store error context, keeping domain errors as they are.
func wrap(op string, err error) error {
	var de *agileplus.Error
	if err == nil || errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// ---- projects ----

const projectCols = `id, key, name, version, created_at, updated_at, archived_at`

func scanProject(sc interface{ Scan(...any) error }) (*agileplus.Project, error) {
	var p agileplus.Project
	if err := sc.Scan(&p.ID, &p.Key, &p.Name, &p.Version, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, optTime{&p.ArchivedAt}); err != nil {
		return nil, err
	}
	return &p, nil
}

// optTime scans a nullable time into *t: NULL is nil.
type optTime struct{ t **time.Time }

func (c optTime) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// fmtOptTime is the stored form of a nullable time.
func fmtOptTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// archivedWhere is the condition a list's archived option puts on the
// archived_at column col ("" when it keeps every record).
func archivedWhere(a, col string) string {
	switch a {
	case agileplus.ArchivedExclude:
		return col + " IS NULL"
	case agileplus.ArchivedOnly:
		return col + " IS NOT NULL"
	}
	return ""
}

func andArchived(a, col string) string {
	if w := archivedWhere(a, col); w != "" {
		return " AND " + w
	}
	return ""
}

// Project returns a project by id or key.
func (t *Tx) Project(ctx context.Context, ref string) (*agileplus.Project, error) {
	col := "key"
	if strings.HasPrefix(ref, agileplus.PrefixProject) {
		col = "id"
	}
	p, err := scanProject(t.queryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE `+col+` = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("project", "project", ref)
	}
	return p, wrap("project", err)
}

// Projects lists projects by id.
func (t *Tx) Projects(ctx context.Context, pg agileplus.Page) ([]*agileplus.Project, error) {
	rows, err := t.query(ctx, `SELECT `+projectCols+` FROM projects WHERE id > ?`+andArchived(pg.Archived, "archived_at")+` ORDER BY id LIMIT ?`, pg.After, pg.Limit)
	if err != nil {
		return nil, wrap("projects", err)
	}
	return collect(rows, scanProject)
}

func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap("scan", err)
		}
		out = append(out, v)
	}
	return out, wrap("rows", rows.Err())
}

// InsertProject stores a new project.
func (t *Tx) InsertProject(ctx context.Context, p *agileplus.Project) error {
	_, err := t.exec(ctx, `INSERT INTO projects (id, key, name, version, next_wp, created_at, updated_at, archived_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)`,
		p.ID, p.Key, p.Name, p.Version, fmtTime(p.CreatedAt), fmtTime(p.UpdatedAt), fmtOptTime(p.ArchivedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "key", Message: fmt.Sprintf("project key %q already exists", p.Key)}
	}
	return wrap("insert project", err)
}

// UpdateProject writes a project guarded by its previous version.
func (t *Tx) UpdateProject(ctx context.Context, p *agileplus.Project) error {
	res, err := t.exec(ctx, `UPDATE projects SET name = ?, version = ?, updated_at = ?, archived_at = ? WHERE id = ? AND version = ?`,
		p.Name, p.Version, fmtTime(p.UpdatedAt), fmtOptTime(p.ArchivedAt), p.ID, p.Version-1)
	return guarded(res, err, "project", p.Key)
}

func guarded(res sql.Result, err error, what, key string) error {
	if err != nil {
		return wrap("update "+what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("update "+what, err)
	} else if n != 1 {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "version", Message: fmt.Sprintf("%s %s was changed concurrently: reload it and retry", what, key)}
	}
	return nil
}

// NextWPNumber allocates the project's next WP number.
func (t *Tx) NextWPNumber(ctx context.Context, projectID string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `UPDATE projects SET next_wp = next_wp + 1 WHERE id = ? RETURNING next_wp - 1`, projectID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("project", "project", projectID)
	}
	return n, wrap("next wp number", err)
}

// ---- features ----

const featureCols = `f.id, f.project_id, p.key, f.slug, f.title, f.description, f.state, f.priority, f.labels, f.version, f.created_at, f.updated_at, f.archived_at`
const featureFrom = ` FROM features f JOIN projects p ON p.id = f.project_id`

func scanFeature(sc interface{ Scan(...any) error }) (*agileplus.Feature, error) {
	var f agileplus.Feature
	var prio int
	var labels string
	if err := sc.Scan(&f.ID, &f.ProjectID, &f.ProjectKey, &f.Slug, &f.Title, &f.Description, &f.State, &prio, &labels, &f.Version, timeCol{&f.CreatedAt}, timeCol{&f.UpdatedAt}, optTime{&f.ArchivedAt}); err != nil {
		return nil, err
	}
	f.Priority, f.Labels = agileplus.PriorityOfRank(prio), splitLabels(labels)
	return &f, nil
}

// Feature returns a feature by id or slug.
func (t *Tx) Feature(ctx context.Context, ref string) (*agileplus.Feature, error) {
	col := "f.slug"
	if strings.HasPrefix(ref, agileplus.PrefixFeature) {
		col = "f.id"
	}
	f, err := scanFeature(t.queryRow(ctx, `SELECT `+featureCols+featureFrom+` WHERE `+col+` = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("feature", "feature", ref)
	}
	return f, wrap("feature", err)
}

// Features lists a project's features by id.
func (t *Tx) Features(ctx context.Context, projectID string, pg agileplus.Page) ([]*agileplus.Feature, error) {
	rows, err := t.query(ctx, `SELECT `+featureCols+featureFrom+` WHERE f.project_id = ? AND f.id > ?`+andArchived(pg.Archived, "f.archived_at")+` ORDER BY f.id LIMIT ?`, projectID, pg.After, pg.Limit)
	if err != nil {
		return nil, wrap("features", err)
	}
	return collect(rows, scanFeature)
}

// InsertFeature stores a new feature.
func (t *Tx) InsertFeature(ctx context.Context, f *agileplus.Feature) error {
	_, err := t.exec(ctx, `INSERT INTO features (id, project_id, slug, title, description, state, priority, labels, version, created_at, updated_at, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.ProjectID, f.Slug, f.Title, f.Description, f.State, rank(f.Priority), joinLabels(f.Labels), f.Version, fmtTime(f.CreatedAt), fmtTime(f.UpdatedAt), fmtOptTime(f.ArchivedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "slug", Message: fmt.Sprintf("feature slug %q already exists", f.Slug)}
	}
	return wrap("insert feature", err)
}

// UpdateFeature writes a feature guarded by its previous version.
func (t *Tx) UpdateFeature(ctx context.Context, f *agileplus.Feature) error {
	res, err := t.exec(ctx, `UPDATE features SET title = ?, description = ?, state = ?, priority = ?, labels = ?, version = ?, updated_at = ?, archived_at = ? WHERE id = ? AND version = ?`,
		f.Title, f.Description, f.State, rank(f.Priority), joinLabels(f.Labels), f.Version, fmtTime(f.UpdatedAt), fmtOptTime(f.ArchivedAt), f.ID, f.Version-1)
	return guarded(res, err, "feature", f.Slug)
}

// ---- work packages ----

// A WP's project key is the prefix of its key, so WP queries need no join.
// wpCols selects a work package: the estimate, the free text, and every
// other field packed into one value (see packed).
var wpCols = `w.estimate, w.lease_agent, ` + packed("w.id", "w.key", "w.project_id", "w.feature_id", "w.state", "w.version",
	"w.lease_token", "w.lease_claimed_at", "w.lease_expires_at", "w.created_at", "w.updated_at", "w.priority", "w.labels", "w.archived_at") +
	`||char(31)||` + lengthPrefixed("w.owner") + `||` + lengthPrefixed("w.title") + `||w.description`

const wpFrom = ` FROM wps w`

func scanWP(sc interface{ Scan(...any) error }) (*agileplus.WP, error) {
	var w agileplus.WP
	var row string
	var agent sql.NullString
	if err := sc.Scan(&w.Estimate, &agent, &row); err != nil {
		return nil, err
	}
	u := unpacker{s: row}
	w.ID, w.Key, w.ProjectID, w.FeatureID, w.State = u.str(), u.str(), u.str(), u.str(), u.str()
	w.Version, _ = u.int()
	token, leased := u.int()
	claimed, expires := u.time(), u.time()
	w.CreatedAt, w.UpdatedAt = u.time(), u.time()
	prio, _ := u.int()
	w.Priority, w.Labels = agileplus.PriorityOfRank(int(prio)), splitLabels(u.str())
	if at := u.time(); !at.IsZero() {
		w.ArchivedAt = &at
	}
	w.Owner, w.Title, w.Description = u.text(), u.text(), u.rest()
	if err := u.done(); err != nil {
		return nil, err
	}
	w.ProjectKey = w.Key[:max(strings.LastIndexByte(w.Key, '-'), 0)]
	if leased {
		w.Lease = &agileplus.Lease{WPID: w.ID, Agent: agent.String, Token: token, ClaimedAt: claimed, ExpiresAt: expires}
	}
	return &w, nil
}

// WP returns a work package by id or key, with its lease if any.
func (t *Tx) WP(ctx context.Context, ref string) (*agileplus.WP, error) {
	col := "w.key"
	if strings.HasPrefix(ref, agileplus.PrefixWP) {
		col = "w.id"
	}
	w, err := scanWP(t.queryRow(ctx, `SELECT `+wpCols+wpFrom+` WHERE `+col+` = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("wp", "work package", ref)
	}
	return w, wrap("wp", err)
}

// WPs lists work packages by id.
func (t *Tx) WPs(ctx context.Context, f agileplus.WPFilter) ([]*agileplus.WP, error) {
	var where []string
	var args []any
	if f.ProjectID != "" {
		where, args = append(where, "w.project_id = ?"), append(args, f.ProjectID)
	}
	if f.FeatureID != "" {
		where, args = append(where, "w.feature_id = ?"), append(args, f.FeatureID)
	}
	if f.State != "" {
		where, args = append(where, "w.state = ?"), append(args, f.State)
	}
	if len(f.Priorities) > 0 {
		where = append(where, "w.priority IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Priorities)), ", ")+")")
		for _, p := range f.Priorities {
			args = append(args, rank(p))
		}
	}
	if len(f.Labels) > 0 {
		var ls []string
		for _, l := range f.Labels {
			ls, args = append(ls, "instr(','||w.labels||',', ?) > 0"), append(args, ","+l+",")
		}
		op := " AND "
		if f.AnyLabel {
			op = " OR "
		}
		where = append(where, "("+strings.Join(ls, op)+")")
	}
	if f.Owner != "" {
		where, args = append(where, "w.owner = ?"), append(args, f.Owner)
	}
	if a := archivedWhere(f.Archived, "w.archived_at"); a != "" {
		where = append(where, a)
	}
	order := "w.id"
	if f.ByPriority {
		where, args = append(where, "(w.priority, w.id) > (?, ?)"), append(args, f.AfterRank, f.After)
		order = "w.priority, w.id"
	} else {
		where, args = append(where, "w.id > ?"), append(args, f.After)
	}
	args = append(args, f.Limit)
	rows, err := t.query(ctx, `SELECT `+wpCols+wpFrom+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, wrap("wps", err)
	}
	return collect(rows, scanWP)
}

func leaseArgs(l *agileplus.Lease) (agent, token, claimed, expires any) {
	if l == nil {
		return nil, nil, nil, nil
	}
	return l.Agent, l.Token, fmtTime(l.ClaimedAt), fmtTime(l.ExpiresAt)
}

// InsertWP stores a new work package.
func (t *Tx) InsertWP(ctx context.Context, w *agileplus.WP) error {
	num := w.Key[strings.LastIndexByte(w.Key, '-')+1:]
	a, tok, cl, ex := leaseArgs(w.Lease)
	_, err := t.exec(ctx, `INSERT INTO wps (id, key, num, project_id, feature_id, title, description, state, estimate, version, fence,
		lease_agent, lease_token, lease_claimed_at, lease_expires_at, created_at, updated_at, priority, labels, owner, archived_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.Key, num, w.ProjectID, w.FeatureID, w.Title, w.Description, w.State, w.Estimate, w.Version, tok,
		a, tok, cl, ex, fmtTime(w.CreatedAt), fmtTime(w.UpdatedAt), rank(w.Priority), joinLabels(w.Labels), w.Owner, fmtOptTime(w.ArchivedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "key", Message: fmt.Sprintf("work package %s already exists", w.Key)}
	} else if err != nil {
		return wrap("insert wp", err)
	}
	t.gops = append(t.gops, graphOp{node: graphNode(w)})
	return nil
}

// UpdateWP writes a work package and its lease, guarded by its previous
// version; the fencing counter only rises.
func (t *Tx) UpdateWP(ctx context.Context, w *agileplus.WP) error {
	a, tok, cl, ex := leaseArgs(w.Lease)
	res, err := t.exec(ctx, `UPDATE wps SET title = ?, description = ?, state = ?, estimate = ?, version = ?, updated_at = ?,
		lease_agent = ?, lease_token = ?, lease_claimed_at = ?, lease_expires_at = ?, fence = max(fence, COALESCE(?, 0)),
		priority = ?, labels = ?, owner = ?, archived_at = ?
		WHERE id = ? AND version = ?`,
		w.Title, w.Description, w.State, w.Estimate, w.Version, fmtTime(w.UpdatedAt), a, tok, cl, ex, tok,
		rank(w.Priority), joinLabels(w.Labels), w.Owner, fmtOptTime(w.ArchivedAt), w.ID, w.Version-1)
	if err := guarded(res, err, "work package", w.Key); err != nil {
		return err
	}
	t.gops = append(t.gops, graphOp{node: graphNode(w)})
	return nil
}

// FenceToken returns the highest fencing token issued for the WP.
func (t *Tx) FenceToken(ctx context.Context, wpID string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT fence FROM wps WHERE id = ?`, wpID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("wp", "work package", wpID)
	}
	return n, wrap("fence token", err)
}

// RaiseFence raises the WP's fencing counter to token.
func (t *Tx) RaiseFence(ctx context.Context, wpID string, token int64) error {
	res, err := t.exec(ctx, `UPDATE wps SET fence = max(fence, ?) WHERE id = ?`, token, wpID)
	if err != nil {
		return wrap("raise fence", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("raise fence", err)
	} else if n == 0 {
		return notFound("wp", "work package", wpID)
	}
	return nil
}

// Ready returns the planned, unblocked, unclaimed WPs of a project: a
// range of wps_ready or, by priority, of wps_ready_priority.
func (t *Tx) Ready(ctx context.Context, f agileplus.ReadyFilter) ([]*agileplus.WP, error) {
	var rows *sql.Rows
	var err error
	if f.ByPriority {
		rows, err = t.query(ctx, `SELECT `+wpCols+wpFrom+`
		WHERE w.project_id = ? AND w.state = 'planned' AND w.open_deps = 0 AND (w.priority, w.num) > (?, ?)
		AND (w.lease_expires_at IS NULL OR w.lease_expires_at <= ?) AND w.archived_at IS NULL
		ORDER BY w.priority, w.num LIMIT ?`, f.ProjectID, f.AfterRank, f.AfterNum, fmtTime(f.Now), f.Limit)
	} else {
		rows, err = t.query(ctx, `SELECT `+wpCols+wpFrom+`
		WHERE w.project_id = ? AND w.state = 'planned' AND w.open_deps = 0 AND w.num > ?
		AND (w.lease_expires_at IS NULL OR w.lease_expires_at <= ?) AND w.archived_at IS NULL
		ORDER BY w.num LIMIT ?`, f.ProjectID, f.AfterNum, fmtTime(f.Now), f.Limit)
	}
	if err != nil {
		return nil, wrap("ready", err)
	}
	return collect(rows, scanWP)
}

// ---- dependencies ----

// depCols selects a dependency with the keys and states of both ends, which
// are two WPs or two features.
const depCols = `d.id, d.entity_kind, d.kind, d.from_id, d.to_id, d.version, d.created_at,
	COALESCE(fw.key, ff.slug, ''), COALESCE(tw.key, tf.slug, ''), COALESCE(fw.state, ff.state, ''), COALESCE(tw.state, tf.state, ''),
	COALESCE(fw.archived_at, ff.archived_at) IS NOT NULL, COALESCE(tw.archived_at, tf.archived_at) IS NOT NULL`
const depFrom = ` FROM dependencies d
	LEFT JOIN wps fw ON fw.id = d.from_id LEFT JOIN features ff ON ff.id = d.from_id
	LEFT JOIN wps tw ON tw.id = d.to_id LEFT JOIN features tf ON tf.id = d.to_id`

type depRow struct {
	d                        agileplus.Dependency
	fromState, toState       string
	fromArchived, toArchived bool
}

func scanDep(sc interface{ Scan(...any) error }) (*depRow, error) {
	var r depRow
	if err := sc.Scan(&r.d.ID, &r.d.EntityKind, &r.d.Kind, &r.d.From, &r.d.To, &r.d.Version, timeCol{&r.d.CreatedAt}, &r.d.FromKey, &r.d.ToKey, &r.fromState, &r.toState, &r.fromArchived, &r.toArchived); err != nil {
		return nil, err
	}
	return &r, nil
}

// Dependency returns a dependency by id.
func (t *Tx) Dependency(ctx context.Context, id string) (*agileplus.Dependency, error) {
	r, err := scanDep(t.queryRow(ctx, `SELECT `+depCols+depFrom+` WHERE d.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("id", "dependency", id)
	} else if err != nil {
		return nil, wrap("dependency", err)
	}
	return &r.d, nil
}

// Edges returns the dependencies touching id, seen from it.
func (t *Tx) Edges(ctx context.Context, id string) ([]*agileplus.Edge, error) {
	rows, err := t.query(ctx, `SELECT `+depCols+depFrom+` WHERE d.from_id = ? UNION ALL SELECT `+depCols+depFrom+` WHERE d.to_id = ? ORDER BY 1`, id, id)
	if err != nil {
		return nil, wrap("edges", err)
	}
	deps, err := collect(rows, scanDep)
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
// to, or nil. A recursive query answers reachability first; the path is
// only walked when there is one.
func (t *Tx) DependsOnPath(ctx context.Context, from, to string) ([]string, error) {
	if t.s != nil && strings.HasPrefix(from, agileplus.PrefixWP) && strings.HasPrefix(to, agileplus.PrefixWP) {
		return t.s.graphPath(ctx, from, to)
	}
	var n int
	err := t.queryRow(ctx, `WITH RECURSIVE r(id) AS (
			SELECT ? UNION SELECT d.to_id FROM r JOIN dependencies d ON d.from_id = r.id AND d.kind = 'depends_on')
		SELECT count(*) FROM r WHERE id = ?`, from, to).Scan(&n)
	if err != nil {
		return nil, wrap("reachability", err)
	}
	if n == 0 {
		return nil, nil
	}
	// Breadth-first search for the shortest chain.
	prev := map[string]string{from: ""}
	frontier := []string{from}
	for len(frontier) > 0 {
		var next []string
		for _, id := range frontier {
			targets, err := t.dependsOnTargets(ctx, id)
			if err != nil {
				return nil, err
			}
			for _, tid := range targets {
				if _, seen := prev[tid]; seen {
					continue
				}
				prev[tid] = id
				if tid == to {
					return t.pathKeys(ctx, prev, to)
				}
				next = append(next, tid)
			}
		}
		frontier = next
	}
	return nil, nil
}

func (t *Tx) dependsOnTargets(ctx context.Context, id string) ([]string, error) {
	rows, err := t.query(ctx, `SELECT to_id FROM dependencies WHERE from_id = ? AND kind = 'depends_on' ORDER BY to_id`, id)
	if err != nil {
		return nil, wrap("depends_on targets", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (string, error) {
		var s string
		return s, sc.Scan(&s)
	})
}

func (t *Tx) pathKeys(ctx context.Context, prev map[string]string, to string) ([]string, error) {
	var ids []string
	for id := to; id != ""; id = prev[id] {
		ids = append(ids, id)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		var k string
		err := t.queryRow(ctx, `SELECT COALESCE((SELECT key FROM wps WHERE id = ?), (SELECT slug FROM features WHERE id = ?), ?)`, id, id, id).Scan(&k)
		if err != nil {
			return nil, wrap("path keys", err)
		}
		keys[len(ids)-1-i] = k
	}
	return keys, nil
}

// InsertDependency stores a new edge.
func (t *Tx) InsertDependency(ctx context.Context, d *agileplus.Dependency) error {
	_, err := t.exec(ctx, `INSERT INTO dependencies (id, entity_kind, kind, from_id, to_id, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.EntityKind, d.Kind, d.From, d.To, d.Version, fmtTime(d.CreatedAt))
	if isUnique(err) {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "to", Message: fmt.Sprintf("%s already %s %s", d.FromKey, d.Kind, d.ToKey)}
	} else if err != nil {
		return wrap("insert dependency", err)
	}
	if d.Kind == agileplus.DependsOn && d.EntityKind == agileplus.KindWP {
		t.gops = append(t.gops, graphOp{from: d.From, to: d.To})
	}
	return nil
}

// DeleteDependency removes an edge.
func (t *Tx) DeleteDependency(ctx context.Context, id string) error {
	var from, to, kind, entityKind string
	err := t.queryRow(ctx, `DELETE FROM dependencies WHERE id = ? RETURNING from_id, to_id, kind, entity_kind`, id).Scan(&from, &to, &kind, &entityKind)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("id", "dependency", id)
	} else if err != nil {
		return wrap("delete dependency", err)
	}
	if kind == agileplus.DependsOn && entityKind == agileplus.KindWP {
		t.gops = append(t.gops, graphOp{from: from, to: to, removeEdge: true})
	}
	return nil
}
