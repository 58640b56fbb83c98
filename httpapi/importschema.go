package httpapi

import (
	"slices"
	"strings"

	"github.com/agileplus/agileplus"
)

// The schema of a bulk file (POST /v1/import, GET /v1/export): JSON lines,
// described as an array whose items are the lines, one record each. A
// record that breaks its type's schema makes the import 400; one that
// keeps it but names nothing, repeats or contradicts another or the store,
// or closes a cycle makes it 409.
//
// An import takes the text of older exports, written before control
// characters were refused (see agileplus.checkName), and trims the spaces
// around a reference's sha, url and repo: its records' text fields are
// looser than the API's, and the patterns here say how.

// importSpace is what the import trims: Go's unicode.IsSpace.
const importSpace = `\x09-\x0d \x85\xa0` + "\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

const (
	// importNamePattern is a name of an older export: not blank, one line.
	importNamePattern = `^[^\x0a\x0d]*[^` + importSpace + `][^\x0a\x0d]*$`
	// importRepoPattern is a commit's repo: once trimmed, a name.
	importRepoPattern = `^[` + importSpace + `]*[^\x0a\x0d]*[^` + importSpace + `][` + importSpace + `]*$`
	// importOptRepoPattern is a pull request's repo, which may be blank.
	importOptRepoPattern = `^[` + importSpace + `]*([^\x0a\x0d]*[^` + importSpace + `])?[` + importSpace + `]*$`
	importSHAPattern     = `^[` + importSpace + `]*[0-9a-fA-F]{7,64}[` + importSpace + `]*$`
	keyPrefixPattern     = `^[0-9a-hjkmnp-tv-z]{8}$`
	keyHashPattern       = `^[0-9a-f]{64}$`
)

// importURLPattern is a pull request's URL as the API takes it, perhaps
// with spaces around it.
var importURLPattern = `^[` + importSpace + `]*(` +
	strings.TrimSuffix(strings.TrimPrefix(agileplus.PullRequestURLPattern, "^"), "$") + `)[` + importSpace + `]*$`

// importFieldSchema returns the schema of field name of a record of type
// typ, nil for a field it does not know.
func importFieldSchema(typ, name string) map[string]any {
	str := func(doc string, kv ...any) map[string]any {
		s := map[string]any{"type": "string", "description": doc}
		for i := 0; i+1 < len(kv); i += 2 {
			s[kv[i].(string)] = kv[i+1]
		}
		return s
	}
	ref := func(doc string) map[string]any {
		return str(doc+"; one the file or the store does not have is a 409", "minLength", 1)
	}
	name1 := func(doc string) map[string]any {
		return str(doc+"; 1-200 characters, not blank, one line", "minLength", 1, "maxLength", 200, "pattern", importNamePattern)
	}
	text := str("up to 65536 characters", "maxLength", 65536)
	switch typ + "." + name {
	case "project.key":
		return str("2-16 characters: upper-case letters and digits, starting with a letter", "pattern", `^[A-Z][A-Z0-9]{1,15}$`)
	case "project.name":
		return name1("display name")
	case "feature.project":
		return ref("its project's key or id")
	case "feature.slug":
		return str("lower-case words joined by '-'", "maxLength", 64, "pattern", `^[a-z0-9]+(-[a-z0-9]+)*$`)
	case "feature.title", "wp.title":
		return name1("title")
	case "feature.description", "wp.description":
		return text
	case "feature.state":
		return str("its state (default created)", "enum", agileplus.FeatureStates)
	case "wp.key":
		return str("its project's key, a dash and its number from 1 to 1099511627775 without leading zeros; "+
			"a key of another project than its feature's is a 409", "pattern", agileplus.WPKeyPattern)
	case "wp.feature":
		return ref("its feature's slug or id")
	case "wp.state":
		return str("its state (default planned)", "enum", agileplus.WPStates)
	case "wp.estimate":
		return map[string]any{"type": "number", "minimum": 0, "maximum": agileplus.MaxEstimate, "description": "hours (default 1)"}
	case "dependency.from":
		return ref("a work package's key or id, or a feature's slug or id")
	case "dependency.to":
		return ref("what from depends on or relates to: of the same kind as from, and not from itself (else a 409)")
	case "dependency.kind":
		return str("depends_on (default) or relates_to", "enum", []string{agileplus.DependsOn, agileplus.RelatesTo})
	case "reference.wp":
		return ref("its work package's key or id")
	case "reference.kind":
		return str("commit or pull_request; inferred from sha or url when left out", "enum", []string{agileplus.RefCommit, agileplus.RefPullRequest})
	case "reference.repo":
		return str("a commit's repository, e.g. github.com/acme/api; at most 200 characters, one line once trimmed", "maxLength", 200, "pattern", importOptRepoPattern)
	case "reference.sha":
		return str("a commit's hash, 7-64 hex digits", "pattern", importSHAPattern)
	case "reference.url":
		return str("a pull request's http(s) URL, as the API takes it (an import also takes one of an older export that Go's net/url reads)", "maxLength", 2000, "pattern", importURLPattern)
	case "reference.state":
		return str("a pull request's state (default open)", "enum", agileplus.PRStates)
	case "key.name":
		s := str("who or what uses the key")
		for k, v := range textRules["keyname"] {
			s[k] = v
		}
		return s
	case "key.prefix":
		return str("the 8 characters after ap_ in the key's tokens", "pattern", keyPrefixPattern)
	case "key.scope":
		return str("read, write or admin", "enum", agileplus.Scopes)
	case "key.projects":
		return map[string]any{"type": "array", "maxItems": agileplus.MaxKeyProjects, "description": "project keys the key is limited to (not with admin); one the file or the store does not have is a 409",
			"items": map[string]any{"type": "string", "pattern": `^[A-Z][A-Z0-9]{1,15}$`}}
	case "key.created_at", "key.expires_at", "key.revoked_at":
		return str("RFC 3339", "format", "date-time")
	case "key.created_by":
		return str("who created the key (default: who imports it)", "minLength", 1)
	case "key.hash":
		return str("the hex SHA-256 of the key's secret; a record without it changes nothing (counted under skipped)", "pattern", keyHashPattern)
	}
	return nil
}

// importRecordRules are constraints across a record's fields. A branch
// repeats the schema of a field it requires, which a linter looks for
// there.
var importRecordRules = map[string]map[string]any{
	agileplus.RecReference: {"anyOf": []any{
		map[string]any{"description": "a commit: sha and repo, no url or state",
			"properties": map[string]any{"kind": map[string]any{"const": agileplus.RefCommit}, "repo": map[string]any{"pattern": importRepoPattern},
				"sha": importFieldSchema(agileplus.RecReference, "sha")},
			"required": []any{"sha", "repo"}, "not": map[string]any{"anyOf": []any{map[string]any{"required": []any{"url"}}, map[string]any{"required": []any{"state"}}}}},
		map[string]any{"description": "a pull request: url and optionally state and repo, no sha",
			"properties": map[string]any{"kind": map[string]any{"const": agileplus.RefPullRequest}, "url": importFieldSchema(agileplus.RecReference, "url")},
			"required":   []any{"url"}, "not": map[string]any{"required": []any{"sha"}}},
	}},
	agileplus.RecKey: {
		"if":   map[string]any{"properties": map[string]any{"scope": map[string]any{"const": agileplus.ScopeAdmin}}, "required": []any{"scope"}},
		"then": map[string]any{"properties": map[string]any{"projects": map[string]any{"maxItems": 0}}},
	},
}

// importRequired are the fields each type of record must have, type aside.
var importRequired = map[string][]string{
	agileplus.RecProject:    {"key", "name"},
	agileplus.RecFeature:    {"project", "slug", "title"},
	agileplus.RecWP:         {"key", "feature", "title"},
	agileplus.RecDependency: {"from", "to"},
	agileplus.RecReference:  {"wp"},
	agileplus.RecKey:        {"name", "prefix", "scope"},
}

var importRecordDocs = map[string]string{
	agileplus.RecProject:    "a project, by its key",
	agileplus.RecFeature:    "a feature, by its slug",
	agileplus.RecWP:         "a work package, by its key",
	agileplus.RecDependency: "a dependency between two work packages or two features",
	agileplus.RecReference:  "a commit or pull request of a work package",
	agileplus.RecKey:        "an API key, by its prefix; recreated only with its hash",
}

// importBodySchema returns the schema of a bulk file, its record types
// under components/schemas.
func (g *schemaGen) importBodySchema() map[string]any {
	var records []any
	for _, typ := range agileplus.RecordTypes {
		name := "Import" + strings.ToUpper(typ[:1]) + typ[1:] + "Record"
		props := map[string]any{"type": map[string]any{"type": "string", "const": typ}}
		for _, f := range agileplus.RecordFields(typ) {
			s := importFieldSchema(typ, f)
			if s == nil {
				panic("httpapi: no schema for field " + f + " of an import " + typ + " record")
			}
			props[f] = s
		}
		required := append([]string{"type"}, importRequired[typ]...)
		slices.Sort(required)
		s := map[string]any{"type": "object", "description": importRecordDocs[typ], "properties": props, "required": required, "additionalProperties": false}
		for k, v := range importRecordRules[typ] {
			s[k] = v
		}
		g.defs[name] = s
		records = append(records, map[string]any{"$ref": "#/components/schemas/" + name})
	}
	return map[string]any{
		"type": "array", "minItems": 1, "items": map[string]any{"oneOf": records},
		"description": "JSON lines (application/x-ndjson): each item of the array is one line of the body, a JSON object on a line of its own; " +
			"blank lines are skipped. A field is left out rather than null or empty (description and repo may be empty).",
	}
}
