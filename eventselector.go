package agileplus

import (
	"fmt"
	"slices"
	"strings"
)

// EventTypes lists every event type the platform emits, "<kind>.<action>".
var EventTypes = []string{
	"project.created", "project.updated", "project.imported",
	"feature.created", "feature.updated", "feature.transitioned", "feature.imported",
	"wp.created", "wp.updated", "wp.transitioned", "wp.claimed", "wp.renewed", "wp.released",
	"wp.referenced", "wp.reference_updated", "wp.imported",
	"project.archived", "project.restored", "feature.archived", "feature.restored", "wp.archived", "wp.restored", "wp.deleted",
	"feature.commented", "feature.comment_edited", "wp.commented", "wp.comment_edited",
	"dependency.added", "dependency.removed", "dependency.imported",
	"key.created", "key.revoked", "key.refused", "key.imported",
	"label.created", "label.updated", "label.deleted", "label.imported",
	"artifact.added", "artifact.deleted", "artifact.restored",
	"flag.set",
}

// EntityKinds lists the entity kinds events are about.
var EntityKinds = []string{KindProject, KindFeature, KindWP, KindDependency, KindKey, KindLabel, KindArtifact, KindFlag}

// EventSelector chooses events by project key, entity kind and event type.
// Empty fields match everything; the fields combine with AND, the values
// within one field with OR. It is what SSE clients, `events tail` and
// webhooks filter with, and it maps onto NATS subject filters.
type EventSelector struct {
	Project  string   `json:"project,omitempty" pattern:"^([A-Z][A-Z0-9]{1,15})?$" doc:"project key, e.g. CORE; empty or absent: every project"`
	Entities []string `json:"entities,omitempty" rule:"entitykind" doc:"entity kinds: project, feature, wp, dependency, key, label, artifact, flag (API keys and global flags: their events are seen with an admin key only)"`
	Types    []string `json:"types,omitempty" rule:"eventtype" doc:"event types, e.g. wp.transitioned (the dev.agileplus. prefix is optional); each of the entity kinds, when entities is given (409 when not)"`
}

// Normalize trims the CloudEvents prefix from types and sorts and
// de-duplicates the lists, so equal selectors compare equal.
func (s EventSelector) Normalize() EventSelector {
	out := EventSelector{Project: s.Project}
	out.Entities = append(out.Entities, s.Entities...)
	for _, t := range s.Types {
		out.Types = append(out.Types, strings.TrimPrefix(t, CloudEventTypePrefix))
	}
	slices.Sort(out.Entities)
	out.Entities = slices.Compact(out.Entities)
	slices.Sort(out.Types)
	out.Types = slices.Compact(out.Types)
	return out
}

// Validate returns an EINVALID error naming the field ("project", "entity"
// or "type") of the first bad value, or ERULE (field "type") for a type
// the entity filter excludes. Call it on a normalized selector.
func (s EventSelector) Validate() error {
	if s.Project != "" && !projectKeyRE.MatchString(s.Project) {
		return FieldErrorf("project", "project %q is not a project key (2-16 upper-case letters or digits, starting with a letter)", s.Project)
	}
	for _, e := range s.Entities {
		if !slices.Contains(EntityKinds, e) {
			return FieldErrorf("entity", "entity %q is not one of %s", e, strings.Join(EntityKinds, ", "))
		}
	}
	for _, t := range s.Types {
		if !slices.Contains(EventTypes, t) {
			return FieldErrorf("type", "type %q is not an event type; known types: %s", t, strings.Join(EventTypes, ", "))
		}
		if len(s.Entities) > 0 {
			kind, _, _ := strings.Cut(t, ".")
			if !slices.Contains(s.Entities, kind) {
				// Each value is well formed; together they select
				// nothing, which a rule refuses (409).
				return &Error{Code: ERULE, Field: "type", Message: fmt.Sprintf("type %q is about %s, which the entity filter (%s) excludes", t, kind, strings.Join(s.Entities, ", "))}
			}
		}
	}
	return nil
}

// Match reports whether the selector chooses e.
func (s EventSelector) Match(e *Event) bool {
	if s.Project != "" && e.ProjectKey != s.Project {
		return false
	}
	if len(s.Entities) > 0 && !slices.Contains(s.Entities, e.EntityKind) {
		return false
	}
	if len(s.Types) > 0 && !slices.Contains(s.Types, e.Type) {
		return false
	}
	return true
}

// Subjects returns the NATS subject filters that choose the same events:
// agileplus.<project>.<entity>.<id>.<action> with wildcards where the
// selector is open.
func (s EventSelector) Subjects() []string {
	project := "*"
	if s.Project != "" {
		project = s.Project
	}
	switch {
	case len(s.Types) > 0:
		out := make([]string, 0, len(s.Types))
		for _, t := range s.Types {
			kind, action, _ := strings.Cut(t, ".")
			out = append(out, SubjectPrefix+"."+project+"."+kind+".*."+action)
		}
		return out
	case len(s.Entities) > 0:
		out := make([]string, 0, len(s.Entities))
		for _, k := range s.Entities {
			out = append(out, SubjectPrefix+"."+project+"."+k+".*.*")
		}
		return out
	case s.Project != "":
		return []string{SubjectPrefix + "." + project + ".>"}
	default:
		return []string{SubjectPrefix + ".>"}
	}
}

// String is a short human form: "project=CORE types=wp.created".
func (s EventSelector) String() string {
	var parts []string
	if s.Project != "" {
		parts = append(parts, "project="+s.Project)
	}
	if len(s.Entities) > 0 {
		parts = append(parts, "entities="+strings.Join(s.Entities, ","))
	}
	if len(s.Types) > 0 {
		parts = append(parts, "types="+strings.Join(s.Types, ","))
	}
	if len(parts) == 0 {
		return "all events"
	}
	return strings.Join(parts, " ")
}
