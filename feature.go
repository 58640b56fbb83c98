package agileplus

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Feature states, in order. A feature only moves forward; states it skips
// are recorded on the transition's event and audit entry.
const (
	FeatureCreated      = "created"
	FeatureSpecified    = "specified"
	FeatureResearched   = "researched"
	FeaturePlanned      = "planned"
	FeatureImplementing = "implementing"
	FeatureValidated    = "validated"
	FeatureShipped      = "shipped"
	FeatureRetrospected = "retrospected"
)

// FeatureStates lists the feature states in order.
var FeatureStates = []string{
	FeatureCreated, FeatureSpecified, FeatureResearched, FeaturePlanned,
	FeatureImplementing, FeatureValidated, FeatureShipped, FeatureRetrospected,
}

// Feature belongs to a project and is split into work packages. Its Slug
// is unique across all projects.
type Feature struct {
	ID          string    `json:"id"`
	ProjectID   string    `json:"project_id"`
	ProjectKey  string    `json:"project_key"`
	Slug        string    `json:"slug"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	State       string    `json:"state"`
	Priority    string    `json:"priority" enum:"urgent,high,normal,low"`
	Labels      []string  `json:"labels,omitempty"` // sorted, lower-case
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// ArchivedAt is when it was archived; nil while it is not.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// FeatureCreate is the input of CreateFeature.
type FeatureCreate struct {
	Slug        string   `json:"slug" maxLength:"64" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" doc:"lower-case words joined by '-', unique across projects"`
	Title       string   `json:"title" rule:"name"`
	Description string   `json:"description,omitempty" rule:"text"`
	Priority    string   `json:"priority,omitempty" enum:"urgent,high,normal,low" default:"normal" doc:"urgent, high, normal (default) or low"`
	Labels      []string `json:"labels,omitempty" maxItems:"20" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"free-form labels, stored in lower case"`
}

// FeatureUpdate is the input of UpdateFeature; nil fields are left alone.
type FeatureUpdate struct {
	Title       *string   `json:"title,omitempty" rule:"name"`
	Description *string   `json:"description,omitempty" rule:"text"`
	Priority    *string   `json:"priority,omitempty" enum:"urgent,high,normal,low"`
	Labels      *[]string `json:"labels,omitempty" maxItems:"20" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"the new set of labels, replacing the old; [] removes them"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks the fields of a FeatureCreate.
func (c *FeatureCreate) Validate() error { return c.validate(true) }

// validate is Validate; strict false is for imports (see checkName).
func (c *FeatureCreate) validate(strict bool) error {
	if c.Slug == "" {
		return FieldErrorf("slug", "slug is required")
	} else if len(c.Slug) > 64 || !slugRE.MatchString(c.Slug) {
		return FieldErrorf("slug", "slug %q must be at most 64 lower-case letters, digits and single dashes", c.Slug)
	}
	if err := checkName("title", c.Title, true, strict); err != nil {
		return err
	}
	if err := checkText("description", c.Description, strict); err != nil {
		return err
	}
	if c.Priority == "" {
		c.Priority = DefaultPriority
	} else if err := validatePriority("priority", c.Priority); err != nil {
		return err
	}
	if c.Labels != nil {
		return normalizeLabels("labels", &c.Labels)
	}
	return nil
}

// Validate checks the fields of a FeatureUpdate.
func (u *FeatureUpdate) Validate() error {
	if u.Title != nil {
		if err := validateName("title", *u.Title, true); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := validateText("description", *u.Description); err != nil {
			return err
		}
	}
	if u.Priority != nil {
		if err := validatePriority("priority", *u.Priority); err != nil {
			return err
		}
	}
	return normalizeLabels("labels", u.Labels)
}

// FeatureTransitionCheck applies the feature state rule: forward only, to a
// known state. It returns the states skipped on the way.
func FeatureTransitionCheck(from, to string) (skipped []string, err error) {
	i, j := slices.Index(FeatureStates, from), slices.Index(FeatureStates, to)
	if j < 0 {
		return nil, FieldErrorf("to", "unknown feature state %q; states are %v", to, FeatureStates)
	}
	if j <= i {
		return nil, &Error{Code: ERULE, Field: "to", Message: fmt.Sprintf("feature cannot move from %q to %q: feature states only move forward", from, to)}
	}
	return slices.Clone(FeatureStates[i+1 : j]), nil
}
