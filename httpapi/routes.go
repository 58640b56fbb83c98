package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agileplus/agileplus"
)

// route is one API operation: the table below is the whole API, and the
// OpenAPI document is generated from it.
type route struct {
	method, path, summary string
	// scope is what a caller's key needs: scopePublic or one of
	// agileplus.Scopes. Every route declares one (a test checks).
	scope    string
	status   int          // success status
	in, out  reflect.Type // request and response body types; nil if none
	query    []param
	headers  []param // request headers besides If-Match and the actor
	produces string  // response media type, default application/json
	// produceTypes are the media types of an answer that has no Go type
	// (out is nil), such as an export.
	produceTypes []string
	// consumes is the media type of a request body that is not JSON (in
	// is nil); consumesDoc describes it and consumesSchema, if set, gives
	// its schema (else a string that is not empty).
	consumes, consumesDoc string
	consumesSchema        func(*schemaGen) map[string]any
	// id is the operationId when the one made from method and path would
	// repeat another's.
	id      string
	ifMatch bool
	// ranges marks a download that answers Range with 206 and
	// If-None-Match with 304.
	ranges bool
	// errs are error statuses the operation answers besides those
	// errorResponses gives every operation like it, with their meaning.
	errs    map[string]string
	handler http.HandlerFunc
}

// param declares a query parameter (or a header, in route.headers). The
// server refuses, before the handler runs, a query parameter the route
// does not declare, one given twice unless repeat, one with an empty
// value, and a required one left out (see checkQuery); the OpenAPI
// document says the same from these fields.
type param struct {
	name, typ, doc string
	required       bool
	repeat         bool           // may be given more than once
	maxItems       int            // if repeat: at most this many times (0: no bound)
	schema         map[string]any // constraints besides the type: minimum, enum, default...
}

// cursorParams are ?after= and ?limit= for a list whose cursor matches
// pattern: what no previous page can have returned is refused with 400.
func cursorParams(pattern string) []param {
	return []param{{name: "after", typ: "string", doc: "cursor: the next value of the previous page", schema: map[string]any{"pattern": pattern}},
		limitParam("items per page, 1-1000, default 100")}
}

// idCursor is the cursor of a list by id: an id with its prefix.
func idCursor(prefix string) string { return "^" + prefix }

// wpKeyCursor is a WP key: a project key, '-', its number.
const wpKeyCursor = `^[A-Z][A-Z0-9]{1,15}-[0-9]{1,12}$`

// req marks a parameter required.
func (p param) req() param { p.required = true; return p }

// limitParam is ?limit=, items per page or list.
func limitParam(doc string) param {
	return param{name: "limit", typ: "integer", doc: doc, schema: map[string]any{"minimum": 1, "maximum": agileplus.MaxPageLimit, "default": agileplus.DefaultPageLimit}}
}

// seqAfterParam is ?after= as a sequence number.
func seqAfterParam(doc string) param {
	return param{name: "after", typ: "integer", doc: doc, schema: map[string]any{"minimum": 0, "maximum": int64(1) << 62}}
}

var (
	// wpKeyPageParams page by WP key (ready, critical path).
	wpKeyPageParams = cursorParams(wpKeyCursor)
)

// priorityCursor is the "<priority>:" a cursor starts with in priority order.
const priorityCursor = `((urgent|high|normal|low):)?`

// readyCursor is a WP key, after its priority in priority order.
var readyCursor = "^" + priorityCursor + wpKeyCursor[1:]

// orderParam orders the ready set and the layers.
var orderParam = param{name: "order", typ: "string", doc: "key: by key number (the default); priority: urgent first, then by key number",
	schema: map[string]any{"enum": []string{agileplus.OrderKey, agileplus.OrderPriority}, "default": agileplus.OrderKey}}

// triageParams filter a list of WPs or features by priority and labels,
// and sort it by id or priority; what names the items.
func triageParams(what string) []param {
	return []param{
		{name: "priority", typ: "string", repeat: true, doc: "only " + what + " with one of these priorities (repeat for several)", schema: map[string]any{"enum": agileplus.Priorities}},
		{name: "label", typ: "string", repeat: true, maxItems: agileplus.MaxLabels, doc: "only " + what + " with these labels: all of them, or any with labels_mode=any (repeat for several; case does not matter)",
			schema: map[string]any{"pattern": agileplus.LabelPattern}},
		{name: "labels_mode", typ: "string", doc: "all (the default): every label given is needed; any: one is enough", schema: map[string]any{"enum": []string{agileplus.LabelsAll, agileplus.LabelsAny}, "default": agileplus.LabelsAll}},
		{name: "sort", typ: "string", doc: "id: by id (the default); priority: urgent first, then by id", schema: map[string]any{"enum": []string{agileplus.SortID, agileplus.OrderPriority}, "default": agileplus.SortID}},
	}
}

// wpListParams filter, sort and page a list of WPs.
var wpListParams = slices.Concat(triageParams("WPs"), []param{
	ownerParam("only WPs this person or agent owns"),
	boolParam("mine", "only WPs the caller (the actor of the request) owns; with owner, both must hold"),
	archivedParam,
}, cursorParams("^"+priorityCursor+agileplus.PrefixWP))

// featureListParams filter, sort and page a project's features.
var featureListParams = slices.Concat(triageParams("features"), []param{archivedParam},
	cursorParams("^"+priorityCursor+agileplus.PrefixFeature))

// nextFilterParams are the WP list's owner and label filters, for next.
func nextFilterParams() []param {
	return slices.DeleteFunc(slices.Clone(wpListParams), func(p param) bool {
		return p.name != "owner" && p.name != "label" && p.name != "labels_mode"
	})
}

var reachParams = []param{{name: "transitive", typ: "boolean", doc: "follow the chain beyond direct edges", schema: map[string]any{"default": false}},
	{name: "depth", typ: "integer", doc: "with transitive=true: how far, 1-100, default 100; without it only direct edges are followed and depth is not used", schema: map[string]any{"minimum": 1, "maximum": agileplus.MaxGraphDepth, "default": agileplus.MaxGraphDepth}}}

// ownerParam filters WPs by owner: a name, as WPs' owners are.
func ownerParam(doc string) param {
	return param{name: "owner", typ: "string", doc: doc, schema: maps.Clone(textRules["name"])}
}

// stateParam filters WPs by state.
var stateParam = param{name: "state", typ: "string", doc: "only WPs in this state", schema: map[string]any{"enum": agileplus.WPStates}}

// boolParam is a boolean option, false unless given.
func boolParam(name, doc string) param {
	return param{name: name, typ: "boolean", doc: doc, schema: map[string]any{"default": false}}
}

// GraphPath is the answer of /v1/graph/path.
type GraphPath struct {
	Hops int                   `json:"hops"`
	WPs  []agileplus.GraphNode `json:"wps"`
}

// GraphFeaturePath is the answer of /v1/graph/feature-path.
type GraphFeaturePath struct {
	Hops     int                          `json:"hops"`
	Features []agileplus.GraphFeatureNode `json:"features"`
}

func reachQuery(r *http.Request) (bool, int, error) {
	tr, err := queryBool(r, "transitive")
	if err != nil {
		return false, 0, err
	}
	depth, err := queryInt(r, "depth", 1, agileplus.MaxGraphDepth)
	return tr, int(depth), err
}

// exportTypes are the content types of the export formats.
var exportTypes = map[string]string{
	agileplus.ExportJSON:    "application/json",
	agileplus.ExportDOT:     "text/vnd.graphviz; charset=utf-8",
	agileplus.ExportMermaid: "text/plain; charset=utf-8",
	agileplus.ExportCompact: "text/plain; charset=utf-8",
}

// exportMediaTypes lists the media types of exportTypes, without parameters.
func exportMediaTypes() []string {
	var out []string
	for _, f := range agileplus.ExportFormats {
		mt, _, _ := strings.Cut(exportTypes[f], ";")
		if !slices.Contains(out, mt) {
			out = append(out, mt)
		}
	}
	return out
}

// DefaultImportLimit bounds a bulk import body unless Server.ImportLimit says otherwise.
const DefaultImportLimit = 512 << 20

func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	r = withActor(r)
	allow, err := queryBool(r, "allow_cycles")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts := agileplus.ImportOptions{AllowCycles: allow}
	limit := s.ImportLimit
	if limit <= 0 {
		limit = DefaultImportLimit
	}
	if r.ContentLength > limit {
		s.fail(w, r, agileplus.FieldErrorf("body", "import is %d bytes; the limit is %d", r.ContentLength, limit))
		return
	}
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, limit))
	if _, err := body.Peek(1); err == io.EOF {
		s.fail(w, r, agileplus.FieldErrorf("body", "the import is empty: send JSON lines (application/x-ndjson), as /v1/export writes them"))
		return
	}
	res, err := s.Tracker.BulkImport(r.Context(), body, opts)
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		err = agileplus.FieldErrorf("body", "import is larger than %d bytes", limit)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleBulkExport(w http.ResponseWriter, r *http.Request) {
	hashes, err := queryBool(r, "key_hashes")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := s.Tracker.BulkExport(r.Context(), &buf, agileplus.ExportOptions{KeyHashes: hashes}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Write(buf.Bytes())
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out, err := s.Tracker.Export(r.Context(), q.Get("project"), q.Get("format"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", exportTypes[q.Get("format")])
	w.Write(out)
}

// noBody marks operations without a request body.
type noBody struct{}

func (s *Server) routes() []route {
	return slices.Concat(s.trackerRoutes(), s.labelRoutes(), s.commentRoutes(), s.searchRoutes(), s.keyRoutes(), s.backboneRoutes(), s.streamRoutes(), s.artifactRoutes(), s.historyRoutes(), s.flagRoutes())
}

func (s *Server) trackerRoutes() []route {
	t := s.Tracker
	return []route{
		{scope: scopePublic, method: "GET", path: "/health", summary: "The process is alive", status: 200, out: reflect.TypeFor[Health](), handler: s.handleHealth},
		{scope: scopePublic, method: "GET", path: "/ready", id: "getReadiness", summary: "The store and the bus are reachable (503 when not)", status: 200, out: reflect.TypeFor[Readiness](), handler: s.handleReady},
		{scope: scopePublic, method: "GET", path: "/openapi.json", summary: "This API's OpenAPI 3.1 document", status: 200, produceTypes: []string{"application/json"}, handler: s.handleOpenAPI},
		{scope: agileplus.ScopeRead, method: "GET", path: "/metrics", summary: "Prometheus metrics of this process, in the text exposition format (serve --metrics-addr also serves them without a key on a listener of their own)", status: 200, produceTypes: []string{"text/plain"}, handler: s.handleMetrics},

		op(s, "POST", "/v1/projects", "Create a project", 201, nil, func(r *http.Request, in *agileplus.ProjectCreate) (*agileplus.Project, error) {
			return t.CreateProject(r.Context(), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/projects", "List projects", 200, append(cursorParams(idCursor(agileplus.PrefixProject)), archivedParam), func(r *http.Request, _ *noBody) (*List[*agileplus.Project], error) {
			pg, err := idPage(r, agileplus.PrefixProject)
			if err != nil {
				return nil, err
			}
			ps, err := t.Projects(r.Context(), pg)
			return list(ps, pg.Limit, func(p *agileplus.Project) string { return p.ID }), err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/projects/{project}", "Get a project by id or key", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.Project, error) {
			return t.Project(r.Context(), r.PathValue("project"))
		}).needs(agileplus.ScopeRead),
		opIfMatch(s, "PATCH", "/v1/projects/{project}", "Update a project", func(r *http.Request, in *agileplus.ProjectUpdate, v int64) (*agileplus.Project, error) {
			return t.UpdateProject(r.Context(), r.PathValue("project"), *in, v)
		}).needs(agileplus.ScopeWrite),

		op(s, "POST", "/v1/projects/{project}/features", "Create a feature in a project", 201, nil, func(r *http.Request, in *agileplus.FeatureCreate) (*agileplus.Feature, error) {
			return t.CreateFeature(r.Context(), r.PathValue("project"), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/projects/{project}/features", "List a project's features: by id, or by priority; filtered by priority and labels", 200, featureListParams, func(r *http.Request, _ *noBody) (*List[*agileplus.Feature], error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			v := r.URL.Query()
			q := agileplus.FeatureQuery{Page: pg, Priorities: v["priority"], Labels: v["label"], LabelsMode: v.Get("labels_mode"), Sort: v.Get("sort")}
			fs, err := t.Features(r.Context(), r.PathValue("project"), q)
			return list(fs, pg.Limit, func(f *agileplus.Feature) string { return agileplus.FeatureCursor(f, q.Sort) }), err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}", "Get a feature by id or slug", 200, []param{atParam}, func(r *http.Request, _ *noBody) (*agileplus.Feature, error) {
			if r.URL.Query().Has("at") {
				return featureAt(r, t)
			}
			return t.Feature(r.Context(), r.PathValue("feature"))
		}).needs(agileplus.ScopeRead),
		opIfMatch(s, "PATCH", "/v1/features/{feature}", "Update a feature", func(r *http.Request, in *agileplus.FeatureUpdate, v int64) (*agileplus.Feature, error) {
			return t.UpdateFeature(r.Context(), r.PathValue("feature"), *in, v)
		}).needs(agileplus.ScopeWrite),
		opIfMatch(s, "POST", "/v1/features/{feature}/transition", "Move a feature forward (skipped states are recorded)", func(r *http.Request, in *FeatureTransition, v int64) (*agileplus.Feature, error) {
			return t.TransitionFeature(r.Context(), r.PathValue("feature"), agileplus.Transition(*in), v)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/features/{feature}/dependencies", "List the dependencies of a feature", 200, nil, func(r *http.Request, _ *noBody) (*List[*agileplus.Edge], error) {
			return dependenciesOf(r, t, "feature")
		}).needs(agileplus.ScopeRead),

		op(s, "POST", "/v1/features/{feature}/wps", "Create a work package in a feature", 201, nil, func(r *http.Request, in *agileplus.WPCreate) (*agileplus.WP, error) {
			return t.CreateWP(r.Context(), r.PathValue("feature"), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/features/{feature}/wps", "List a feature's work packages", 200, slices.Concat([]param{stateParam}, wpListParams), func(r *http.Request, _ *noBody) (*List[*agileplus.WP], error) {
			return s.listWPs(r, agileplus.WPQuery{Feature: r.PathValue("feature")})
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/wps", "List work packages: all, or those of a project, of a feature, or both", 200, slices.Concat([]param{projectParam("project id or key"), featureParam("feature id or slug"), stateParam}, wpListParams), func(r *http.Request, _ *noBody) (*List[*agileplus.WP], error) {
			return s.listWPs(r, agileplus.WPQuery{Project: r.URL.Query().Get("project"), Feature: r.URL.Query().Get("feature")})
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/wps/{wp}", "Get a work package by id or key", 200, []param{atParam}, func(r *http.Request, _ *noBody) (*agileplus.WP, error) {
			if r.URL.Query().Has("at") {
				return wpAt(r, t)
			}
			return t.WP(r.Context(), r.PathValue("wp"))
		}).needs(agileplus.ScopeRead),
		opIfMatch(s, "PATCH", "/v1/wps/{wp}", "Update a work package", func(r *http.Request, in *agileplus.WPUpdate, v int64) (*agileplus.WP, error) {
			return t.UpdateWP(r.Context(), r.PathValue("wp"), *in, v)
		}).needs(agileplus.ScopeWrite),
		opIfMatch(s, "POST", "/v1/wps/{wp}/transition", "Move a work package (force with a reason to start past open dependencies)", func(r *http.Request, in *WPTransition, v int64) (*agileplus.WP, error) {
			return t.TransitionWP(r.Context(), r.PathValue("wp"), agileplus.Transition(*in), v)
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/wps/{wp}/claim", "Claim a work package: returns a lease with a fencing token", 201, nil, func(r *http.Request, in *ClaimCreate) (*agileplus.Lease, error) {
			return t.Claim(r.Context(), r.PathValue("wp"), agileplus.ClaimRequest{Agent: in.Agent, TTLSeconds: in.TTLSeconds})
		}).needs(agileplus.ScopeWrite),
		op(s, "PUT", "/v1/wps/{wp}/claim", "Renew a lease (needs its token)", 200, nil, func(r *http.Request, in *LeaseRenew) (*agileplus.Lease, error) {
			return t.Renew(r.Context(), r.PathValue("wp"), agileplus.ClaimRequest(*in))
		}).needs(agileplus.ScopeWrite),
		op(s, "DELETE", "/v1/wps/{wp}/claim", "Release a lease (its token in ?token=)", 204, []param{{name: "token", typ: "integer", doc: "the lease's fencing token", required: true, schema: map[string]any{"minimum": 1, "maximum": int64(1) << 62}}}, func(r *http.Request, _ *noBody) (*noBody, error) {
			tok, err := queryInt(r, "token", 1, 1<<62)
			if err != nil {
				return nil, err
			}
			return nil, t.Release(r.Context(), r.PathValue("wp"), agileplus.ClaimRequest{Token: tok})
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/wps/{wp}/references", "Link a work package to a commit (sha, repo) or a pull request (url, state)", 201, nil, func(r *http.Request, in *agileplus.ReferenceCreate) (*agileplus.Reference, error) {
			return t.AddReference(r.Context(), r.PathValue("wp"), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/wps/{wp}/dependencies", "List the dependencies of a work package", 200, nil, func(r *http.Request, _ *noBody) (*List[*agileplus.Edge], error) {
			return dependenciesOf(r, t, "wp")
		}).needs(agileplus.ScopeRead),

		op(s, "POST", "/v1/dependencies", "Add a dependency: from depends_on | blocks | relates_to to", 201, nil, func(r *http.Request, in *agileplus.DependencyCreate) (*agileplus.Dependency, error) {
			return t.AddDependency(r.Context(), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "POST", "/v1/plans", "Create a feature's WPs and their dependencies in one transaction (and the feature, given its project): all of it or nothing", 201, nil, func(r *http.Request, in *agileplus.PlanRequest) (*agileplus.PlanResult, error) {
			return t.Plan(r.Context(), *in)
		}).needs(agileplus.ScopeWrite),
		op(s, "DELETE", "/v1/dependencies/{id}", "Remove a dependency", 204, nil, func(r *http.Request, _ *noBody) (*noBody, error) {
			return nil, t.RemoveDependency(r.Context(), r.PathValue("id"))
		}).needs(agileplus.ScopeWrite),

		op(s, "GET", "/v1/ready", "Work packages that can start now: planned, every dependency done, unclaimed; by key number or by priority (without a project: every unarchived project the key may use, by project key, then key number)", 200, slices.Concat([]param{projectParam("project id or key; absent: every unarchived project the key may use"), orderParam}, cursorParams(readyCursor)), func(r *http.Request, _ *noBody) (*List[*agileplus.WP], error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			order := r.URL.Query().Get("order")
			ws, err := t.Ready(r.Context(), r.URL.Query().Get("project"), order, pg)
			return list(ws, pg.Limit, func(w *agileplus.WP) string { return agileplus.ReadyCursor(w, order) }), err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/next", "The best work package to start now, without claiming it: ready and unclaimed, then priority, then least slack on the critical path, then most work unblocked, then key order", 200, slices.Concat([]param{projectParam("project id or key; absent: every project the key may use"), featureParam("only WPs of this feature (id or slug)")}, nextFilterParams()), func(r *http.Request, _ *noBody) (*agileplus.NextResult, error) {
			q := r.URL.Query()
			return t.Next(r.Context(), agileplus.NextRequest{Project: q.Get("project"), Feature: q.Get("feature"), Owner: q.Get("owner"), Labels: q["label"], LabelsMode: q.Get("labels_mode")})
		}).needs(agileplus.ScopeRead),
		op(s, "POST", "/v1/next", "Choose the best work package to start now and claim it in the same command (as GET /v1/next chooses); no WP in the answer when nothing is ready", 200, nil, func(r *http.Request, in *NextClaim) (*agileplus.NextResult, error) {
			return t.Next(r.Context(), agileplus.NextRequest{Project: in.Project, Feature: in.Feature, Owner: in.Owner, Labels: in.Labels, LabelsMode: in.LabelsMode, Claim: true, Agent: in.Agent, TTLSeconds: in.TTLSeconds})
		}).needs(agileplus.ScopeWrite),
		op(s, "GET", "/v1/events", "Events in commit order", 200, []param{seqAfterParam("global sequence to start after"), {name: "entity", typ: "string", doc: "only this entity's events (id or key)", schema: map[string]any{"minLength": 1}}, limitParam("1-1000, default 100")}, func(r *http.Request, _ *noBody) (*List[*agileplus.Event], error) {
			after, err := queryInt(r, "after", 0, 1<<62)
			if err != nil {
				return nil, err
			}
			limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
			if err != nil {
				return nil, err
			}
			// The Service leaves out what the principal may not see and
			// keeps the page full.
			es, err := t.Events(r.Context(), agileplus.EventQuery{After: after, Entity: r.URL.Query().Get("entity"), Limit: int(limit)})
			l := &List[*agileplus.Event]{Items: nonNil(es)}
			if n := len(es); n > 0 && n == effectiveLimit(int(limit)) {
				l.Next = formatInt(es[n-1].GlobalSeq)
			}
			return l, err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/audit", "A feature's audit trail", 200, []param{seqAfterParam("audit sequence to start after"), limitParam("1-1000, default 100")}, func(r *http.Request, _ *noBody) (*List[*agileplus.AuditEntry], error) {
			after, err := queryInt(r, "after", 0, 1<<62)
			if err != nil {
				return nil, err
			}
			limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
			if err != nil {
				return nil, err
			}
			as, err := t.Audit(r.Context(), r.PathValue("feature"), after, int(limit))
			l := &List[*agileplus.AuditEntry]{Items: nonNil(as)}
			if n := len(as); n > 0 && n == effectiveLimit(int(limit)) {
				l.Next = formatInt(as[n-1].Seq)
			}
			return l, err
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/layers", "A project's open work packages by layer: layer 0 waits on nothing open (work in progress is there too; /v1/ready has what can start now), layer 1 on layer 0", 200, []param{projectParam("project id or key").req(), orderParam}, func(r *http.Request, _ *noBody) (*agileplus.GraphLayers, error) {
			return t.Layers(r.Context(), r.URL.Query().Get("project"), r.URL.Query().Get("order"))
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/features", "A project's features rolled up from their WPs: counts, open hours, and the features each waits on", 200, []param{projectParam("project id or key").req()}, func(r *http.Request, _ *noBody) (*agileplus.GraphFeatures, error) {
			return t.FeatureGraph(r.Context(), r.URL.Query().Get("project"))
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/wps/{wp}/blockers", "What a work package depends on, directly or transitively", 200, reachParams, func(r *http.Request, _ *noBody) (*agileplus.GraphReach, error) {
			tr, depth, err := reachQuery(r)
			if err != nil {
				return nil, err
			}
			return t.Blockers(r.Context(), r.PathValue("wp"), tr, depth)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/wps/{wp}/dependents", "What depends on a work package, directly or transitively", 200, reachParams, func(r *http.Request, _ *noBody) (*agileplus.GraphReach, error) {
			tr, depth, err := reachQuery(r)
			if err != nil {
				return nil, err
			}
			return t.Dependents(r.Context(), r.PathValue("wp"), tr, depth)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/wps/{wp}/impact", "Everything that transitively waits on a work package, and the estimate that slips", 200, []param{limitParam("WPs to list, 1-1000, default 100; counts cover all")}, func(r *http.Request, _ *noBody) (*agileplus.GraphImpact, error) {
			limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
			if err != nil {
				return nil, err
			}
			return t.Impact(r.Context(), r.PathValue("wp"), int(limit))
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/path", "The shortest blocking chain: from depends_on ... depends_on to (404 when there is none)", 200, []param{refParam("from", wpRefPattern, "WP id or key").req(), refParam("to", wpRefPattern, "WP id or key").req()}, func(r *http.Request, _ *noBody) (*GraphPath, error) {
			q := r.URL.Query()
			p, err := t.Path(r.Context(), q.Get("from"), q.Get("to"))
			if err != nil {
				return nil, err
			}
			return &GraphPath{Hops: len(p) - 1, WPs: p}, nil
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/blockers", "The features a feature waits on (through its WPs' dependencies or feature-level depends_on), directly or transitively", 200, reachParams, func(r *http.Request, _ *noBody) (*agileplus.GraphFeatureReach, error) {
			tr, depth, err := reachQuery(r)
			if err != nil {
				return nil, err
			}
			return t.FeatureBlockers(r.Context(), r.PathValue("feature"), tr, depth)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/dependents", "The features that wait on a feature, directly or transitively", 200, reachParams, func(r *http.Request, _ *noBody) (*agileplus.GraphFeatureReach, error) {
			tr, depth, err := reachQuery(r)
			if err != nil {
				return nil, err
			}
			return t.FeatureDependents(r.Context(), r.PathValue("feature"), tr, depth)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/impact", "Every feature that transitively waits on a feature, and the open hours that slip", 200, []param{limitParam("features to list, 1-1000, default 100; counts cover all")}, func(r *http.Request, _ *noBody) (*agileplus.GraphFeatureImpact, error) {
			limit, err := queryInt(r, "limit", 1, agileplus.MaxPageLimit)
			if err != nil {
				return nil, err
			}
			return t.FeatureImpact(r.Context(), r.PathValue("feature"), int(limit))
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/feature-path", "The shortest chain of features: from waits on ... waits on to (404 when there is none)", 200, []param{refParam("from", featureRefPattern, "feature id or slug").req(), refParam("to", featureRefPattern, "feature id or slug").req()}, func(r *http.Request, _ *noBody) (*GraphFeaturePath, error) {
			q := r.URL.Query()
			p, err := t.FeaturePath(r.Context(), q.Get("from"), q.Get("to"))
			if err != nil {
				return nil, err
			}
			return &GraphFeaturePath{Hops: len(p) - 1, Features: p}, nil
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/critical-path", "Critical path of a project by estimate: the whole path, and a page of the open WPs in key order with earliest and latest start and slack (total counts them all)", 200, append([]param{projectParam("project id or key").req()}, wpKeyPageParams...), func(r *http.Request, _ *noBody) (*agileplus.GraphCriticalPath, error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			return t.CriticalPath(r.Context(), r.URL.Query().Get("project"), "", pg)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/features/{feature}/critical-path", "Critical path of a feature's work packages by estimate, as /v1/graph/critical-path answers for a project", 200, wpKeyPageParams, func(r *http.Request, _ *noBody) (*agileplus.GraphCriticalPath, error) {
			pg, err := page(r)
			if err != nil {
				return nil, err
			}
			return t.CriticalPath(r.Context(), "", r.PathValue("feature"), pg)
		}).needs(agileplus.ScopeRead),
		op(s, "GET", "/v1/graph/cycles", "Dependency cycles among a project's work packages (only imported data can have one)", 200, []param{projectParam("project id or key").req()}, func(r *http.Request, _ *noBody) (*agileplus.GraphCycles, error) {
			return t.Cycles(r.Context(), r.URL.Query().Get("project"))
		}).needs(agileplus.ScopeRead),
		{scope: agileplus.ScopeAdmin, method: "POST", path: "/v1/import", summary: "Import JSON lines (projects, features, wps, dependencies, references, API keys), validated as a whole, idempotent by key", status: 200,
			query: []param{boolParam("allow_cycles", "import depends_on cycles instead of refusing the file")}, consumes: "application/x-ndjson",
			consumesDoc:    "JSON lines, one record a line, as /v1/export writes them; an empty body is refused",
			consumesSchema: (*schemaGen).importBodySchema, out: reflect.TypeFor[agileplus.ImportResult](), handler: s.handleImport,
			errs: map[string]string{
				"400": "a malformed record: a line that is not a JSON object of its type's schema; or a query parameter the operation does not take, an empty body, a line over 1 MiB. The error's problems list every problem with its line, the inconsistent records' too",
				"409": "every record is well formed, but the file contradicts itself or the store: a reference to a project, feature or work package neither has, a record twice with other content, an entity stored with other content, a dependency cycle (unless allow_cycles). The error's problems list each with its line",
			}},
		{scope: agileplus.ScopeAdmin, method: "GET", path: "/v1/export", summary: "Everything as JSON lines, in the form /v1/import reads", status: 200,
			query: []param{boolParam("key_hashes", "write the hash of each API key's secret, so that an import elsewhere recreates the keys")}, produceTypes: []string{"application/x-ndjson"}, handler: s.handleBulkExport},
		{scope: agileplus.ScopeRead, method: "GET", path: "/v1/graph/export", summary: "A project's graph as json, dot (Graphviz), mermaid or compact text for an LLM", status: 200,
			query: []param{projectParam("project id or key").req(), {name: "format", typ: "string", doc: "json, dot, mermaid or compact", required: true, schema: map[string]any{"enum": agileplus.ExportFormats}}}, produceTypes: exportMediaTypes(), handler: s.handleExport},
		op(s, "GET", "/v1/features/{feature}/audit/verify", "Verify a feature's audit chain", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.AuditVerification, error) {
			return t.VerifyAudit(r.Context(), r.PathValue("feature"))
		}).needs(agileplus.ScopeRead),
	}
}

func (s *Server) listWPs(r *http.Request, q agileplus.WPQuery) (*List[*agileplus.WP], error) {
	pg, err := page(r) // the Service checks the cursor against the sort
	if err != nil {
		return nil, err
	}
	mine, err := queryBool(r, "mine")
	if err != nil {
		return nil, err
	}
	v := r.URL.Query()
	q.Page, q.State, q.Mine = pg, v.Get("state"), mine
	q.Priorities, q.Labels, q.LabelsMode, q.Owner, q.Sort = v["priority"], v["label"], v.Get("labels_mode"), v.Get("owner"), v.Get("sort")
	ws, err := s.Tracker.WPs(r.Context(), q)
	return list(ws, pg.Limit, func(w *agileplus.WP) string { return agileplus.WPCursor(w, q.Sort) }), err
}

func effectiveLimit(n int) int {
	if n == 0 {
		return agileplus.DefaultPageLimit
	}
	return n
}

// list wraps a page of items, with the cursor of the next page when the
// page is full.
func list[T any](items []T, limit int, id func(T) string) *List[T] {
	l := &List[T]{Items: nonNil(items)}
	if n := len(items); n > 0 && n == effectiveLimit(limit) {
		l.Next = id(items[n-1])
	}
	return l
}

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// op makes a route whose handler decodes In (unless it is noBody), calls fn
// and encodes its result with the success status.
func op[In, Out any](s *Server, method, path, summary string, status int, query []param, fn func(*http.Request, *In) (Out, error)) route {
	rt := route{method: method, path: path, summary: summary, status: status, query: query}
	if reflect.TypeFor[In]() != reflect.TypeFor[noBody]() {
		rt.in = reflect.TypeFor[In]()
	}
	if status != http.StatusNoContent {
		rt.out = reflect.TypeFor[Out]()
	}
	rt.handler = func(w http.ResponseWriter, r *http.Request) {
		r = withActor(r)
		in := new(In)
		if rt.in != nil {
			if err := decode(w, r, in); err != nil {
				s.fail(w, r, err)
				return
			}
		} else if err := refuseBody(w, r, rt.query); err != nil {
			s.fail(w, r, err)
			return
		}
		out, err := fn(r, in)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		if v, ok := versionOf(out); ok {
			w.Header().Set("ETag", etag(v))
		}
		s.writeResult(w, status, out)
	}
	return rt
}

// opIfMatch makes an update route that honours If-Match.
func opIfMatch[In, Out any](s *Server, method, path, summary string, fn func(*http.Request, *In, int64) (Out, error)) route {
	rt := op(s, method, path, summary, http.StatusOK, nil, func(r *http.Request, in *In) (Out, error) {
		v, err := ifMatch(r)
		if err != nil {
			var zero Out
			return zero, err
		}
		return fn(r, in, v)
	})
	rt.ifMatch = true
	return rt
}

// versionOf returns the version of a versioned entity, for the ETag.
func versionOf(v any) (int64, bool) {
	switch x := v.(type) {
	case *agileplus.Project:
		if x != nil {
			return x.Version, true
		}
	case *agileplus.Feature:
		if x != nil {
			return x.Version, true
		}
	case *agileplus.WP:
		if x != nil {
			return x.Version, true
		}
	case *agileplus.Comment:
		if x != nil {
			return x.Version, true
		}
	}
	return 0, false
}

// withActor attributes the request's changes: to the actor header when
// the request has no principal (authentication is off), else to the key's
// name, which the header may only narrow (see actorFor).
func withActor(r *http.Request) *http.Request {
	a := strings.TrimSpace(strings.ToValidUTF8(r.Header.Get(ActorHeader), "?"))
	p := agileplus.PrincipalFrom(r.Context())
	a = actorFor(p, a)
	if a == "" {
		return r
	}
	// At most 200 bytes, cut on a character boundary: the hash covers
	// the bytes and the CloudEvent must carry the same ones. A key's own
	// name is never cut, so that a cut cannot turn it into another's.
	if p != nil && len(p.Name) >= MaxActorBytes-1 {
		a = p.Name
	}
	for len(a) > MaxActorBytes && (p == nil || len(a) > len(p.Name)) {
		_, size := utf8.DecodeLastRuneInString(a)
		a = a[:len(a)-size]
	}
	return r.WithContext(agileplus.WithActor(r.Context(), a))
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

// dependenciesOf lists the edges of the WP or feature in the path; field
// is "wp" or "feature", and a ref of the other kind is not found.
func dependenciesOf(r *http.Request, t agileplus.Tracker, field string) (*List[*agileplus.Edge], error) {
	ref := r.PathValue(field)
	what := "feature"
	if field == "wp" {
		what = "work package"
	}
	notFound := &agileplus.Error{Code: agileplus.ENOTFOUND, Field: field, Message: fmt.Sprintf("%s: no %s %s", field, what, agileplus.QuoteRef(ref))}
	if agileplus.IsWPRef(ref) != (field == "wp") {
		return nil, notFound
	}
	es, err := t.Dependencies(r.Context(), ref)
	if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
		return nil, notFound
	}
	return &List[*agileplus.Edge]{Items: nonNil(es)}, err
}

// refuseBody fails a request that sends a body to a route that reads none,
// rather than ignore what the caller meant, such as a filter sent as JSON
// to a route that takes it as a query parameter.
func refuseBody(w http.ResponseWriter, r *http.Request, query []param) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		return agileplus.FieldErrorf("body", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s %s takes no request body", r.Method, r.URL.Path)
	if len(query) > 0 {
		names := make([]string, len(query))
		for i, q := range query {
			names[i] = q.name
		}
		msg += "; its options are query parameters: " + strings.Join(names, ", ")
	}
	return agileplus.FieldErrorf("body", "%s", msg)
}
