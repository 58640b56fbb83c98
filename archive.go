package agileplus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Values of Page.Archived: which records a list of projects, features or
// WPs holds.
const (
	ArchivedExclude = "false"   // those not archived (the default)
	ArchivedInclude = "include" // all of them
	ArchivedOnly    = "true"    // the archived ones only
)

// archivedOption checks a list's archived option; "" is ArchivedExclude.
func archivedOption(a string) (string, error) {
	switch a {
	case "", ArchivedExclude:
		return ArchivedExclude, nil
	case ArchivedInclude, ArchivedOnly:
		return a, nil
	}
	return "", FieldErrorf("archived", "archived must be %s, %s or %s, not %s", ArchivedExclude, ArchivedOnly, ArchivedInclude, QuoteRef(a))
}

// ArchivedMatch reports whether a record archived at (nil: not archived)
// is in a list with the archived option a ("" keeps every record, as
// stores read it).
func ArchivedMatch(a string, at *time.Time) bool {
	switch a {
	case ArchivedExclude:
		return at == nil
	case ArchivedOnly:
		return at != nil
	}
	return true
}

// archiveCheck refuses archiving what is archived and restoring what is
// not; kind and key name the record.
func archiveCheck(archive bool, at *time.Time, kind, key string) error {
	switch {
	case archive && at != nil:
		return &Error{Code: ECONFLICT, Field: "archived", Message: fmt.Sprintf("%s %s is already archived (since %s)", kind, key, at.Format(time.RFC3339))}
	case !archive && at == nil:
		return &Error{Code: ECONFLICT, Field: "archived", Message: fmt.Sprintf("%s %s is not archived; there is nothing to restore", kind, key)}
	}
	return nil
}

func archiveAction(archive bool) string {
	if archive {
		return "archived"
	}
	return "restored"
}

// archivedAt is the new ArchivedAt of a record archived (now) or restored (nil).
func archivedAt(archive bool, now time.Time) *time.Time {
	if archive {
		return &now
	}
	return nil
}

// ArchiveProject hides a project from the project list; it stays
// readable by key. Its features and WPs keep their own archived state.
func (s *Service) ArchiveProject(ctx context.Context, ref string) (*Project, error) {
	return s.archiveProject(ctx, ref, true)
}

// RestoreProject undoes ArchiveProject.
func (s *Service) RestoreProject(ctx context.Context, ref string) (*Project, error) {
	return s.archiveProject(ctx, ref, false)
}

// archiveProject archives or restores a project. Projects have no audit
// trail of their own, so each of its features' trails records it.
func (s *Service) archiveProject(ctx context.Context, ref string, archive bool) (p *Project, err error) {
	err = s.update(ctx, func(tx Tx) error {
		if p, err = tx.Project(ctx, ref); err != nil {
			return err
		}
		if err := allow(limited(ctx), "project", p.Key); err != nil {
			return err
		}
		if err := archiveCheck(archive, p.ArchivedAt, "project", p.Key); err != nil {
			return err
		}
		now := s.now()
		p.ArchivedAt, p.Version, p.UpdatedAt = archivedAt(archive, now), p.Version+1, now
		if err := tx.UpdateProject(ctx, p); err != nil {
			return err
		}
		var features []string
		for pg := (Page{Limit: MaxPageLimit}); ; {
			fs, err := tx.Features(ctx, p.ID, pg)
			if err != nil {
				return err
			}
			for _, f := range fs {
				features = append(features, f.ID)
			}
			if len(fs) < pg.Limit {
				break
			}
			pg.After = fs[len(fs)-1].ID
		}
		_, err := s.record(ctx, tx, change{kind: KindProject, entityID: p.ID, projectKey: p.Key, action: archiveAction(archive), data: p,
			features: features, projectWide: true, summary: "project " + p.Key + " " + archiveAction(archive)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ArchiveFeature hides a feature from feature lists; it stays readable
// by slug. Its WPs keep their own archived state.
func (s *Service) ArchiveFeature(ctx context.Context, ref string) (*Feature, error) {
	return s.archiveFeature(ctx, ref, true)
}

// RestoreFeature undoes ArchiveFeature.
func (s *Service) RestoreFeature(ctx context.Context, ref string) (*Feature, error) {
	return s.archiveFeature(ctx, ref, false)
}

func (s *Service) archiveFeature(ctx context.Context, ref string, archive bool) (f *Feature, err error) {
	err = s.update(ctx, func(tx Tx) error {
		if f, err = tx.Feature(ctx, ref); err != nil {
			return err
		}
		if err := allow(limited(ctx), "feature", f.ProjectKey); err != nil {
			return err
		}
		if err := archiveCheck(archive, f.ArchivedAt, "feature", f.Slug); err != nil {
			return err
		}
		now := s.now()
		f.ArchivedAt, f.Version, f.UpdatedAt = archivedAt(archive, now), f.Version+1, now
		if err := tx.UpdateFeature(ctx, f); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindFeature, entityID: f.ID, projectKey: f.ProjectKey, action: archiveAction(archive), data: f,
			features: []string{f.ID}, summary: "feature " + f.Slug + " " + archiveAction(archive)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ArchiveWP hides a WP from WP lists and the ready set; it stays readable
// by key, and the WPs that depend on it keep waiting on it (their
// dependencies show it archived).
func (s *Service) ArchiveWP(ctx context.Context, ref string) (*WP, error) {
	return s.archiveWP(ctx, ref, true)
}

// RestoreWP undoes ArchiveWP.
func (s *Service) RestoreWP(ctx context.Context, ref string) (*WP, error) {
	return s.archiveWP(ctx, ref, false)
}

func (s *Service) archiveWP(ctx context.Context, ref string, archive bool) (w *WP, err error) {
	err = s.update(ctx, func(tx Tx) error {
		if w, err = tx.WP(ctx, ref); err != nil {
			return err
		}
		if err := allow(limited(ctx), "wp", w.ProjectKey); err != nil {
			return err
		}
		if err := archiveCheck(archive, w.ArchivedAt, "wp", w.Key); err != nil {
			return err
		}
		now := s.now()
		w.ArchivedAt, w.Version, w.UpdatedAt = archivedAt(archive, now), w.Version+1, now
		if err := tx.UpdateWP(ctx, w); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: archiveAction(archive), data: w,
			features: []string{w.FeatureID}, summary: "wp " + w.Key + " " + archiveAction(archive)})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.hideExpired(w)
	return w, nil
}

// DeleteWP removes a WP that was never started and that nothing depends
// on; anything else is refused (409) naming what is in the way. Its own
// dependencies go with it, each recorded as removed; its events stay.
func (s *Service) DeleteWP(ctx context.Context, ref string) error {
	lim := limited(ctx)
	return s.update(ctx, func(tx Tx) error {
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return err
		}
		if err := allow(lim, "wp", w.ProjectKey); err != nil {
			return err
		}
		now := s.now()
		if w.Lease.Live(now) {
			return &Error{Code: ECONFLICT, Field: "wp", Message: fmt.Sprintf("wp %s cannot be deleted: it is claimed by %s until %s", w.Key, w.Lease.Agent, w.Lease.ExpiresAt.Format(time.RFC3339))}
		}
		if w.State != WPPlanned && w.State != WPBlocked {
			return &Error{Code: ERULE, Field: "wp", Message: fmt.Sprintf("wp %s cannot be deleted: it is %s, and only a WP never started can be; archive it instead", w.Key, w.State)}
		}
		if started, err := everStarted(ctx, tx, w.ID); err != nil {
			return err
		} else if started {
			return &Error{Code: ERULE, Field: "wp", Message: fmt.Sprintf("wp %s cannot be deleted: it was started before, and only a WP never started can be; archive it instead", w.Key)}
		}
		edges, err := tx.Edges(ctx, w.ID)
		if err != nil {
			return err
		}
		var dependents []string
		for _, e := range edges {
			if e.Direction == Blocks {
				dependents = append(dependents, e.OtherKey)
			}
		}
		if len(dependents) > 0 {
			return &Error{Code: ECONFLICT, Field: "wp", Message: fmt.Sprintf("wp %s cannot be deleted: %s depend on it; remove those dependencies first", w.Key, strings.Join(dependents, ", "))}
		}
		for _, e := range edges {
			other, err := resolveEndpoint(ctx, tx, "dependency", e.Other)
			if err != nil {
				return err
			}
			if err := allow(lim, "dependency", other.projectKey); err != nil {
				return err
			}
			if err := tx.DeleteDependency(ctx, e.ID); err != nil {
				return err
			}
			_, err = s.record(ctx, tx, change{kind: KindDependency, entityID: e.ID, projectKey: w.ProjectKey, action: "removed", data: &e.Dependency,
				features: uniq(w.FeatureID, other.featureID), summary: fmt.Sprintf("dependency %s %s %s removed with wp %s", e.FromKey, e.Kind, e.ToKey, w.Key)})
			if err != nil {
				return err
			}
		}
		if err := tx.DeleteWP(ctx, w.ID); err != nil {
			return err
		}
		w.Lease = nil
		_, err = s.record(ctx, tx, change{kind: KindWP, entityID: w.ID, projectKey: w.ProjectKey, action: "deleted", data: w,
			features: []string{w.FeatureID}, summary: "wp " + w.Key + " deleted: " + w.Title})
		return err
	})
}

// everStarted reports whether the WP's events hold a move to doing.
func everStarted(ctx context.Context, tx ReadTx, wpID string) (bool, error) {
	f := EventFilter{EntityID: wpID, Limit: MaxPageLimit}
	for {
		es, err := tx.Events(ctx, f)
		if err != nil {
			return false, err
		}
		for _, e := range es {
			if e.Type != KindWP+".transitioned" {
				continue
			}
			var d struct {
				To string `json:"to"`
			}
			if json.Unmarshal(e.Data, &d) == nil && d.To == WPDoing {
				return true, nil
			}
		}
		if len(es) < f.Limit {
			return false, nil
		}
		f.After = es[len(es)-1].GlobalSeq
	}
}
