package agileplus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// MigrateReport says what Migrate copied and what it checked.
type MigrateReport struct {
	Projects     int `json:"projects"`
	Features     int `json:"features"`
	WPs          int `json:"wps"`
	Dependencies int `json:"dependencies"`
	References   int `json:"references"`
	Events       int `json:"events"`
	AuditEntries int `json:"audit_entries"`
	// Pending is how many events were not yet published on the source;
	// they stay pending on the target, the rest are marked published.
	Pending int `json:"pending"`
	// Chains is how many event chains (one per entity) and audit chains
	// (one per feature) verified on each side.
	EventChains int `json:"event_chains"`
	AuditChains int `json:"audit_chains"`
	// Digest is the SHA-256 of everything both stores hold, equal on both
	// sides after a migration.
	Digest string `json:"digest"`
}

// MigrateProgress is told what Migrate is doing: a stage and how far into
// it (total 0 when unknown).
type MigrateProgress func(stage string, done, total int)

// migrateChunk is how many records one target transaction writes, one
// call per record; bulkChunk is how many when the target's Tx implements
// BulkTx and takes them with one statement per kind.
const (
	migrateChunk = 1000
	bulkChunk    = 5000
)

// Migrate copies everything src holds into dst, which must be empty:
// projects, features, WPs with their leases and fencing counters,
// dependencies, references, every event with its hash chain, the audit
// trails, and which events are still waiting to be published. The source
// must not change meanwhile (hold its data directory's lock). Before and
// after, it verifies every event and audit chain on both sides and
// compares a digest of both stores' whole content; any difference is an
// error. A failure leaves dst partly written: empty it before trying
// again.
//
// Both stores must also implement Outbox. When the target's Tx implements
// BulkTx, Migrate writes bulkChunk records of a kind per transaction with
// one call; when the source's (or, for Verify, a store's) ReadTx
// implements FenceReader, it reads fencing counters a page at a time in
// the read transaction. Otherwise it goes record by record.
func Migrate(ctx context.Context, src, dst Store, progress MigrateProgress) (*MigrateReport, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	srcOut, ok1 := src.(Outbox)
	dstOut, ok2 := dst.(Outbox)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("migrate: both stores must implement Outbox")
	}
	if err := checkEmpty(ctx, dst); err != nil {
		return nil, err
	}
	rep := &MigrateReport{}
	progress("verifying the source", 0, 0)
	srcDigest, ec, ac, err := Verify(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("migrate: the source does not verify: %w", err)
	}
	m := &migration{ctx: ctx, src: src, dst: dst, rep: rep, progress: progress, maxNum: map[string]int64{}, chunk: migrateChunk}
	// Does the target take records in bulk? Ask one of its write
	// transactions (which writes nothing).
	if err := dst.Update(ctx, func(tx Tx) error { _, m.bulk = tx.(BulkTx); return nil }); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if m.bulk {
		m.chunk = bulkChunk
	}
	steps := []func() error{m.projects, m.features, m.wps, m.dependencies, m.references, m.events, m.audit}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := m.published(srcOut, dstOut); err != nil {
		return nil, err
	}
	progress("verifying the target", 0, 0)
	dstDigest, dec, dac, err := Verify(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("migrate: the target does not verify: %w", err)
	}
	if dstDigest != srcDigest || dec != ec || dac != ac {
		return nil, fmt.Errorf("migrate: the target differs from the source after the copy (digest %s vs %s)", dstDigest, srcDigest)
	}
	rep.EventChains, rep.AuditChains, rep.Digest = ec, ac, srcDigest
	return rep, nil
}

// checkEmpty refuses a target that holds anything.
func checkEmpty(ctx context.Context, st Store) error {
	return st.View(ctx, func(tx ReadTx) error {
		ps, err := tx.Projects(ctx, Page{Limit: 1})
		if err != nil {
			return err
		}
		es, err := tx.Events(ctx, EventFilter{Limit: 1})
		if err != nil {
			return err
		}
		if len(ps) > 0 || len(es) > 0 {
			return Errorf(ECONFLICT, "migrate: the target store is not empty; migrate into a new data directory or an empty Neo4j database")
		}
		return nil
	})
}

type migration struct {
	ctx      context.Context
	src, dst Store
	rep      *MigrateReport
	progress MigrateProgress

	projectIDs []string
	featureIDs []string
	maxNum     map[string]int64 // project id -> highest WP number

	bulk  bool // the target's Tx implements BulkTx
	chunk int  // records per page and target transaction
}

// copyPages reads pages from the source with read and writes each in one
// target transaction with write, until read returns a short page; then,
// if given, it calls done with the page. write may run more than once (a
// store retries a transaction that failed transiently), so it must not
// record anything outside the transaction: done does that.
func copyPages[T any](m *migration, stage string, count *int, read func(tx ReadTx, after string) ([]T, string, error), write func(tx Tx, items []T) error, done ...func([]T)) error {
	after := ""
	for {
		var items []T
		var next string
		err := m.src.View(m.ctx, func(tx ReadTx) (err error) {
			items, next, err = read(tx, after)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: read %s: %w", stage, err)
		}
		if len(items) > 0 {
			if err := m.dst.Update(m.ctx, func(tx Tx) error { return write(tx, items) }); err != nil {
				return fmt.Errorf("migrate: write %s: %w", stage, err)
			}
			for _, d := range done {
				d(items)
			}
			*count += len(items)
			m.progress(stage, *count, 0)
		}
		if len(items) < m.chunk || next == "" {
			return nil
		}
		after = next
	}
}

func (m *migration) projects() error {
	return copyPages(m, "projects", &m.rep.Projects, func(tx ReadTx, after string) ([]*Project, string, error) {
		ps, err := tx.Projects(m.ctx, Page{After: after, Limit: m.chunk})
		if len(ps) == 0 {
			return ps, "", err
		}
		return ps, ps[len(ps)-1].ID, err
	}, func(tx Tx, ps []*Project) error {
		if bt, ok := tx.(BulkTx); ok {
			return bt.InsertProjects(m.ctx, ps)
		}
		for _, p := range ps {
			if err := tx.InsertProject(m.ctx, p); err != nil {
				return err
			}
		}
		return nil
	}, func(ps []*Project) {
		for _, p := range ps {
			m.projectIDs = append(m.projectIDs, p.ID)
		}
	})
}

func (m *migration) features() error {
	for _, pid := range m.projectIDs {
		err := copyPages(m, "features", &m.rep.Features, func(tx ReadTx, after string) ([]*Feature, string, error) {
			fs, err := tx.Features(m.ctx, pid, Page{After: after, Limit: m.chunk})
			if len(fs) == 0 {
				return fs, "", err
			}
			return fs, fs[len(fs)-1].ID, err
		}, func(tx Tx, fs []*Feature) error {
			if bt, ok := tx.(BulkTx); ok {
				return bt.InsertFeatures(m.ctx, fs)
			}
			for _, f := range fs {
				if err := tx.InsertFeature(m.ctx, f); err != nil {
					return err
				}
			}
			return nil
		}, func(fs []*Feature) {
			for _, f := range fs {
				m.featureIDs = append(m.featureIDs, f.ID)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fencedWP is a WP with its fencing counter on the source, if the source
// read it in bulk (otherwise the write reads it with FenceToken).
type fencedWP struct {
	w     *WP
	fence int64
	known bool
}

// wps copies WPs with their leases, then raises each one's fencing
// counter to the source's, which a released lease no longer shows.
func (m *migration) wps() error {
	for _, pid := range m.projectIDs {
		err := copyPages(m, "work packages", &m.rep.WPs, func(tx ReadTx, after string) ([]fencedWP, string, error) {
			ws, err := tx.WPs(m.ctx, WPFilter{ProjectID: pid, Page: Page{After: after, Limit: m.chunk}})
			if err != nil || len(ws) == 0 {
				return nil, "", err
			}
			items := make([]fencedWP, len(ws))
			for i, w := range ws {
				w.References = nil
				items[i].w = w
			}
			if fr, ok := tx.(FenceReader); ok {
				fences, err := fr.FenceTokens(m.ctx, wpIDs(ws))
				if err == nil && len(fences) != len(ws) {
					err = fmt.Errorf("got %d for %d WPs", len(fences), len(ws))
				}
				if err != nil {
					return nil, "", fmt.Errorf("read fencing counters: %w", err)
				}
				for i, f := range fences {
					items[i].fence, items[i].known = f, true
				}
			}
			return items, ws[len(ws)-1].ID, nil
		}, func(tx Tx, items []fencedWP) error {
			ws := make([]*WP, len(items))
			fences := make([]int64, len(items))
			for i, it := range items {
				ws[i], fences[i] = it.w, it.fence
			}
			if !items[0].known {
				var err error
				if fences, err = m.srcFences(ws); err != nil {
					return err
				}
			}
			if bt, ok := tx.(BulkTx); ok {
				return bt.InsertWPs(m.ctx, ws, fences)
			}
			for i, w := range ws {
				if err := tx.InsertWP(m.ctx, w); err != nil {
					return err
				}
				// InsertWP set the counter to the lease's token.
				if held := w.Lease; fences[i] > 0 && (held == nil || held.Token < fences[i]) {
					if err := tx.RaiseFence(m.ctx, w.ID, fences[i]); err != nil {
						return err
					}
				}
			}
			return nil
		}, func(items []fencedWP) {
			for _, it := range items {
				if n, err := strconv.ParseInt(it.w.Key[strings.LastIndexByte(it.w.Key, '-')+1:], 10, 64); err == nil {
					m.maxNum[pid] = max(m.maxNum[pid], n)
				}
			}
		})
		if err != nil {
			return err
		}
		if n := m.maxNum[pid]; n > 0 {
			if err := m.dst.Update(m.ctx, func(tx Tx) error { return tx.ReserveWPNumber(m.ctx, pid, n) }); err != nil {
				return fmt.Errorf("migrate: reserve WP numbers: %w", err)
			}
		}
	}
	return nil
}

// srcFences reads the WPs' fencing counters on the source one by one.
// FenceToken is only on write transactions; this one writes nothing.
func (m *migration) srcFences(ws []*WP) ([]int64, error) {
	fences := make([]int64, len(ws))
	err := m.src.Update(m.ctx, func(stx Tx) error {
		for i, w := range ws {
			f, err := stx.FenceToken(m.ctx, w.ID)
			if err != nil {
				return err
			}
			fences[i] = f
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read fencing counters: %w", err)
	}
	return fences, nil
}

func wpIDs(ws []*WP) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

func (m *migration) dependencies() error {
	return copyPages(m, "dependencies", &m.rep.Dependencies, func(tx ReadTx, after string) ([]*Dependency, string, error) {
		ds, err := tx.AllDependencies(m.ctx, Page{After: after, Limit: m.chunk})
		if len(ds) == 0 {
			return ds, "", err
		}
		return ds, ds[len(ds)-1].ID, err
	}, func(tx Tx, ds []*Dependency) error {
		if bt, ok := tx.(BulkTx); ok {
			return bt.InsertDependencies(m.ctx, ds)
		}
		for _, d := range ds {
			if err := tx.InsertDependency(m.ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (m *migration) references() error {
	return copyPages(m, "references", &m.rep.References, func(tx ReadTx, after string) ([]*Reference, string, error) {
		rs, err := tx.AllReferences(m.ctx, Page{After: after, Limit: m.chunk})
		if len(rs) == 0 {
			return rs, "", err
		}
		return rs, rs[len(rs)-1].ID, err
	}, func(tx Tx, rs []*Reference) error {
		if bt, ok := tx.(BulkTx); ok {
			return bt.PutReferences(m.ctx, rs)
		}
		for _, r := range rs {
			if err := tx.PutReference(m.ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// events copies every event in global order; the target gives each the
// next global sequence, which is the source's when the source's has no
// gaps (a difference shows in the final digest).
func (m *migration) events() error {
	return copyPages(m, "events", &m.rep.Events, func(tx ReadTx, after string) ([]*Event, string, error) {
		a, _ := strconv.ParseInt(after, 10, 64)
		es, err := tx.Events(m.ctx, EventFilter{After: a, Limit: m.chunk})
		if len(es) == 0 {
			return es, "", err
		}
		return es, strconv.FormatInt(es[len(es)-1].GlobalSeq, 10), err
	}, func(tx Tx, es []*Event) error {
		// The target sets GlobalSeq on what it appends: copies, so that a
		// retried transaction sends the source's events again.
		cs := make([]*Event, len(es))
		for i, e := range es {
			c := *e
			cs[i] = &c
		}
		if bt, ok := tx.(BulkTx); ok {
			return bt.AppendEvents(m.ctx, cs)
		}
		for _, c := range cs {
			if err := tx.AppendEvent(m.ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func (m *migration) audit() error {
	for _, fid := range m.featureIDs {
		err := copyPages(m, "audit entries", &m.rep.AuditEntries, func(tx ReadTx, after string) ([]*AuditEntry, string, error) {
			a, _ := strconv.ParseInt(after, 10, 64)
			as, err := tx.Audit(m.ctx, fid, a, m.chunk)
			if len(as) == 0 {
				return as, "", err
			}
			return as, strconv.FormatInt(as[len(as)-1].Seq, 10), err
		}, func(tx Tx, as []*AuditEntry) error {
			if bt, ok := tx.(BulkTx); ok {
				return bt.AppendAudits(m.ctx, as)
			}
			for _, a := range as {
				if err := tx.AppendAudit(m.ctx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// published marks on the target every event the source had published.
func (m *migration) published(src, dst Outbox) error {
	pending := map[string]bool{}
	var after int64
	for {
		es, err := src.PendingEvents(m.ctx, after, migrateChunk)
		if err != nil {
			return fmt.Errorf("migrate: read the source's outbox: %w", err)
		}
		for _, e := range es {
			pending[e.ID] = true
		}
		if len(es) < migrateChunk {
			break
		}
		after = es[len(es)-1].GlobalSeq
	}
	m.rep.Pending = len(pending)
	after = 0
	done := 0
	for {
		es, err := dst.PendingEvents(m.ctx, after, 5*migrateChunk)
		if err != nil {
			return fmt.Errorf("migrate: read the target's outbox: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		var ids []string
		for _, e := range es {
			if !pending[e.ID] {
				ids = append(ids, e.ID)
			}
		}
		if err := dst.MarkPublished(m.ctx, ids); err != nil {
			return fmt.Errorf("migrate: mark published: %w", err)
		}
		done += len(es)
		m.progress("published marks", done, m.rep.Events)
		after = es[len(es)-1].GlobalSeq
	}
}

// Verify checks every event chain (per entity) and audit chain (per
// feature) in st and returns a digest of everything st holds: entities with
// versions, leases and fencing counters, dependencies, references, events,
// audit entries and the outbox. Two stores with equal digests hold the same
// data. Errors name the first chain that does not verify.
func Verify(ctx context.Context, st Store) (digest string, eventChains, auditChains int, err error) {
	h := sha256.New()
	section := func(name string) { fmt.Fprintf(h, "\n#%s\n", name) }
	put := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		h.Write(b)
		h.Write([]byte{'\n'})
		return nil
	}
	var projects, features, wps []string
	var fences []int64 // of wps, when the ReadTx is a FenceReader
	err = st.View(ctx, func(tx ReadTx) error {
		fr, _ := tx.(FenceReader)
		section("projects")
		if err := eachPage(func(after string) (string, int, error) {
			ps, err := tx.Projects(ctx, Page{After: after, Limit: MaxPageLimit})
			for _, p := range ps {
				projects = append(projects, p.ID)
				if err := put(p); err != nil {
					return "", 0, err
				}
			}
			return lastID(ps, func(p *Project) string { return p.ID }), len(ps), err
		}); err != nil {
			return err
		}
		section("features")
		for _, pid := range projects {
			if err := eachPage(func(after string) (string, int, error) {
				fs, err := tx.Features(ctx, pid, Page{After: after, Limit: MaxPageLimit})
				for _, f := range fs {
					features = append(features, f.ID)
					if err := put(f); err != nil {
						return "", 0, err
					}
				}
				return lastID(fs, func(f *Feature) string { return f.ID }), len(fs), err
			}); err != nil {
				return err
			}
		}
		section("wps")
		for _, pid := range projects {
			if err := eachPage(func(after string) (string, int, error) {
				ws, err := tx.WPs(ctx, WPFilter{ProjectID: pid, Page: Page{After: after, Limit: MaxPageLimit}})
				if err != nil {
					return "", 0, err
				}
				for _, w := range ws {
					w.References = nil
					wps = append(wps, w.ID)
					if err := put(w); err != nil {
						return "", 0, err
					}
				}
				if fr != nil && len(ws) > 0 {
					fs, err := fr.FenceTokens(ctx, wpIDs(ws))
					if err == nil && len(fs) != len(ws) {
						err = fmt.Errorf("read fencing counters: got %d for %d WPs", len(fs), len(ws))
					}
					if err != nil {
						return "", 0, err
					}
					fences = append(fences, fs...)
				}
				return lastID(ws, func(w *WP) string { return w.ID }), len(ws), nil
			}); err != nil {
				return err
			}
		}
		section("dependencies")
		if err := eachPage(func(after string) (string, int, error) {
			ds, err := tx.AllDependencies(ctx, Page{After: after, Limit: MaxPageLimit})
			for _, d := range ds {
				if err := put(d); err != nil {
					return "", 0, err
				}
			}
			return lastID(ds, func(d *Dependency) string { return d.ID }), len(ds), err
		}); err != nil {
			return err
		}
		section("references")
		if err := eachPage(func(after string) (string, int, error) {
			rs, err := tx.AllReferences(ctx, Page{After: after, Limit: MaxPageLimit})
			for _, r := range rs {
				if err := put(r); err != nil {
					return "", 0, err
				}
			}
			return lastID(rs, func(r *Reference) string { return r.ID }), len(rs), err
		}); err != nil {
			return err
		}
		section("events")
		var err error
		eventChains, err = verifyEvents(ctx, tx, put)
		if err != nil {
			return err
		}
		section("audit")
		for _, fid := range features {
			var entries []*AuditEntry
			var after int64
			for {
				as, err := tx.Audit(ctx, fid, after, MaxPageLimit)
				if err != nil {
					return err
				}
				entries = append(entries, as...)
				if len(as) < MaxPageLimit {
					break
				}
				after = as[len(as)-1].Seq
			}
			if v := VerifyAuditChain(fid, entries); !v.Valid {
				return Errorf(ECONFLICT, "audit chain of feature %s breaks at entry %d: %s", fid, v.BrokenAt, v.Problem)
			}
			if len(entries) > 0 {
				auditChains++
			}
			for _, a := range entries {
				if err := put(a); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, 0, err
	}
	section("fences")
	if fences != nil {
		for i, id := range wps {
			fmt.Fprintf(h, "%s %d\n", id, fences[i])
		}
		wps = nil
	}
	// Without a FenceReader, fencing counters are only readable in a
	// write transaction; these write nothing.
	for len(wps) > 0 {
		chunk := wps[:min(len(wps), migrateChunk)]
		wps = wps[len(chunk):]
		err := st.Update(ctx, func(tx Tx) error {
			for _, id := range chunk {
				f, err := tx.FenceToken(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "%s %d\n", id, f)
			}
			return nil
		})
		if err != nil {
			return "", 0, 0, err
		}
	}
	if err := digestOutbox(ctx, st, h, section); err != nil {
		return "", 0, 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), eventChains, auditChains, nil
}

// verifyEvents digests every event in global order and verifies each
// entity's chain on the way: an entity's events come in its own order, so
// keeping each entity's last seq and hash is enough.
func verifyEvents(ctx context.Context, tx ReadTx, put func(any) error) (int, error) {
	type head struct {
		seq  int64
		hash string
	}
	heads := map[string]head{}
	var after int64
	for {
		es, err := tx.Events(ctx, EventFilter{After: after, Limit: MaxPageLimit})
		if err != nil {
			return 0, err
		}
		for _, e := range es {
			if err := put(e); err != nil {
				return 0, err
			}
			h := heads[e.EntityID]
			switch {
			case e.Seq != h.seq+1:
				return 0, Errorf(ECONFLICT, "event chain of %s: event %s has seq %d, want %d", e.EntityID, e.ID, e.Seq, h.seq+1)
			case e.PrevHash != h.hash:
				return 0, Errorf(ECONFLICT, "event chain of %s: event %s (seq %d) prev_hash does not match the previous hash", e.EntityID, e.ID, e.Seq)
			case e.ComputeHash() != e.Hash:
				return 0, Errorf(ECONFLICT, "event chain of %s: event %s (seq %d) hash mismatch", e.EntityID, e.ID, e.Seq)
			}
			heads[e.EntityID] = head{e.Seq, e.Hash}
		}
		if len(es) < MaxPageLimit {
			break
		}
		after = es[len(es)-1].GlobalSeq
	}
	return len(heads), nil
}

func digestOutbox(ctx context.Context, st Store, h hash.Hash, section func(string)) error {
	ob, ok := st.(Outbox)
	if !ok {
		return nil
	}
	section("outbox")
	var after int64
	for {
		es, err := ob.PendingEvents(ctx, after, MaxPageLimit)
		if err != nil {
			return err
		}
		for _, e := range es {
			fmt.Fprintf(h, "%s\n", e.ID)
		}
		if len(es) < MaxPageLimit {
			return nil
		}
		after = es[len(es)-1].GlobalSeq
	}
}

// eachPage calls page with the cursor of the previous page until a page
// comes back short.
func eachPage(page func(after string) (next string, n int, err error)) error {
	after := ""
	for {
		next, n, err := page(after)
		if err != nil {
			return err
		}
		if n < MaxPageLimit {
			return nil
		}
		after = next
	}
}

func lastID[T any](items []T, id func(T) string) string {
	if len(items) == 0 {
		return ""
	}
	return id(items[len(items)-1])
}
