package agileplus

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ExportRecords returns every project, feature, WP, dependency, reference
// and API key as records, in the canonical order. A key limited to
// projects cannot export.
func (s *Service) ExportRecords(ctx context.Context, opts ExportOptions) ([]Record, error) {
	if err := refuseLimited(PrincipalFrom(ctx), "export"); err != nil {
		return nil, err
	}
	var recs []Record
	err := s.view(ctx, func(tx ReadTx) error {
		projects := map[string]string{} // id -> key
		features := map[string]string{} // id -> slug
		wps := map[string]string{}      // id -> key
		for pg := (Page{Limit: MaxPageLimit}); ; {
			ps, err := tx.Projects(ctx, pg)
			if err != nil {
				return err
			}
			for _, p := range ps {
				projects[p.ID] = p.Key
				recs = append(recs, Record{Type: RecProject, Key: p.Key, Name: p.Name, Archived: p.ArchivedAt != nil})
				for fpg := (Page{Limit: MaxPageLimit}); ; {
					fs, err := tx.Features(ctx, p.ID, fpg)
					if err != nil {
						return err
					}
					for _, f := range fs {
						features[f.ID] = f.Slug
						recs = append(recs, Record{Type: RecFeature, Project: p.Key, Slug: f.Slug, Title: f.Title, Description: f.Description, State: f.State,
							Priority: exportPriority(f.Priority), Labels: f.Labels, Archived: f.ArchivedAt != nil})
					}
					if len(fs) < fpg.Limit {
						break
					}
					fpg.After = fs[len(fs)-1].ID
				}
				for lpg := (Page{Limit: MaxPageLimit}); ; {
					ls, err := tx.LabelDefs(ctx, p.ID, lpg)
					if err != nil {
						return err
					}
					for _, l := range ls {
						recs = append(recs, Record{Type: RecLabel, Project: p.Key, Name: l.Name, Color: l.Color, Description: l.Description})
					}
					if len(ls) < lpg.Limit {
						break
					}
					lpg.After = ls[len(ls)-1].Name
				}
			}
			if len(ps) < pg.Limit {
				break
			}
			pg.After = ps[len(ps)-1].ID
		}
		for pg := (WPFilter{Page: Page{Limit: MaxPageLimit}}); ; {
			ws, err := tx.WPs(ctx, pg)
			if err != nil {
				return err
			}
			for _, w := range ws {
				wps[w.ID] = w.Key
				est := w.Estimate
				recs = append(recs, Record{Type: RecWP, Key: w.Key, Feature: features[w.FeatureID], Title: w.Title, Description: w.Description, State: w.State, Estimate: &est,
					Priority: exportPriority(w.Priority), Labels: w.Labels, Owner: w.Owner, Archived: w.ArchivedAt != nil})
			}
			if len(ws) < pg.Limit {
				break
			}
			pg.After = ws[len(ws)-1].ID
		}
		for pg := (Page{Limit: MaxPageLimit}); ; {
			ds, err := tx.AllDependencies(ctx, pg)
			if err != nil {
				return err
			}
			for _, d := range ds {
				recs = append(recs, Record{Type: RecDependency, From: d.FromKey, To: d.ToKey, Kind: d.Kind})
			}
			if len(ds) < pg.Limit {
				break
			}
			pg.After = ds[len(ds)-1].ID
		}
		for pg := (Page{Limit: MaxPageLimit}); ; {
			rs, err := tx.AllReferences(ctx, pg)
			if err != nil {
				return err
			}
			for _, r := range rs {
				rec := Record{Type: RecReference, WP: wps[r.WPID], Kind: r.Kind, Repo: r.Repo, SHA: r.SHA, URL: r.URL, State: r.State}
				recs = append(recs, rec)
			}
			if len(rs) < pg.Limit {
				break
			}
			pg.After = rs[len(rs)-1].ID
		}
		for pg := (Page{Limit: MaxPageLimit}); ; {
			cs, err := tx.AllComments(ctx, pg)
			if err != nil {
				return err
			}
			for _, c := range cs {
				rec := Record{Type: RecComment, Author: c.Author, Body: c.Body, History: c.History}
				if c.EntityKind == KindWP {
					rec.WP = wps[c.EntityID]
				} else {
					rec.Feature = features[c.EntityID]
				}
				recs = append(recs, rec)
			}
			if len(cs) < pg.Limit {
				break
			}
			pg.After = cs[len(cs)-1].ID
		}
		ks, err := keyRecords(ctx, tx, opts)
		recs = append(recs, ks...)
		return err
	})
	if err != nil {
		return nil, err
	}
	SortRecords(recs)
	return recs, nil
}

// exportPriority is a priority as a record holds it: the default left out.
func exportPriority(p string) string {
	if p == DefaultPriority {
		return ""
	}
	return p
}

// BulkExport writes every record as JSON lines.
func (s *Service) BulkExport(ctx context.Context, w io.Writer, opts ExportOptions) error {
	recs, err := s.ExportRecords(ctx, opts)
	if err != nil {
		return err
	}
	return WriteRecords(w, recs)
}

// importPlan is a validated file: what to create, in order.
type importPlan struct {
	recs      *importRecords
	result    ImportResult
	problems  []ImportProblem
	malformed bool                // a record is malformed: the file is EINVALID, not ECONFLICT
	projects  map[string]*Project // by key: existing or new
	features  map[string]*Feature // by slug
	wps       map[string]*WP      // by key
	keys      map[string]*APIKey  // by prefix
	labels    map[int]*LabelDef   // new label definitions by record
	comments  map[int]*Comment    // new comments by record
	newRecord []bool              // records that create something
	newIDs    map[string]bool     // ids of the entities the file creates
	openDeps  map[string]int64    // new WP id -> its depends_on edges in the file to WPs not done
	spool     *descSpool          // the records' descriptions, if they moved there
}

// description returns the record's description, from the spool if it is
// there. The plan's new features and WPs hold no description when it is:
// writeImportTo reads it again as it writes each.
func (p *importPlan) description(rec *Record) (string, error) {
	if rec.desc.n == 0 {
		return rec.Description, nil
	}
	return p.spool.get(rec.desc)
}

// problem reports record i as malformed: what its line holds breaks the
// schema of its record type, whatever else the file and the store hold.
func (p *importPlan) problem(i int, field, format string, args ...any) {
	p.malformed = true
	p.add(ImportProblem{Line: int(p.recs.recs[i].line), Field: field, Message: fmt.Sprintf(format, args...)})
}

// conflict reports well-formed record i as contradicting another record
// or what is stored.
func (p *importPlan) conflict(i int, field, format string, args ...any) {
	p.add(ImportProblem{Line: int(p.recs.recs[i].line), Field: field, Message: fmt.Sprintf(format, args...), conflict: true})
}

func (p *importPlan) add(prob ImportProblem) {
	if len(p.problems) < MaxImportProblems {
		p.problems = append(p.problems, prob)
	}
}

// BulkImport reads a bulk file and creates what it describes, idempotently
// by key: a record whose entity exists with the same content changes
// nothing; one that contradicts what exists refuses the file. The whole file
// is validated (fields, references between records and to existing data,
// depends_on cycles unless opts.AllowCycles) before anything is written, and
// it is written in one transaction. A key limited to projects cannot
// import.
func (s *Service) BulkImport(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	if err := refuseLimited(PrincipalFrom(ctx), "import"); err != nil {
		return nil, err
	}
	defer lowerGC(importGCPercent)()
	spool, err := newDescSpool()
	if err != nil {
		return nil, err
	}
	defer spool.Close()
	recs, probs, err := parseImport(r, spool)
	if err != nil {
		return nil, err
	}
	// Check and write in dependency order (projects, features, WPs, then
	// dependencies and references), whatever the file's order.
	recs.sort()
	var res *ImportResult
	err = s.update(ctx, func(tx Tx) error {
		plan, err := s.planImport(ctx, tx, recs, spool, opts)
		if err != nil {
			return err
		}
		// Lines that did not parse and records that do not check out are
		// reported together, in line order.
		if all := append(probs, plan.problems...); len(all) > 0 {
			slices.SortStableFunc(all, func(a, b ImportProblem) int { return cmp.Compare(a.Line, b.Line) })
			code := ECONFLICT
			if len(probs) > 0 || plan.malformed {
				code = EINVALID
			}
			return &ImportError{Problems: all[:min(len(all), MaxImportProblems)], Code: code}
		}
		if err := s.writeImport(ctx, tx, plan); err != nil {
			return err
		}
		res = &plan.result
		return nil
	})
	return res, err
}

// planImport checks every record, entities first so that dependencies and
// references can name any of them, then the cycles the file would close.
func (s *Service) planImport(ctx context.Context, tx Tx, recs *importRecords, spool *descSpool, opts ImportOptions) (*importPlan, error) {
	pl := newImportPlanner(s, tx, recs)
	pl.spool = spool
	for i := range recs.len() {
		rec := recs.get(i)
		// A field the type does not take is reported, and the record
		// checked as usual, so that the records naming it are too.
		for _, f := range rec.strayFields() {
			pl.problem(i, f, "%s is not a field of a %s record", f, rec.Type)
		}
		var err error
		switch rec.Type {
		case RecProject:
			err = pl.project(ctx, i)
		case RecFeature:
			err = pl.feature(ctx, i)
		case RecWP:
			err = pl.wp(ctx, i)
		case RecKey:
			err = pl.key(ctx, i)
		case RecLabel:
			err = pl.label(ctx, i)
		case RecDependency, RecReference, RecComment:
			// Checked once every entity of the file is known.
		default:
			pl.problem(i, "type", "unknown record type %q: project, label, feature, wp, dependency, reference, comment or key", rec.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	for i := range recs.len() {
		var err error
		switch recs.recs[i].typ {
		case RecDependency:
			err = pl.dependency(ctx, i)
		case RecReference:
			err = pl.reference(ctx, i)
		case RecComment:
			err = pl.comment(ctx, i)
		}
		if err != nil {
			return nil, err
		}
	}
	p := pl.importPlan
	if len(p.problems) == 0 && len(pl.newEdges) > 0 && !opts.AllowCycles {
		if err := p.checkCycles(ctx, s, pl.newEdges); err != nil {
			return nil, err
		}
	}
	if len(p.problems) == 0 && len(pl.newFeatureEdges) > 0 && !opts.AllowCycles {
		if err := p.checkFeatureCycles(ctx, tx, pl.newFeatureEdges); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// importPlanner builds an importPlan record by record. Each of its record
// methods reports what is wrong with record i as a problem and returns
// only the store's errors.
type importPlanner struct {
	*importPlan
	s   *Service
	tx  Tx
	now time.Time

	seenDeps        map[depKey]bool
	newEdges        []importEdge // depends_on between WPs
	newFeatureEdges []importEdge // depends_on between features
	seenRefs        map[[5]string]bool
	edgesRead       map[string]bool // entities whose stored edges are in stored
	stored          map[depKey]bool // stored edges from them
}

// depKey is a dependency by its ends' ids and its kind.
type depKey struct{ from, to, kind string }

func newImportPlanner(s *Service, tx Tx, recs *importRecords) *importPlanner {
	count := map[string]int{}
	for i := range recs.recs {
		count[recs.recs[i].typ]++
	}
	p := &importPlan{recs: recs, newRecord: make([]bool, recs.len()),
		projects: map[string]*Project{}, features: map[string]*Feature{}, wps: make(map[string]*WP, count[RecWP]),
		newIDs:   make(map[string]bool, count[RecWP]+count[RecFeature]+count[RecProject]),
		openDeps: make(map[string]int64, count[RecWP]),
		result:   ImportResult{Created: map[string]int{}, Unchanged: map[string]int{}}}
	return &importPlanner{importPlan: p, s: s, tx: tx, now: s.now(),
		seenDeps: make(map[depKey]bool, count[RecDependency]), newEdges: make([]importEdge, 0, count[RecDependency]),
		seenRefs: map[[5]string]bool{}, edgesRead: map[string]bool{}, stored: map[depKey]bool{}}
}

// found tells a store lookup's miss (false) from its failure (the error).
func found(err error) (bool, error) {
	if err == nil {
		return true, nil
	} else if ErrorCode(err) == ENOTFOUND {
		return false, nil
	}
	return false, err
}

func (pl *importPlanner) project(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	c := ProjectCreate{Key: rec.Key, Name: rec.Name}
	if err := c.validate(false); err != nil { // older exports may hold text the API refuses now
		pl.problem(i, ErrorField(err), "%s", ErrorMessage(err))
		return nil
	}
	if pl.projects[rec.Key] != nil {
		pl.conflict(i, "key", "project %s appears twice", rec.Key)
		return nil
	}
	old, err := pl.tx.Project(ctx, rec.Key)
	if ok, err := found(err); err != nil {
		return err
	} else if ok {
		if old.Name != strings.TrimSpace(rec.Name) {
			pl.conflict(i, "name", "project %s exists with the name %q", rec.Key, old.Name)
		} else if (old.ArchivedAt != nil) != rec.Archived {
			pl.conflict(i, "archived", "project %s exists %s", rec.Key, archivedWords(old.ArchivedAt))
		}
		pl.projects[rec.Key] = old
		pl.result.Unchanged[RecProject]++
		return nil
	}
	pid := pl.s.IDs.New(PrefixProject)
	pl.newIDs[pid] = true
	pl.projects[rec.Key] = &Project{ID: pid, Key: rec.Key, Name: strings.TrimSpace(rec.Name), Version: 1, CreatedAt: pl.now, UpdatedAt: pl.now,
		ArchivedAt: pl.archivedAt(rec)}
	pl.newRecord[i] = true
	return nil
}

func (pl *importPlanner) feature(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	desc, err := pl.description(rec)
	if err != nil {
		return err
	}
	c := FeatureCreate{Slug: rec.Slug, Title: rec.Title, Description: desc, Priority: rec.Priority, Labels: rec.Labels}
	if err := c.validate(false); err != nil { // older exports may hold text the API refuses now
		pl.problem(i, ErrorField(err), "%s", ErrorMessage(err))
		return nil
	}
	state := cmpOr(rec.State, FeatureCreated)
	if _, err := FeatureTransitionCheck("", state); err != nil && state != FeatureCreated {
		pl.problem(i, "state", "unknown feature state %q; states are %v", rec.State, FeatureStates)
		return nil
	}
	proj, err := pl.projectOf(ctx, i, "feature "+rec.Slug, rec.Project)
	if proj == nil {
		return err
	}
	if f := pl.features[rec.Slug]; f != nil && pl.newIDs[f.ID] {
		pl.conflict(i, "slug", "feature %s appears twice", rec.Slug)
		return nil
	}
	old, err := pl.tx.Feature(ctx, rec.Slug)
	if ok, err := found(err); err != nil {
		return err
	} else if ok {
		if old.ProjectID != proj.ID || old.Title != strings.TrimSpace(rec.Title) || old.Description != desc || old.State != state ||
			old.Priority != c.Priority || !slices.Equal(old.Labels, c.Labels) {
			pl.conflict(i, "slug", "feature %s exists with other content", rec.Slug)
		} else if (old.ArchivedAt != nil) != rec.Archived {
			pl.conflict(i, "archived", "feature %s exists %s", rec.Slug, archivedWords(old.ArchivedAt))
		}
		pl.features[rec.Slug] = old
		pl.result.Unchanged[RecFeature]++
		return nil
	}
	fid := pl.s.IDs.New(PrefixFeature)
	pl.newIDs[fid] = true
	pl.features[rec.Slug] = &Feature{ID: fid, ProjectID: proj.ID, ProjectKey: proj.Key, Slug: rec.Slug,
		Title: strings.TrimSpace(rec.Title), Description: rec.Description, State: state, Priority: c.Priority, Labels: c.Labels,
		CreatedAt: pl.now, UpdatedAt: pl.now, ArchivedAt: pl.archivedAt(rec)}
	pl.newRecord[i] = true
	return nil
}

func (pl *importPlanner) wp(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	desc, err := pl.description(rec)
	if err != nil {
		return err
	}
	c := WPCreate{Title: rec.Title, Description: desc, Estimate: rec.Estimate, Priority: rec.Priority, Labels: rec.Labels, Owner: rec.Owner}
	if err := c.validate(false); err != nil { // older exports may hold text the API refuses now
		pl.problem(i, ErrorField(err), "%s", ErrorMessage(err))
		return nil
	}
	state := cmpOr(rec.State, WPPlanned)
	if !slices.Contains(WPStates, state) {
		pl.problem(i, "state", "unknown work package state %q; states are %v", rec.State, WPStates)
		return nil
	}
	if rec.Feature == "" {
		pl.problem(i, "feature", "wp %s: feature is required: the slug or id of its feature", rec.Key)
		return nil
	}
	prefix, _, ok := splitWPKey(rec.Key)
	if !ok || !IsWPKey(rec.Key) {
		pl.problem(i, "key", "wp key %s must be <project key>-<number from 1 to %d>, the number without leading zeros", QuoteRef(rec.Key), MaxWPNumber)
		return nil
	}
	f := pl.features[rec.Feature]
	if f == nil {
		if fe, err := pl.tx.Feature(ctx, rec.Feature); err == nil {
			f, pl.features[rec.Feature] = fe, fe
		} else if ok, err := found(err); err != nil {
			return err
		} else if !ok {
			pl.conflict(i, "feature", "wp %s: no feature %q in the file or the store", rec.Key, rec.Feature)
			return nil
		}
	}
	if prefix != f.ProjectKey {
		pl.conflict(i, "key", "wp key %s must start with %s-, the key of its feature's project", rec.Key, f.ProjectKey)
		return nil
	}
	if pl.wps[rec.Key] != nil {
		pl.conflict(i, "key", "wp %s appears twice", rec.Key)
		return nil
	}
	est := DefaultEstimate
	if rec.Estimate != nil {
		est = *rec.Estimate
	}
	// A WP key starts with its project's key: no WP of a project
	// the file creates can exist.
	var old *WP
	if !pl.newIDs[f.ProjectID] {
		w, err := pl.tx.WP(ctx, rec.Key)
		if ok, err := found(err); err != nil {
			return err
		} else if ok {
			old = w
		}
	}
	if old != nil {
		if old.FeatureID != f.ID || old.Title != strings.TrimSpace(rec.Title) || old.Description != desc || old.State != state || old.Estimate != est ||
			old.Priority != c.Priority || !slices.Equal(old.Labels, c.Labels) || old.Owner != c.Owner {
			pl.conflict(i, "key", "wp %s exists with other content", rec.Key)
		} else if (old.ArchivedAt != nil) != rec.Archived {
			pl.conflict(i, "archived", "wp %s exists %s", rec.Key, archivedWords(old.ArchivedAt))
		}
		pl.wps[rec.Key] = old
		pl.result.Unchanged[RecWP]++
		return nil
	}
	wid := pl.s.IDs.New(PrefixWP)
	pl.newIDs[wid] = true
	pl.wps[rec.Key] = &WP{ID: wid, Key: rec.Key, ProjectID: f.ProjectID, ProjectKey: f.ProjectKey, FeatureID: f.ID,
		Title: strings.TrimSpace(rec.Title), Description: rec.Description, State: state, Estimate: est,
		Priority: c.Priority, Labels: c.Labels, Owner: c.Owner, Version: 1, CreatedAt: pl.now, UpdatedAt: pl.now,
		ArchivedAt: pl.archivedAt(rec)}
	pl.newRecord[i] = true
	return nil
}

// archivedAt is when a new record the file archives is archived: now.
func (pl *importPlanner) archivedAt(rec *Record) *time.Time {
	if !rec.Archived {
		return nil
	}
	at := pl.now
	return &at
}

func archivedWords(at *time.Time) string {
	if at != nil {
		return "archived, and the file does not archive it"
	}
	return "not archived, and the file archives it"
}

// comment plans a comment record: on a WP or a feature of the file or
// the store. One with the same author and body there already is
// unchanged.
func (pl *importPlanner) comment(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	c := &Comment{ID: pl.s.IDs.New(PrefixComment), Author: strings.TrimSpace(rec.Author), Body: rec.Body, History: rec.History}
	if (rec.WP == "") == (rec.Feature == "") {
		pl.problem(i, "wp", "a comment is on a wp or on a feature: give one of them")
		return nil
	}
	if err := validateImportedComment(c); err != nil {
		pl.problem(i, ErrorField(err), "comment: %s", ErrorMessage(err))
		return nil
	}
	ref, field := rec.WP, "wp"
	if ref == "" {
		ref, field = rec.Feature, "feature"
	}
	end, ok := pl.endpoint(ctx, pl.tx, ref)
	if !ok || (end.kind == KindWP) != (field == "wp") {
		pl.problem(i, field, "comment: no %s %q in the file or the store", map[string]string{"wp": "work package", "feature": "feature"}[field], ref)
		return nil
	}
	if !end.isNew {
		for pg := (Page{Limit: MaxPageLimit}); ; {
			cs, err := pl.tx.Comments(ctx, end.id, pg)
			if err != nil {
				return err
			}
			for _, old := range cs {
				if old.Author == c.Author && old.Body == c.Body {
					pl.result.Unchanged[RecComment]++
					return nil
				}
			}
			if len(cs) < pg.Limit {
				break
			}
			pg.After = cs[len(cs)-1].ID
		}
	}
	c.EntityKind, c.EntityID, c.EntityKey = end.kind, end.id, end.key
	// endpoint left the WP or feature under ref.
	if w := pl.wps[ref]; end.kind == KindWP && w != nil {
		c.ProjectKey, c.FeatureID = w.ProjectKey, w.FeatureID
	} else if f := pl.features[ref]; f != nil {
		c.ProjectKey, c.FeatureID = f.ProjectKey, f.ID
	}
	c.Version = int64(len(c.History)) + 1
	c.CreatedAt, c.UpdatedAt = pl.now, pl.now
	if pl.comments == nil {
		pl.comments = map[int]*Comment{}
	}
	pl.comments[i] = c
	pl.newRecord[i] = true
	return nil
}

func (pl *importPlanner) dependency(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	kind := cmpOr(rec.Kind, DependsOn)
	if kind != DependsOn && kind != RelatesTo {
		pl.problem(i, "kind", "dependency kind must be depends_on or relates_to (a blocks edge is the depends_on seen from the other end), not %q", rec.Kind)
		return nil
	}
	for _, end := range [...]struct{ field, ref string }{{"from", rec.From}, {"to", rec.To}} {
		if end.ref == "" {
			pl.problem(i, end.field, "dependency: %s is required: a work package's key or id, or a feature's slug or id", end.field)
			return nil
		}
	}
	from, fromOK := pl.endpoint(ctx, pl.tx, rec.From)
	to, toOK := pl.endpoint(ctx, pl.tx, rec.To)
	switch {
	case !fromOK:
		pl.conflict(i, "from", "dependency: no work package or feature %q in the file or the store", rec.From)
		return nil
	case !toOK:
		pl.conflict(i, "to", "dependency: no work package or feature %q in the file or the store", rec.To)
		return nil
	case from.kind != to.kind:
		pl.conflict(i, "to", "a dependency joins two work packages or two features: %s and %s", rec.From, rec.To)
		return nil
	case from.id == to.id:
		pl.conflict(i, "to", "%s cannot depend on itself", rec.From)
		return nil
	}
	k := depKey{from.id, to.id, kind}
	if pl.seenDeps[k] {
		pl.conflict(i, "to", "dependency %s %s %s appears twice", rec.From, kind, rec.To)
		return nil
	}
	pl.seenDeps[k] = true
	exists := false
	if !from.isNew && !to.isNew {
		if !pl.edgesRead[from.id] {
			edges, err := pl.tx.Edges(ctx, from.id)
			if err != nil {
				return err
			}
			for _, e := range edges {
				if e.From == from.id {
					pl.stored[depKey{e.From, e.To, e.Kind}] = true
				}
			}
			pl.edgesRead[from.id] = true
		}
		exists = pl.stored[k]
	}
	if exists {
		pl.result.Unchanged[RecDependency]++
		return nil
	}
	pl.newRecord[i] = true
	rec.Kind = kind
	pl.recs.set(i, rec)
	if kind == DependsOn && from.kind == KindWP {
		pl.newEdges = append(pl.newEdges, importEdge{rec.From, rec.To, rec.Line})
		// What the store counts for a new WP (BulkGraphTx): endpoint
		// has every WP a dependency names in pl.wps.
		if from.isNew && pl.wps[rec.To].State != WPDone {
			pl.openDeps[from.id]++
		}
	} else if kind == DependsOn {
		pl.newFeatureEdges = append(pl.newFeatureEdges, importEdge{rec.From, rec.To, rec.Line})
	}
	return nil
}

func (pl *importPlanner) reference(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	c := ReferenceCreate{Kind: rec.Kind, Repo: rec.Repo, SHA: rec.SHA, URL: rec.URL, State: rec.State}
	if err := c.validate(false); err != nil { // older exports may hold text the API refuses now
		pl.problem(i, ErrorField(err), "%s", ErrorMessage(err))
		return nil
	}
	if rec.WP == "" {
		pl.problem(i, "wp", "reference: wp is required: the key or id of its work package")
		return nil
	}
	w := pl.wps[rec.WP]
	if w == nil {
		old, err := pl.tx.WP(ctx, rec.WP)
		if ok, err := found(err); err != nil {
			return err
		} else if !ok {
			pl.conflict(i, "wp", "reference: no work package %q in the file or the store", rec.WP)
			return nil
		}
		w = old
	}
	rec.Kind, rec.SHA, rec.State = c.Kind, c.SHA, c.State
	pl.recs.set(i, rec)
	// By the WP's id: a file may name it by key on one line and by
	// id on another.
	rk := [5]string{w.ID, c.Kind, c.Repo, c.SHA, c.URL}
	if pl.seenRefs[rk] {
		pl.conflict(i, "wp", "reference of %s appears twice", w.Key)
		return nil
	}
	pl.seenRefs[rk] = true
	if !pl.newIDs[w.ID] { // an existing WP: is the reference there?
		refs, err := pl.tx.References(ctx, w.ID)
		if err != nil {
			return err
		}
		var old *Reference
		for _, r := range refs {
			if r.Kind == c.Kind && r.Repo == c.Repo && r.SHA == c.SHA && r.URL == c.URL {
				old = r
			}
		}
		if old != nil && old.State != c.State {
			// As for the other kinds, the import creates and does
			// not update: a pull request's new state goes through
			// AddReference.
			pl.conflict(i, "state", "reference of %s to %s exists with the state %q", w.Key, c.URL, old.State)
			return nil
		}
		if old != nil {
			pl.result.Unchanged[RecReference]++
			return nil
		}
	}
	pl.newRecord[i] = true
	return nil
}

// importEdge is a depends_on edge between WPs that a file adds.
type importEdge struct {
	from, to string
	line     int
}

type importEnd struct {
	kind, id string
	key      string // WP key or feature slug, also when the file gives the id
	isNew    bool
}

func (p *importPlan) endpoint(ctx context.Context, tx Tx, ref string) (importEnd, bool) {
	if w := p.wps[ref]; w != nil {
		return importEnd{KindWP, w.ID, w.Key, p.newIDs[w.ID]}, true
	}
	if f := p.features[ref]; f != nil {
		return importEnd{KindFeature, f.ID, f.Slug, p.newIDs[f.ID]}, true
	}
	if IsWPRef(ref) {
		if w, err := tx.WP(ctx, ref); err == nil {
			p.wps[ref] = w
			return importEnd{KindWP, w.ID, w.Key, false}, true
		}
		return importEnd{}, false
	}
	if f, err := tx.Feature(ctx, ref); err == nil {
		p.features[ref] = f
		return importEnd{KindFeature, f.ID, f.Slug, false}, true
	}
	return importEnd{}, false
}

// checkCycles adds the file's WPs and depends_on edges to a copy of the
// store's graph and reports the cycles the file's edges would close (not
// the ones an earlier import with cycles allowed left), at the line of one
// of the file's edges on each.
func (p *importPlan) checkCycles(ctx context.Context, s *Service, edges []importEdge) error {
	gr, ok := s.Store.(GraphReader)
	if !ok {
		return nil
	}
	var g GraphCopy
	if err := gr.ReadGraph(ctx, func(cur GraphIndex) error { g = cur.Clone(); return nil }); err != nil {
		return err
	}
	projects := map[string]bool{}
	put := func(w *WP) error {
		if _, ok := g.Node(w.ID); ok {
			return nil
		}
		return g.PutNode(GraphNode{ID: w.ID, Key: w.Key, ProjectID: w.ProjectID, FeatureID: w.FeatureID, State: w.State, Estimate: w.Estimate})
	}
	// The graph keeps each project's WPs in key order: the file's, sorted,
	// go in at the end of the lists; then any others it names.
	for i := range p.recs.len() {
		if r := p.recs.get(i); r.Type == RecWP && p.wps[r.Key] != nil {
			w := p.wps[r.Key]
			if err := put(w); err != nil {
				return err
			}
		}
	}
	for _, w := range p.wps {
		if err := put(w); err != nil {
			return err
		}
	}
	for _, e := range edges {
		from, to := p.wps[e.from], p.wps[e.to]
		if err := g.AddEdge(from.ID, to.ID); err != nil {
			return err
		}
		projects[from.ProjectID] = true
	}
	var lineOf map[[2]string]int // the file's edges by their keys, once a cycle needs it
	for pid := range projects {
		for _, c := range g.Cycles(pid) {
			if lineOf == nil {
				lineOf = make(map[[2]string]int, len(edges))
				for _, e := range edges {
					lineOf[[2]string{p.wps[e.from].Key, p.wps[e.to].Key}] = e.line
				}
			}
			for i := 0; i+1 < len(c); i++ {
				if line, ok := lineOf[[2]string{c[i], c[i+1]}]; ok {
					p.add(ImportProblem{Line: line, Field: "to", Message: "dependencies close a cycle: " + strings.Join(c, " -> "), conflict: true})
					break
				}
			}
		}
	}
	return nil
}

// checkFeatureCycles reports the cycles that the file's feature-level
// depends_on edges would close, among themselves or with the stored ones,
// once for each strongly connected component, at the line of one of the
// file's edges on it. As AddDependency does, it looks at feature-level
// edges only: features waiting on each other through their WPs are not a
// cycle of dependencies.
func (p *importPlan) checkFeatureCycles(ctx context.Context, tx Tx, edges []importEdge) error {
	out := map[string][]string{} // feature id -> the ones it depends on
	slug := map[string]string{}
	for _, e := range edges {
		from, to := p.features[e.from], p.features[e.to]
		out[from.ID] = append(out[from.ID], to.ID)
		slug[from.ID], slug[to.ID] = from.Slug, to.Slug
	}
	loaded := map[string]bool{}
	next := func(id string) ([]string, error) {
		if !loaded[id] {
			loaded[id] = true
			if !p.newIDs[id] { // a feature the file creates has no stored edges
				es, err := tx.Edges(ctx, id)
				if err != nil {
					return nil, err
				}
				for _, e := range es {
					if e.From == id && e.Kind == DependsOn {
						out[id] = append(out[id], e.To)
						slug[e.To] = e.ToKey
					}
				}
			}
		}
		return out[id], nil
	}
	// Tarjan's strongly connected components, over what the file's edges
	// reach.
	index, low, comp := map[string]int{}, map[string]int{}, map[string]int{}
	var stack []string
	onStack := map[string]bool{}
	var visit func(v string) error
	visit = func(v string) error {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		ws, err := next(v)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if _, seen := index[w]; !seen {
				if err := visit(w); err != nil {
					return err
				}
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = index[v]
				if w == v {
					break
				}
			}
		}
		return nil
	}
	for _, e := range edges {
		if _, seen := index[p.features[e.from].ID]; !seen {
			if err := visit(p.features[e.from].ID); err != nil {
				return err
			}
		}
	}
	reported := map[int]bool{}
	for _, e := range edges {
		from, to := p.features[e.from].ID, p.features[e.to].ID
		c := comp[from]
		if comp[to] != c || reported[c] {
			continue
		}
		reported[c] = true
		// A shortest way back from to to from, inside the component.
		prev := map[string]string{to: ""}
		queue := []string{to}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, w := range out[v] {
				if _, seen := prev[w]; !seen && comp[w] == c {
					prev[w] = v
					queue = append(queue, w)
				}
			}
		}
		var back []string
		for id := from; id != ""; id = prev[id] {
			back = append(back, slug[id])
		}
		slices.Reverse(back)
		cycle := append([]string{slug[from]}, back...)
		p.add(ImportProblem{Line: e.line, Field: "to", Message: "dependencies close a cycle: " + strings.Join(cycle, " -> "), conflict: true})
	}
	return nil
}

func (s *Service) writeImport(ctx context.Context, tx Tx, p *importPlan) error {
	if bt, ok := tx.(BulkTx); ok {
		b := newImportTx(tx, bt, p)
		defer b.wait() // the store's Tx is not used once this returns
		if err := s.writeImportTo(ctx, b, p); err != nil {
			return err
		}
		return b.flush(ctx, true)
	}
	return s.writeImportTo(ctx, tx, p)
}

func (s *Service) writeImportTo(ctx context.Context, tx Tx, p *importPlan) error {
	touched := map[string]int{}           // feature id -> records imported into it
	touchedProject := map[string]string{} // feature id -> its project key
	var touchOrder []string               // feature ids, first touched first
	touch := func(featureID, projectKey string) {
		if touched[featureID] == 0 {
			touchOrder = append(touchOrder, featureID)
		}
		touched[featureID]++
		touchedProject[featureID] = projectKey
	}
	emit := func(kind, id, projectKey string, data any) error {
		_, err := s.record(ctx, tx, change{kind: kind, entityID: id, projectKey: projectKey, action: "imported", created: true, data: data})
		if err == nil {
			p.result.Events++
		}
		return err
	}
	for i := range p.recs.len() {
		if !p.newRecord[i] {
			continue
		}
		rec := p.recs.get(i)
		switch rec.Type {
		case RecProject:
			pr := p.projects[rec.Key]
			if err := tx.InsertProject(ctx, pr); err != nil {
				return err
			}
			if err := emit(KindProject, pr.ID, pr.Key, pr); err != nil {
				return err
			}
		case RecFeature:
			f := p.features[rec.Slug]
			f.Version = 1
			if rec.desc.n > 0 {
				full := *f
				var err error
				if full.Description, err = p.description(rec); err != nil {
					return err
				}
				f = &full
			}
			if err := tx.InsertFeature(ctx, f); err != nil {
				return err
			}
			if err := emit(KindFeature, f.ID, f.ProjectKey, f); err != nil {
				return err
			}
			touch(f.ID, f.ProjectKey)
		case RecWP:
			w := p.wps[rec.Key]
			if rec.desc.n > 0 {
				full := *w
				var err error
				if full.Description, err = p.description(rec); err != nil {
					return err
				}
				w = &full
			}
			_, num, _ := splitWPKey(w.Key)
			if err := tx.ReserveWPNumber(ctx, w.ProjectID, num); err != nil {
				return err
			}
			if err := tx.InsertWP(ctx, w); err != nil {
				return err
			}
			if err := emit(KindWP, w.ID, w.ProjectKey, w); err != nil {
				return err
			}
			touch(w.FeatureID, w.ProjectKey)
		case RecDependency:
			from, _ := p.endpoint(ctx, tx, rec.From)
			to, _ := p.endpoint(ctx, tx, rec.To)
			d := &Dependency{ID: s.IDs.New(PrefixDependency), EntityKind: from.kind, Kind: rec.Kind, From: from.id, To: to.id,
				FromKey: from.key, ToKey: to.key, Version: 1, CreatedAt: s.now()}
			if err := tx.InsertDependency(ctx, d); err != nil {
				return err
			}
			var pk string
			if w := p.wps[rec.From]; w != nil {
				pk = w.ProjectKey
				touch(w.FeatureID, pk)
			} else if f := p.features[rec.From]; f != nil {
				pk = f.ProjectKey
				touch(f.ID, pk)
			}
			if err := emit(KindDependency, d.ID, pk, d); err != nil {
				return err
			}
		case RecReference:
			w := p.wps[rec.WP]
			if w == nil {
				var err error
				if w, err = tx.WP(ctx, rec.WP); err != nil {
					return err
				}
			}
			now := s.now()
			r := &Reference{ID: s.IDs.New(PrefixReference), WPID: w.ID, Kind: rec.Kind, Repo: rec.Repo, SHA: rec.SHA, URL: rec.URL, State: rec.State, CreatedAt: now, UpdatedAt: now}
			if err := tx.PutReference(ctx, r); err != nil {
				return err
			}
			if _, err := s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "referenced", data: map[string]any{"reference": r}}); err != nil {
				return err
			}
			p.result.Events++
			touch(w.FeatureID, w.ProjectKey)
		case RecKey:
			if err := s.writeImportedKey(ctx, tx, p, rec); err != nil {
				return err
			}
		case RecComment:
			c := p.comments[i]
			if err := tx.InsertComment(ctx, c); err != nil {
				return err
			}
			if _, err := s.record(ctx, tx, change{kind: c.EntityKind, entityID: c.EntityID, projectKey: c.ProjectKey, action: "commented", data: map[string]any{"comment": c}}); err != nil {
				return err
			}
			p.result.Events++
			touch(c.FeatureID, c.ProjectKey)
		case RecLabel:
			l := p.labels[i]
			if err := tx.InsertLabelDef(ctx, l); err != nil {
				return err
			}
			if err := emit(KindLabel, l.ID, l.ProjectKey, l); err != nil {
				return err
			}
		}
		p.result.Created[rec.Type]++
	}
	// One audit entry per feature records the import as a whole.
	for _, fid := range touchOrder {
		n := touched[fid]
		if _, err := s.record(ctx, tx, change{kind: KindFeature, entityID: fid, projectKey: touchedProject[fid], action: "import_applied",
			data: map[string]any{"records": n}, features: []string{fid}, summary: "bulk import: " + strconv.Itoa(n) + " records"}); err != nil {
			return err
		}
		p.result.Events++
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// projectOf finds the project record i (what names it) belongs to, in the
// file or the store. A project in neither is a conflict of record i, and
// the answer nil with a nil error; a record naming none is malformed.
func (pl *importPlanner) projectOf(ctx context.Context, i int, what, ref string) (*Project, error) {
	if ref == "" {
		pl.problem(i, "project", "%s: project is required: the key or id of its project", what)
		return nil, nil
	}
	if p := pl.projects[ref]; p != nil {
		return p, nil
	}
	p, err := pl.tx.Project(ctx, ref)
	if ok, err := found(err); err != nil {
		return nil, err
	} else if !ok {
		pl.conflict(i, "project", "%s: no project %q in the file or the store", what, ref)
		return nil, nil
	}
	pl.projects[ref] = p
	return p, nil
}

// label plans a label definition record: its project is in the file or
// the store; a definition there with other content refuses the file.
func (pl *importPlanner) label(ctx context.Context, i int) error {
	rec := pl.recs.get(i)
	desc, err := pl.description(rec)
	if err != nil {
		return err
	}
	c := LabelCreate{Name: rec.Name, Color: rec.Color, Description: desc}
	if err := c.Validate(); err != nil {
		pl.problem(i, ErrorField(err), "%s", ErrorMessage(err))
		return nil
	}
	proj, err := pl.projectOf(ctx, i, "label "+c.Name, rec.Project)
	if proj == nil {
		return err
	}
	if pl.labels == nil {
		pl.labels = map[int]*LabelDef{}
	}
	for _, l := range pl.labels {
		if l.ProjectID == proj.ID && l.Name == c.Name {
			pl.conflict(i, "name", "label %s of project %s appears twice", c.Name, proj.Key)
			return nil
		}
	}
	if !pl.newIDs[proj.ID] {
		old, err := pl.tx.LabelDef(ctx, proj.ID, c.Name)
		if ok, err := found(err); err != nil {
			return err
		} else if ok {
			if old.Color != c.Color || old.Description != c.Description {
				pl.conflict(i, "name", "label %s of project %s exists with other content", c.Name, proj.Key)
			}
			pl.result.Unchanged[RecLabel]++
			return nil
		}
	}
	pl.labels[i] = &LabelDef{ID: pl.s.IDs.New(PrefixLabel), ProjectID: proj.ID, ProjectKey: proj.Key, Name: c.Name, Color: c.Color,
		Description: c.Description, Version: 1, CreatedAt: pl.now, UpdatedAt: pl.now}
	pl.newRecord[i] = true
	return nil
}
