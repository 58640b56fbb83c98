package agileplus

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Service implements Tracker over a Store: each command is one store
// transaction that checks the rules, writes the change, appends the entity's
// next event (and the feature's audit entry) and puts the event in the outbox.
type Service struct {
	Store Store
	Now   func() time.Time
	IDs   *IDGenerator
	// OnCommit, if set, is called after each committed command (the relay
	// uses it to publish without waiting for its next poll).
	OnCommit func()
	// OnClaim, if set, is called after each claim taken; tookOver says it
	// took over a lease that had expired (metrics count both).
	OnClaim func(tookOver bool)
	// Tracer, if set, records a span for each store transaction.
	Tracer Tracer
	// SnapshotCache, if set, serves snapshots before the store (history.go).
	SnapshotCache Cache
	// FlagCache, if set, holds the flags read (flagservice.go).
	FlagCache Cache
}

var _ Tracker = (*Service)(nil)

// NewService returns a Service over store with the real clock.
func NewService(store Store) *Service {
	return &Service{Store: store, Now: time.Now, IDs: NewIDGenerator(time.Now)}
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// update runs fn in a write transaction and signals the commit.
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	sctx, span := StartSpan(ctx, s.Tracer, "store update", SpanInternal)
	err := s.Store.Update(sctx, fn)
	span.End(err)
	if err != nil {
		return err
	}
	if s.OnCommit != nil {
		s.OnCommit()
	}
	return nil
}

// change describes one event to append inside a command.
type change struct {
	kind, entityID, projectKey string
	action                     string
	data                       any
	// created marks a new entity: its chain is empty, no head to look up.
	created bool
	// Audit: feature ids whose trails record the change, and its summary.
	features []string
	summary  string
	forced   bool
	reason   string
	// projectWide: the event is the project's; features only name the
	// audit trails that record it.
	projectWide bool
}

// record appends the event of ch and its audit entries.
func (s *Service) record(ctx context.Context, tx Tx, ch change) (*Event, error) {
	if ch.projectKey == "" || ch.entityID == "" {
		// The event's subject needs both; refuse rather than commit an
		// event the bus would reject forever.
		return nil, fmt.Errorf("record %s.%s: missing project key or entity id", ch.kind, ch.action)
	}
	data, err := json.Marshal(ch.data)
	if err != nil {
		return nil, fmt.Errorf("encode event data: %w", err)
	}
	var seq int64
	var prev string
	if !ch.created {
		if seq, prev, err = tx.EventHead(ctx, ch.entityID); err != nil {
			return nil, err
		}
	}
	e := &Event{
		ID:         s.IDs.New(PrefixEvent),
		Type:       ch.kind + "." + ch.action,
		EntityKind: ch.kind,
		EntityID:   ch.entityID,
		ProjectKey: ch.projectKey,
		Seq:        seq + 1,
		PrevHash:   prev,
		Time:       s.now(),
		Actor:      ActorFrom(ctx),
		Data:       data,
	}
	if len(ch.features) > 0 && !ch.projectWide {
		e.FeatureID = ch.features[0]
	}
	if tp := TraceParentFrom(ctx); ValidTraceParent(tp) {
		e.TraceParent = tp
	}
	e.Hash = e.ComputeHash()
	if err := tx.AppendEvent(ctx, e); err != nil {
		return nil, err
	}
	for _, fid := range ch.features {
		aseq, aprev, err := tx.AuditHead(ctx, fid)
		if err != nil {
			return nil, err
		}
		a := &AuditEntry{
			FeatureID: fid, Seq: aseq + 1, EventID: e.ID, EventType: e.Type, EntityID: e.EntityID,
			Time: e.Time, Actor: e.Actor, Summary: ch.summary, Forced: ch.forced, Reason: ch.reason,
			Detail: data, PrevHash: aprev,
		}
		a.Hash = a.ComputeHash()
		if err := tx.AppendAudit(ctx, a); err != nil {
			return nil, err
		}
	}
	if err := s.snapshotAfter(ctx, tx, e); err != nil {
		return nil, err
	}
	return e, nil
}

func checkVersion(kind, key string, have, want int64) error {
	if want != 0 && have != want {
		return &Error{Code: ECONFLICT, Field: "version", Message: fmt.Sprintf("%s %s is at version %d, not %d: reload it and retry", kind, key, have, want)}
	}
	return nil
}

func (s *Service) view(ctx context.Context, fn func(ReadTx) error) error {
	return s.Store.View(ctx, fn)
}

// ---- projects ----

// CreateProject creates a project. A key limited to projects cannot.
func (s *Service) CreateProject(ctx context.Context, c ProjectCreate) (*Project, error) {
	if p := limited(ctx); p != nil {
		return nil, &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("key %s is limited to projects %s; it cannot create projects", p.Name, strings.Join(p.Projects, ", "))}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	p := &Project{ID: s.IDs.New(PrefixProject), Key: c.Key, Name: strings.TrimSpace(c.Name), Version: 1, CreatedAt: now, UpdatedAt: now}
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.InsertProject(ctx, p); err != nil {
			return err
		}
		_, err := s.record(ctx, tx, change{kind: KindProject, entityID: p.ID, projectKey: p.Key, action: "created", created: true, data: p})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Project returns a project by id or key.
func (s *Service) Project(ctx context.Context, ref string) (p *Project, err error) {
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		if p, err = tx.Project(ctx, ref); err != nil {
			return err
		}
		return allow(lim, "project", p.Key)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Projects lists projects by id; a key limited to projects sees only
// those.
func (s *Service) Projects(ctx context.Context, pg Page) (ps []*Project, err error) {
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	if pg.Archived, err = archivedOption(pg.Archived); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		if lim == nil {
			ps, err = tx.Projects(ctx, pg)
			return err
		}
		// At most MaxKeyProjects lookups: cheaper than filtering every page.
		all, err := allowedProjects(ctx, tx, lim)
		if err != nil {
			return err
		}
		for _, p := range all {
			if p.ID > pg.After && len(ps) < pg.Limit && ArchivedMatch(pg.Archived, p.ArchivedAt) {
				ps = append(ps, p)
			}
		}
		return nil
	})
	return ps, err
}

// UpdateProject changes a project's name. An update that changes nothing
// records nothing: the answer is the project as it is.
func (s *Service) UpdateProject(ctx context.Context, ref string, u ProjectUpdate, ifVersion int64) (p *Project, err error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		if p, err = tx.Project(ctx, ref); err != nil {
			return err
		} else if err := allow(lim, "project", p.Key); err != nil {
			return err
		} else if err := checkVersion("project", p.Key, p.Version, ifVersion); err != nil {
			return err
		}
		changed := false
		if u.Name != nil && strings.TrimSpace(*u.Name) != p.Name {
			p.Name, changed = strings.TrimSpace(*u.Name), true
		}
		if !changed {
			return nil // nothing to record: the version and the event chain stay
		}
		p.Version++
		p.UpdatedAt = s.now()
		if err := tx.UpdateProject(ctx, p); err != nil {
			return err
		}
		_, err := s.record(ctx, tx, change{kind: KindProject, entityID: p.ID, projectKey: p.Key, action: "updated", data: p})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ---- features ----

// CreateFeature creates a feature in a project, in state created.
func (s *Service) CreateFeature(ctx context.Context, projectRef string, c FeatureCreate) (f *Feature, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		f, err = s.createFeature(ctx, tx, projectRef, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// createFeature creates a validated feature in tx.
func (s *Service) createFeature(ctx context.Context, tx Tx, projectRef string, c FeatureCreate) (*Feature, error) {
	p, err := tx.Project(ctx, projectRef)
	if err != nil {
		return nil, err
	}
	if err := allow(limited(ctx), "project", p.Key); err != nil {
		return nil, err
	}
	now := s.now()
	f := &Feature{
		ID: s.IDs.New(PrefixFeature), ProjectID: p.ID, ProjectKey: p.Key, Slug: c.Slug,
		Title: strings.TrimSpace(c.Title), Description: c.Description, State: FeatureCreated,
		Priority: c.Priority, Labels: c.Labels, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.InsertFeature(ctx, f); err != nil {
		return nil, err
	}
	_, err = s.record(ctx, tx, change{kind: KindFeature, entityID: f.ID, projectKey: p.Key, action: "created", created: true, data: f,
		features: []string{f.ID}, summary: "feature " + f.Slug + " created"})
	return f, err
}

// Feature returns a feature by id or slug.
func (s *Service) Feature(ctx context.Context, ref string) (f *Feature, err error) {
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		if f, err = tx.Feature(ctx, ref); err != nil {
			return err
		}
		return allow(lim, "feature", f.ProjectKey)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Features lists a project's features by id.
func (s *Service) Features(ctx context.Context, projectRef string, q FeatureQuery) (fs []*Feature, err error) {
	pg := q.Page
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	if pg.Archived, err = archivedOption(pg.Archived); err != nil {
		return nil, err
	}
	keep, err := featureFilter(q)
	if err != nil {
		return nil, err
	}
	rank, after, err := splitSortCursor(q.After, PrefixFeature)
	if err != nil {
		return nil, err
	}
	byPriority := q.Sort == OrderPriority
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		p, err := tx.Project(ctx, projectRef)
		if err != nil {
			return err
		}
		if err := allow(lim, "project", p.Key); err != nil {
			return err
		}
		if keep == nil && !byPriority {
			pg.After = after
			fs, err = tx.Features(ctx, p.ID, pg)
			return err
		}
		// Filtered or by priority: a project's features are few, so they
		// are read whole and picked here.
		all, err := allFeatures(ctx, tx, p.ID, pg.Archived)
		if err != nil {
			return err
		}
		if keep != nil {
			all = slices.DeleteFunc(all, func(f *Feature) bool { return !keep(f) })
		}
		pos := func(f *Feature) int { return PriorityRank(cmp.Or(f.Priority, DefaultPriority)) }
		if byPriority {
			slices.SortStableFunc(all, func(a, b *Feature) int { return cmp.Compare(pos(a), pos(b)) })
			if after != "" && rank < 0 {
				i := slices.IndexFunc(all, func(f *Feature) bool { return f.ID == after })
				if i < 0 {
					return &Error{Code: ENOTFOUND, Field: "after", Message: fmt.Sprintf("after: project %s lists no feature %s to start after", p.Key, after)}
				}
				rank = pos(all[i])
			}
		}
		start := 0
		if after != "" {
			// all is in list order: the page starts at the first past the
			// cursor.
			if start = slices.IndexFunc(all, func(f *Feature) bool {
				if r := pos(f); byPriority && r != rank {
					return r > rank
				}
				return f.ID > after
			}); start < 0 {
				start = len(all)
			}
		}
		fs = all[start:min(len(all), start+pg.Limit)]
		return nil
	})
	return fs, err
}

// featureFilter checks q's filters and returns what keeps a feature, nil
// for no filter.
func featureFilter(q FeatureQuery) (func(*Feature) bool, error) {
	for _, p := range q.Priorities {
		if err := validatePriority("priority", p); err != nil {
			return nil, err
		}
	}
	var labels []string
	if len(q.Labels) > 0 {
		var err error
		if labels, err = NormalizeLabels("label", q.Labels); err != nil {
			return nil, err
		}
	}
	switch q.LabelsMode {
	case "", LabelsAll, LabelsAny:
	default:
		return nil, FieldErrorf("labels_mode", "labels_mode must be %s or %s, not %s", LabelsAll, LabelsAny, QuoteRef(q.LabelsMode))
	}
	switch q.Sort {
	case "", SortID, OrderPriority:
	default:
		return nil, FieldErrorf("sort", "sort must be %s or %s, not %s", SortID, OrderPriority, QuoteRef(q.Sort))
	}
	if len(q.Priorities) == 0 && len(labels) == 0 {
		return nil, nil
	}
	return func(f *Feature) bool {
		return (len(q.Priorities) == 0 || slices.Contains(q.Priorities, cmp.Or(f.Priority, DefaultPriority))) &&
			HasLabels(f.Labels, labels, q.LabelsMode == LabelsAny)
	}, nil
}

// allFeatures reads every feature of a project, by id.
func allFeatures(ctx context.Context, tx ReadTx, projectID, archived string) ([]*Feature, error) {
	var all []*Feature
	pg := Page{Limit: MaxPageLimit, Archived: archived}
	for {
		fs, err := tx.Features(ctx, projectID, pg)
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
		if len(fs) < pg.Limit {
			return all, nil
		}
		pg.After = fs[len(fs)-1].ID
	}
}

// UpdateFeature changes a feature's title or description; one that
// changes nothing records nothing.
func (s *Service) UpdateFeature(ctx context.Context, ref string, u FeatureUpdate, ifVersion int64) (f *Feature, err error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		if f, err = tx.Feature(ctx, ref); err != nil {
			return err
		} else if err := allow(lim, "feature", f.ProjectKey); err != nil {
			return err
		} else if err := checkVersion("feature", f.Slug, f.Version, ifVersion); err != nil {
			return err
		}
		changed := false
		if u.Title != nil && strings.TrimSpace(*u.Title) != f.Title {
			f.Title, changed = strings.TrimSpace(*u.Title), true
		}
		if u.Description != nil && *u.Description != f.Description {
			f.Description, changed = *u.Description, true
		}
		if u.Priority != nil && *u.Priority != f.Priority {
			f.Priority, changed = *u.Priority, true
		}
		if u.Labels != nil && !slices.Equal(*u.Labels, f.Labels) {
			f.Labels, changed = *u.Labels, true
		}
		if !changed {
			return nil // nothing to record: the version and the event chain stay
		}
		f.Version++
		f.UpdatedAt = s.now()
		if err := tx.UpdateFeature(ctx, f); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindFeature, entityID: f.ID, projectKey: f.ProjectKey, action: "updated", data: f,
			features: []string{f.ID}, summary: "feature " + f.Slug + " updated"})
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// TransitionFeature moves a feature forward; skipped states are recorded.
func (s *Service) TransitionFeature(ctx context.Context, ref string, t Transition, ifVersion int64) (f *Feature, err error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		if f, err = tx.Feature(ctx, ref); err != nil {
			return err
		} else if err := allow(lim, "feature", f.ProjectKey); err != nil {
			return err
		} else if err := checkVersion("feature", f.Slug, f.Version, ifVersion); err != nil {
			return err
		}
		skipped, err := FeatureTransitionCheck(f.State, t.To)
		if err != nil {
			return err
		}
		from := f.State
		f.State, f.Version, f.UpdatedAt = t.To, f.Version+1, s.now()
		if err := tx.UpdateFeature(ctx, f); err != nil {
			return err
		}
		summary := fmt.Sprintf("feature %s: %s -> %s", f.Slug, from, t.To)
		if len(skipped) > 0 {
			summary += " (skipped " + strings.Join(skipped, ", ") + ")"
		}
		_, err = s.record(ctx, tx, change{kind: KindFeature, entityID: f.ID, projectKey: f.ProjectKey, action: "transitioned",
			data:     map[string]any{"from": from, "to": t.To, "skipped": skipped, "reason": t.Reason, "feature": f},
			features: []string{f.ID}, summary: summary, reason: t.Reason})
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ---- work packages ----

// CreateWP creates a work package in a feature, in state planned, with the
// project's next key.
func (s *Service) CreateWP(ctx context.Context, featureRef string, c WPCreate) (w *WP, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		f, err := tx.Feature(ctx, featureRef)
		if err != nil {
			return err
		}
		if err := allow(limited(ctx), "feature", f.ProjectKey); err != nil {
			return err
		}
		w, err = s.createWP(ctx, tx, f, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// createWP creates a validated WP in feature f in tx.
func (s *Service) createWP(ctx context.Context, tx Tx, f *Feature, c WPCreate) (*WP, error) {
	now := s.now()
	est := DefaultEstimate
	if c.Estimate != nil {
		est = *c.Estimate
	}
	n, err := tx.NextWPNumber(ctx, f.ProjectID)
	if err != nil {
		return nil, err
	}
	w := &WP{
		ID: s.IDs.New(PrefixWP), Key: fmt.Sprintf("%s-%d", f.ProjectKey, n), ProjectID: f.ProjectID, ProjectKey: f.ProjectKey,
		FeatureID: f.ID, Title: strings.TrimSpace(c.Title), Description: c.Description, State: WPPlanned,
		Estimate: est, Priority: c.Priority, Labels: c.Labels, Owner: c.Owner, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.InsertWP(ctx, w); err != nil {
		return nil, err
	}
	_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: f.ProjectKey, action: "created", created: true, data: w,
		features: []string{f.ID}, summary: "wp " + w.Key + " created: " + w.Title})
	return w, err
}

// WP returns a work package by id or key, with its live lease if any and
// its references.
func (s *Service) WP(ctx context.Context, ref string) (w *WP, err error) {
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		if w, err = tx.WP(ctx, ref); err != nil {
			return err
		}
		if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		}
		w.References, err = tx.References(ctx, w.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.hideExpired(w)
	return w, nil
}

// WPs lists work packages of a project or a feature, by id or by
// priority. Without either, a key limited to projects sees only their WPs.
func (s *Service) WPs(ctx context.Context, q WPQuery) (ws []*WP, err error) {
	if q.Limit, err = ClampLimit(q.Limit); err != nil {
		return nil, err
	}
	if q.Archived, err = archivedOption(q.Archived); err != nil {
		return nil, err
	}
	f, none, err := wpFilter(ctx, q)
	if err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		if q.Project != "" {
			p, err := tx.Project(ctx, q.Project)
			if err != nil {
				return err
			}
			if err := allow(lim, "project", p.Key); err != nil {
				return err
			}
			f.ProjectID = p.ID
		}
		if q.Feature != "" {
			fe, err := tx.Feature(ctx, q.Feature)
			if err != nil {
				return err
			}
			if err := allow(lim, "feature", fe.ProjectKey); err != nil {
				return err
			}
			if f.ProjectID != "" && fe.ProjectID != f.ProjectID {
				// Not an empty answer: the two filters cannot both hold.
				// Both exist, but not together: no such feature in that
				// project, a 404 as for any well-formed name of nothing.
				return &Error{Code: ENOTFOUND, Field: "feature", Message: fmt.Sprintf("feature %s is in project %s, not %s", fe.Slug, fe.ProjectKey, q.Project)}
			}
			f.FeatureID = fe.ID
		}
		if none {
			ws = []*WP{}
			return nil
		}
		if f.ByPriority && f.After != "" && f.AfterRank < 0 {
			w, err := tx.WP(ctx, f.After)
			if ErrorCode(err) == ENOTFOUND {
				return &Error{Code: ENOTFOUND, Field: "after", Message: fmt.Sprintf("after: no WP %s to start after", f.After)}
			} else if err != nil {
				return err
			}
			f.AfterRank = PriorityRank(w.Priority)
		}
		if lim != nil && f.ProjectID == "" && f.FeatureID == "" {
			ws, err = limitedWPs(ctx, tx, lim, f)
			return err
		}
		ws, err = tx.WPs(ctx, f)
		return err
	})
	now := s.now()
	for _, w := range ws {
		if !w.Lease.Live(now) {
			w.Lease = nil
		}
	}
	return ws, err
}

// limitedWPs is the page f selects among the WPs of the projects p is
// limited to: the first page of each, merged by id.
func limitedWPs(ctx context.Context, tx ReadTx, p *Principal, f WPFilter) ([]*WP, error) {
	ps, err := allowedProjects(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	var ws []*WP
	for _, pr := range ps {
		f.ProjectID = pr.ID
		page, err := tx.WPs(ctx, f)
		if err != nil {
			return nil, err
		}
		ws = append(ws, page...)
	}
	slices.SortFunc(ws, func(a, b *WP) int {
		if f.ByPriority {
			if c := PriorityRank(a.Priority) - PriorityRank(b.Priority); c != 0 {
				return c
			}
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ws[:min(len(ws), f.Limit)], nil
}

// UpdateWP changes a work package's title, description or estimate; one
// that changes nothing records nothing.
func (s *Service) UpdateWP(ctx context.Context, ref string, u WPUpdate, ifVersion int64) (w *WP, err error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		if w, err = tx.WP(ctx, ref); err != nil {
			return err
		} else if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		} else if err := checkVersion("wp", w.Key, w.Version, ifVersion); err != nil {
			return err
		}
		changed := false
		if u.Title != nil && strings.TrimSpace(*u.Title) != w.Title {
			w.Title, changed = strings.TrimSpace(*u.Title), true
		}
		if u.Description != nil && *u.Description != w.Description {
			w.Description, changed = *u.Description, true
		}
		if u.Estimate != nil && *u.Estimate != w.Estimate {
			w.Estimate, changed = *u.Estimate, true
		}
		if u.Priority != nil && *u.Priority != w.Priority {
			w.Priority, changed = *u.Priority, true
		}
		if u.Labels != nil && !slices.Equal(*u.Labels, w.Labels) {
			w.Labels, changed = *u.Labels, true
		}
		if u.Owner != nil && *u.Owner != w.Owner {
			w.Owner, changed = *u.Owner, true
		}
		if !changed {
			return nil // nothing to record: the version and the event chain stay
		}
		w.Version++
		w.UpdatedAt = s.now()
		if err := tx.UpdateWP(ctx, w); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "updated", data: w,
			features: []string{w.FeatureID}, summary: "wp " + w.Key + " updated"})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.hideExpired(w)
	return w, nil
}

func (s *Service) hideExpired(w *WP) {
	if w != nil && !w.Lease.Live(s.now()) {
		w.Lease = nil
	}
}

// checkToken enforces fencing: while a WP holds a live lease, a change must
// carry that lease's token; a token that is not the live lease's is stale.
func checkToken(w *WP, token int64, now time.Time) error {
	live := w.Lease.Live(now)
	switch {
	case live && token == w.Lease.Token:
		return nil
	case live && token == 0:
		return &Error{Code: ECONFLICT, Field: "token", Message: fmt.Sprintf("wp %s is claimed by %s until %s: pass the lease's fencing token", w.Key, w.Lease.Agent, w.Lease.ExpiresAt.Format(time.RFC3339))}
	case token == 0:
		return nil
	case live:
		return &Error{Code: ECONFLICT, Field: "token", Message: fmt.Sprintf("stale fencing token %d for wp %s: the live lease of %s has token %d", token, w.Key, w.Lease.Agent, w.Lease.Token)}
	default:
		return &Error{Code: ECONFLICT, Field: "token", Message: fmt.Sprintf("stale fencing token %d for wp %s: no live lease holds it (expired or released)", token, w.Key)}
	}
}

// TransitionWP moves a work package along its state machine. Starting it
// (to doing from planned or blocked) needs every depends_on target done,
// unless Force with a Reason, which the audit trail records.
func (s *Service) TransitionWP(ctx context.Context, ref string, t Transition, ifVersion int64) (w *WP, err error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		if w, err = tx.WP(ctx, ref); err != nil {
			return err
		} else if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		} else if err := checkVersion("wp", w.Key, w.Version, ifVersion); err != nil {
			return err
		}
		now := s.now()
		if err := transitionRules(ctx, tx, w, t.To); err != nil {
			return err
		}
		if err := checkToken(w, t.Token, now); err != nil {
			return err
		}
		var open []string
		if t.To == WPDoing && (w.State == WPPlanned || w.State == WPBlocked) {
			edges, err := tx.Edges(ctx, w.ID)
			if err != nil {
				return err
			}
			for _, e := range edges {
				if e.Direction == DependsOn && e.OtherState != WPDone {
					if e.OtherArchived {
						open = append(open, e.OtherKey+" ("+e.OtherState+", archived)")
					} else {
						open = append(open, e.OtherKey+" ("+e.OtherState+")")
					}
				}
			}
			if len(open) > 0 && !t.Force {
				return Errorf(ERULE, "wp %s cannot start: it depends on %s, not done; pass force with a reason to start anyway", w.Key, strings.Join(open, ", "))
			}
		}
		from := w.State
		w.State, w.Version, w.UpdatedAt = t.To, w.Version+1, now
		if t.To == WPDone {
			w.Lease = nil // finished work holds no claim
		}
		if err := tx.UpdateWP(ctx, w); err != nil {
			return err
		}
		forced := t.Force && len(open) > 0
		summary := fmt.Sprintf("wp %s: %s -> %s", w.Key, from, t.To)
		if forced {
			summary += " (forced past " + strings.Join(open, ", ") + ")"
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "transitioned",
			data:     map[string]any{"from": from, "to": t.To, "forced": forced, "reason": t.Reason, "open_dependencies": open, "token": t.Token, "wp": w},
			features: []string{w.FeatureID}, summary: summary, forced: forced, reason: t.Reason})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.hideExpired(w)
	return w, nil
}

// AddReference links a WP to a commit or a pull request. The same commit
// again changes nothing; the same pull request URL again updates its state.
func (s *Service) AddReference(ctx context.Context, ref string, c ReferenceCreate) (r *Reference, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return err
		}
		if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		}
		refs, err := tx.References(ctx, w.ID)
		if err != nil {
			return err
		}
		now := s.now()
		action := "referenced"
		for _, old := range refs {
			same := old.Kind == c.Kind && ((c.Kind == RefCommit && old.SHA == c.SHA && old.Repo == c.Repo) || (c.Kind == RefPullRequest && old.URL == c.URL))
			if !same {
				continue
			}
			if old.State == c.State {
				r = old // nothing changes: no event
				return nil
			}
			r, action = old, "reference_updated"
			r.State, r.UpdatedAt = c.State, now
			break
		}
		if r == nil {
			r = &Reference{ID: s.IDs.New(PrefixReference), WPID: w.ID, Kind: c.Kind, Repo: c.Repo, SHA: c.SHA, URL: c.URL, State: c.State, CreatedAt: now, UpdatedAt: now}
		}
		if err := tx.PutReference(ctx, r); err != nil {
			return err
		}
		what := r.URL
		if r.Kind == RefCommit {
			what = r.Repo + "@" + r.SHA
		}
		summary := fmt.Sprintf("wp %s references %s %s", w.Key, strings.ReplaceAll(r.Kind, "_", " "), what)
		if r.State != "" {
			summary += " (" + r.State + ")"
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: action,
			data: map[string]any{"reference": r}, features: []string{w.FeatureID}, summary: summary})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ---- claims ----

// Claim gives agent a lease on a WP. It fails with ECONFLICT while another
// lease is live; an expired lease is taken over. Each claim gets a fencing
// token greater than any issued before for the WP.
func (s *Service) Claim(ctx context.Context, ref string, c ClaimRequest) (l *Lease, err error) {
	var tookOver bool
	if err := c.Validate(false); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.update(ctx, func(tx Tx) error {
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return err
		}
		if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		}
		now := s.now()
		if w.State == WPDone {
			return Errorf(ERULE, "wp %s is done and cannot be claimed", w.Key)
		}
		if w.Lease.Live(now) {
			return Errorf(ECONFLICT, "wp %s is already claimed by %s until %s", w.Key, w.Lease.Agent, w.Lease.ExpiresAt.Format(time.RFC3339))
		}
		tookOver = w.Lease != nil
		l, err = s.lease(ctx, tx, w, c, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.OnClaim != nil {
		s.OnClaim(tookOver)
	}
	return l, nil
}

// lease gives c.Agent a new lease on w, which holds no live one, with the
// next fencing token, and records the claim.
func (s *Service) lease(ctx context.Context, tx Tx, w *WP, c ClaimRequest, now time.Time) (*Lease, error) {
	if err := checkClaimLimit(ctx, tx, w, c.Agent, now); err != nil {
		return nil, err
	}
	fence, err := tx.FenceToken(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	prev := w.Lease
	l := &Lease{WPID: w.ID, Agent: c.Agent, Token: fence + 1, ClaimedAt: now, ExpiresAt: now.Add(c.TTL())}
	w.Lease, w.Version, w.UpdatedAt = l, w.Version+1, now
	if err := tx.UpdateWP(ctx, w); err != nil {
		return nil, err
	}
	data := map[string]any{"lease": l, "wp": w}
	summary := fmt.Sprintf("wp %s claimed by %s (token %d)", w.Key, l.Agent, l.Token)
	if prev != nil {
		data["expired_lease"] = prev
		summary += fmt.Sprintf(", taking over the expired lease of %s", prev.Agent)
	}
	_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "claimed", data: data,
		features: []string{w.FeatureID}, summary: summary})
	return l, err
}

// leaseOf loads the WP and checks that token, and agent when given, are
// its live lease's.
func (s *Service) leaseOf(ctx context.Context, tx Tx, ref string, token int64, agent string, now time.Time) (*WP, error) {
	w, err := tx.WP(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := allow(limited(ctx), "wp", w.ProjectKey); err != nil {
		return nil, err
	}
	if !w.Lease.Live(now) {
		return nil, &Error{Code: ECONFLICT, Field: "token", Message: fmt.Sprintf("wp %s has no live lease (expired or released); claim it again", w.Key)}
	}
	if w.Lease.Token != token {
		return nil, &Error{Code: ECONFLICT, Field: "token", Message: fmt.Sprintf("stale fencing token %d for wp %s: the live lease of %s has token %d", token, w.Key, w.Lease.Agent, w.Lease.Token)}
	}
	if agent != "" && agent != w.Lease.Agent {
		return nil, &Error{Code: ECONFLICT, Field: "agent", Message: fmt.Sprintf("wp %s is leased to %s, not %s", w.Key, w.Lease.Agent, agent)}
	}
	return w, nil
}

// Renew extends a live lease from now by the requested TTL.
func (s *Service) Renew(ctx context.Context, ref string, c ClaimRequest) (l *Lease, err error) {
	if err := c.Validate(true); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		now := s.now()
		w, err := s.leaseOf(ctx, tx, ref, c.Token, c.Agent, now)
		if err != nil {
			return err
		}
		nl := *w.Lease
		nl.ExpiresAt = now.Add(c.TTL())
		l = &nl
		w.Lease, w.Version, w.UpdatedAt = l, w.Version+1, now
		if err := tx.UpdateWP(ctx, w); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "renewed", data: map[string]any{"lease": l, "wp": w},
			features: []string{w.FeatureID}, summary: fmt.Sprintf("wp %s lease of %s renewed until %s", w.Key, l.Agent, l.ExpiresAt.Format(time.RFC3339))})
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Release ends a live lease.
func (s *Service) Release(ctx context.Context, ref string, c ClaimRequest) error {
	if err := c.Validate(true); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.now()
		w, err := s.leaseOf(ctx, tx, ref, c.Token, c.Agent, now)
		if err != nil {
			return err
		}
		l := w.Lease
		w.Lease, w.Version, w.UpdatedAt = nil, w.Version+1, now
		if err := tx.UpdateWP(ctx, w); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "released", data: map[string]any{"lease": l, "wp": w},
			features: []string{w.FeatureID}, summary: fmt.Sprintf("wp %s released by %s", w.Key, l.Agent)})
		return err
	})
}

// ---- dependencies ----

// endpoint is one end of a dependency: a WP or a feature.
type endpoint struct {
	kind, id, key, projectKey, featureID string
}

func resolveEndpoint(ctx context.Context, tx ReadTx, field, ref string) (endpoint, error) {
	// WP refs and feature refs cannot be confused (see IsWPRef), so one
	// lookup answers.
	if IsWPRef(ref) {
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return endpoint{}, refNotFound(err, field, ref, "work package")
		}
		return endpoint{KindWP, w.ID, w.Key, w.ProjectKey, w.FeatureID}, nil
	}
	f, err := tx.Feature(ctx, ref)
	if err != nil {
		return endpoint{}, refNotFound(err, field, ref, "feature")
	}
	return endpoint{KindFeature, f.ID, f.Slug, f.ProjectKey, f.ID}, nil
}

// refNotFound names the request field in a not-found error.
func refNotFound(err error, field, ref, what string) error {
	if ErrorCode(err) != ENOTFOUND {
		return err
	}
	return &Error{Code: ENOTFOUND, Field: field, Message: fmt.Sprintf("%s: no %s %s", field, what, QuoteRef(ref))}
}

// IsWPRef reports whether ref names a work package: an id "wp_..." or a key
// "PROJECT-12". Feature slugs are lower-case, so they never look like one.
func IsWPRef(ref string) bool {
	if strings.HasPrefix(ref, PrefixWP) {
		return true
	}
	i := strings.LastIndexByte(ref, '-')
	if i <= 0 || i == len(ref)-1 || !projectKeyRE.MatchString(ref[:i]) {
		return false
	}
	for _, c := range ref[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// AddDependency records that From depends on, blocks, or relates to To. A
// depends_on (or blocks) edge that would close a cycle is refused with the
// cycle named. A key limited to projects needs both ends in them.
func (s *Service) AddDependency(ctx context.Context, c DependencyCreate) (d *Dependency, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		d, err = s.addDependency(ctx, tx, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// addDependency adds a validated dependency in tx.
func (s *Service) addDependency(ctx context.Context, tx Tx, c DependencyCreate) (*Dependency, error) {
	lim := limited(ctx)
	from, err := resolveEndpoint(ctx, tx, "from", c.From)
	if err != nil {
		return nil, err
	}
	to, err := resolveEndpoint(ctx, tx, "to", c.To)
	if err != nil {
		return nil, err
	}
	if err := allow(lim, "from", from.projectKey); err != nil {
		return nil, err
	}
	if err := allow(lim, "to", to.projectKey); err != nil {
		return nil, err
	}
	// Both ends exist and are well formed: what refuses the pair is a
	// rule of the graph (409), as the cycle check's refusal is.
	if from.kind != to.kind {
		return nil, &Error{Code: ERULE, Field: "to", Message: fmt.Sprintf("a dependency joins two work packages or two features; %s is a %s and %s is a %s", from.key, from.kind, to.key, to.kind)}
	}
	if from.id == to.id {
		return nil, &Error{Code: ERULE, Field: "to", Message: fmt.Sprintf("%s cannot depend on itself", from.key)}
	}
	kind := c.Kind
	if kind == Blocks { // A blocks B is stored as B depends_on A
		from, to, kind = to, from, DependsOn
	}
	if kind == DependsOn {
		// from -> to closes a cycle iff to already reaches from.
		path, err := tx.DependsOnPath(ctx, to.id, from.id)
		if err != nil {
			return nil, err
		}
		if path != nil {
			return nil, CycleError(append([]string{from.key}, path...))
		}
	}
	if kind == RelatesTo {
		// relates_to has no direction: B relates_to A is the edge
		// A relates_to B already stored.
		es, err := tx.Edges(ctx, from.id)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Kind == RelatesTo && e.From == to.id && e.To == from.id {
				return nil, &Error{Code: ECONFLICT, Field: "to", Message: fmt.Sprintf("%s already relates_to %s (dependency %s); relates_to has no direction", to.key, from.key, e.ID)}
			}
		}
	}
	d := &Dependency{ID: s.IDs.New(PrefixDependency), EntityKind: from.kind, Kind: kind, From: from.id, To: to.id,
		FromKey: from.key, ToKey: to.key, Version: 1, CreatedAt: s.now()}
	if err := tx.InsertDependency(ctx, d); err != nil {
		return nil, err
	}
	_, err = s.record(ctx, tx, change{kind: KindDependency, entityID: d.ID, projectKey: from.projectKey, action: "added", created: true, data: d,
		features: uniq(from.featureID, to.featureID), summary: fmt.Sprintf("dependency %s %s %s added", d.FromKey, d.Kind, d.ToKey)})
	return d, err
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// RemoveDependency deletes a dependency by id. A key limited to projects
// needs both ends in them.
func (s *Service) RemoveDependency(ctx context.Context, id string) error {
	lim := limited(ctx)
	return s.update(ctx, func(tx Tx) error {
		d, err := tx.Dependency(ctx, id)
		if err != nil {
			return err
		}
		from, err := resolveEndpoint(ctx, tx, "from", d.From)
		if err != nil {
			return err
		}
		to, err := resolveEndpoint(ctx, tx, "to", d.To)
		if err != nil {
			return err
		}
		if err := allow(lim, "dependency", from.projectKey); err != nil {
			return err
		}
		if err := allow(lim, "dependency", to.projectKey); err != nil {
			return err
		}
		if err := tx.DeleteDependency(ctx, id); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindDependency, entityID: d.ID, projectKey: from.projectKey, action: "removed", data: d,
			features: uniq(from.featureID, to.featureID), summary: fmt.Sprintf("dependency %s %s %s removed", d.FromKey, d.Kind, d.ToKey)})
		return err
	})
}

// Dependencies lists the dependencies touching a WP or a feature. For a
// key limited to projects, those whose other end lies in another project
// are left out.
func (s *Service) Dependencies(ctx context.Context, ref string) (es []*Edge, err error) {
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		ep, err := resolveEndpoint(ctx, tx, "ref", ref)
		if err != nil {
			return err
		}
		if err := allow(lim, "ref", ep.projectKey); err != nil {
			return err
		}
		if es, err = tx.Edges(ctx, ep.id); err != nil || lim == nil {
			return err
		}
		kept := es[:0]
		for _, e := range es {
			other, err := resolveEndpoint(ctx, tx, "ref", e.Other)
			if err != nil {
				return err
			}
			if lim.AllowsProject(other.projectKey) {
				kept = append(kept, e)
			}
		}
		es = kept
		return nil
	})
	return es, err
}

// ---- queries ----

// Ready lists the project's WPs that can start now: planned, every
// depends_on target done, and not claimed. Pages go by key number, or
// with order OrderPriority by priority then key number; pg.After is the
// ReadyCursor of the last WP of the previous page. With no project it is
// the ready set of every unarchived project the caller may use, by
// project key then key number, or by priority, project key and key
// number: a WP key names its project, so the cursors stay the same.
func (s *Service) Ready(ctx context.Context, projectRef, order string, pg Page) (ws []*WP, err error) {
	if err := checkOrder(order); err != nil {
		return nil, err
	}
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	rf := ReadyFilter{Now: s.now(), ByPriority: order == OrderPriority, Limit: pg.Limit}
	// A cursor of either order is read in either: in key order only its
	// key counts; in priority order a bare key is the position of that WP.
	afterKey, rank, err := readyCursor(pg.After)
	if err != nil {
		return nil, err
	}
	if projectRef == "" {
		return s.readyEverywhere(ctx, rf, afterKey, rank)
	}
	if afterKey != "" {
		_, rf.AfterNum, _ = splitWPKey(afterKey)
		if rf.ByPriority {
			rf.AfterRank = max(rank, 0)
		}
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		p, err := tx.Project(ctx, projectRef)
		if err != nil {
			return err
		}
		if err := allow(lim, "project", p.Key); err != nil {
			return err
		}
		if rf.ByPriority && afterKey != "" && rank < 0 {
			w, err := tx.WP(ctx, afterKey)
			if ErrorCode(err) == ENOTFOUND || (err == nil && w.ProjectID != p.ID) {
				return &Error{Code: ENOTFOUND, Field: "after", Message: fmt.Sprintf("after: project %s has no WP %s to start after", p.Key, afterKey)}
			} else if err != nil {
				return err
			}
			rf.AfterRank = PriorityRank(w.Priority)
		}
		rf.ProjectID = p.ID
		ws, err = tx.Ready(ctx, rf)
		return err
	})
	for _, w := range ws {
		w.Lease = nil
	}
	return ws, err
}

// readyCursor reads the after cursor of the ready set: a WP key, and the
// rank of the priority before it (-1 when there is none).
func readyCursor(after string) (key string, rank int, err error) {
	if after == "" {
		return "", -1, nil
	}
	bad := FieldErrorf("after", "after must be the next cursor of the previous page, such as CORE-12 or high:CORE-12, not %s", QuoteRef(after))
	key, rank = after, -1
	if p, rest, ok := strings.Cut(after, ":"); ok {
		if rank = PriorityRank(p); rank < 0 {
			return "", 0, bad
		}
		key = rest
	}
	if strings.HasPrefix(key, PrefixWP) {
		return "", 0, bad
	}
	if _, _, ok := splitWPKey(key); !ok {
		return "", 0, bad
	}
	return key, rank, nil
}

// readyEverywhere is Ready without a project: each project's page after
// the cursor, merged. rf holds the order, limit and time.
func (s *Service) readyEverywhere(ctx context.Context, rf ReadyFilter, afterKey string, rank int) (ws []*WP, err error) {
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		var ps []*Project
		if lim != nil {
			ps, err = allowedProjects(ctx, tx, lim)
		} else {
			ps, err = allProjects(ctx, tx)
		}
		if err != nil {
			return err
		}
		ps = slices.DeleteFunc(ps, func(p *Project) bool { return p.ArchivedAt != nil })
		slices.SortFunc(ps, func(a, b *Project) int { return strings.Compare(a.Key, b.Key) })
		afterProject, afterNum, _ := splitWPKey(afterKey)
		if rf.ByPriority && afterKey != "" && rank < 0 {
			w, err := tx.WP(ctx, afterKey)
			if ErrorCode(err) == ENOTFOUND || (err == nil && !lim.AllowsProject(w.ProjectKey)) {
				return &Error{Code: ENOTFOUND, Field: "after", Message: fmt.Sprintf("after: no WP %s to start after", afterKey)}
			} else if err != nil {
				return err
			}
			rank = PriorityRank(w.Priority)
		}
		for _, p := range ps {
			f := rf
			f.ProjectID = p.ID
			c := 1 // where p lies against the cursor's project
			if afterKey != "" {
				c = strings.Compare(p.Key, afterProject)
			}
			switch {
			case !rf.ByPriority && c < 0:
				continue
			case !rf.ByPriority && c == 0:
				f.AfterNum = afterNum
			case rf.ByPriority && afterKey != "":
				// Before the cursor's project only lower priorities are
				// left, in it those after its WP, after it the same too.
				f.AfterRank = rank
				switch {
				case c < 0:
					f.AfterNum = math.MaxInt64
				case c == 0:
					f.AfterNum = afterNum
				}
			}
			page, err := tx.Ready(ctx, f)
			if err != nil {
				return err
			}
			ws = append(ws, page...)
			if !rf.ByPriority && len(ws) >= rf.Limit {
				break
			}
		}
		if rf.ByPriority {
			// Each page is in priority and key order and the pages come in
			// project order, so a stable sort by priority is the order.
			slices.SortStableFunc(ws, func(a, b *WP) int { return PriorityRank(a.Priority) - PriorityRank(b.Priority) })
		}
		ws = ws[:min(len(ws), rf.Limit)]
		return nil
	})
	for _, w := range ws {
		w.Lease = nil
	}
	return ws, err
}

// Events lists events after a global sequence, optionally of one entity.
// A principal sees only the events it AllowsEvent; pages stay full, so a
// short page is the last one. An entity of a project it may not use is
// EFORBIDDEN (field "entity").
func (s *Service) Events(ctx context.Context, q EventQuery) (es []*Event, err error) {
	if q.After < 0 {
		return nil, FieldErrorf("after", "after must be 0 or a global sequence")
	}
	limit, err := ClampLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	p := PrincipalFrom(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		f := EventFilter{After: q.After, Limit: limit}
		if q.Entity != "" {
			var project string
			if f.EntityID, project, err = resolveEntity(ctx, tx, q.Entity); err != nil {
				return err
			}
			if p != nil && project != "" && !p.AllowsEvent(&Event{ProjectKey: project}) {
				if project == SystemProject {
					return &Error{Code: EFORBIDDEN, Field: "entity", Message: fmt.Sprintf("the events of %s need an admin key", q.Entity)}
				}
				return p.ProjectDenied("entity", project)
			}
		}
		if p == nil || (p.Scope == ScopeAdmin && !p.Limited()) {
			es, err = tx.Events(ctx, f)
			return err
		}
		// Filter store pages until the page is full or the store has no more.
		for {
			page, err := tx.Events(ctx, f)
			if err != nil {
				return err
			}
			for _, e := range page {
				if p.AllowsEvent(e) {
					es = append(es, e)
					if len(es) == limit {
						return nil
					}
				}
			}
			if len(page) < f.Limit {
				return nil
			}
			f.After = page[len(page)-1].GlobalSeq
		}
	})
	return es, err
}

// resolveEntity turns an entity id or key into an id and the key of the
// project its events carry ("" for a dependency without events).
func resolveEntity(ctx context.Context, tx ReadTx, ref string) (id, project string, err error) {
	if strings.HasPrefix(ref, PrefixKey) {
		k, err := tx.APIKey(ctx, ref)
		if err != nil {
			return "", "", &Error{Code: ENOTFOUND, Field: "entity", Message: fmt.Sprintf("key %q not found", ref)}
		}
		return k.ID, SystemProject, nil
	}
	if strings.HasPrefix(ref, PrefixDependency) || strings.HasPrefix(ref, PrefixLabel) || strings.HasPrefix(ref, PrefixArtifact) || strings.HasPrefix(ref, PrefixFlags) {
		// A removed dependency or label definition keeps its events, and
		// an artifact has them: look for those.
		es, err := tx.Events(ctx, EventFilter{EntityID: ref, Limit: 1})
		if err != nil {
			return "", "", err
		} else if len(es) == 0 {
			what := "dependency"
			if strings.HasPrefix(ref, PrefixLabel) {
				what = "label"
			} else if strings.HasPrefix(ref, PrefixArtifact) {
				what = "artifact"
			} else if strings.HasPrefix(ref, PrefixFlags) {
				what = "flag set with changes"
			}
			return "", "", &Error{Code: ENOTFOUND, Field: "entity", Message: fmt.Sprintf("%s %q not found", what, ref)}
		}
		return ref, es[0].ProjectKey, nil
	}
	if p, err := tx.Project(ctx, ref); err == nil {
		return p.ID, p.Key, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return "", "", err
	}
	ep, err := resolveEndpoint(ctx, tx, "entity", ref)
	if err != nil {
		return "", "", &Error{Code: ENOTFOUND, Field: "entity", Message: fmt.Sprintf("entity %q is not a known project, feature, work package, dependency or key", ref)}
	}
	return ep.id, ep.projectKey, nil
}

// Audit returns a feature's audit entries with Seq > after.
func (s *Service) Audit(ctx context.Context, featureRef string, after int64, limit int) (as []*AuditEntry, err error) {
	if after < 0 {
		return nil, FieldErrorf("after", "after must be 0 or an audit sequence")
	}
	if limit, err = ClampLimit(limit); err != nil {
		return nil, err
	}
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		f, err := tx.Feature(ctx, featureRef)
		if err != nil {
			return err
		}
		if err := allow(lim, "feature", f.ProjectKey); err != nil {
			return err
		}
		as, err = tx.Audit(ctx, f.ID, after, limit)
		return err
	})
	return as, err
}

// VerifyAudit walks a feature's whole audit chain and checks every link.
func (s *Service) VerifyAudit(ctx context.Context, featureRef string) (v *AuditVerification, err error) {
	var all []*AuditEntry
	var fid string
	lim := limited(ctx)
	err = s.view(ctx, func(tx ReadTx) error {
		f, err := tx.Feature(ctx, featureRef)
		if err != nil {
			return err
		}
		if err := allow(lim, "feature", f.ProjectKey); err != nil {
			return err
		}
		fid = f.ID
		for after := int64(0); ; {
			page, err := tx.Audit(ctx, f.ID, after, MaxPageLimit)
			if err != nil {
				return err
			}
			all = append(all, page...)
			if len(page) < MaxPageLimit {
				return nil
			}
			after = page[len(page)-1].Seq
		}
	})
	if err != nil {
		return nil, err
	}
	return VerifyAuditChain(fid, all), nil
}
