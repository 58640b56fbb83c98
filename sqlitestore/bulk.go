package sqlitestore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agileplus/agileplus"
)

// Bulk writes (agileplus.BulkTx): multi-row INSERT statements instead of
// one statement per record, storing exactly the rows, counters, pending
// events and graph changes the per-record methods store. A statement that
// fails is undone by SQLite as a whole; its rows are then stored one at a
// time, so that the error is the one the per-record method gives.

var (
	_ agileplus.BulkTx      = (*Tx)(nil)
	_ agileplus.BulkGraphTx = (*Tx)(nil)
)

// maxVars is SQLite's limit on bound variables in one statement; maxRows
// bounds the rows of one statement (larger ones gain nothing).
const (
	maxVars = 32766
	maxRows = 1000
)

// rowSpec is how insertRows stores rows in a table: one value per column,
// a ? bound per row or a literal.
type rowSpec struct {
	op    string // for errors
	table string
	cols  []string
	vals  []string // per column: "?" or a literal
	// shared marks the ? columns that can go once per statement: when
	// all rows of a statement agree on them, they are bound once (an
	// import's rows share project, actor, times...). Their values must be
	// comparable with ==.
	shared []bool
	tail   string // after the rows (ON CONFLICT ...)
}

// newRowSpec reads cols as "name" (a ? per row), "*name" (a ? that can
// be shared) or "name=literal", separated by commas.
func newRowSpec(op, table, cols, tail string) *rowSpec {
	r := &rowSpec{op: op, table: table, tail: tail}
	for _, c := range strings.Split(cols, ",") {
		c = strings.TrimSpace(c)
		name, lit, isLit := strings.Cut(c, "=")
		shared := strings.HasPrefix(name, "*")
		r.cols = append(r.cols, strings.TrimPrefix(name, "*"))
		r.shared = append(r.shared, shared)
		if isLit {
			r.vals = append(r.vals, lit)
		} else {
			r.vals = append(r.vals, "?")
		}
	}
	return r
}

var (
	projectRows = newRowSpec("insert projects", "projects", "id, key, name, version, next_wp=1, created_at, updated_at, *archived_at", "")
	featureRows = newRowSpec("insert features", "features", "id, project_id, slug, title, description, state, *priority, *labels, version, created_at, updated_at, *archived_at", "")
	wpRows      = newRowSpec("insert wps", "wps", `id, key, num, *project_id, feature_id, title, description, state, estimate, *version, *fence,
		*lease_agent, *lease_token, *lease_claimed_at, *lease_expires_at, *created_at, *updated_at, open_deps, *priority, *labels, *owner, *archived_at`, "")
	depRows = newRowSpec("insert dependencies", "dependencies", "id, *entity_kind, *kind, from_id, to_id, *version, created_at", "")
	refRows = newRowSpec("put references", "wp_references", "id, wp_id, kind, repo, sha, url, state, created_at, updated_at",
		" ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at")
	eventRows = newRowSpec("append events", "events",
		"gseq, id, *type, *entity_kind, entity_id, *project_key, *feature_id, seq, *prev_hash, hash, time, *actor, data, *traceparent", "")
	auditRows = newRowSpec("append audit", "audit",
		"feature_id, seq, event_id, event_type, entity_id, time, actor, summary, forced, reason, detail, prev_hash, hash", "")
)

// params is how many ? a row has.
func (r *rowSpec) params() int {
	n := 0
	for _, v := range r.vals {
		if v == "?" {
			n++
		}
	}
	return n
}

// sql returns the statement storing n rows, with the shared columns bound
// once (first) if share.
func (r *rowSpec) sql(n int, share bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + r.table + " (" + strings.Join(r.cols, ", ") + ") ")
	row := func(v func(j int) string) {
		b.WriteByte('(')
		k := 0
		for j := range r.cols {
			if s := v(j); s != "" {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteString(s)
				k++
			}
		}
		b.WriteByte(')')
	}
	perRow := func(j int) string {
		if share && r.shared[j] {
			return ""
		}
		return r.vals[j]
	}
	if share {
		// The SELECT list comes first, so its ? are numbered first.
		b.WriteString("SELECT ")
		k := 0
		for j := range r.cols {
			if j > 0 {
				b.WriteString(", ")
			}
			switch {
			case r.shared[j]:
				b.WriteString("?")
			default:
				k++
				fmt.Fprintf(&b, "column%d", k)
			}
		}
		b.WriteString(" FROM (VALUES ")
	} else {
		b.WriteString("VALUES ")
	}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		row(perRow)
	}
	if share {
		b.WriteString(")")
	}
	b.WriteString(r.tail)
	return b.String()
}

// insertRows stores n rows as r says, as many rows per statement as fit;
// args appends row i's values for the ? columns. Statements of the full
// size are prepared once; a shorter last one is not kept. On an error it
// calls one(i) for each row of the failed statement and returns the first
// error of those (or the statement's).
func (t *Tx) insertRows(ctx context.Context, r *rowSpec, n int, args func(i int, dst []any) []any, one func(i int) error) error {
	params := r.params()
	per := min(maxRows, maxVars/params)
	shared := make([]bool, 0, params) // per ? column
	nshared := 0
	for j, v := range r.vals {
		if v == "?" {
			shared = append(shared, r.shared != nil && r.shared[j])
			if r.shared != nil && r.shared[j] {
				nshared++
			}
		}
	}
	full := map[bool]string{}
	rows := make([]any, 0, min(n, per)*params)
	vals := make([]any, 0, min(n, per)*params)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		rows = rows[:0]
		for i := lo; i < hi; i++ {
			rows = args(i, rows)
		}
		// Shared if every row agrees with the first on the shared columns.
		share := nshared > 0
		for i := params; share && i < len(rows); i++ {
			if shared[i%params] && rows[i] != rows[i%params] {
				share = false
			}
		}
		args := rows
		if share {
			vals = vals[:0]
			for c, sh := range shared {
				if sh {
					vals = append(vals, rows[c])
				}
			}
			for i, v := range rows {
				if !shared[i%params] {
					vals = append(vals, v)
				}
			}
			args = vals
		}
		var err error
		if hi-lo == per {
			q, ok := full[share]
			if !ok {
				q = r.sql(per, share)
				full[share] = q
			}
			_, err = t.exec(ctx, q, args...)
		} else {
			_, err = t.tx.ExecContext(t.stmtCtx(ctx), r.sql(hi-lo, share), args...)
		}
		if err != nil {
			for i := lo; i < hi; i++ {
				if err := one(i); err != nil {
					return err
				}
			}
			return wrap(r.op, err)
		}
	}
	return nil
}

// InsertProjects stores new projects, as InsertProject does.
func (t *Tx) InsertProjects(ctx context.Context, ps []*agileplus.Project) error {
	return t.insertRows(ctx, projectRows, len(ps), func(i int, dst []any) []any {
		p := ps[i]
		return append(dst, p.ID, p.Key, p.Name, p.Version, fmtTime(p.CreatedAt), fmtTime(p.UpdatedAt), fmtOptTime(p.ArchivedAt))
	}, func(i int) error { return t.InsertProject(ctx, ps[i]) })
}

// InsertFeatures stores new features, as InsertFeature does.
func (t *Tx) InsertFeatures(ctx context.Context, fs []*agileplus.Feature) error {
	return t.insertRows(ctx, featureRows, len(fs), func(i int, dst []any) []any {
		f := fs[i]
		return append(dst, f.ID, f.ProjectID, f.Slug, f.Title, f.Description, f.State, rank(f.Priority), joinLabels(f.Labels), f.Version, fmtTime(f.CreatedAt), fmtTime(f.UpdatedAt), fmtOptTime(f.ArchivedAt))
	}, func(i int) error { return t.InsertFeature(ctx, fs[i]) })
}

// InsertWPs stores new work packages with their leases, as InsertWP does,
// each with its fencing counter at fences[i] or its lease's token,
// whichever is higher (as InsertWP then RaiseFence leave it).
func (t *Tx) InsertWPs(ctx context.Context, ws []*agileplus.WP, fences []int64) error {
	return t.insertWPs(ctx, ws, fences, nil)
}

// insertWPs is InsertWPs with open[i] as WP i's count of open
// dependencies (0 if open is nil).
func (t *Tx) insertWPs(ctx context.Context, ws []*agileplus.WP, fences, open []int64) error {
	if len(fences) != len(ws) {
		return fmt.Errorf("sqlitestore: insert wps: %d fencing counters for %d work packages", len(fences), len(ws))
	}
	err := t.insertRows(ctx, wpRows, len(ws), func(i int, dst []any) []any {
		w := ws[i]
		a, tok, cl, ex := leaseArgs(w.Lease)
		var fence, n int64
		if w.Lease != nil {
			fence = w.Lease.Token
		}
		if fences[i] > fence {
			fence = fences[i]
		}
		if open != nil {
			n = open[i]
		}
		return append(dst, w.ID, w.Key, w.Key[strings.LastIndexByte(w.Key, '-')+1:], w.ProjectID, w.FeatureID, w.Title, w.Description,
			w.State, w.Estimate, w.Version, fence, a, tok, cl, ex, fmtTime(w.CreatedAt), fmtTime(w.UpdatedAt), n,
			rank(w.Priority), joinLabels(w.Labels), w.Owner, fmtOptTime(w.ArchivedAt))
	}, func(i int) error {
		if err := t.InsertWP(ctx, ws[i]); err != nil {
			return err
		}
		if fences[i] > 0 {
			return t.RaiseFence(ctx, ws[i].ID, fences[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, w := range ws {
		t.gops = append(t.gops, graphOp{node: graphNode(w)})
	}
	return nil
}

// InsertDependencies stores new edges, as InsertDependency does.
func (t *Tx) InsertDependencies(ctx context.Context, ds []*agileplus.Dependency) error {
	return t.insertDeps(ctx, ds, nil)
}

// InsertCountedWPs stores new WPs as InsertWPs does, with WP i's count of
// open dependencies at open[i].
func (t *Tx) InsertCountedWPs(ctx context.Context, ws []*agileplus.WP, open []int64) error {
	if len(open) != len(ws) {
		return fmt.Errorf("sqlitestore: insert wps: %d counts for %d work packages", len(open), len(ws))
	}
	return t.insertWPs(ctx, ws, make([]int64, len(ws)), open)
}

// InsertCountedDependencies stores new edges as InsertDependencies does,
// but for the open_deps counters of the edges with counted[i].
func (t *Tx) InsertCountedDependencies(ctx context.Context, ds []*agileplus.Dependency, counted []bool) error {
	if len(counted) != len(ds) {
		return fmt.Errorf("sqlitestore: insert dependencies: %d marks for %d dependencies", len(counted), len(ds))
	}
	return t.insertDeps(ctx, ds, counted)
}

// insertDeps stores new edges, as InsertDependency does, with the
// dependencies_added trigger deferred: it raises the open_deps counters
// itself, once at the end, by what the trigger would have added (one per
// depends_on edge whose target is a WP not done), but for the edges with
// counted[i] (counted nil: none), whose counts were written with their WPs.
func (t *Tx) insertDeps(ctx context.Context, ds []*agileplus.Dependency, counted []bool) (err error) {
	if len(ds) == 0 {
		return nil
	}
	resume, err := t.deferTrigger(ctx, "dependencies_added")
	if err != nil {
		return err
	}
	defer func() { err = cmp.Or(err, resume()) }()
	err = t.insertRows(ctx, depRows, len(ds), func(i int, dst []any) []any {
		d := ds[i]
		return append(dst, d.ID, d.EntityKind, d.Kind, d.From, d.To, d.Version, fmtTime(d.CreatedAt))
	}, func(i int) error { return t.InsertDependency(ctx, ds[i]) })
	if err != nil {
		return err
	}
	var pairs [][2]string
	for i, d := range ds {
		if (counted == nil || !counted[i]) && d.Kind == agileplus.DependsOn {
			pairs = append(pairs, [2]string{d.From, d.To})
		}
	}
	if len(pairs) > 0 {
		js, err := json.Marshal(pairs)
		if err != nil {
			return wrap("insert dependencies", err)
		}
		_, err = t.exec(ctx, `WITH c(id, n) AS (
				SELECT j.value ->> 0, count(*) FROM json_each(?) j JOIN wps t ON t.id = j.value ->> 1
				WHERE t.state <> 'done' GROUP BY 1)
			UPDATE wps SET open_deps = open_deps + c.n FROM c WHERE wps.id = c.id`, string(js))
		if err != nil {
			return wrap("insert dependencies: count open dependencies", err)
		}
	}
	for _, d := range ds {
		if d.Kind == agileplus.DependsOn && d.EntityKind == agileplus.KindWP {
			t.gops = append(t.gops, graphOp{from: d.From, to: d.To})
		}
	}
	return nil
}

// deferTrigger switches a trigger of migration 0005 off in this
// transaction until resume switches it on again; the caller does the
// trigger's work for what it writes meanwhile.
func (t *Tx) deferTrigger(ctx context.Context, name string) (resume func() error, err error) {
	if _, err := t.exec(ctx, `INSERT INTO deferred_triggers (name) VALUES (?)`, name); err != nil {
		return nil, wrap("defer trigger "+name, err)
	}
	return func() error {
		_, err := t.exec(ctx, `DELETE FROM deferred_triggers WHERE name = ?`, name)
		return wrap("resume trigger "+name, err)
	}, nil
}

// PutReferences inserts references or updates the state of those with the
// same id, as PutReference does.
func (t *Tx) PutReferences(ctx context.Context, rs []*agileplus.Reference) error {
	return t.insertRows(ctx, refRows, len(rs),
		func(i int, dst []any) []any {
			r := rs[i]
			return append(dst, r.ID, r.WPID, r.Kind, r.Repo, r.SHA, r.URL, r.State, fmtTime(r.CreatedAt), fmtTime(r.UpdatedAt))
		}, func(i int) error { return t.PutReference(ctx, rs[i]) })
}

// AppendEvents stores the events in order with consecutive global
// sequences, as AppendEvent does.
func (t *Tx) AppendEvents(ctx context.Context, es []*agileplus.Event) (err error) {
	if len(es) == 0 {
		return nil
	}
	// gseq is the rowid: AppendEvent's next one is the highest plus one.
	var last int64
	if err := t.queryRow(ctx, `SELECT COALESCE(max(gseq), 0) FROM events`).Scan(&last); err != nil {
		return wrap("append events", err)
	}
	err = t.insertRows(ctx, eventRows, len(es), func(i int, dst []any) []any {
		e := es[i]
		return append(dst, last+1+int64(i), e.ID, e.Type, e.EntityKind, e.EntityID, e.ProjectKey, e.FeatureID, e.Seq, e.PrevHash, e.Hash,
			fmtTime(e.Time), e.Actor, []byte(e.Data), e.TraceParent)
	}, func(i int) error { return t.AppendEvent(ctx, es[i]) })
	if err != nil {
		return err
	}
	for i, e := range es {
		e.GlobalSeq = last + 1 + int64(i)
		t.heads.update(eventHead(e.EntityID), head{e.Seq, e.Hash})
	}
	return nil
}

// AppendAudits stores audit entries, as AppendAudit does.
func (t *Tx) AppendAudits(ctx context.Context, as []*agileplus.AuditEntry) error {
	err := t.insertRows(ctx, auditRows, len(as), func(i int, dst []any) []any {
		a := as[i]
		forced := 0
		if a.Forced {
			forced = 1
		}
		return append(dst, a.FeatureID, a.Seq, a.EventID, a.EventType, a.EntityID, fmtTime(a.Time), a.Actor, a.Summary, forced, a.Reason,
			[]byte(a.Detail), a.PrevHash, a.Hash)
	}, func(i int) error { return t.AppendAudit(ctx, as[i]) })
	if err != nil {
		return err
	}
	for _, a := range as {
		t.heads.update(auditHead(a.FeatureID), head{a.Seq, a.Hash})
	}
	return nil
}
