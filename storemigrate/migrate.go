// Package storemigrate copies a whole system of record from one store into
// an empty one, and verifies a store: every event and audit chain, and a
// digest of everything it holds. It works through the agileplus ports
// only, so any two stores can be source and target.
package storemigrate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agileplus/agileplus"
)

// Report says what Run copied and what it checked.
type Report struct {
	Projects     int `json:"projects"`
	Features     int `json:"features"`
	WPs          int `json:"wps"`
	Dependencies int `json:"dependencies"`
	References   int `json:"references"`
	Comments     int `json:"comments"`
	Keys         int `json:"keys"`   // API keys, with their hashes
	Labels       int `json:"labels"` // label definitions
	Flags        int `json:"flags"`  // flag values, global and per project
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

// Progress is told what Run is doing: a stage and how far into it (total
// 0 when unknown).
type Progress func(stage string, done, total int)

// migrateChunk is how many records one target transaction writes, one
// call per record; bulkChunk is how many when the target's Tx implements
// BulkTx and takes them with one statement per kind.
const (
	migrateChunk = 1000
	bulkChunk    = 5000
)

// Run copies everything src holds into dst, which must be empty:
// projects, label definitions, flag values, features, WPs with their leases and fencing counters,
// dependencies, references, API keys (with the hashes of their secrets,
// versions and times), every event with its hash chain, the audit
// trails, and which events are still waiting to be published. The source
// must not change meanwhile (hold its data directory's lock). Before and
// after, it verifies every event and audit chain on both sides and
// compares a digest of both stores' whole content; any difference is an
// error. A failure leaves dst partly written: empty it before trying
// again.
//
// Both stores must also implement Outbox. When the target's Tx implements
// BulkTx, Run writes bulkChunk records of a kind per transaction with
// one call; when the source's (or, for Verify, a store's) ReadTx
// implements FenceReader, it reads fencing counters a page at a time in
// the read transaction. Otherwise it goes record by record.
func Run(ctx context.Context, src, dst agileplus.Store, progress Progress) (*Report, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	srcOut, ok1 := src.(agileplus.Outbox)
	dstOut, ok2 := dst.(agileplus.Outbox)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("migrate: both stores must implement Outbox")
	}
	if err := checkEmpty(ctx, dst); err != nil {
		return nil, err
	}
	if err := refuseArtifacts(ctx, src); err != nil {
		return nil, err
	}
	rep := &Report{}
	progress("verifying the source", 0, 0)
	srcDigest, ec, ac, err := Verify(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("migrate: the source does not verify: %w", err)
	}
	m := &migration{ctx: ctx, src: src, dst: dst, rep: rep, progress: progress, maxNum: map[string]int64{}, chunk: migrateChunk}
	// Does the target take records in bulk? Ask one of its write
	// transactions (which writes nothing).
	var bulk bool
	if err := dst.Update(ctx, func(tx agileplus.Tx) error { _, bulk = tx.(agileplus.BulkTx); return nil }); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if bulk {
		m.chunk = bulkChunk
	}
	err = inOrder(m.projects, m.labels, m.flags, m.features, m.wps, m.dependencies, m.references, m.comments, m.keys, m.events, m.audit,
		func() error { return m.published(srcOut, dstOut) })
	if err != nil {
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

// refuseArtifacts stops a migration whose source holds artifacts before
// anything is written: their metadata is not copied yet, and a target
// without it would lose them.
func refuseArtifacts(ctx context.Context, src agileplus.Store) error {
	return src.View(ctx, func(tx agileplus.ReadTx) error {
		for after := int64(0); ; {
			es, err := tx.Events(ctx, agileplus.EventFilter{After: after, Limit: migrateChunk})
			if err != nil {
				return fmt.Errorf("migrate: read the source's events: %w", err)
			}
			for _, e := range es {
				if e.EntityKind == agileplus.KindArtifact {
					return fmt.Errorf("migrate: the source holds artifacts (event %s of %s), which migrate does not copy yet; nothing was written to the target", e.Type, e.EntityID)
				}
			}
			if len(es) < migrateChunk {
				return nil
			}
			after = es[len(es)-1].GlobalSeq
		}
	})
}

// inOrder runs the steps one after the other until one fails.
func inOrder(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// checkEmpty refuses a target that holds anything.
func checkEmpty(ctx context.Context, st agileplus.Store) error {
	return st.View(ctx, func(tx agileplus.ReadTx) error {
		ps, err := tx.Projects(ctx, agileplus.Page{Limit: 1})
		if err != nil {
			return err
		}
		es, err := tx.Events(ctx, agileplus.EventFilter{Limit: 1})
		if err != nil {
			return err
		}
		ks, err := tx.APIKeys(ctx, agileplus.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(ps) > 0 || len(es) > 0 || len(ks) > 0 {
			return agileplus.Errorf(agileplus.ECONFLICT, "migrate: the target store is not empty; migrate into a new data directory or an empty Neo4j database")
		}
		return nil
	})
}

type migration struct {
	ctx      context.Context
	src, dst agileplus.Store
	rep      *Report
	progress Progress

	projectIDs []string
	featureIDs []string
	maxNum     map[string]int64 // project id -> highest WP number

	chunk int // records per page and target transaction
}

// copyPages reads pages from the source with read and writes each in one
// target transaction with write, until read returns a short page; then,
// if given, it calls done with the page. write may run more than once (a
// store retries a transaction that failed transiently), so it must not
// record anything outside the transaction: done does that.
func copyPages[T any](m *migration, stage string, count *int, read func(tx agileplus.ReadTx, after string) ([]T, string, error), write func(tx agileplus.Tx, items []T) error, done ...func([]T)) error {
	after := ""
	for {
		var items []T
		var next string
		err := m.src.View(m.ctx, func(tx agileplus.ReadTx) (err error) {
			items, next, err = read(tx, after)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: read %s: %w", stage, err)
		}
		if len(items) > 0 {
			if err := m.dst.Update(m.ctx, func(tx agileplus.Tx) error { return write(tx, items) }); err != nil {
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

// writeAll writes items in tx with bulk, one call for all, when the
// target's Tx implements BulkTx, and with one call per item otherwise.
// bulk and one are usually method expressions of the two ports, such as
// agileplus.BulkTx.InsertProjects and agileplus.Tx.InsertProject.
func writeAll[T any](ctx context.Context, tx agileplus.Tx, items []T,
	bulk func(agileplus.BulkTx, context.Context, []T) error,
	one func(agileplus.Tx, context.Context, T) error,
) error {
	if bt, ok := tx.(agileplus.BulkTx); ok {
		return bulk(bt, ctx, items)
	}
	for _, it := range items {
		if err := one(tx, ctx, it); err != nil {
			return err
		}
	}
	return nil
}

func (m *migration) projects() error {
	return copyPages(m, "projects", &m.rep.Projects, func(tx agileplus.ReadTx, after string) ([]*agileplus.Project, string, error) {
		ps, err := tx.Projects(m.ctx, agileplus.Page{After: after, Limit: m.chunk})
		if len(ps) == 0 {
			return ps, "", err
		}
		return ps, ps[len(ps)-1].ID, err
	}, func(tx agileplus.Tx, ps []*agileplus.Project) error {
		return writeAll(m.ctx, tx, ps, agileplus.BulkTx.InsertProjects, agileplus.Tx.InsertProject)
	}, func(ps []*agileplus.Project) {
		for _, p := range ps {
			m.projectIDs = append(m.projectIDs, p.ID)
		}
	})
}

// labels copies each project's label definitions, a few per project:
// one call per definition.
func (m *migration) labels() error {
	for _, pid := range m.projectIDs {
		err := copyPages(m, "labels", &m.rep.Labels, func(tx agileplus.ReadTx, after string) ([]*agileplus.LabelDef, string, error) {
			ls, err := tx.LabelDefs(m.ctx, pid, agileplus.Page{After: after, Limit: m.chunk})
			if len(ls) == 0 {
				return ls, "", err
			}
			return ls, ls[len(ls)-1].Name, err
		}, func(tx agileplus.Tx, ls []*agileplus.LabelDef) error {
			for _, l := range ls {
				if err := tx.InsertLabelDef(m.ctx, l); err != nil {
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

func (m *migration) features() error {
	for _, pid := range m.projectIDs {
		err := copyPages(m, "features", &m.rep.Features, func(tx agileplus.ReadTx, after string) ([]*agileplus.Feature, string, error) {
			fs, err := tx.Features(m.ctx, pid, agileplus.Page{After: after, Limit: m.chunk})
			if len(fs) == 0 {
				return fs, "", err
			}
			return fs, fs[len(fs)-1].ID, err
		}, func(tx agileplus.Tx, fs []*agileplus.Feature) error {
			return writeAll(m.ctx, tx, fs, agileplus.BulkTx.InsertFeatures, agileplus.Tx.InsertFeature)
		}, func(fs []*agileplus.Feature) {
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
	w     *agileplus.WP
	fence int64
	known bool
}

// wps copies WPs with their leases, then raises each one's fencing
// counter to the source's, which a released lease no longer shows.
func (m *migration) wps() error {
	for _, pid := range m.projectIDs {
		err := copyPages(m, "work packages", &m.rep.WPs, func(tx agileplus.ReadTx, after string) ([]fencedWP, string, error) {
			ws, err := tx.WPs(m.ctx, agileplus.WPFilter{ProjectID: pid, Page: agileplus.Page{After: after, Limit: m.chunk}})
			if err != nil || len(ws) == 0 {
				return nil, "", err
			}
			items := make([]fencedWP, len(ws))
			for i, w := range ws {
				w.References = nil
				items[i].w = w
			}
			if fr, ok := tx.(agileplus.FenceReader); ok {
				fences, err := fr.FenceTokens(m.ctx, idsOf(ws))
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
		}, func(tx agileplus.Tx, items []fencedWP) error {
			if !items[0].known {
				// A copy: a retried transaction reads them again.
				items = slices.Clone(items)
				if err := m.srcFences(items); err != nil {
					return err
				}
			}
			return writeAll(m.ctx, tx, items, insertWPs, insertWP)
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
			if err := m.dst.Update(m.ctx, func(tx agileplus.Tx) error { return tx.ReserveWPNumber(m.ctx, pid, n) }); err != nil {
				return fmt.Errorf("migrate: reserve WP numbers: %w", err)
			}
		}
	}
	return nil
}

// insertWPs stores the WPs with their fencing counters in one call.
func insertWPs(bt agileplus.BulkTx, ctx context.Context, items []fencedWP) error {
	ws := make([]*agileplus.WP, len(items))
	fences := make([]int64, len(items))
	for i, it := range items {
		ws[i], fences[i] = it.w, it.fence
	}
	return bt.InsertWPs(ctx, ws, fences)
}

// insertWP stores one WP, then raises its fencing counter, which InsertWP
// set to the lease's token, where the source's is higher.
func insertWP(tx agileplus.Tx, ctx context.Context, it fencedWP) error {
	if err := tx.InsertWP(ctx, it.w); err != nil {
		return err
	}
	if held := it.w.Lease; it.fence > 0 && (held == nil || held.Token < it.fence) {
		return tx.RaiseFence(ctx, it.w.ID, it.fence)
	}
	return nil
}

// srcFences reads the WPs' fencing counters on the source one by one.
// FenceToken is only on write transactions; this one writes nothing.
func (m *migration) srcFences(items []fencedWP) error {
	err := m.src.Update(m.ctx, func(stx agileplus.Tx) error {
		for i, it := range items {
			f, err := stx.FenceToken(m.ctx, it.w.ID)
			if err != nil {
				return err
			}
			items[i].fence = f
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read fencing counters: %w", err)
	}
	return nil
}

func idsOf(ws []*agileplus.WP) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	return ids
}

func (m *migration) dependencies() error {
	return copyPages(m, "dependencies", &m.rep.Dependencies, func(tx agileplus.ReadTx, after string) ([]*agileplus.Dependency, string, error) {
		ds, err := tx.AllDependencies(m.ctx, agileplus.Page{After: after, Limit: m.chunk})
		if len(ds) == 0 {
			return ds, "", err
		}
		return ds, ds[len(ds)-1].ID, err
	}, func(tx agileplus.Tx, ds []*agileplus.Dependency) error {
		return writeAll(m.ctx, tx, ds, agileplus.BulkTx.InsertDependencies, agileplus.Tx.InsertDependency)
	})
}

func (m *migration) references() error {
	return copyPages(m, "references", &m.rep.References, func(tx agileplus.ReadTx, after string) ([]*agileplus.Reference, string, error) {
		rs, err := tx.AllReferences(m.ctx, agileplus.Page{After: after, Limit: m.chunk})
		if len(rs) == 0 {
			return rs, "", err
		}
		return rs, rs[len(rs)-1].ID, err
	}, func(tx agileplus.Tx, rs []*agileplus.Reference) error {
		return writeAll(m.ctx, tx, rs, agileplus.BulkTx.PutReferences, agileplus.Tx.PutReference)
	})
}

// comments copies the comments with their histories, one call each: they
// are few beside events.
func (m *migration) comments() error {
	return copyPages(m, "comments", &m.rep.Comments, func(tx agileplus.ReadTx, after string) ([]*agileplus.Comment, string, error) {
		cs, err := tx.AllComments(m.ctx, agileplus.Page{After: after, Limit: m.chunk})
		if len(cs) == 0 {
			return cs, "", err
		}
		return cs, cs[len(cs)-1].ID, err
	}, func(tx agileplus.Tx, cs []*agileplus.Comment) error {
		for _, c := range cs {
			if err := tx.InsertComment(m.ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// keys copies the API keys as they are: id, prefix, hash, version and
// times. A key the target already holds unchanged is left alone, so a
// copy that runs again writes nothing twice; one that differs is a
// conflict.
func (m *migration) keys() error {
	return copyPages(m, "api keys", &m.rep.Keys, func(tx agileplus.ReadTx, after string) ([]*agileplus.APIKey, string, error) {
		ks, err := tx.APIKeys(m.ctx, agileplus.Page{After: after, Limit: m.chunk})
		if len(ks) == 0 {
			return ks, "", err
		}
		return ks, ks[len(ks)-1].ID, err
	}, func(tx agileplus.Tx, ks []*agileplus.APIKey) error {
		for _, k := range ks {
			old, err := tx.APIKey(m.ctx, k.ID)
			switch {
			case err == nil && sameKey(old, k):
				continue
			case err == nil:
				return agileplus.Errorf(agileplus.ECONFLICT, "migrate: the target holds key %s (prefix %s) with other content", k.ID, k.Prefix)
			case agileplus.ErrorCode(err) != agileplus.ENOTFOUND:
				return err
			}
			if err := tx.InsertAPIKey(m.ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameKey reports whether two keys hold the same, hash included.
func sameKey(a, b *agileplus.APIKey) bool {
	return keyRecord(a) == keyRecord(b)
}

// keyRecord is a key as Verify digests it: with its hash, which the
// key's JSON leaves out.
func keyRecord(k *agileplus.APIKey) string {
	b, _ := json.Marshal(struct {
		*agileplus.APIKey
		Hash string `json:"hash"`
	}{k, k.Hash})
	return string(b)
}

// events copies every event in global order; the target gives each the
// next global sequence, which is the source's when the source's has no
// gaps (a difference shows in the final digest).
func (m *migration) events() error {
	return copyPages(m, "events", &m.rep.Events, func(tx agileplus.ReadTx, after string) ([]*agileplus.Event, string, error) {
		a, _ := strconv.ParseInt(after, 10, 64)
		es, err := tx.Events(m.ctx, agileplus.EventFilter{After: a, Limit: m.chunk})
		if len(es) == 0 {
			return es, "", err
		}
		return es, strconv.FormatInt(es[len(es)-1].GlobalSeq, 10), err
	}, func(tx agileplus.Tx, es []*agileplus.Event) error {
		// The target sets GlobalSeq on what it appends: copies, so that a
		// retried transaction sends the source's events again.
		cs := make([]*agileplus.Event, len(es))
		for i, e := range es {
			c := *e
			cs[i] = &c
		}
		return writeAll(m.ctx, tx, cs, agileplus.BulkTx.AppendEvents, agileplus.Tx.AppendEvent)
	})
}

func (m *migration) audit() error {
	for _, fid := range m.featureIDs {
		err := copyPages(m, "audit entries", &m.rep.AuditEntries, func(tx agileplus.ReadTx, after string) ([]*agileplus.AuditEntry, string, error) {
			a, _ := strconv.ParseInt(after, 10, 64)
			as, err := tx.Audit(m.ctx, fid, a, m.chunk)
			if len(as) == 0 {
				return as, "", err
			}
			return as, strconv.FormatInt(as[len(as)-1].Seq, 10), err
		}, func(tx agileplus.Tx, as []*agileplus.AuditEntry) error {
			return writeAll(m.ctx, tx, as, agileplus.BulkTx.AppendAudits, agileplus.Tx.AppendAudit)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// published marks on the target every event the source had published.
func (m *migration) published(src, dst agileplus.Outbox) error {
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
