package httpapi

import (
	"cmp"
	"context"
	"net/http"

	"github.com/agileplus/agileplus"
)

// flagRoutes are the flags, global and per project: reading them needs
// the read scope, setting them the admin scope.
func (s *Server) flagRoutes() []route {
	t := s.Tracker
	return []route{
		op(s, "GET", "/v1/flags", "List the global flags: each known flag's value (the stored one, else the default), type and bounds", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.FlagSet, error) {
			return t.Flags(r.Context(), "")
		}).needs(agileplus.ScopeRead),
		op(s, "PUT", "/v1/flags", "Set or unset global flags; every name and value is checked before any is written", 200, nil, func(r *http.Request, in *agileplus.FlagsUpdate) (*agileplus.FlagSet, error) {
			return t.SetFlags(r.Context(), "", *in)
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/projects/{project}/flags", "List the flags in force in a project: its own value, else the global one, else the default", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.FlagSet, error) {
			return t.Flags(r.Context(), r.PathValue("project"))
		}).needs(agileplus.ScopeRead),
		op(s, "PUT", "/v1/projects/{project}/flags", "Set or unset a project's flags, which override the global ones there", 200, nil, func(r *http.Request, in *agileplus.FlagsUpdate) (*agileplus.FlagSet, error) {
			return t.SetFlags(r.Context(), r.PathValue("project"), *in)
		}).needs(agileplus.ScopeAdmin),
	}
}

func flagsPath(project string) string {
	if project == "" {
		return "/v1/flags"
	}
	return "/v1/projects/" + esc(project) + "/flags"
}

// Flags implements agileplus.Tracker.
func (c *Client) Flags(ctx context.Context, project string) (fs *agileplus.FlagSet, err error) {
	callErr := c.do(ctx, "GET", flagsPath(project), nil, 0, nil, &fs)
	return fs, callErr
}

// SetFlags implements agileplus.Tracker.
func (c *Client) SetFlags(ctx context.Context, project string, u agileplus.FlagsUpdate) (fs *agileplus.FlagSet, err error) {
	callErr := c.do(ctx, "PUT", flagsPath(project), nil, 0, u, &fs)
	return fs, callErr
}

// flagsUpdateRules declare each known flag's type and bounds in the
// FlagsUpdate schema, and the names unset takes.
func flagsUpdateRules() map[string]any {
	props := map[string]any{}
	for _, d := range agileplus.FlagDefs {
		var s map[string]any
		switch d.Type {
		case agileplus.FlagBool:
			s = map[string]any{"type": "boolean"}
		case agileplus.FlagInteger:
			s = map[string]any{"type": "integer", "minimum": d.Min, "maximum": d.Max}
		default:
			s = map[string]any{"type": "string", "maxLength": cmp.Or(d.MaxLength, agileplus.MaxFlagString), "pattern": "^[^" + notPrintable + "]*$"}
		}
		s["description"] = d.Doc + "; default " + string(d.Default)
		props[d.Name] = s
	}
	return map[string]any{"allOf": []any{map[string]any{"properties": map[string]any{
		"set":   map[string]any{"properties": props, "additionalProperties": false},
		"unset": map[string]any{"items": map[string]any{"enum": agileplus.FlagNames()}},
	}}}}
}
