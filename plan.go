package agileplus

import (
	"context"
	"fmt"
	"strings"
)

// MaxPlanWPs bounds the WPs of one plan.
const MaxPlanWPs = 100

// PlanRequest creates a feature's WPs and their dependencies in one
// transaction: all of it is written, or nothing. The feature is created
// (in Project, with Title or else its slug as title) when it does not
// exist and Project is given.
type PlanRequest struct {
	Feature string   `json:"feature" maxLength:"64" pattern:"^(fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$" doc:"the feature's slug (or id)"`
	Project string   `json:"project,omitempty" pattern:"^[A-Z][A-Z0-9]{1,15}$" doc:"the project's key: the feature is created there when it does not exist"`
	Title   string   `json:"title,omitempty" rule:"optname" doc:"the feature's title, when it is created (default: its slug)"`
	WPs     []PlanWP `json:"wps,omitempty" required:"true" minItems:"1" maxItems:"100" doc:"the WPs to create, in order"`
}

// PlanWP is one WP of a plan: what WPCreate takes, and the WPs it depends
// on, each the title of an earlier WP of the plan (the nearest, should
// titles repeat) or else the key or id of an existing WP.
type PlanWP struct {
	WPCreate
	DependsOn []string `json:"depends_on,omitempty" maxItems:"100" doc:"earlier titles of this plan, or keys of existing WPs"`
}

// PlanResult is what a plan created.
type PlanResult struct {
	Feature        *Feature      `json:"feature"`
	FeatureCreated bool          `json:"feature_created"`
	WPs            []*WP         `json:"wps"`
	Dependencies   []*Dependency `json:"dependencies"`
}

// Validate checks a plan on its own: its sizes and each WP. What its
// dependencies name is found as the plan is written: any text may be a
// title.
func (p *PlanRequest) Validate() error {
	if !HasIDForm(PrefixFeature, p.Feature) && (len(p.Feature) > 64 || !slugRE.MatchString(p.Feature)) {
		return FieldErrorf("feature", "feature must be the slug (lower-case letters, digits and single dashes, at most 64) or id of the feature the WPs go in, not %s", QuoteRef(p.Feature))
	}
	switch n := len(p.WPs); {
	case n == 0:
		return FieldErrorf("wps", "a plan needs at least one WP")
	case n > MaxPlanWPs:
		return FieldErrorf("wps", "a plan holds at most %d WPs, not %d", MaxPlanWPs, n)
	}
	for i := range p.WPs {
		w := &p.WPs[i]
		field := fmt.Sprintf("wps[%d]", i)
		if err := w.WPCreate.Validate(); err != nil {
			return PrefixField(err, field)
		}
		if len(w.DependsOn) > MaxPlanWPs {
			return FieldErrorf(field+".depends_on", "at most %d dependencies, not %d", MaxPlanWPs, len(w.DependsOn))
		}
	}
	return nil
}

// Plan creates a plan's feature (if new), WPs and dependencies in one
// transaction, so that a refusal anywhere leaves nothing written. A
// dependency on an earlier WP of the plan or on an existing WP cannot close
// a cycle: nothing depends on the new WPs yet.
func (s *Service) Plan(ctx context.Context, p PlanRequest) (res *PlanResult, err error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		res = &PlanResult{}
		f, err := tx.Feature(ctx, p.Feature)
		switch {
		case ErrorCode(err) == ENOTFOUND && p.Project != "" && !HasIDForm(PrefixFeature, p.Feature):
			fc := FeatureCreate{Slug: p.Feature, Title: cmpOr(strings.TrimSpace(p.Title), p.Feature)}
			if err := fc.Validate(); err != nil {
				return prefixFeatureError(err)
			}
			if f, err = s.createFeature(ctx, tx, p.Project, fc); err != nil {
				return err
			}
			res.FeatureCreated = true
		case ErrorCode(err) == ENOTFOUND:
			if HasIDForm(PrefixFeature, p.Feature) {
				return &Error{Code: ENOTFOUND, Field: "feature", Message: fmt.Sprintf("no feature %s", p.Feature)}
			}
			return &Error{Code: ENOTFOUND, Field: "feature", Message: fmt.Sprintf("no feature %s; pass project (and title) to create it", QuoteRef(p.Feature))}
		case err != nil:
			return err
		case p.Project != "" && p.Project != f.ProjectKey && p.Project != f.ProjectID:
			return &Error{Code: ECONFLICT, Field: "project", Message: fmt.Sprintf("feature %s is in project %s, not %s", f.Slug, f.ProjectKey, p.Project)}
		}
		if err := allow(limited(ctx), "feature", f.ProjectKey); err != nil {
			return err
		}
		res.Feature = f
		byTitle := make(map[string]*WP, len(p.WPs))
		for i, pw := range p.WPs {
			w, err := s.createWP(ctx, tx, f, pw.WPCreate)
			if err != nil {
				return PrefixField(err, fmt.Sprintf("wps[%d]", i))
			}
			res.WPs = append(res.WPs, w)
			field := fmt.Sprintf("wps[%d].depends_on", i)
			for _, ref := range pw.DependsOn {
				to := ref
				if earlier, ok := byTitle[strings.TrimSpace(ref)]; ok {
					to = earlier.ID
				} else if !IsWPRef(ref) {
					return &Error{Code: ENOTFOUND, Field: field, Message: fmt.Sprintf("no earlier WP of this plan is titled %s, and it is no WP key", QuoteRef(ref))}
				}
				d, err := s.addDependency(ctx, tx, DependencyCreate{From: w.ID, To: to, Kind: DependsOn})
				if err != nil {
					return withField(err, field)
				}
				res.Dependencies = append(res.Dependencies, d)
			}
			byTitle[strings.TrimSpace(pw.Title)] = w
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// prefixFeatureError names the plan's fields in a FeatureCreate refusal:
// its slug is the plan's feature, and its title the plan's title.
func prefixFeatureError(err error) error {
	if ErrorField(err) == "slug" {
		return withField(err, "feature")
	}
	return err
}
