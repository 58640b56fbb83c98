package agileplus

import "iter"

// GraphIndex is an in-memory index of every WP and the depends_on edges
// between them, across features and projects, that answers the graph
// queries (package depgraph implements it). A store keeps one in step with
// its commits and lends it out through GraphReader.ReadGraph.
//
// Contract: every method only reads, and any number may run at once;
// changing an index is its store's business (or its owner's, for a
// GraphCopy). Refs are WP ids or keys. Lists are in key order (project
// key, then key number) and ties are broken in key order, so answers
// depend only on the index's contents, never on the order it was loaded
// in. An unknown project has no WPs: its answers are empty, not errors.
// Errors are *Error with the codes and fields given below.
type GraphIndex interface {
	// Len returns the number of WPs; EdgeCount the number of depends_on
	// edges, a pair stored twice counting twice.
	Len() int
	EdgeCount() int
	// Node returns the WP with the id or key ref.
	Node(ref string) (GraphNode, bool)

	// Layers returns the project's open WPs (every state but done) by
	// layer. Claims are not in the index: callers filter claimed WPs out
	// of layer 0 if they need to.
	Layers(projectID string) *GraphLayers
	// Blockers returns the WPs that ref depends on, in every state: the
	// direct ones when transitive is false (maxDepth ignored), otherwise
	// those up to maxDepth edges away, each at its shortest distance.
	// Dependents is the other way round. Errors: ENOTFOUND (field "wp"),
	// EINVALID (field "depth") for a maxDepth outside 1 to MaxGraphDepth.
	Blockers(ref string, transitive bool, maxDepth int) (*GraphReach, error)
	Dependents(ref string, transitive bool, maxDepth int) (*GraphReach, error)
	// Path returns a shortest chain from depends_on ... depends_on to,
	// both ends included; among equally short ones, the one that takes
	// the first WP in key order at every step. Errors: ENOTFOUND (field
	// "from" or "to") for an unknown WP, EINVALID (field "to") when both
	// are the same WP, ENOTFOUND "no blocking path from A to B".
	Path(from, to string) ([]GraphNode, error)
	// Impact returns the WPs that transitively depend on ref, listing the
	// first limit of them (all if limit <= 0); the count and the hours of
	// those not done, added up in key order, cover all of them. Errors:
	// ENOTFOUND (field "wp").
	Impact(ref string, limit int) (*GraphImpact, error)
	// CriticalPath schedules the WPs not done that pass filter (all if
	// nil) over the depends_on edges among them, one page at a time: the
	// first limit (all if limit <= 0) in key order after the key after.
	// Errors: EINVALID (field "after") for an after that is not a WP key,
	// ERULE naming a cycle among the considered WPs.
	CriticalPath(filter func(GraphNode) bool, after string, limit int) (*GraphCriticalPath, error)
	// Cycles returns a shortest cycle through each strongly connected
	// component that holds a WP of the project, as keys with the first
	// repeated at the end.
	Cycles(projectID string) [][]string
	// Export writes the project's graph in one of the Export* formats.
	// Errors: EINVALID (field "format").
	Export(projectID, format string) ([]byte, error)
	// FeatureRollup rolls the project's WPs up to their features; features
	// without WPs are not in it.
	FeatureRollup(projectID string) *GraphFeatures
	// FeatureIndex returns the feature-level digraph of the index's
	// current contents.
	FeatureIndex() FeatureIndex
	// Clone returns a deep copy that belongs to the caller, who may change
	// it and keep it after ReadGraph returns.
	Clone() GraphCopy
}

// GraphCopy is a caller's own copy of a GraphIndex, for what-if checks: an
// import adds its WPs and edges to one and asks for the cycles.
type GraphCopy interface {
	GraphIndex
	// PutNode inserts a WP or updates one, keeping its edges. Errors:
	// EINVALID for a missing id, project or state, a key that is not
	// "<PROJECT>-<n>" with the PROJECT of the project's other WPs, an
	// estimate that is not a number of hours >= 0, or a priority that is
	// not one of Priorities ("" is the default); ECONFLICT (field "key")
	// when another WP holds the key or another project the PROJECT. A
	// refused call changes nothing.
	PutNode(n GraphNode) error
	// AddEdge records that from depends on to. Errors: ENOTFOUND (field
	// "from" or "to") for a WP not in the copy.
	AddEdge(from, to string) error
}

// FeatureIndex is the feature-level digraph that the WP depends_on edges
// of a GraphIndex imply: feature F waits on feature G (G != F) when some
// WP of F depends on some WP of G, in any state. It holds the features
// that have WPs and never changes, so it may be used after ReadGraph
// returns.
type FeatureIndex interface {
	// Len returns the number of features with WPs; WPEdges the number of
	// depends_on edges between WPs in the index it was built from.
	Len() int
	WPEdges() int
	// Open returns how many of the feature's WPs are not done and their
	// hours, added up in key order (0 and 0 for a feature without WPs).
	Open(featureID string) (open int, estimate float64)
	// WaitsOn yields once each feature that featureID waits on; WaitedBy
	// each feature that waits on it.
	WaitsOn(featureID string) iter.Seq[string]
	WaitedBy(featureID string) iter.Seq[string]
}

// GraphNode is a WP as the graph index knows it.
type GraphNode struct {
	ID        string  `json:"id"`
	Key       string  `json:"key"`
	ProjectID string  `json:"project_id"`
	FeatureID string  `json:"feature_id"`
	State     string  `json:"state"`
	Estimate  float64 `json:"estimate"` // hours
	// Priority is the WP's; the index treats "" as DefaultPriority.
	Priority string `json:"priority"`
}

// MaxGraphDepth bounds the depth of Blockers and Dependents.
const MaxGraphDepth = 100

// GraphLayers is the project's open work in the order it can be done.
type GraphLayers struct {
	ProjectID string `json:"project_id"`
	// Open counts the project's WPs that are not done.
	Open int `json:"open"`
	// Layers[0] is the ready frontier: WPs that are not done and whose
	// depends_on targets are all done. Layers[i] holds the WPs whose
	// longest chain of open dependencies is i long: they can start once
	// layers 0 to i-1 are done. Open dependencies in other projects count,
	// so a layer of this project can be empty. Each layer is in key order.
	Layers [][]GraphNode `json:"layers"`
	// Cyclic holds the open WPs that are on a cycle or wait on one, and so
	// have no layer (a cycle exists only if data was imported unchecked).
	Cyclic []GraphNode `json:"cyclic,omitempty"`
}

// GraphHop is a WP found by a search, with its distance in edges.
type GraphHop struct {
	GraphNode
	Depth int `json:"depth"`
}

// GraphReach is the answer of Blockers and Dependents.
type GraphReach struct {
	WP GraphNode `json:"wp"`
	// Direction is "blockers" (what WP depends on) or "dependents" (what
	// depends on WP).
	Direction string `json:"direction"`
	// Depth is the depth searched: 1 for direct ones.
	Depth int `json:"depth"`
	// WPs are by depth, then key order, each at its shortest distance.
	WPs []GraphHop `json:"wps"`
	// Truncated says that more WPs lie beyond Depth.
	Truncated bool `json:"truncated"`
}

// GraphImpact is what slips if a WP slips.
type GraphImpact struct {
	WP GraphNode `json:"wp"`
	// Count is the number of WPs that wait on WP, directly or not; Open is
	// how many of them are not done and Estimate their hours.
	Count    int     `json:"count"`
	Open     int     `json:"open"`
	Estimate float64 `json:"estimate"`
	// WPs are the first of them by depth, then key order; Truncated says
	// that there are more than listed.
	WPs       []GraphHop `json:"wps"`
	Truncated bool       `json:"truncated"`
}

// GraphSchedule is a WP's place in the critical path computation, in hours
// from now.
type GraphSchedule struct {
	GraphNode
	EarliestStart  float64 `json:"earliest_start"`
	EarliestFinish float64 `json:"earliest_finish"`
	LatestStart    float64 `json:"latest_start"`
	LatestFinish   float64 `json:"latest_finish"`
	Slack          float64 `json:"slack"`
}

// GraphCriticalPath is the answer of CriticalPath: the whole path and one
// page of the schedule.
type GraphCriticalPath struct {
	// Length is the hours the considered work takes at best.
	Length float64 `json:"length"`
	// Path is a chain of zero-slack WPs in execution order: Path[0] waits
	// on nothing considered, each next one depends on the one before, and
	// their estimates add up to Length. It is whole on every page.
	Path []GraphNode `json:"path"`
	// Total counts the considered WPs: the schedule on all pages.
	Total int `json:"total"`
	// WPs are one page of the schedule of the considered WPs, in key order.
	WPs []GraphSchedule `json:"wps"`
	// Next is the key of the last WP of this page when more follow (the
	// after of the next page), empty on the last page.
	Next string `json:"next,omitempty"`
}

// InProject selects the WPs of a project for CriticalPath.
func InProject(projectID string) func(GraphNode) bool {
	return func(n GraphNode) bool { return n.ProjectID == projectID }
}

// InFeature selects the WPs of a feature for CriticalPath.
func InFeature(featureID string) func(GraphNode) bool {
	return func(n GraphNode) bool { return n.FeatureID == featureID }
}

// GraphEdge is a depends_on edge: From waits on To.
type GraphEdge struct {
	From    string `json:"from"` // id
	To      string `json:"to"`   // id
	FromKey string `json:"from_key"`
	ToKey   string `json:"to_key"`
}

// GraphExport is a project's graph as GraphIndex.Export writes it in JSON: the
// project's WPs in key order, then the WPs of other projects they depend
// on, and the depends_on edges out of the project's WPs.
type GraphExport struct {
	ProjectID string      `json:"project_id"`
	WPs       []GraphNode `json:"wps"`
	Edges     []GraphEdge `json:"edges"`
}

// Formats of GraphIndex.Export.
const (
	ExportJSON    = "json"
	ExportDOT     = "dot"
	ExportMermaid = "mermaid"
	ExportCompact = "compact"
)

// ExportFormats lists the formats of GraphIndex.Export.
var ExportFormats = []string{ExportJSON, ExportDOT, ExportMermaid, ExportCompact}

// GraphFeature is a feature rolled up from its WPs.
type GraphFeature struct {
	FeatureID string `json:"feature_id"`
	Slug      string `json:"slug,omitempty"` // filled in by the service
	ProjectID string `json:"project_id"`
	WPs       int    `json:"wps"`
	Open      int    `json:"open"`
	// OpenEstimate is the hours of its WPs not done.
	OpenEstimate float64 `json:"open_estimate"`
	// DependsOn lists the features this one waits on through its WPs'
	// depends_on edges (and, added by the service, feature-level edges).
	DependsOn []GraphFeatureEdge `json:"depends_on"`
}

// GraphFeatureEdge is a rolled-up edge: WPEdges depends_on edges from the
// feature's WPs to the other feature's WPs, Open of them to WPs not done.
type GraphFeatureEdge struct {
	FeatureID string `json:"feature_id"`
	Slug      string `json:"slug,omitempty"`
	WPEdges   int    `json:"wp_edges"`
	Open      int    `json:"open"`
	Explicit  bool   `json:"explicit,omitempty"` // a feature-level depends_on
}

// GraphFeatures is a project's features rolled up from their WPs.
type GraphFeatures struct {
	ProjectID string         `json:"project_id"`
	Features  []GraphFeature `json:"features"`
	// Layers orders the project's features with open work: layer 0 waits
	// on no open work of another feature of the project, layer 1 only on
	// layer 0, and so on (slugs). Cyclic lists features that wait on each
	// other, directly or not.
	Layers [][]string `json:"layers"`
	Cyclic []string   `json:"cyclic,omitempty"`
}
