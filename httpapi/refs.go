package httpapi

import "github.com/agileplus/agileplus"

// What a reference to an entity looks like, in a path or a query
// parameter: an id (its prefix and 26 Crockford base32 characters) or the
// entity's key or slug. The document declares these patterns, so a value
// that cannot name the entity is refused by the schema; a well-formed one
// that names nothing is a 404.
const (
	idChars = `[0-9a-hjkmnp-tv-z]{26}`

	projectRefPattern = `^(prj_` + idChars + `|[A-Z][A-Z0-9]{1,15})$`
	featureRefPattern = `^(fea_` + idChars + `|[a-z0-9]+(-[a-z0-9]+)*)$`
	wpRefPattern      = `^(wp_` + idChars + `|[A-Z][A-Z0-9]{1,15}-[0-9]{1,12})$`
	// A key by id or by the 8 characters after ap_ in its tokens.
	keyRefPattern        = `^(key_` + idChars + `|[0-9a-hjkmnp-tv-z]{8})$`
	webhookRefPattern    = `^whk_` + idChars + `$`
	dependencyRefPattern = `^dep_` + idChars + `$`
	commentRefPattern    = `^cmt_` + idChars + `$`
)

// refSchemas are the schemas of the path parameters that name an entity,
// by parameter name.
var refSchemas = map[string]map[string]any{
	"project":  {"type": "string", "pattern": projectRefPattern},
	"feature":  {"type": "string", "maxLength": 64, "pattern": featureRefPattern},
	"wp":       {"type": "string", "pattern": wpRefPattern},
	"key":      {"type": "string", "pattern": keyRefPattern},
	"webhook":  {"type": "string", "pattern": webhookRefPattern},
	"id":       {"type": "string", "pattern": dependencyRefPattern},
	"comment":  {"type": "string", "pattern": commentRefPattern},
	"artifact": {"type": "string", "pattern": artifactIDPattern},
	// A label by name, or by the id its definition was created with
	// (which the name pattern covers too).
	"label": {"type": "string", "pattern": agileplus.LabelPattern},
}

// refParam is a query parameter naming a project, feature or WP by id or
// key; pattern is one of the patterns above.
func refParam(name, pattern, doc string) param {
	s := map[string]any{"pattern": pattern}
	if pattern == featureRefPattern {
		s["maxLength"] = 64
	}
	return param{name: name, typ: "string", doc: doc, schema: s}
}

func projectParam(doc string) param { return refParam("project", projectRefPattern, doc) }
func featureParam(doc string) param { return refParam("feature", featureRefPattern, doc) }
