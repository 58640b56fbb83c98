package httpapi

import "github.com/agileplus/agileplus"

// Request bodies whose contract differs by operation. Each has the fields
// of an agileplus input, in the same order and of the same types, so it
// converts to it (agileplus.Transition(in)); only its tags, which the
// OpenAPI document reads, differ.

// WPTransition is the body of POST /v1/wps/{wp}/transition.
type WPTransition struct {
	To     string `json:"to" enum:"planned,doing,review,done,blocked" doc:"the state to move to"`
	Force  bool   `json:"force,omitempty" default:"false" doc:"start past open dependencies; needs a reason"`
	Reason string `json:"reason,omitempty" rule:"text" maxLength:"2000" doc:"why, recorded in the audit trail; required with force"`
	Token  int64  `json:"token,omitempty" minimum:"0" maximum:"9223372036854775807" doc:"the live lease's fencing token, while the WP is claimed"`
}

// FeatureTransition is the body of POST /v1/features/{feature}/transition.
type FeatureTransition struct {
	To     string `json:"to" enum:"created,specified,researched,planned,implementing,validated,shipped,retrospected" doc:"a later state; the states between are recorded as skipped"`
	Force  bool   `json:"force,omitempty" default:"false" doc:"with a reason, recorded in the audit trail"`
	Reason string `json:"reason,omitempty" rule:"text" maxLength:"2000" doc:"why, recorded in the audit trail; required with force"`
	Token  int64  `json:"token,omitempty" minimum:"0" maximum:"9223372036854775807" doc:"unused for features; 0 or absent"`
}

// ClaimCreate is the body of POST /v1/wps/{wp}/claim: a claim names its
// agent and takes no token (the claim returns one).
type ClaimCreate struct {
	Agent      string `json:"agent" rule:"name" doc:"who claims"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" minimum:"0" maximum:"604800" default:"900" doc:"lease length in seconds, 1-604800; 0 or absent for the default, 900"`
}

// LeaseRenew is the body of PUT /v1/wps/{wp}/claim.
type LeaseRenew struct {
	Agent      string `json:"agent,omitempty" rule:"optname" doc:"when given and not empty, checked against the holder"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty" minimum:"0" maximum:"604800" default:"900" doc:"new lease length in seconds from now, 1-604800; 0 or absent for the default, 900"`
	Token      int64  `json:"token" minimum:"1" maximum:"9223372036854775807" doc:"the lease's fencing token, as the claim returned it"`
}

// NextClaim is the body of POST /v1/next: choose the best WP to start now
// and claim it in the same command.
type NextClaim struct {
	Project    string   `json:"project,omitempty" pattern:"^(|prj_[0-9a-hjkmnp-tv-z]{26}|[A-Z][A-Z0-9]{1,15})$" doc:"project id or key; absent or empty: every project the key may use"`
	Feature    string   `json:"feature,omitempty" maxLength:"64" pattern:"^(|fea_[0-9a-hjkmnp-tv-z]{26}|[a-z0-9]+(-[a-z0-9]+)*)$" doc:"only WPs of this feature (id or slug); absent or empty: any"`
	Owner      string   `json:"owner,omitempty" rule:"optname" doc:"only WPs this person or agent owns"`
	Labels     []string `json:"labels,omitempty" maxItems:"20" pattern:"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,39}$" doc:"only WPs with these labels: all of them, or any with labels_mode any (case does not matter)"`
	LabelsMode string   `json:"labels_mode,omitempty" enum:"all,any" default:"all" doc:"all: a WP needs every label given; any: one is enough"`
	Agent      string   `json:"agent" rule:"name" doc:"who claims"`
	TTLSeconds int64    `json:"ttl_seconds,omitempty" minimum:"0" maximum:"604800" default:"900" doc:"lease length in seconds, 1-604800; 0 or absent for the default, 900"`
}

// The conversions the handlers make; they stop compiling if the fields drift.
var (
	_ = agileplus.Transition(WPTransition{})
	_ = agileplus.Transition(FeatureTransition{})
	_ = agileplus.ClaimRequest(LeaseRenew{})
)

// schemaRules are constraints across the fields of a body, added to its
// schema by name: what one field's value asks of another.
var schemaRules = map[string]map[string]any{
	"WPTransition":      forceNeedsReason,
	"FeatureTransition": forceNeedsReason,
	"ReferenceCreate": {"anyOf": []any{
		map[string]any{"description": "a commit: sha and repo, no url or state",
			"properties": map[string]any{"kind": map[string]any{"const": agileplus.RefCommit}, "repo": map[string]any{"pattern": namePattern}},
			"required":   []any{"sha", "repo"}, "not": map[string]any{"anyOf": []any{map[string]any{"required": []any{"url"}}, map[string]any{"required": []any{"state"}}}}},
		map[string]any{"description": "a pull request: url and optionally state, no sha",
			"properties": map[string]any{"kind": map[string]any{"const": agileplus.RefPullRequest}},
			"required":   []any{"url"}, "not": map[string]any{"required": []any{"sha"}}},
	}},
	"FlagsUpdate": flagsUpdateRules(),
	"KeyCreate": {
		"if":   map[string]any{"properties": map[string]any{"scope": map[string]any{"const": agileplus.ScopeAdmin}}, "required": []any{"scope"}},
		"then": map[string]any{"properties": map[string]any{"projects": map[string]any{"maxItems": 0}}},
	},
}

var forceNeedsReason = map[string]any{
	"if":   map[string]any{"properties": map[string]any{"force": map[string]any{"const": true}}, "required": []any{"force"}},
	"then": map[string]any{"required": []any{"reason"}, "properties": map[string]any{"reason": map[string]any{"minLength": 1}}},
}
