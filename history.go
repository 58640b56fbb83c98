package agileplus

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Time travel: the state of a WP or a feature as it was at a global
// sequence or an instant, rebuilt from the nearest snapshot at or before
// it plus the entity's later events, and the entity's history of changes.
//
// The store keeps a snapshot of an entity every SnapshotEvery events or
// SnapshotInterval (whichever comes first), in the transaction of the
// event that makes one due, so a rebuild replays fewer than SnapshotEvery
// events.

// Snapshot policy: a snapshot is due once SnapshotEvery events or
// SnapshotInterval have passed since the entity's last snapshot (or its
// first event, when it has none).
const (
	SnapshotEvery    = 100
	SnapshotInterval = 300 * time.Second
	// SnapshotCacheTTL is how long a snapshot stays in the cache;
	// snapshots never change, so the TTL only bounds the cache's size.
	SnapshotCacheTTL = time.Hour
)

// Snapshot is an entity's state right after one of its events.
type Snapshot struct {
	EntityKind string    `json:"entity_kind"`
	EntityID   string    `json:"entity_id"`
	Seq        int64     `json:"seq"`        // the entity's event the state follows
	GlobalSeq  int64     `json:"global_seq"` // that event's global sequence
	Time       time.Time `json:"time"`       // that event's time
	// State is the entity as a single read returns it: a WP with its
	// references and its stored lease (live or not), or a feature.
	State json.RawMessage `json:"state,omitempty"`
}

// SnapshotCacheKey is the cache key of an entity's snapshot at seq.
func SnapshotCacheKey(kind, id string, seq int64) string {
	return "snapshot:" + kind + ":" + id + ":" + strconv.FormatInt(seq, 10)
}

// SnapshotReader is the snapshot port of a store's read transactions
// (both stores' ReadTx and Tx implement it; a store without it has its
// entities rebuilt from their first event).
//
// Contract: SnapshotHead returns the entity's latest snapshot, without
// State, whose GlobalSeq is at most at.Seq (when at.Seq > 0) and whose
// Time is at most at.Time (when it is not zero), or nil when there is
// none. Snapshot returns the entity's snapshot at its event seq, with
// State (ENOTFOUND, field "snapshot", when there is none). EntityEvents
// returns the entity's events with Seq > afterSeq and, when upTo > 0,
// GlobalSeq <= upTo, by Seq, at most limit.
type SnapshotReader interface {
	SnapshotHead(ctx context.Context, entityID string, at AsOf) (*Snapshot, error)
	Snapshot(ctx context.Context, entityID string, seq int64) (*Snapshot, error)
	EntityEvents(ctx context.Context, entityID string, afterSeq, upTo int64, limit int) ([]*Event, error)
}

// SnapshotWriter is the snapshot port of a store's write transactions.
// SaveSnapshot stores s; one at the same entity and Seq is ECONFLICT.
type SnapshotWriter interface {
	SnapshotReader
	SaveSnapshot(ctx context.Context, s *Snapshot) error
}

// AsOf names a past moment: a global sequence (Seq > 0) or an instant.
type AsOf struct {
	Seq  int64
	Time time.Time
}

func (a AsOf) String() string {
	if a.Seq > 0 {
		return "global sequence " + strconv.FormatInt(a.Seq, 10)
	}
	return a.Time.UTC().Format(time.RFC3339Nano)
}

// after reports whether e happened after the moment.
func (a AsOf) after(e *Event) bool {
	return (a.Seq > 0 && e.GlobalSeq > a.Seq) || (!a.Time.IsZero() && e.Time.After(a.Time))
}

// ParseAsOf reads ?at=: a global sequence (1 or more) or an RFC 3339 time.
func ParseAsOf(s string) (AsOf, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return AsOf{}, FieldErrorf("at", "at %s is not a global sequence: it counts from 1", QuoteRef(s))
		}
		return AsOf{Seq: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return AsOf{}, FieldErrorf("at", "at must be a global sequence or an RFC 3339 time (2025-01-02T15:04:05Z), not %s", QuoteRef(s))
	}
	return AsOf{Time: t.UTC()}, nil
}

// HistoryQuery pages through an entity's history: the changes after the
// global sequence After, at most Limit of them.
type HistoryQuery struct {
	After int64
	Limit int
}

// HistoryEntry is one change of an entity: its event, who made it, why
// (the reason the event carries, if any) and what it changed.
type HistoryEntry struct {
	Seq       int64     `json:"seq"`
	GlobalSeq int64     `json:"global_seq"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason,omitempty"`
	Forced    bool      `json:"forced,omitempty"`
	// Version is the entity's version after the change.
	Version int64 `json:"version"`
	// Changes are the fields the change set, as they were and became
	// (version and updated_at left out); a comment changes none.
	Changes []FieldChange `json:"changes,omitempty"`
}

// FieldChange is one field of an entity before and after a change (null
// where it was or became unset).
type FieldChange struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

// HistoryTracker is the time-travel part of Tracker.
type HistoryTracker interface {
	// WPAt and FeatureAt return the entity as it was at the moment:
	// ENOTFOUND (field "at") before it existed or after it was deleted,
	// EINVALID (field "at") for a moment in the future.
	WPAt(ctx context.Context, ref string, at AsOf) (*WP, error)
	FeatureAt(ctx context.Context, ref string, at AsOf) (*Feature, error)
	// History lists a WP's (kind KindWP) or a feature's changes in order.
	History(ctx context.Context, kind, ref string, q HistoryQuery) ([]*HistoryEntry, error)
}

// ---- replay ----

// timeline is an entity's state while its events are replayed. An event
// that carries the whole entity replaces the state, so only the last such
// event before a read is decoded (pending holds it until then); references
// are kept apart, since those events carry the WP without them.
type timeline struct {
	kind    string
	wp      *WP
	feature *Feature
	refs    []*Reference
	pending json.RawMessage // the whole entity, newer than wp or feature
	seq     int64           // the last event applied
	at      time.Time
	deleted bool
}

func (t *timeline) exists() bool { return t.wp != nil || t.feature != nil || t.pending != nil }

// settle decodes the pending state.
func (t *timeline) settle() error {
	if t.pending == nil {
		return nil
	}
	var err error
	if t.kind == KindWP {
		t.wp = new(WP)
		err = json.Unmarshal(t.pending, t.wp)
	} else {
		t.feature = new(Feature)
		err = json.Unmarshal(t.pending, t.feature)
	}
	if err != nil {
		return fmt.Errorf("replay %s up to seq %d: %w", t.kind, t.seq, err)
	}
	t.pending = nil
	return nil
}

func (t *timeline) version() (int64, error) {
	if err := t.settle(); err != nil {
		return 0, err
	}
	switch {
	case t.wp != nil:
		return t.wp.Version, nil
	case t.feature != nil:
		return t.feature.Version, nil
	}
	return 0, nil
}

// state returns the entity (nil before it exists); the caller may keep it.
func (t *timeline) state() (any, error) {
	if err := t.settle(); err != nil {
		return nil, err
	}
	if t.kind != KindWP {
		if t.feature == nil {
			return (*Feature)(nil), nil
		}
		f := *t.feature
		return &f, nil
	}
	if t.wp == nil {
		return (*WP)(nil), nil
	}
	w := *t.wp
	w.References = t.refs
	return &w, nil
}

// load starts the timeline from a snapshot.
func (t *timeline) load(s *Snapshot) error {
	t.seq, t.at, t.pending = s.Seq, s.Time, s.State
	if err := t.settle(); err != nil {
		return err
	}
	if t.wp != nil {
		t.refs, t.wp.References = t.wp.References, nil
	}
	return nil
}

// apply replays one event. Events that carry the whole entity replace it;
// the others apply their part (a reference, a lease); comments and import
// markers change nothing an entity read shows.
func (t *timeline) apply(e *Event) error {
	t.seq, t.at = e.Seq, e.Time
	if t.kind == KindFeature {
		return t.applyFeature(e)
	}
	return t.applyWP(e)
}

func (t *timeline) applyFeature(e *Event) error {
	switch e.Action() {
	case "created", "imported", "updated", "archived", "restored":
		t.pending = e.Data
	case "transitioned":
		var d struct {
			Feature json.RawMessage `json:"feature"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.Feature == nil {
			return replayError(e, fmt.Errorf("no feature in the event (%v)", err))
		}
		t.pending = d.Feature
	}
	return nil
}

func (t *timeline) applyWP(e *Event) error {
	var d struct {
		WP        json.RawMessage `json:"wp"`
		Lease     *Lease          `json:"lease"`
		Reference *Reference      `json:"reference"`
	}
	switch e.Action() {
	case "created", "imported", "updated", "archived", "restored", "deleted":
		t.pending, t.deleted = e.Data, e.Action() == "deleted"
		return nil
	case "transitioned", "claimed", "renewed", "released", "referenced", "reference_updated":
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return replayError(e, err)
		}
	default:
		return nil
	}
	switch {
	case e.Action() == "referenced" || e.Action() == "reference_updated":
		t.refs = upsertReference(t.refs, d.Reference)
		return nil
	case d.WP != nil && string(d.WP) != "null":
		t.pending = d.WP
		return nil
	}
	// Lease events written before they carried the WP: apply the lease;
	// such an event's own time stands in for the write's.
	if err := t.settle(); err != nil {
		return err
	}
	if t.wp == nil {
		return replayError(e, fmt.Errorf("no state to apply it to"))
	}
	w := *t.wp
	switch e.Action() {
	case "claimed":
		w.Lease, w.UpdatedAt = d.Lease, e.Time
		if d.Lease != nil {
			w.UpdatedAt = d.Lease.ClaimedAt
		}
	case "renewed":
		w.Lease, w.UpdatedAt = d.Lease, e.Time
	case "released":
		w.Lease, w.UpdatedAt = nil, e.Time
	default:
		return replayError(e, fmt.Errorf("no wp in the event"))
	}
	w.Version++
	t.wp = &w
	return nil
}

func upsertReference(refs []*Reference, r *Reference) []*Reference {
	if r == nil {
		return refs
	}
	out := make([]*Reference, 0, len(refs)+1)
	found := false
	for _, old := range refs {
		if old.ID == r.ID {
			old, found = r, true
		}
		out = append(out, old)
	}
	if !found {
		out = append(out, r)
	}
	return out
}

func replayError(e *Event, err error) error {
	return fmt.Errorf("replay event %d (%s) of %s: %w", e.Seq, e.Type, e.EntityID, err)
}

// changesFrom lists the top-level fields of the state after that differ
// from the fields before.
func changesFrom(b map[string]json.RawMessage, after any) ([]FieldChange, error) {
	a, err := fieldsOf(after)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	null := json.RawMessage("null")
	seen := map[string]bool{}
	add := func(k string) {
		if seen[k] || k == "version" || k == "updated_at" {
			return
		}
		seen[k] = true
		from, to := b[k], a[k]
		if string(from) == string(to) {
			return
		}
		if from == nil {
			from = null
		}
		if to == nil {
			to = null
		}
		out = append(out, FieldChange{Field: k, From: from, To: to})
	}
	for _, k := range stateFields {
		add(k)
	}
	rest := slices.Sorted(maps.Keys(a))
	rest = append(rest, slices.Sorted(maps.Keys(b))...)
	for _, k := range rest {
		add(k)
	}
	return out, nil
}

// stateFields orders the changes of a WP or feature as its JSON does.
var stateFields = []string{"id", "key", "slug", "project_id", "project_key", "feature_id", "title", "description", "state",
	"estimate", "priority", "labels", "owner", "lease", "references", "created_at", "archived_at"}

func fieldsOf(v any) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if v == nil {
		return m, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return m, nil
	}
	return m, json.Unmarshal(b, &m)
}
