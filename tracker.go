package agileplus

import (
	"context"
	"io"
)

// Tracker is the whole set of commands and queries the platform offers. The
// domain Service implements it in-process; the HTTP client implements it
// against a server, so the CLI and other transports work with either.
//
// Refs are ids or human keys: a project key ("CORE"), a feature slug
// ("login-flow"), a WP key ("CORE-12"). ifVersion, when not 0, is the
// version the caller last saw; a stale one gets ECONFLICT.
type Tracker interface {
	HistoryTracker // time travel and history (history.go)

	CreateProject(ctx context.Context, c ProjectCreate) (*Project, error)
	Project(ctx context.Context, ref string) (*Project, error)
	Projects(ctx context.Context, p Page) ([]*Project, error)
	UpdateProject(ctx context.Context, ref string, u ProjectUpdate, ifVersion int64) (*Project, error)

	CreateFeature(ctx context.Context, projectRef string, c FeatureCreate) (*Feature, error)
	Feature(ctx context.Context, ref string) (*Feature, error)
	Features(ctx context.Context, projectRef string, q FeatureQuery) ([]*Feature, error)
	UpdateFeature(ctx context.Context, ref string, u FeatureUpdate, ifVersion int64) (*Feature, error)
	TransitionFeature(ctx context.Context, ref string, t Transition, ifVersion int64) (*Feature, error)

	CreateWP(ctx context.Context, featureRef string, c WPCreate) (*WP, error)
	WP(ctx context.Context, ref string) (*WP, error)
	WPs(ctx context.Context, q WPQuery) ([]*WP, error)
	UpdateWP(ctx context.Context, ref string, u WPUpdate, ifVersion int64) (*WP, error)
	TransitionWP(ctx context.Context, ref string, t Transition, ifVersion int64) (*WP, error)

	Claim(ctx context.Context, wpRef string, c ClaimRequest) (*Lease, error)
	Renew(ctx context.Context, wpRef string, c ClaimRequest) (*Lease, error)
	Release(ctx context.Context, wpRef string, c ClaimRequest) error

	AddReference(ctx context.Context, wpRef string, c ReferenceCreate) (*Reference, error)

	// Comments on a WP or a feature (see comment.go); ref is a WP key or a
	// feature slug, and Comments pages oldest first.
	AddComment(ctx context.Context, ref string, c CommentCreate) (*Comment, error)
	EditComment(ctx context.Context, id string, c CommentEdit, ifVersion int64) (*Comment, error)
	Comments(ctx context.Context, ref string, p Page) ([]*Comment, error)

	// Archive hides from lists (see archive.go and Page.Archived); restore
	// undoes it. DeleteWP removes a WP never started that nothing depends on.
	ArchiveProject(ctx context.Context, ref string) (*Project, error)
	RestoreProject(ctx context.Context, ref string) (*Project, error)
	ArchiveFeature(ctx context.Context, ref string) (*Feature, error)
	RestoreFeature(ctx context.Context, ref string) (*Feature, error)
	ArchiveWP(ctx context.Context, ref string) (*WP, error)
	RestoreWP(ctx context.Context, ref string) (*WP, error)
	DeleteWP(ctx context.Context, ref string) error

	AddDependency(ctx context.Context, c DependencyCreate) (*Dependency, error)
	// Plan creates a feature's WPs and their dependencies (and the
	// feature) in one transaction (see plan.go).
	Plan(ctx context.Context, p PlanRequest) (*PlanResult, error)
	RemoveDependency(ctx context.Context, id string) error
	Dependencies(ctx context.Context, ref string) ([]*Edge, error)

	// Ready pages through the WPs that can start now, by key number or,
	// with order OrderPriority, by priority then key number; Page.After
	// is the ReadyCursor of the last WP of the previous page.
	Ready(ctx context.Context, projectRef string, order string, p Page) ([]*WP, error)
	// Next picks the best WP to start now (see CompareNext) and, with
	// Claim, takes its lease in the same command.
	Next(ctx context.Context, q NextRequest) (*NextResult, error)
	Events(ctx context.Context, f EventQuery) ([]*Event, error)
	// Search finds WPs and features by text, ranked (see search.go);
	// Page.After is the SearchCursor of the last hit of the previous page.
	Search(ctx context.Context, q SearchQuery) ([]*SearchHit, error)
	Audit(ctx context.Context, featureRef string, after int64, limit int) ([]*AuditEntry, error)
	VerifyAudit(ctx context.Context, featureRef string) (*AuditVerification, error)

	// BulkImport creates what a JSON-lines file describes (see bulk.go);
	// BulkExport writes everything in that form.
	BulkImport(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error)
	BulkExport(ctx context.Context, w io.Writer, opts ExportOptions) error

	// Label definitions of a project (see label.go), by name.
	CreateLabel(ctx context.Context, projectRef string, c LabelCreate) (*LabelDef, error)
	Label(ctx context.Context, projectRef, name string) (*LabelDef, error)
	Labels(ctx context.Context, projectRef string, p Page) ([]*LabelDef, error)
	UpdateLabel(ctx context.Context, projectRef, name string, u LabelUpdate, ifVersion int64) (*LabelDef, error)
	DeleteLabel(ctx context.Context, projectRef, name string) error

	// Flags (see flag.go): project "" is the global set.
	Flags(ctx context.Context, project string) (*FlagSet, error)
	SetFlags(ctx context.Context, project string, u FlagsUpdate) (*FlagSet, error)

	// Graph queries over depends_on edges between WPs (see graphindex.go).
	// Layers lists each layer in key order or, with order OrderPriority,
	// by priority then key order.
	Layers(ctx context.Context, projectRef, order string) (*GraphLayers, error)
	FeatureGraph(ctx context.Context, projectRef string) (*GraphFeatures, error)
	Blockers(ctx context.Context, wpRef string, transitive bool, depth int) (*GraphReach, error)
	Dependents(ctx context.Context, wpRef string, transitive bool, depth int) (*GraphReach, error)
	Path(ctx context.Context, from, to string) ([]GraphNode, error)
	// CriticalPath answers the whole path and one page of the schedule;
	// Page.After is the previous page's Next.
	CriticalPath(ctx context.Context, projectRef, featureRef string, pg Page) (*GraphCriticalPath, error)
	Impact(ctx context.Context, wpRef string, limit int) (*GraphImpact, error)
	// Feature-level queries (see featuregraph.go): feature F waits on G
	// when a WP of F depends on a WP of G or F depends_on G directly.
	FeatureBlockers(ctx context.Context, featureRef string, transitive bool, depth int) (*GraphFeatureReach, error)
	FeatureDependents(ctx context.Context, featureRef string, transitive bool, depth int) (*GraphFeatureReach, error)
	FeatureImpact(ctx context.Context, featureRef string, limit int) (*GraphFeatureImpact, error)
	FeaturePath(ctx context.Context, from, to string) ([]GraphFeatureNode, error)
	Cycles(ctx context.Context, projectRef string) (*GraphCycles, error)
	Export(ctx context.Context, projectRef, format string) ([]byte, error)
}

// WPQuery selects work packages by project or feature ref, state,
// priority, labels and owner.
type WPQuery struct {
	Project string
	Feature string
	State   string
	// Priorities keeps the WPs with one of them.
	Priorities []string
	// Labels keeps the WPs with all of them (LabelsMode "all" or empty)
	// or with any of them (LabelsMode "any").
	Labels     []string
	LabelsMode string
	// Owner keeps the WPs of one owner; Mine those of the caller's actor.
	Owner string
	Mine  bool
	// Sort is "id" (or empty) or "priority": by priority, then id. Page.After
	// is the WPCursor of the last WP of the previous page.
	Sort string
	Page
}

// FeatureQuery selects, orders and pages a project's features, as WPQuery
// does WPs.
type FeatureQuery struct {
	// Priorities keeps the features with one of them.
	Priorities []string
	// Labels keeps the features with all of them (LabelsMode "all" or
	// empty) or with any of them (LabelsMode "any").
	Labels     []string
	LabelsMode string
	// Sort is "id" (or empty) or "priority": by priority, then id.
	// Page.After is the FeatureCursor of the last feature of the previous
	// page.
	Sort string
	Page
}

// Orders of lists that can be sorted by priority.
const (
	OrderKey      = "key"
	OrderPriority = "priority"
	SortID        = "id"
	LabelsAll     = "all"
	LabelsAny     = "any"
)

// EventQuery selects events after a global sequence, optionally of one
// entity given by id or key.
type EventQuery struct {
	After  int64
	Entity string
	Limit  int
}

// List limits.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// ClampLimit returns the limit to use for a requested one, or an EINVALID
// error naming the field "limit".
func ClampLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageLimit, nil
	case n < 0 || n > MaxPageLimit:
		return 0, FieldErrorf("limit", "limit must be between 1 and %d", MaxPageLimit)
	}
	return n, nil
}

type actorKey struct{}

// WithActor returns a context that attributes changes to actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor of ctx, "anonymous" if none.
func ActorFrom(ctx context.Context) string {
	if a, _ := ctx.Value(actorKey{}).(string); a != "" {
		return a
	}
	return "anonymous"
}
