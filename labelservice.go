package agileplus

import (
	"context"
	"fmt"
)

// Label definitions are project-scoped: their events carry the project's
// key and no feature, so they have no audit trail, as projects have none.

// labelProject resolves a project for a label command and checks the key
// may use it.
func labelProject(ctx context.Context, tx ReadTx, ref string) (*Project, error) {
	p, err := tx.Project(ctx, ref)
	if err != nil {
		return nil, err
	}
	return p, allow(limited(ctx), "project", p.Key)
}

// labelDef finds a project's label definition by name, or by id for a ref
// shaped like one (a name cannot be: LabelCreate refuses it). Definitions
// are few and read by name, so an id is found by reading them through.
func labelDef(ctx context.Context, tx ReadTx, projectID, ref string) (*LabelDef, error) {
	if !HasIDForm(PrefixLabel, ref) {
		return tx.LabelDef(ctx, projectID, ref)
	}
	pg := Page{Limit: MaxPageLimit}
	for {
		ls, err := tx.LabelDefs(ctx, projectID, pg)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if l.ID == ref {
				return l, nil
			}
		}
		if len(ls) < pg.Limit {
			return nil, LabelNotFound(ref)
		}
		pg.After = ls[len(ls)-1].Name
	}
}

// labelName lower-cases a label name (or id) from a path or a flag.
func labelName(name string) (string, error) { return NormalizeLabel("label", name) }

// CreateLabel defines a label in a project; a name defined already is
// ECONFLICT (field "name").
func (s *Service) CreateLabel(ctx context.Context, projectRef string, c LabelCreate) (l *LabelDef, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		p, err := labelProject(ctx, tx, projectRef)
		if err != nil {
			return err
		}
		now := s.now()
		l = &LabelDef{ID: s.IDs.New(PrefixLabel), ProjectID: p.ID, ProjectKey: p.Key, Name: c.Name, Color: c.Color,
			Description: c.Description, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertLabelDef(ctx, l); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindLabel, entityID: l.ID, projectKey: p.Key, action: "created", created: true, data: l})
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Label returns a project's label definition by name or id.
func (s *Service) Label(ctx context.Context, projectRef, name string) (l *LabelDef, err error) {
	if name, err = labelName(name); err != nil {
		return nil, err
	}
	err = s.view(ctx, func(tx ReadTx) error {
		p, err := labelProject(ctx, tx, projectRef)
		if err != nil {
			return err
		}
		l, err = labelDef(ctx, tx, p.ID, name)
		return err
	})
	return l, err
}

// Labels lists a project's label definitions by name; pg.After is a name.
func (s *Service) Labels(ctx context.Context, projectRef string, pg Page) (ls []*LabelDef, err error) {
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	if pg.After != "" {
		if pg.After, err = NormalizeLabel("after", pg.After); err != nil {
			return nil, err
		}
	}
	err = s.view(ctx, func(tx ReadTx) error {
		p, err := labelProject(ctx, tx, projectRef)
		if err != nil {
			return err
		}
		ls, err = tx.LabelDefs(ctx, p.ID, pg)
		return err
	})
	return ls, err
}

// UpdateLabel changes a label definition's colour or description; one
// that changes nothing records nothing.
func (s *Service) UpdateLabel(ctx context.Context, projectRef, name string, u LabelUpdate, ifVersion int64) (l *LabelDef, err error) {
	if name, err = labelName(name); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		p, err := labelProject(ctx, tx, projectRef)
		if err != nil {
			return err
		}
		if l, err = labelDef(ctx, tx, p.ID, name); err != nil {
			return err
		}
		if err := checkVersion("label", l.Name, l.Version, ifVersion); err != nil {
			return err
		}
		changed := false
		if u.Color != nil && *u.Color != l.Color {
			l.Color, changed = *u.Color, true
		}
		if u.Description != nil && *u.Description != l.Description {
			l.Description, changed = *u.Description, true
		}
		if !changed {
			return nil
		}
		l.Version++
		l.UpdatedAt = s.now()
		if err := tx.UpdateLabelDef(ctx, l); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindLabel, entityID: l.ID, projectKey: p.Key, action: "updated", data: l})
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// DeleteLabel removes a label definition. The label stays on the WPs and
// features that carry it: a definition only describes a label.
func (s *Service) DeleteLabel(ctx context.Context, projectRef, name string) (err error) {
	if name, err = labelName(name); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		p, err := labelProject(ctx, tx, projectRef)
		if err != nil {
			return err
		}
		l, err := labelDef(ctx, tx, p.ID, name)
		if err != nil {
			return err
		}
		if err := tx.DeleteLabelDef(ctx, l.ID); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindLabel, entityID: l.ID, projectKey: p.Key, action: "deleted", data: l})
		return err
	})
}

// LabelNotFound is the error a store returns for a missing label
// definition.
func LabelNotFound(name string) error {
	return &Error{Code: ENOTFOUND, Field: "label", Message: fmt.Sprintf("label %s is not defined in the project", QuoteRef(name))}
}
