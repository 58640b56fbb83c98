package httpapi

import (
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// openAPIDocument generates the OpenAPI 3.1 document from the route table and
// the Go types its handlers decode and encode, so the two cannot drift.
func openAPIDocument(rs []route, version string) []byte {
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	errRef := g.schema(reflect.TypeFor[ErrorBody]())
	for _, rt := range rs {
		o := map[string]any{"summary": rt.summary, "operationId": operationID(rt), "description": scopeNote(rt.scope), "x-agileplus-scope": rt.scope}
		if rt.scope == scopePublic {
			o["security"] = []any{}
		}
		var params []any
		for _, name := range pathParams(rt.path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": pathParamSchema(name), "description": pathParamDoc(name)})
		}
		for _, q := range rt.query {
			p := map[string]any{"name": q.name, "in": "query", "schema": paramSchema(q), "description": q.doc}
			if q.required {
				p["required"] = true
			}
			if q.repeat {
				p["style"], p["explode"] = "form", true
			}
			params = append(params, p)
		}
		for _, h := range rt.headers {
			params = append(params, map[string]any{"name": h.name, "in": "header", "schema": paramSchema(h), "description": h.doc})
		}
		if rt.ifMatch {
			params = append(params, map[string]any{"name": "If-Match", "in": "header", "schema": map[string]any{"type": "string", "pattern": ifMatchPattern}, "description": "the version last seen, e.g. \"3\" (or *, any version); 409 when stale"})
		}
		if strings.HasPrefix(rt.path, "/v1/") && rt.method != "GET" {
			params = append(params, map[string]any{"name": ActorHeader, "in": "header", "schema": map[string]any{"type": "string"}, "description": "who makes the change, recorded in events and audit; when the server authenticates, it may only narrow the key's name (recorded as <key name>/<value>)"})
		}
		if params != nil {
			o["parameters"] = params
		}
		switch {
		case rt.in != nil:
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(rt.in)}},
				"description": "a JSON object; null is refused, for the body and for any field (leave a field out instead)"}
		case rt.consumes != "":
			schema := map[string]any{"type": "string", "minLength": 1}
			if rt.consumesSchema != nil {
				schema = rt.consumesSchema(g)
			}
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{rt.consumes: map[string]any{"schema": schema}},
				"description": rt.consumesDoc}
		}
		resp := map[string]any{"description": "success"}
		if rt.out != nil {
			media := "application/json"
			if rt.produces != "" {
				media = rt.produces
			}
			mt := map[string]any{"schema": g.schema(rt.out)}
			if media == "text/event-stream" {
				resp["description"] = sseFraming
				mt["schema"] = sseEventSchema(g.schema(rt.out))
			}
			resp["content"] = map[string]any{media: mt}
		} else if len(rt.produceTypes) > 0 {
			content := map[string]any{}
			for _, mt := range rt.produceTypes {
				schema := map[string]any{"type": "string"}
				if mt == "application/json" {
					schema = map[string]any{"type": "object"}
				}
				content[mt] = map[string]any{"schema": schema}
			}
			resp["content"] = content
		}
		responses := map[string]any{strconv.Itoa(rt.status): resp}
		if rt.ranges {
			responses["206"] = map[string]any{"description": "the range asked for (Content-Range says which)", "content": resp["content"]}
			responses["304"] = map[string]any{"description": "not modified: the ETag is the one given in If-None-Match"}
		}
		errResp := func(desc string) map[string]any {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		for code, desc := range errorResponses(rt) {
			responses[code] = errResp(desc)
		}
		if rt.path == "/ready" {
			responses["503"] = map[string]any{"description": "a dependency is not ready: the checks say which", "content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeFor[Readiness]())}}}
		}
		o["responses"] = responses
		if paths[rt.path] == nil {
			paths[rt.path] = map[string]any{}
		}
		paths[rt.path][strings.ToLower(rt.method)] = o
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "AgilePlus API",
			"version": version,
			"license": map[string]any{"name": licenseName},
			"description": "Plan and track software work: projects, features, work packages and their dependency graph. Errors are {\"error\":{\"code\",\"message\",\"field\"}}. " +
				"Every operation but /health, /ready and /openapi.json needs an API key (Authorization: Bearer <key>) with the scope it names: 401 without a valid key, 403 when the key's scope or projects do not allow it. " +
				"Request bodies are JSON objects; null is refused, for the body and for every field: leave a field out to leave it alone or take its default. " +
				"Query parameters are exactly those an operation declares: an unknown one, one given twice (unless it says it repeats), an empty value (?limit=) and a missing required one are each refused with 400 naming the parameter.",
		},
		"servers": []any{map[string]any{"url": "/", "description": "the server that serves this document"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "An API key, as `agileplus key create` prints it: Authorization: Bearer ap_<prefix>_<secret>. Each operation needs a scope (x-agileplus-scope): read < write < admin.",
			}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("httpapi: openapi document: " + err.Error()) // only maps of plain values: cannot fail
	}
	return b
}

// licenseName is the document's info.license: the repository carries no
// LICENSE file, so no license is granted.
const licenseName = "No license granted (the repository has no LICENSE file)"

// sseFraming describes the event stream as the document's response.
const sseFraming = "A server-sent event stream (text/event-stream). Each event is framed as `id: <global seq>`, `event: <type>`, " +
	"`data: <one CloudEvent as JSON, on one line>` and a blank line; the schema describes one such event, its data by contentSchema. A frame with only `id:` tells the client " +
	"its position when the replay sent no event, `retry:` suggests a reconnection delay, and lines starting with `:` are keepalive comments."

// sseEventSchema describes one event of a text/event-stream as OpenAPI 3.1
// can: an object of the event's fields, whose data is a string holding
// JSON of the given schema (contentMediaType and contentSchema).
func sseEventSchema(data any) map[string]any {
	return map[string]any{
		"type":        "object",
		"description": "one server-sent event: its id, event and data fields (retry when the server suggests a reconnection delay)",
		"properties": map[string]any{
			"id":    map[string]any{"type": "string", "description": "the event's global sequence, to resume after with Last-Event-ID"},
			"event": map[string]any{"type": "string", "description": "the CloudEvent type"},
			"data": map[string]any{"type": "string", "description": "one CloudEvent as JSON on one line",
				"contentMediaType": "application/json", "contentSchema": data},
			"retry": map[string]any{"type": "integer", "minimum": 0, "description": "milliseconds to wait before reconnecting"},
		},
	}
}

// ifMatchPattern is what an If-Match header may hold: a version, quoted,
// weak or bare, or *.
const ifMatchPattern = `^(\*|(W/)?"[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$`

// pathParamSchema is the schema of a path parameter: a dead letter's seq
// is a positive integer, anything else an id or key.
func pathParamSchema(name string) map[string]any {
	if name == "seq" {
		return map[string]any{"type": "integer", "minimum": 1, "maximum": uint64(math.MaxUint64)}
	}
	if s, ok := refSchemas[name]; ok {
		return s
	}
	return map[string]any{"type": "string", "minLength": 1}
}

func pathParamDoc(name string) string {
	switch name {
	case "seq":
		return "a dead letter's seq"
	case "label":
		return "a label's name (case does not matter)"
	}
	return "id or key"
}

// paramSchema is the schema of a declared query parameter or header.
func paramSchema(p param) map[string]any {
	s := map[string]any{"type": p.typ}
	for k, v := range p.schema {
		s[k] = v
	}
	if p.repeat {
		a := map[string]any{"type": "array", "items": s, "minItems": 1}
		if p.maxItems > 0 {
			a["maxItems"] = p.maxItems
		}
		return a
	}
	return s
}

// errorResponses lists the error statuses an operation answers, with what
// each means there. 4XX and 5XX cover the rest (a proxy's, an internal error).
func errorResponses(rt route) map[string]string {
	out := map[string]string{
		"400": "the request is malformed: a query parameter the operation does not take, given twice, empty, missing or out of its range, or a bad body; the error names the field",
		"4XX": "error",
		"5XX": "error",
	}
	if rt.scope != scopePublic {
		out["401"] = "no API key, or one that identifies no active key (when the server authenticates); the answer carries WWW-Authenticate: Bearer"
		out["403"] = "the key's scope or projects do not allow this; the message names the scope needed"
	}
	if c := routeClass(rt); c != "" {
		out["429"] = "the key (or address, without one) has spent its quota of " + c + " requests; retry after Retry-After seconds (RateLimit-Policy and RateLimit say the quota and what is left)"
	}
	if !strings.HasPrefix(rt.path, "/v1/") {
		return out
	}
	if len(pathParams(rt.path)) > 0 || slices.ContainsFunc(rt.query, func(p param) bool {
		return slices.Contains([]string{"project", "feature", "from", "to", "entity"}, p.name)
	}) {
		out["404"] = "no such entity (the error names the field)"
	}
	if rt.method != "GET" && rt.method != "DELETE" || rt.ifMatch {
		out["409"] = "conflict with the current state: the entity exists already, changed since the If-Match version, or a lease is held (code conflict); or the change breaks a rule: a state the entity cannot move to, a dependency cycle, an open dependency (code rule)"
	}
	if rt.in != nil || rt.consumes != "" {
		out["408"] = "the request body arrived too slowly"
		out["503"] = "the server is reading as many request bodies as it allows, or a service the operation needs is unavailable; retry shortly"
	}
	if strings.HasPrefix(rt.path, "/v1/webhooks") || strings.HasPrefix(rt.path, "/v1/deadletters") || strings.HasPrefix(rt.path, "/v1/keys") {
		out["503"] = "the service this operation needs (the event bus, the key store) is not running here"
	}
	for code, desc := range rt.errs {
		out[code] = desc
	}
	if rt.produces == "text/event-stream" {
		out["429"] = "the key has too many open event streams, or has opened its quota of streams; retry after Retry-After seconds"
		out["503"] = "the server has as many streams open as it allows, or no live feed; retry after Retry-After seconds"
	}
	return out
}

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

func operationID(rt route) string {
	if rt.id != "" {
		return rt.id
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.Split(rt.path, "/") {
		part = strings.Trim(part, "{}")
		if part == "" || part == "v1" {
			continue
		}
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '_' || r == '.' || r == '-' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// naming each struct once under components/schemas.
type schemaGen struct {
	defs map[string]any
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder: stops recursion
			props, required := map[string]any{}, []string{}
			g.fields(t, props, &required)
			s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
			for k, v := range schemaRules[name] {
				s[k] = v
			}
			if len(required) > 0 {
				sort.Strings(required)
				s["required"] = required
			}
			g.defs[name] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds the JSON fields of struct t, flattening embedded structs.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if et := f.Type; f.Anonymous && name == "" && (et.Kind() == reflect.Struct || et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct) {
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			g.fields(et, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		omit := strings.Contains(opts, "omitempty")
		if k := f.Type.Kind(); !omit && (k == reflect.Slice || k == reflect.Map || k == reflect.Pointer) {
			// encoding/json writes a nil one as null.
			s = nullable(s)
		}
		constrain(s, f)
		if doc := f.Tag.Get("doc"); doc != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": doc}
			} else {
				s["description"] = doc
			}
		}
		props[name] = s
		// required:"true" marks a field the server needs although its
		// zero value is left out (omitempty, so that it is never null).
		if !omit && f.Type.Kind() != reflect.Pointer || f.Tag.Get("required") == "true" {
			*required = append(*required, name)
		}
	}
}

// schemaName names a struct type, with generic arguments spelled out:
// List[*agileplus.WP] becomes ListWP.
func schemaName(t reflect.Type) string {
	n := t.Name()
	if i := strings.IndexByte(n, '['); i >= 0 {
		arg := n[i+1 : len(n)-1]
		arg = arg[strings.LastIndexAny(arg, "./*")+1:]
		n = n[:i] + strings.ToUpper(arg[:1]) + arg[1:]
	}
	return n
}

// nullable lets a schema also be null.
func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
		return s
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// Text rules (the rule tag) shared by many fields: a name is one line of
// printable text, not blank; a text is printable, with tabs and line
// breaks. Characters up to U+00FF are written \xHH and the others as
// themselves, which every regular expression dialect reads alike.
const (
	notPrintable = `\x00-\x1f\x7f-\x9f`
	notInName    = notPrintable + "\u2028\u2029"
	blank        = ` \xa0` + "\u1680\u2000-\u200a\u202f\u205f\u3000"
	namePattern  = "^[^" + notInName + "]*[^" + notInName + blank + "][^" + notInName + "]*$"
	textPattern  = `^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$`
)

// A key's name may hold C1 characters, and any space but at its ends.
const (
	notInKeyName   = `\x00-\x1f\x7f`
	keyNamePattern = "^[^" + notInKeyName + "]*[^" + notInKeyName + blank + `\x85` + "\u2028\u2029][^" + notInKeyName + "]*$"
)

var textRules = map[string]map[string]any{
	"name":    {"minLength": 1, "maxLength": 200, "pattern": namePattern},
	"text":    {"maxLength": 65536, "pattern": textPattern},
	"keyname": {"minLength": 1, "maxLength": 100, "pattern": keyNamePattern},
	// optname is a name that may also be empty (then absent).
	"optname": {"maxLength": 200, "pattern": "^$|" + namePattern},
	// line is one line of printable text, perhaps blank.
	"line": {"maxLength": 200, "pattern": "^[^" + notInName + "]*$"},
	// The URLs: the grammar the domain checks them with.
	"prurl":      {"maxLength": 2000, "pattern": agileplus.PullRequestURLPattern},
	"webhookurl": {"maxLength": 2048, "pattern": agileplus.WebhookURLPattern},
	// The domain's lists, so that a new event type or kind is declared
	// as soon as it exists.
	"eventtype":  {"pattern": "^(" + regexp.QuoteMeta(agileplus.CloudEventTypePrefix) + ")?(" + strings.ReplaceAll(strings.Join(agileplus.EventTypes, "|"), ".", `\.`) + ")$"},
	"entitykind": {"enum": agileplus.EntityKinds},
}

// constrain adds the constraints of field f's tags to its schema s:
// rule (a text rule), minLength, maxLength, pattern and enum (for a slice,
// of its items), minimum, maximum, default, minItems, maxItems, format.
// The handlers enforce the same; a test sends values just inside and just
// outside each bound.
func constrain(s map[string]any, f reflect.StructField) {
	target := s
	t := f.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice {
		if items, ok := s["items"].(map[string]any); ok {
			target = items
		}
	}
	if r := f.Tag.Get("rule"); r != "" {
		rule, ok := textRules[r]
		if !ok {
			panic("httpapi: unknown rule tag " + r + " on " + f.Name)
		}
		for k, v := range rule {
			target[k] = v
		}
	}
	for _, k := range []string{"minLength", "maxLength"} {
		if v := f.Tag.Get(k); v != "" {
			target[k] = mustNumber(f, v)
		}
	}
	if v := f.Tag.Get("pattern"); v != "" {
		target["pattern"] = v
	}
	if v := f.Tag.Get("enum"); v != "" {
		target["enum"] = strings.Split(v, ",")
	}
	for _, k := range []string{"minimum", "maximum", "minItems", "maxItems"} {
		if v := f.Tag.Get(k); v != "" {
			s[k] = mustNumber(f, v)
		}
	}
	if v := f.Tag.Get("format"); v != "" {
		s["format"] = v
	}
	if v, ok := f.Tag.Lookup("default"); ok {
		if k := f.Type.Kind(); k == reflect.String {
			s["default"] = v
		} else if json.Valid([]byte(v)) {
			s["default"] = json.RawMessage(v)
		} else {
			panic("httpapi: default of " + f.Name + " is not JSON: " + v)
		}
	}
}

func mustNumber(f reflect.StructField, v string) json.Number {
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		panic("httpapi: tag of " + f.Name + " is not a number: " + v)
	}
	return json.Number(v)
}
