package storemigrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"

	"github.com/agileplus/agileplus"
)

// Verify checks every event chain (per entity) and audit chain (per
// feature) in st and returns a digest of everything st holds: entities with
// versions, leases and fencing counters, dependencies, references, API
// keys with their hashes, events, audit entries and the outbox. Two stores with equal digests hold the same
// data. Errors name the first chain that does not verify.
func Verify(ctx context.Context, st agileplus.Store) (digest string, eventChains, auditChains int, err error) {
	v := &verifier{ctx: ctx, h: sha256.New()}
	err = st.View(ctx, func(tx agileplus.ReadTx) error {
		v.tx = tx
		v.fr, _ = tx.(agileplus.FenceReader)
		return inOrder(v.projects, v.labels, v.flags, v.features, v.wps, v.dependencies, v.references, v.comments, v.keys, v.events, v.audit)
	})
	if err == nil {
		err = v.fences(st)
	}
	if err == nil {
		err = v.outbox(st)
	}
	if err != nil {
		return "", 0, 0, err
	}
	return hex.EncodeToString(v.h.Sum(nil)), v.eventChains, v.auditChains, nil
}

// verifier digests one store section by section, in a fixed order.
type verifier struct {
	ctx context.Context
	h   hash.Hash
	tx  agileplus.ReadTx
	fr  agileplus.FenceReader // tx's, or nil

	projectIDs, featureIDs, wpIDs []string
	fenceTokens                   []int64 // of wpIDs, when fr read them

	eventChains, auditChains int
}

// section starts a section of the digest.
func (v *verifier) section(name string) { fmt.Fprintf(v.h, "\n#%s\n", name) }

// put adds one record to the digest.
func (v *verifier) put(x any) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	v.h.Write(b)
	v.h.Write([]byte{'\n'})
	return nil
}

func (v *verifier) projects() error {
	v.section("projects")
	return eachPage(func(after string) (string, int, error) {
		ps, err := v.tx.Projects(v.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		for _, p := range ps {
			v.projectIDs = append(v.projectIDs, p.ID)
			if err := v.put(p); err != nil {
				return "", 0, err
			}
		}
		return lastID(ps, func(p *agileplus.Project) string { return p.ID }), len(ps), err
	})
}

func (v *verifier) labels() error {
	v.section("labels")
	for _, pid := range v.projectIDs {
		err := eachPage(func(after string) (string, int, error) {
			ls, err := v.tx.LabelDefs(v.ctx, pid, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
			for _, l := range ls {
				if err := v.put(l); err != nil {
					return "", 0, err
				}
			}
			return lastID(ls, func(l *agileplus.LabelDef) string { return l.Name }), len(ls), err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) features() error {
	v.section("features")
	for _, pid := range v.projectIDs {
		err := eachPage(func(after string) (string, int, error) {
			fs, err := v.tx.Features(v.ctx, pid, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
			for _, f := range fs {
				v.featureIDs = append(v.featureIDs, f.ID)
				if err := v.put(f); err != nil {
					return "", 0, err
				}
			}
			return lastID(fs, func(f *agileplus.Feature) string { return f.ID }), len(fs), err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// wps digests the WPs without their references (the references section
// has them) and, with a FenceReader, reads their fencing counters for the
// fences section.
func (v *verifier) wps() error {
	v.section("wps")
	for _, pid := range v.projectIDs {
		err := eachPage(func(after string) (string, int, error) {
			ws, err := v.tx.WPs(v.ctx, agileplus.WPFilter{ProjectID: pid, Page: agileplus.Page{After: after, Limit: agileplus.MaxPageLimit}})
			if err != nil {
				return "", 0, err
			}
			for _, w := range ws {
				w.References = nil
				v.wpIDs = append(v.wpIDs, w.ID)
				if err := v.put(w); err != nil {
					return "", 0, err
				}
			}
			if v.fr != nil && len(ws) > 0 {
				fs, err := v.fr.FenceTokens(v.ctx, idsOf(ws))
				if err == nil && len(fs) != len(ws) {
					err = fmt.Errorf("read fencing counters: got %d for %d WPs", len(fs), len(ws))
				}
				if err != nil {
					return "", 0, err
				}
				v.fenceTokens = append(v.fenceTokens, fs...)
			}
			return lastID(ws, func(w *agileplus.WP) string { return w.ID }), len(ws), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) dependencies() error {
	v.section("dependencies")
	return eachPage(func(after string) (string, int, error) {
		ds, err := v.tx.AllDependencies(v.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		for _, d := range ds {
			if err := v.put(d); err != nil {
				return "", 0, err
			}
		}
		return lastID(ds, func(d *agileplus.Dependency) string { return d.ID }), len(ds), err
	})
}

func (v *verifier) references() error {
	v.section("references")
	return eachPage(func(after string) (string, int, error) {
		rs, err := v.tx.AllReferences(v.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		for _, r := range rs {
			if err := v.put(r); err != nil {
				return "", 0, err
			}
		}
		return lastID(rs, func(r *agileplus.Reference) string { return r.ID }), len(rs), err
	})
}

func (v *verifier) comments() error {
	v.section("comments")
	return eachPage(func(after string) (string, int, error) {
		cs, err := v.tx.AllComments(v.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		for _, c := range cs {
			if err := v.put(c); err != nil {
				return "", 0, err
			}
		}
		return lastID(cs, func(c *agileplus.Comment) string { return c.ID }), len(cs), err
	})
}

func (v *verifier) keys() error {
	v.section("keys")
	return eachPage(func(after string) (string, int, error) {
		ks, err := v.tx.APIKeys(v.ctx, agileplus.Page{After: after, Limit: agileplus.MaxPageLimit})
		for _, k := range ks {
			fmt.Fprintf(v.h, "%s\n", keyRecord(k))
		}
		return lastID(ks, func(k *agileplus.APIKey) string { return k.ID }), len(ks), err
	})
}

// events digests every event in global order and verifies each entity's
// chain on the way: an entity's events come in its own order, so keeping
// each entity's last seq and hash is enough.
func (v *verifier) events() error {
	v.section("events")
	type head struct {
		seq  int64
		hash string
	}
	heads := map[string]head{}
	var after int64
	for {
		es, err := v.tx.Events(v.ctx, agileplus.EventFilter{After: after, Limit: agileplus.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := v.put(e); err != nil {
				return err
			}
			h := heads[e.EntityID]
			switch {
			case e.Seq != h.seq+1:
				return agileplus.Errorf(agileplus.ECONFLICT, "event chain of %s: event %s has seq %d, want %d", e.EntityID, e.ID, e.Seq, h.seq+1)
			case e.PrevHash != h.hash:
				return agileplus.Errorf(agileplus.ECONFLICT, "event chain of %s: event %s (seq %d) prev_hash does not match the previous hash", e.EntityID, e.ID, e.Seq)
			case e.ComputeHash() != e.Hash:
				return agileplus.Errorf(agileplus.ECONFLICT, "event chain of %s: event %s (seq %d) hash mismatch", e.EntityID, e.ID, e.Seq)
			}
			heads[e.EntityID] = head{e.Seq, e.Hash}
		}
		if len(es) < agileplus.MaxPageLimit {
			break
		}
		after = es[len(es)-1].GlobalSeq
	}
	v.eventChains = len(heads)
	return nil
}

// audit digests every feature's audit trail and verifies its chain.
func (v *verifier) audit() error {
	v.section("audit")
	for _, fid := range v.featureIDs {
		var entries []*agileplus.AuditEntry
		var after int64
		for {
			as, err := v.tx.Audit(v.ctx, fid, after, agileplus.MaxPageLimit)
			if err != nil {
				return err
			}
			entries = append(entries, as...)
			if len(as) < agileplus.MaxPageLimit {
				break
			}
			after = as[len(as)-1].Seq
		}
		if r := agileplus.VerifyAuditChain(fid, entries); !r.Valid {
			return agileplus.Errorf(agileplus.ECONFLICT, "audit chain of feature %s breaks at entry %d: %s", fid, r.BrokenAt, r.Problem)
		}
		if len(entries) > 0 {
			v.auditChains++
		}
		for _, a := range entries {
			if err := v.put(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// fences digests every WP's fencing counter, read by the FenceReader in
// the read transaction or, without one, in write transactions that write
// nothing (FenceToken is only on Tx).
func (v *verifier) fences(st agileplus.Store) error {
	v.section("fences")
	if v.fr != nil {
		for i, id := range v.wpIDs {
			fmt.Fprintf(v.h, "%s %d\n", id, v.fenceTokens[i])
		}
		return nil
	}
	for ids := v.wpIDs; len(ids) > 0; {
		chunk := ids[:min(len(ids), migrateChunk)]
		ids = ids[len(chunk):]
		err := st.Update(v.ctx, func(tx agileplus.Tx) error {
			for _, id := range chunk {
				f, err := tx.FenceToken(v.ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(v.h, "%s %d\n", id, f)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// outbox digests which events are still to be published, when st has an
// outbox.
func (v *verifier) outbox(st agileplus.Store) error {
	ob, ok := st.(agileplus.Outbox)
	if !ok {
		return nil
	}
	v.section("outbox")
	var after int64
	for {
		es, err := ob.PendingEvents(v.ctx, after, agileplus.MaxPageLimit)
		if err != nil {
			return err
		}
		for _, e := range es {
			fmt.Fprintf(v.h, "%s\n", e.ID)
		}
		if len(es) < agileplus.MaxPageLimit {
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
		if n < agileplus.MaxPageLimit {
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
