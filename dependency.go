package agileplus

import (
	"regexp"
	"strings"
	"time"
)

// Dependency kinds as callers name them. A "blocks" dependency is stored as
// the depends_on edge it is the inverse of: A blocks B is B depends_on A.
const (
	DependsOn = "depends_on"
	Blocks    = "blocks"
	RelatesTo = "relates_to"
)

// Dependency is a stored edge between two WPs or two features. Kind is
// depends_on (From waits on To) or relates_to (no blocking).
type Dependency struct {
	ID         string    `json:"id"`
	EntityKind string    `json:"entity_kind"` // KindWP or KindFeature
	Kind       string    `json:"kind"`
	From       string    `json:"from"` // id
	To         string    `json:"to"`   // id
	FromKey    string    `json:"from_key"`
	ToKey      string    `json:"to_key"`
	Version    int64     `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
}

// DependencyCreate is the input of AddDependency: From depends on, blocks,
// or relates to To. From and To are ids or keys of two WPs or two features.
type DependencyCreate struct {
	From string `json:"from" maxLength:"64" pattern:"^(wp_[0-9a-hjkmnp-tv-z]{26}|[A-Z][A-Z0-9]{1,15}-[0-9]{1,12}|fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$" doc:"WP or feature id or key"`
	To   string `json:"to" maxLength:"64" pattern:"^(wp_[0-9a-hjkmnp-tv-z]{26}|[A-Z][A-Z0-9]{1,15}-[0-9]{1,12}|fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$" doc:"WP or feature id or key, of the same kind as from (409 when not, or when it is from itself)"`
	Kind string `json:"kind,omitempty" enum:"depends_on,blocks,relates_to" default:"depends_on" doc:"depends_on (default), blocks or relates_to"`
}

// endpointRE is what names a dependency's end: a WP by id or key, a
// feature by id or slug (the pattern of DependencyCreate's tags).
var endpointRE = regexp.MustCompile(`^(wp_[0-9a-hjkmnp-tv-z]{26}|[A-Z][A-Z0-9]{1,15}-[0-9]{1,12}|fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$`)

// Validate checks the fields of a DependencyCreate.
func (c *DependencyCreate) Validate() error {
	switch {
	case c.From == "":
		return FieldErrorf("from", "from is required")
	case c.To == "":
		return FieldErrorf("to", "to is required")
	case len(c.From) > 64 || !endpointRE.MatchString(c.From):
		return FieldErrorf("from", "from %s is not a work package id or key (CORE-12) nor a feature id or slug", QuoteRef(c.From))
	case len(c.To) > 64 || !endpointRE.MatchString(c.To):
		return FieldErrorf("to", "to %s is not a work package id or key (CORE-12) nor a feature id or slug", QuoteRef(c.To))
	}
	switch c.Kind {
	case "":
		c.Kind = DependsOn
	case DependsOn, Blocks, RelatesTo:
	default:
		return FieldErrorf("kind", "unknown dependency kind %q; kinds are depends_on, blocks, relates_to", c.Kind)
	}
	return nil
}

// Edge is a dependency seen from one WP or feature.
type Edge struct {
	Dependency
	// Direction is how the other end relates to the one asked about:
	// "depends_on" (this one waits on Other), "blocks" (Other waits on this
	// one) or "relates_to".
	Direction string `json:"direction"`
	Other     string `json:"other"`     // id of the other end
	OtherKey  string `json:"other_key"` // key or slug of the other end
	// OtherState is the other end's state, so callers see what is open.
	OtherState string `json:"other_state"`
	// OtherArchived says the other end is archived: a dependency on an
	// archived WP still counts, so it is shown rather than dropped.
	OtherArchived bool `json:"other_archived,omitempty"`
}

// EdgeDirection is the Direction of an Edge over a stored dependency of
// the kind, seen from its From end (atFrom) or its To end: From waits on
// To, so from From a depends_on edge reads depends_on and from To it reads
// blocks; relates_to reads the same from both ends.
func EdgeDirection(kind string, atFrom bool) string {
	switch {
	case kind == RelatesTo:
		return RelatesTo
	case atFrom:
		return kind
	default:
		return Blocks
	}
}

// CycleError formats the cycle a new depends_on edge would close: from,
// then the existing chain back to from.
func CycleError(keys []string) *Error {
	return &Error{Code: ERULE, Field: "to", Message: "dependency would close a cycle: " + strings.Join(keys, " -> ")}
}
