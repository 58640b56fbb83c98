package httpapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}, "description": "id or key"})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "schema": map[string]any{"type": q.typ}, "description": q.doc})
		}
		for _, h := range rt.headers {
			params = append(params, map[string]any{"name": h.name, "in": "header", "schema": map[string]any{"type": h.typ}, "description": h.doc})
		}
		if rt.ifMatch {
			params = append(params, map[string]any{"name": "If-Match", "in": "header", "schema": map[string]any{"type": "string"}, "description": "the version last seen, e.g. \"3\"; 409 when stale"})
		}
		if strings.HasPrefix(rt.path, "/v1/") && rt.method != "GET" {
			params = append(params, map[string]any{"name": ActorHeader, "in": "header", "schema": map[string]any{"type": "string"}, "description": "who makes the change, recorded in events and audit; when the server authenticates, it may only narrow the key's name (recorded as <key name>/<value>)"})
		}
		if params != nil {
			o["parameters"] = params
		}
		if rt.in != nil {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(rt.in)}}}
		}
		resp := map[string]any{"description": "success"}
		if rt.out != nil {
			media := "application/json"
			if rt.produces != "" {
				media = rt.produces
			}
			if media == "text/event-stream" {
				resp["description"] = "server-sent events; the data of each is one line of this schema"
			}
			resp["content"] = map[string]any{media: map[string]any{"schema": g.schema(rt.out)}}
		}
		responses := map[string]any{strconv.Itoa(rt.status): resp}
		errResp := func(desc string) map[string]any {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		if strings.HasPrefix(rt.path, "/v1/") {
			responses["4XX"] = errResp("error")
			responses["5XX"] = errResp("error")
		}
		if rt.scope != scopePublic {
			responses["401"] = errResp("no API key, or one that identifies no active key (when the server authenticates); the answer carries WWW-Authenticate: Bearer")
			responses["403"] = errResp("the key's scope or projects do not allow this; the message names the scope needed")
		}
		if rt.in != nil || rt.path == "/v1/import" {
			responses["408"] = errResp("the request body arrived too slowly")
		}
		if rt.produces == "text/event-stream" {
			responses["429"] = errResp("the key has too many open event streams; retry after Retry-After seconds")
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
			"description": "Plan and track software work: projects, features, work packages and their dependency graph. Errors are {\"error\":{\"code\",\"message\",\"field\"}}. " +
				"Every operation but /health, /ready and /openapi.json needs an API key (Authorization: Bearer <key>) with the scope it names: 401 without a valid key, 403 when the key's scope or projects do not allow it.",
		},
		"paths": paths,
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

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

func operationID(rt route) string {
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
		if doc := f.Tag.Get("doc"); doc != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": doc}
			} else {
				s["description"] = doc
			}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
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
