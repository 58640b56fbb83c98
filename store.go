package agileplus

import (
	"context"
	"time"
)

// Store is the system of record.
//
// Contract: Update runs fn in one serializable write transaction and commits
// it only if fn returns nil; otherwise nothing fn wrote is kept. View runs fn
// against a consistent read snapshot. Lookups of missing entities return an
// ENOTFOUND *Error; unique-key violations return ECONFLICT; an Update* whose
// guard version does not match returns ECONFLICT; an unreachable store
// returns EUNAVAILABLE. Transactions must not be used after fn returns.
// Implementations also implement Outbox and Pinger.
type Store interface {
	View(ctx context.Context, fn func(ReadTx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Page selects a slice of a list ordered by id: items after After, at most
// Limit of them.
type Page struct {
	After string
	Limit int
	// Archived selects by archived state in lists of projects, features
	// and WPs: ArchivedExclude, ArchivedInclude or ArchivedOnly. A store
	// reads "" as ArchivedInclude (every record, as exports want); the
	// Service reads it as ArchivedExclude (what a person listing wants).
	Archived string
}

// WPFilter selects work packages. Empty fields do not filter.
type WPFilter struct {
	ProjectID string
	FeatureID string
	State     string
	// Priorities keeps the WPs with one of them.
	Priorities []string
	// Labels keeps the WPs with all of them, or with any of them if
	// AnyLabel; they are normalized (NormalizeLabels).
	Labels   []string
	AnyLabel bool
	Owner    string
	// ByPriority orders by priority rank, then id, instead of by id; the
	// page then starts after (AfterRank, Page.After).
	ByPriority bool
	AfterRank  int
	Page
}

// ReadyFilter selects a page of a project's ready set.
type ReadyFilter struct {
	ProjectID string
	Now       time.Time // leases expiring at or before Now are not live
	// ByPriority orders by priority rank, then key number, instead of by
	// key number; the page starts after (AfterRank, AfterNum), or after
	// AfterNum alone.
	ByPriority bool
	AfterRank  int
	AfterNum   int64
	Limit      int
}

// EventFilter selects events by global sequence.
type EventFilter struct {
	After    int64  // events with GlobalSeq > After
	EntityID string // one entity's events, if set
	Limit    int
}

// ReadTx reads the system of record.
type ReadTx interface {
	// Ref lookups accept an id or a human key (project key, feature slug,
	// WP key). WPs come with their live-or-expired Lease, if any.
	Project(ctx context.Context, ref string) (*Project, error)
	Projects(ctx context.Context, p Page) ([]*Project, error)
	Feature(ctx context.Context, ref string) (*Feature, error)
	Features(ctx context.Context, projectID string, p Page) ([]*Feature, error)
	WP(ctx context.Context, ref string) (*WP, error)
	WPs(ctx context.Context, f WPFilter) ([]*WP, error)
	Dependency(ctx context.Context, id string) (*Dependency, error)
	// Edges returns the dependencies touching the WP or feature id, seen from it.
	Edges(ctx context.Context, id string) ([]*Edge, error)
	// DependsOnPath returns the keys along a shortest chain of depends_on
	// edges from -> ... -> to (ids of two WPs or two features), or nil.
	DependsOnPath(ctx context.Context, from, to string) ([]string, error)
	// Ready returns the project's planned WPs whose depends_on targets are
	// all done and that hold no live lease at f.Now, in the order f asks
	// for, the first f.Limit after its cursor.
	Ready(ctx context.Context, f ReadyFilter) ([]*WP, error)
	// LabelDef returns a project's label definition by name (ENOTFOUND,
	// field "label", if none); LabelDefs pages through a project's
	// definitions by name (Page.After is a name).
	LabelDef(ctx context.Context, projectID, name string) (*LabelDef, error)
	LabelDefs(ctx context.Context, projectID string, p Page) ([]*LabelDef, error)
	// EventHead returns the seq and hash of the entity's last event (0, "" if none).
	EventHead(ctx context.Context, entityID string) (int64, string, error)
	// AuditHead returns the seq and hash of the feature's last audit entry.
	AuditHead(ctx context.Context, featureID string) (int64, string, error)
	Events(ctx context.Context, f EventFilter) ([]*Event, error)
	// References returns a WP's references, oldest first.
	References(ctx context.Context, wpID string) ([]*Reference, error)
	// Comment returns a comment by id (ENOTFOUND, field "comment", if
	// none); Comments pages through the comments on a WP or feature id,
	// oldest first (by id; Page.After is an id).
	Comment(ctx context.Context, id string) (*Comment, error)
	Comments(ctx context.Context, entityID string, p Page) ([]*Comment, error)
	// AllComments pages through every comment by id, for export.
	AllComments(ctx context.Context, p Page) ([]*Comment, error)
	// AllDependencies and AllReferences page through every stored edge and
	// reference by id, for export.
	AllDependencies(ctx context.Context, p Page) ([]*Dependency, error)
	AllReferences(ctx context.Context, p Page) ([]*Reference, error)
	// Audit returns the feature's audit entries with Seq > after, by Seq.
	Audit(ctx context.Context, featureID string, after int64, limit int) ([]*AuditEntry, error)
	// APIKey returns a key, with its Hash, by id or prefix (ENOTFOUND,
	// field "key", if none); APIKeys pages through every key by id.
	APIKey(ctx context.Context, ref string) (*APIKey, error)
	APIKeys(ctx context.Context, p Page) ([]*APIKey, error)
	FlagReadTx // flag values and WIP counts (flag.go)
}

// Tx writes the system of record inside Update.
type Tx interface {
	ReadTx
	FlagTx
	InsertProject(ctx context.Context, p *Project) error
	// Update* write the entity if its stored version is v.Version-1.
	UpdateProject(ctx context.Context, p *Project) error
	InsertFeature(ctx context.Context, f *Feature) error
	UpdateFeature(ctx context.Context, f *Feature) error
	InsertWP(ctx context.Context, w *WP) error
	// NextWPNumber allocates the project's next WP number (1, 2, ...). It
	// is bookkeeping: it does not change the project's version.
	NextWPNumber(ctx context.Context, projectID string) (int64, error)
	// ReserveWPNumber makes sure NextWPNumber never hands out num or lower
	// (an import that brings its own keys).
	ReserveWPNumber(ctx context.Context, projectID string, num int64) error
	// UpdateWP also stores w.Lease (nil clears it) and raises the WP's
	// fencing counter to w.Lease.Token; the counter never goes down.
	UpdateWP(ctx context.Context, w *WP) error
	// FenceToken returns the highest fencing token ever issued for the WP.
	FenceToken(ctx context.Context, wpID string) (int64, error)
	// RaiseFence raises the WP's fencing counter to token if it is lower
	// (a migration carrying a WP's history over); it never lowers it and
	// changes nothing else.
	RaiseFence(ctx context.Context, wpID string, token int64) error
	// InsertDependency returns ECONFLICT (field "to") when an edge with the
	// same From, To and Kind exists.
	InsertDependency(ctx context.Context, d *Dependency) error
	DeleteDependency(ctx context.Context, id string) error
	// AppendEvent stores the event and puts it in the outbox. Its
	// GlobalSeq is set by the time Update returns: a store may number
	// events at commit (Neo4j does, sequence.go there).
	AppendEvent(ctx context.Context, e *Event) error
	AppendAudit(ctx context.Context, a *AuditEntry) error
	// PutReference inserts a reference, or updates the state of the one
	// with the same ID.
	PutReference(ctx context.Context, r *Reference) error
	// InsertComment stores a new comment; UpdateComment writes one if its
	// stored version is c.Version-1 (body, history, version, updated_at).
	InsertComment(ctx context.Context, c *Comment) error
	UpdateComment(ctx context.Context, c *Comment) error
	// DeleteWP removes a WP with its lease, references and comments
	// (ENOTFOUND if none). The caller removes its dependencies first; its
	// events stay, and its key number is never handed out again.
	DeleteWP(ctx context.Context, id string) error
	// InsertAPIKey returns ECONFLICT (field "prefix") when a key with the
	// same prefix exists. UpdateAPIKey writes the key if its stored
	// version is k.Version-1.
	InsertAPIKey(ctx context.Context, k *APIKey) error
	// InsertLabelDef returns ECONFLICT (field "name") when the project
	// has a definition of that name; UpdateLabelDef writes one if its
	// stored version is l.Version-1; DeleteLabelDef removes one by id
	// (ENOTFOUND if none).
	InsertLabelDef(ctx context.Context, l *LabelDef) error
	UpdateLabelDef(ctx context.Context, l *LabelDef) error
	DeleteLabelDef(ctx context.Context, id string) error
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	// TouchAPIKey raises the key's LastUsedAt to at if it is later. It is
	// bookkeeping: no version change, no event; a missing key is no error.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// GraphReader gives read access to the in-memory dependency graph of every
// WP that a store keeps in step with its commits.
//
// Contract: fn runs under a read lock; it only reads the index and must not
// keep it after it returns (GraphIndex.Clone makes a copy it may change and
// keep). The index holds every committed WP and depends_on edge between
// WPs (and possibly those of a batch about to commit). ReadGraph returns
// what fn returns; when fn cannot run, the context's error or an
// EUNAVAILABLE *Error (a store that is closed, unreachable or whose index
// fell out of step with its data).
type GraphReader interface {
	ReadGraph(ctx context.Context, fn func(GraphIndex) error) error
}

// GraphTraverser is an optional port: a store that can answer the graph
// queries that start from one WP in its own query engine, without the
// whole graph in memory (Neo4j with Cypher). The Service uses it when the
// store implements it and answers from the GraphReader's index otherwise.
// Whole-graph queries (layers, critical path, cycles, exports, feature
// roll-ups) always run on the GraphReader's graph.
//
// Contract: each method returns exactly what the GraphIndex method of the
// same name returns on the store's committed graph: the same WPs, depths, order
// and tie-breaking (depth, then key order; a shortest path takes the first
// WP in key order at every step; impact estimates are added up in key
// order), and the same errors: ENOTFOUND with field "wp", "from" or "to"
// for an unknown WP, EINVALID (field "depth") for a depth outside 1 to
// MaxGraphDepth when transitive, EINVALID (field "to") for a path from a
// WP to itself, ENOTFOUND "no blocking path from A to B". An unreachable
// store is EUNAVAILABLE.
type GraphTraverser interface {
	Blockers(ctx context.Context, ref string, transitive bool, depth int) (*GraphReach, error)
	Dependents(ctx context.Context, ref string, transitive bool, depth int) (*GraphReach, error)
	Path(ctx context.Context, from, to string) ([]GraphNode, error)
	Impact(ctx context.Context, ref string, limit int) (*GraphImpact, error)
}

// BulkTx is an optional port: a write transaction that stores many new
// records with one statement each (storemigrate uses it when the target's Tx
// implements it, and the per-record methods otherwise). Each method stores
// exactly what calling the per-record method on every item in order
// would, in the same transaction, and fails where that would fail (it
// may then name a different item); the transaction must then be rolled
// back.
type BulkTx interface {
	InsertProjects(ctx context.Context, ps []*Project) error
	InsertFeatures(ctx context.Context, fs []*Feature) error
	// InsertWPs stores new WPs with their leases, as InsertWP does, and
	// sets WP i's fencing counter to fences[i], or to its lease's token if
	// that is higher (what InsertWP then RaiseFence(fences[i]) leave).
	// len(fences) must be len(ws).
	InsertWPs(ctx context.Context, ws []*WP, fences []int64) error
	InsertDependencies(ctx context.Context, ds []*Dependency) error
	PutReferences(ctx context.Context, rs []*Reference) error
	// AppendEvents stores the events in order with consecutive global
	// sequences, which it sets on them, and puts each in the outbox, as
	// AppendEvent does.
	AppendEvents(ctx context.Context, es []*Event) error
	AppendAudits(ctx context.Context, as []*AuditEntry) error
}

// BulkGraphTx is an optional port of a BulkTx, for a store that keeps
// per-WP figures derived from the WP's dependencies (SQLite counts each
// WP's open depends_on targets): the caller, which knows every edge it
// will add, gives each new WP's count with it, so that WPs and their
// dependencies go in a chunk at a time and the store never updates a WP it
// has just written. BulkImport uses it when the store's Tx implements it,
// and InsertWPs then InsertDependencies otherwise.
type BulkGraphTx interface {
	// InsertCountedWPs stores what InsertWPs(ws, fences of 0) stores, but
	// with WP i's count of open dependencies at open[i]: the depends_on
	// edges from it to a WP that is not done, which the caller stores
	// later in the same transaction with InsertCountedDependencies,
	// marked counted. len(open) must be len(ws).
	InsertCountedWPs(ctx context.Context, ws []*WP, open []int64) error
	// InsertCountedDependencies stores what InsertDependencies(ds)
	// stores, but leaves the edges with counted[i] out of the counts of
	// open dependencies: InsertCountedWPs counted them. len(counted) must
	// be len(ds).
	InsertCountedDependencies(ctx context.Context, ds []*Dependency, counted []bool) error
}

// FenceReader is an optional port of a store's transactions, read ones
// included: the fencing counters of many WPs in one query. storemigrate
// uses it when the source's ReadTx implements it, and FenceToken in
// a write transaction per WP otherwise.
type FenceReader interface {
	// FenceTokens returns, for each id in order, what FenceToken returns;
	// an unknown id is ENOTFOUND.
	FenceTokens(ctx context.Context, wpIDs []string) ([]int64, error)
}
