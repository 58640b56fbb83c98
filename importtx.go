package agileplus

import (
	"context"
	"fmt"
	"runtime/debug"
)

// An importTx stores a chunk once it holds bulkChunk events or
// bulkChunkBytes of event data, whichever comes first: the records a chunk
// announces carry their text (a WP its description), as its events do.
const (
	bulkChunk      = 5000
	bulkChunkBytes = 2 << 20
)

// importTx is the transaction writeImport writes through when the store's
// Tx implements BulkTx. It keeps what writeImport inserts and appends and
// stores it with the BulkTx methods a chunk at a time (bulkChunk events,
// or bulkChunkBytes of their data, and the records they announce), kind by kind in the order of the foreign keys
// between them. A chunk is stored in the background while writeImport
// builds the next one (ids, event data, hashes); every other use of the
// store's Tx waits for it first, so that one goroutine at a time uses the
// Tx. If the Tx also implements BulkGraphTx, each new WP goes with its
// count of open dependencies, which the plan counted, and the file's
// dependencies from new WPs go marked as counted. Chain heads of what it
// holds come from what it holds.
type importTx struct {
	tx Tx
	bt BulkTx
	bg BulkGraphTx // nil: WPs and dependencies go without counts

	openDeps map[string]int64 // new WP id -> its open dependencies in the file
	isNew    map[string]bool  // ids of the entities the file creates

	cur      importBatch
	curBytes int        // event data in cur
	inflight chan error // a chunk being stored, or nil

	eventHeads map[string]chainLink // entity id -> its last event held
	auditHeads map[string]chainLink // feature id -> its last audit entry held
}

var _ Tx = (*importTx)(nil)

type chainLink struct {
	seq  int64
	hash string
}

// importBatch is what importTx holds.
type importBatch struct {
	projects []*Project
	features []*Feature
	wps      []*WP
	open     []int64 // per WP, with bg
	deps     []*Dependency
	counted  []bool // per dependency, with bg
	refs     []*Reference
	labels   []*LabelDef
	comments []*Comment
	events   []*Event
	audits   []*AuditEntry
	reserved map[string]int64 // project id -> highest WP number to reserve
}

func newImportTx(tx Tx, bt BulkTx, p *importPlan) *importTx {
	b := &importTx{tx: tx, bt: bt, openDeps: p.openDeps, isNew: p.newIDs, eventHeads: map[string]chainLink{}, auditHeads: map[string]chainLink{}}
	b.bg, _ = tx.(BulkGraphTx)
	return b
}

// wait waits for the chunk being stored, if any, and returns its error.
func (b *importTx) wait() error {
	if b.inflight == nil {
		return nil
	}
	err := <-b.inflight
	b.inflight = nil
	return err
}

// flush stores what b holds, in the background unless last.
func (b *importTx) flush(ctx context.Context, last bool) error {
	if err := b.wait(); err != nil {
		return err
	}
	batch := b.cur
	b.cur, b.curBytes = importBatch{}, 0
	clear(b.eventHeads)
	clear(b.auditHeads)
	if last {
		return b.store(ctx, &batch)
	}
	b.inflight = make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				b.inflight <- fmt.Errorf("import: panic storing a chunk: %v\n%s", v, debug.Stack())
			}
		}()
		b.inflight <- b.store(ctx, &batch)
	}()
	return nil
}

func (b *importTx) store(ctx context.Context, c *importBatch) error {
	if err := b.bt.InsertProjects(ctx, c.projects); err != nil {
		return err
	}
	if err := b.bt.InsertFeatures(ctx, c.features); err != nil {
		return err
	}
	for pid, num := range c.reserved {
		if err := b.tx.ReserveWPNumber(ctx, pid, num); err != nil {
			return err
		}
	}
	if b.bg != nil {
		if err := b.bg.InsertCountedWPs(ctx, c.wps, c.open); err != nil {
			return err
		}
		if err := b.bg.InsertCountedDependencies(ctx, c.deps, c.counted); err != nil {
			return err
		}
	} else {
		if err := b.bt.InsertWPs(ctx, c.wps, make([]int64, len(c.wps))); err != nil {
			return err
		}
		if err := b.bt.InsertDependencies(ctx, c.deps); err != nil {
			return err
		}
	}
	if err := b.bt.PutReferences(ctx, c.refs); err != nil {
		return err
	}
	for _, l := range c.labels { // a few per project: no bulk statement
		if err := b.tx.InsertLabelDef(ctx, l); err != nil {
			return err
		}
	}
	for _, cm := range c.comments { // no bulk statement: comments are few beside events
		if err := b.tx.InsertComment(ctx, cm); err != nil {
			return err
		}
	}
	if err := b.bt.AppendEvents(ctx, c.events); err != nil {
		return err
	}
	return b.bt.AppendAudits(ctx, c.audits)
}

// ---- writes: held ----

func (b *importTx) InsertProject(_ context.Context, p *Project) error {
	b.cur.projects = append(b.cur.projects, p)
	return nil
}

func (b *importTx) InsertFeature(_ context.Context, f *Feature) error {
	b.cur.features = append(b.cur.features, f)
	return nil
}

func (b *importTx) ReserveWPNumber(_ context.Context, projectID string, num int64) error {
	if b.cur.reserved == nil {
		b.cur.reserved = map[string]int64{}
	}
	b.cur.reserved[projectID] = max(b.cur.reserved[projectID], num)
	return nil
}

func (b *importTx) InsertWP(_ context.Context, w *WP) error {
	b.cur.wps = append(b.cur.wps, w)
	if b.bg != nil {
		b.cur.open = append(b.cur.open, b.openDeps[w.ID])
	}
	return nil
}

func (b *importTx) InsertDependency(_ context.Context, d *Dependency) error {
	b.cur.deps = append(b.cur.deps, d)
	if b.bg != nil {
		// The plan counted the edges from the WPs the file creates.
		b.cur.counted = append(b.cur.counted, d.EntityKind == KindWP && b.isNew[d.From])
	}
	return nil
}

func (b *importTx) PutReference(_ context.Context, r *Reference) error {
	b.cur.refs = append(b.cur.refs, r)
	return nil
}

func (b *importTx) InsertLabelDef(_ context.Context, l *LabelDef) error {
	b.cur.labels = append(b.cur.labels, l)
	return nil
}

func (b *importTx) InsertComment(_ context.Context, c *Comment) error {
	b.cur.comments = append(b.cur.comments, c)
	return nil
}

func (b *importTx) AppendEvent(ctx context.Context, e *Event) error {
	b.cur.events = append(b.cur.events, e)
	b.eventHeads[e.EntityID] = chainLink{e.Seq, e.Hash}
	b.curBytes += len(e.Data)
	if len(b.cur.events) >= bulkChunk || b.curBytes >= bulkChunkBytes {
		return b.flush(ctx, false)
	}
	return nil
}

func (b *importTx) AppendAudit(_ context.Context, a *AuditEntry) error {
	b.cur.audits = append(b.cur.audits, a)
	b.auditHeads[a.FeatureID] = chainLink{a.Seq, a.Hash}
	return nil
}

func (b *importTx) EventHead(ctx context.Context, entityID string) (int64, string, error) {
	if h, ok := b.eventHeads[entityID]; ok {
		return h.seq, h.hash, nil
	}
	if err := b.wait(); err != nil {
		return 0, "", err
	}
	return b.tx.EventHead(ctx, entityID)
}

func (b *importTx) AuditHead(ctx context.Context, featureID string) (int64, string, error) {
	if h, ok := b.auditHeads[featureID]; ok {
		return h.seq, h.hash, nil
	}
	if err := b.wait(); err != nil {
		return 0, "", err
	}
	return b.tx.AuditHead(ctx, featureID)
}

// ---- everything else: straight to the store, once it is free ----
//
// writeImport reads only entities that existed before the import, which
// the store has.

func (b *importTx) Project(ctx context.Context, ref string) (*Project, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Project(ctx, ref)
}

func (b *importTx) Projects(ctx context.Context, p Page) ([]*Project, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Projects(ctx, p)
}

func (b *importTx) Feature(ctx context.Context, ref string) (*Feature, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Feature(ctx, ref)
}

func (b *importTx) Features(ctx context.Context, projectID string, p Page) ([]*Feature, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Features(ctx, projectID, p)
}

func (b *importTx) WP(ctx context.Context, ref string) (*WP, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.WP(ctx, ref)
}

func (b *importTx) WPs(ctx context.Context, f WPFilter) ([]*WP, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.WPs(ctx, f)
}

func (b *importTx) Dependency(ctx context.Context, id string) (*Dependency, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Dependency(ctx, id)
}

func (b *importTx) Edges(ctx context.Context, id string) ([]*Edge, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Edges(ctx, id)
}

func (b *importTx) DependsOnPath(ctx context.Context, from, to string) ([]string, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.DependsOnPath(ctx, from, to)
}

func (b *importTx) Ready(ctx context.Context, f ReadyFilter) ([]*WP, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Ready(ctx, f)
}

func (b *importTx) LabelDef(ctx context.Context, projectID, name string) (*LabelDef, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.LabelDef(ctx, projectID, name)
}

func (b *importTx) LabelDefs(ctx context.Context, projectID string, p Page) ([]*LabelDef, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.LabelDefs(ctx, projectID, p)
}

func (b *importTx) Events(ctx context.Context, f EventFilter) ([]*Event, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Events(ctx, f)
}

func (b *importTx) References(ctx context.Context, wpID string) ([]*Reference, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.References(ctx, wpID)
}

func (b *importTx) AllDependencies(ctx context.Context, p Page) ([]*Dependency, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.AllDependencies(ctx, p)
}

func (b *importTx) AllReferences(ctx context.Context, p Page) ([]*Reference, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.AllReferences(ctx, p)
}

func (b *importTx) Audit(ctx context.Context, featureID string, after int64, limit int) ([]*AuditEntry, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Audit(ctx, featureID, after, limit)
}

func (b *importTx) UpdateProject(ctx context.Context, p *Project) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateProject(ctx, p)
}

func (b *importTx) UpdateFeature(ctx context.Context, f *Feature) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateFeature(ctx, f)
}

func (b *importTx) NextWPNumber(ctx context.Context, projectID string) (int64, error) {
	if err := b.wait(); err != nil {
		return 0, err
	}
	return b.tx.NextWPNumber(ctx, projectID)
}

func (b *importTx) UpdateWP(ctx context.Context, w *WP) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateWP(ctx, w)
}

func (b *importTx) FenceToken(ctx context.Context, wpID string) (int64, error) {
	if err := b.wait(); err != nil {
		return 0, err
	}
	return b.tx.FenceToken(ctx, wpID)
}

func (b *importTx) RaiseFence(ctx context.Context, wpID string, token int64) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.RaiseFence(ctx, wpID, token)
}

func (b *importTx) DeleteDependency(ctx context.Context, id string) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.DeleteDependency(ctx, id)
}

func (b *importTx) UpdateLabelDef(ctx context.Context, l *LabelDef) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateLabelDef(ctx, l)
}

func (b *importTx) DeleteLabelDef(ctx context.Context, id string) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.DeleteLabelDef(ctx, id)
}

func (b *importTx) Comment(ctx context.Context, id string) (*Comment, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Comment(ctx, id)
}

func (b *importTx) Comments(ctx context.Context, entityID string, p Page) ([]*Comment, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.Comments(ctx, entityID, p)
}

func (b *importTx) AllComments(ctx context.Context, p Page) ([]*Comment, error) {
	if err := b.wait(); err != nil {
		return nil, err
	}
	return b.tx.AllComments(ctx, p)
}

func (b *importTx) UpdateComment(ctx context.Context, c *Comment) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.UpdateComment(ctx, c)
}

func (b *importTx) DeleteWP(ctx context.Context, id string) error {
	if err := b.wait(); err != nil {
		return err
	}
	return b.tx.DeleteWP(ctx, id)
}
