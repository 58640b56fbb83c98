package storemigrate

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/agileplus/agileplus"
)

// memStore is a store in memory, just enough of one for Run and Verify:
// the reads they page through, the writes they make and an outbox. It does
// not roll back. With bulk set, its transactions also implement BulkTx and
// FenceReader.
type memStore struct {
	mu    sync.Mutex
	bulk  bool
	calls map[string]int // write method -> calls

	projects []*agileplus.Project
	features []*agileplus.Feature
	wps      []*agileplus.WP
	deps     []*agileplus.Dependency
	refs     []*agileplus.Reference
	comments []*agileplus.Comment
	keys     []*agileplus.APIKey
	labels   []*agileplus.LabelDef        // by project id, then name
	flags    map[string]map[string]string // scope -> name -> value
	events   []*agileplus.Event
	audit    []*agileplus.AuditEntry
	fences   map[string]int64
	reserved map[string]int64 // project id -> highest WP number reserved
	pending  map[string]bool
}

func newMemStore(bulk bool) *memStore {
	return &memStore{bulk: bulk, calls: map[string]int{}, fences: map[string]int64{}, flags: map[string]map[string]string{}, reserved: map[string]int64{}, pending: map[string]bool{}}
}

var (
	_ agileplus.Store       = (*memStore)(nil)
	_ agileplus.Outbox      = (*memStore)(nil)
	_ agileplus.BulkTx      = bulkTx{}
	_ agileplus.FenceReader = bulkTx{}
)

func (s *memStore) tx() agileplus.Tx {
	if s.bulk {
		return bulkTx{&memTx{s: s}}
	}
	return &memTx{s: s}
}

func (s *memStore) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(s.tx())
}

func (s *memStore) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(s.tx())
}

func (s *memStore) Close() error { return nil }

func (s *memStore) PendingEvents(ctx context.Context, after int64, limit int) ([]*agileplus.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*agileplus.Event
	for _, e := range s.events {
		if e.GlobalSeq > after && s.pending[e.ID] && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memStore) MarkPublished(ctx context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.pending, id)
	}
	return nil
}

func (s *memStore) PendingCount(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.pending)), nil
}

// memTx implements what Run and Verify call; any other method panics on
// the nil Tx it embeds.
type memTx struct {
	agileplus.Tx
	s *memStore
}

// page returns the items after the cursor, at most limit of them; items
// are in cursor order.
func page[T any, K cmp.Ordered](items []T, key func(T) K, after K, limit int) []T {
	i, _ := slices.BinarySearchFunc(items, after, func(it T, k K) int {
		if key(it) <= k {
			return -1
		}
		return 1
	})
	return slices.Clone(items[i:min(len(items), i+limit)])
}

func (t *memTx) Projects(ctx context.Context, p agileplus.Page) ([]*agileplus.Project, error) {
	return page(t.s.projects, func(p *agileplus.Project) string { return p.ID }, p.After, p.Limit), nil
}

func (t *memTx) Features(ctx context.Context, projectID string, p agileplus.Page) ([]*agileplus.Feature, error) {
	fs := slices.DeleteFunc(slices.Clone(t.s.features), func(f *agileplus.Feature) bool { return f.ProjectID != projectID })
	return page(fs, func(f *agileplus.Feature) string { return f.ID }, p.After, p.Limit), nil
}

func (t *memTx) WPs(ctx context.Context, f agileplus.WPFilter) ([]*agileplus.WP, error) {
	ws := slices.DeleteFunc(slices.Clone(t.s.wps), func(w *agileplus.WP) bool { return w.ProjectID != f.ProjectID })
	ws = page(ws, func(w *agileplus.WP) string { return w.ID }, f.After, f.Limit)
	for i, w := range ws {
		c := *w // callers clear References
		ws[i] = &c
	}
	return ws, nil
}

func (t *memTx) AllDependencies(ctx context.Context, p agileplus.Page) ([]*agileplus.Dependency, error) {
	return page(t.s.deps, func(d *agileplus.Dependency) string { return d.ID }, p.After, p.Limit), nil
}

func (t *memTx) AllReferences(ctx context.Context, p agileplus.Page) ([]*agileplus.Reference, error) {
	return page(t.s.refs, func(r *agileplus.Reference) string { return r.ID }, p.After, p.Limit), nil
}

func (t *memTx) AllComments(ctx context.Context, p agileplus.Page) ([]*agileplus.Comment, error) {
	return page(t.s.comments, func(c *agileplus.Comment) string { return c.ID }, p.After, p.Limit), nil
}

func (t *memTx) InsertComment(ctx context.Context, c *agileplus.Comment) error {
	t.s.calls["InsertComment"]++
	t.s.comments = append(t.s.comments, c)
	return nil
}

func (t *memTx) APIKeys(ctx context.Context, p agileplus.Page) ([]*agileplus.APIKey, error) {
	return page(t.s.keys, func(k *agileplus.APIKey) string { return k.ID }, p.After, p.Limit), nil
}

func (t *memTx) APIKey(ctx context.Context, ref string) (*agileplus.APIKey, error) {
	for _, k := range t.s.keys {
		if k.ID == ref || k.Prefix == ref {
			c := *k
			return &c, nil
		}
	}
	return nil, &agileplus.Error{Code: agileplus.ENOTFOUND, Field: "key", Message: "key " + ref + " not found"}
}

func (t *memTx) InsertAPIKey(ctx context.Context, k *agileplus.APIKey) error {
	t.s.calls["InsertAPIKey"]++
	if _, err := t.APIKey(ctx, k.Prefix); err == nil {
		return &agileplus.Error{Code: agileplus.ECONFLICT, Field: "prefix", Message: "prefix taken"}
	}
	c := *k
	t.s.keys = append(t.s.keys, &c)
	slices.SortFunc(t.s.keys, func(a, b *agileplus.APIKey) int { return cmp.Compare(a.ID, b.ID) })
	return nil
}

func (t *memTx) Events(ctx context.Context, f agileplus.EventFilter) ([]*agileplus.Event, error) {
	return page(t.s.events, func(e *agileplus.Event) int64 { return e.GlobalSeq }, f.After, f.Limit), nil
}

func (t *memTx) Audit(ctx context.Context, featureID string, after int64, limit int) ([]*agileplus.AuditEntry, error) {
	as := slices.DeleteFunc(slices.Clone(t.s.audit), func(a *agileplus.AuditEntry) bool { return a.FeatureID != featureID })
	return page(as, func(a *agileplus.AuditEntry) int64 { return a.Seq }, after, limit), nil
}

func (t *memTx) FenceToken(ctx context.Context, wpID string) (int64, error) {
	return t.s.fences[wpID], nil
}

func (t *memTx) LabelDefs(ctx context.Context, projectID string, p agileplus.Page) ([]*agileplus.LabelDef, error) {
	ls := slices.DeleteFunc(slices.Clone(t.s.labels), func(l *agileplus.LabelDef) bool { return l.ProjectID != projectID })
	return page(ls, func(l *agileplus.LabelDef) string { return l.Name }, p.After, p.Limit), nil
}

func (t *memTx) InsertLabelDef(ctx context.Context, l *agileplus.LabelDef) error {
	t.s.calls["InsertLabelDef"]++
	c := *l
	t.s.labels = append(t.s.labels, &c)
	slices.SortFunc(t.s.labels, func(a, b *agileplus.LabelDef) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Name, b.Name))
	})
	return nil
}

func (t *memTx) FlagValues(ctx context.Context, scope string) (map[string]string, error) {
	return maps.Clone(t.s.flags[scope]), nil
}

func (t *memTx) PutFlagValues(ctx context.Context, scope string, set map[string]string, unset []string) error {
	t.s.calls["PutFlagValues"]++
	if t.s.flags[scope] == nil {
		t.s.flags[scope] = map[string]string{}
	}
	maps.Copy(t.s.flags[scope], set)
	for _, name := range unset {
		delete(t.s.flags[scope], name)
	}
	return nil
}

func (t *memTx) InsertProject(ctx context.Context, p *agileplus.Project) error {
	t.s.calls["InsertProject"]++
	t.s.projects = append(t.s.projects, p)
	return nil
}

func (t *memTx) InsertFeature(ctx context.Context, f *agileplus.Feature) error {
	t.s.calls["InsertFeature"]++
	t.s.features = append(t.s.features, f)
	return nil
}

func (t *memTx) InsertWP(ctx context.Context, w *agileplus.WP) error {
	t.s.calls["InsertWP"]++
	t.s.wps = append(t.s.wps, w)
	if w.Lease != nil {
		t.s.fences[w.ID] = w.Lease.Token
	}
	return nil
}

func (t *memTx) RaiseFence(ctx context.Context, wpID string, token int64) error {
	t.s.calls["RaiseFence"]++
	t.s.fences[wpID] = max(t.s.fences[wpID], token)
	return nil
}

func (t *memTx) ReserveWPNumber(ctx context.Context, projectID string, num int64) error {
	t.s.reserved[projectID] = max(t.s.reserved[projectID], num)
	return nil
}

func (t *memTx) InsertDependency(ctx context.Context, d *agileplus.Dependency) error {
	t.s.calls["InsertDependency"]++
	t.s.deps = append(t.s.deps, d)
	return nil
}

func (t *memTx) PutReference(ctx context.Context, r *agileplus.Reference) error {
	t.s.calls["PutReference"]++
	t.s.refs = append(t.s.refs, r)
	return nil
}

func (t *memTx) AppendEvent(ctx context.Context, e *agileplus.Event) error {
	t.s.calls["AppendEvent"]++
	e.GlobalSeq = int64(len(t.s.events) + 1)
	t.s.events = append(t.s.events, e)
	t.s.pending[e.ID] = true
	return nil
}

func (t *memTx) AppendAudit(ctx context.Context, a *agileplus.AuditEntry) error {
	t.s.calls["AppendAudit"]++
	t.s.audit = append(t.s.audit, a)
	return nil
}

// bulkTx adds the bulk ports, each one call for the whole slice.
type bulkTx struct{ *memTx }

// each stores items with the per-record method, counting one bulk call
// instead of the per-record ones.
func each[T any](t bulkTx, name, one string, items []T, f func(T) error) error {
	t.s.calls[name]++
	for _, it := range items {
		if err := f(it); err != nil {
			return err
		}
	}
	if t.s.calls[one] -= len(items); t.s.calls[one] == 0 {
		delete(t.s.calls, one)
	}
	return nil
}

func (t bulkTx) InsertProjects(ctx context.Context, ps []*agileplus.Project) error {
	return each(t, "InsertProjects", "InsertProject", ps, func(p *agileplus.Project) error { return t.InsertProject(ctx, p) })
}

func (t bulkTx) InsertFeatures(ctx context.Context, fs []*agileplus.Feature) error {
	return each(t, "InsertFeatures", "InsertFeature", fs, func(f *agileplus.Feature) error { return t.InsertFeature(ctx, f) })
}

func (t bulkTx) InsertWPs(ctx context.Context, ws []*agileplus.WP, fences []int64) error {
	t.s.calls["InsertWPs"]++
	for i, w := range ws {
		t.s.wps = append(t.s.wps, w)
		t.s.fences[w.ID] = fences[i]
		if w.Lease != nil {
			t.s.fences[w.ID] = max(fences[i], w.Lease.Token)
		}
	}
	return nil
}

func (t bulkTx) InsertDependencies(ctx context.Context, ds []*agileplus.Dependency) error {
	return each(t, "InsertDependencies", "InsertDependency", ds, func(d *agileplus.Dependency) error { return t.InsertDependency(ctx, d) })
}

func (t bulkTx) PutReferences(ctx context.Context, rs []*agileplus.Reference) error {
	return each(t, "PutReferences", "PutReference", rs, func(r *agileplus.Reference) error { return t.PutReference(ctx, r) })
}

func (t bulkTx) AppendEvents(ctx context.Context, es []*agileplus.Event) error {
	return each(t, "AppendEvents", "AppendEvent", es, func(e *agileplus.Event) error { return t.AppendEvent(ctx, e) })
}

func (t bulkTx) AppendAudits(ctx context.Context, as []*agileplus.AuditEntry) error {
	return each(t, "AppendAudits", "AppendAudit", as, func(a *agileplus.AuditEntry) error { return t.AppendAudit(ctx, a) })
}

func (t bulkTx) FenceTokens(ctx context.Context, wpIDs []string) ([]int64, error) {
	out := make([]int64, len(wpIDs))
	for i, id := range wpIDs {
		out[i] = t.s.fences[id]
	}
	return out, nil
}
