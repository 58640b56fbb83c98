package httpapi

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
)

func TestOperationIDsAreUnique(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(NewServer(nil, nil, nil, "test").openapi, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, ops := range doc.Paths {
		for method, o := range ops {
			name := strings.ToUpper(method) + " " + path
			switch prev, dup := seen[o.OperationID]; {
			case o.OperationID == "":
				t.Errorf("%s has no operationId", name)
			case dup:
				t.Errorf("%s and %s share the operationId %s", prev, name, o.OperationID)
			}
			seen[o.OperationID] = name
		}
	}
}

// No request body admits null: decode refuses it everywhere, and the
// document must not say otherwise.
func TestRequestBodiesAreNeverNullable(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(NewServer(nil, nil, nil, "test").openapi, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		var b bytes.Buffer
		if err := json.Compact(&b, doc.Components.Schemas[name]); err != nil {
			t.Fatal(err)
		}
		raw := b.String()
		if strings.Contains(raw, `"null"`) {
			t.Errorf("schema %s, read from a request body, admits null", name)
		}
		for _, ref := range strings.Split(raw, `"$ref":"#/components/schemas/`)[1:] {
			walk(ref[:strings.IndexByte(ref, '"')])
		}
	}
	for _, ops := range doc.Paths {
		for _, o := range ops {
			if mt, ok := o.RequestBody.Content["application/json"]; ok {
				walk(strings.TrimPrefix(mt.Schema.Ref, "#/components/schemas/"))
			}
		}
	}
	if len(seen) < 14 { // the bodies and the schemas they refer to
		t.Fatalf("only %d request body schemas found", len(seen))
	}
}

// The enums the tags spell out are the domain's lists.
func TestEnumsAreTheDomainLists(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum  []string `json:"enum"`
					Items struct {
						Enum []string `json:"enum"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(NewServer(nil, nil, nil, "test").openapi, &doc); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string][]string{
		"WPTransition.to":       agileplus.WPStates,
		"FeatureTransition.to":  agileplus.FeatureStates,
		"KeyCreate.scope":       agileplus.Scopes,
		"ReferenceCreate.state": agileplus.PRStates,
		"ReferenceCreate.kind":  {agileplus.RefCommit, agileplus.RefPullRequest},
		"DependencyCreate.kind": {agileplus.DependsOn, agileplus.Blocks, agileplus.RelatesTo},
	} {
		schema, prop, _ := strings.Cut(field, ".")
		if got := doc.Components.Schemas[schema].Properties[prop].Enum; !slices.Equal(got, want) {
			t.Errorf("%s: enum %v, want %v", field, got, want)
		}
	}
}

// The event filters' patterns in the document take every entity kind and
// event type the domain lists, with or without the CloudEvents prefix, and
// nothing else; the webhook's filter and the stream's parameters alike.
func TestEventFilterPatterns(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Items struct {
						Pattern string `json:"pattern"`
					} `json:"items"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Items struct {
						Enum    []string `json:"enum"`
						Pattern string   `json:"pattern"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(NewServer(nil, nil, nil, "test").openapi, &doc); err != nil {
		t.Fatal(err)
	}
	sel := doc.Components.Schemas["EventSelector"].Properties
	if got := sel["entities"].Items.Enum; !slices.Equal(got, agileplus.EntityKinds) {
		t.Errorf("EventSelector.entities: enum %v, want %v", got, agileplus.EntityKinds)
	}
	stream := map[string]*regexp.Regexp{}
	for _, p := range doc.Paths["/v1/events/stream"]["get"].Parameters {
		if p.Schema.Items.Pattern != "" {
			stream[p.Name] = regexp.MustCompile(p.Schema.Items.Pattern)
		}
	}
	types := regexp.MustCompile(sel["types"].Items.Pattern)
	for _, typ := range agileplus.EventTypes {
		for _, v := range []string{typ, agileplus.CloudEventTypePrefix + typ} {
			if !types.MatchString(v) || !stream["type"].MatchString(v) {
				t.Errorf("type %s is refused", v)
			}
		}
	}
	if !stream["type"].MatchString("wp.created,dev.agileplus.wp.claimed") || !stream["entity"].MatchString("wp,feature") || !stream["project"].MatchString("CORE,WEB") {
		t.Error("a comma-separated list is refused")
	}
	for name, bad := range map[string][]string{
		"type":    {"", "wp.exploded", "wp.created,", " wp.created", "WP.CREATED"},
		"entity":  {"", "epic", "wp, feature", "wp,,feature"},
		"project": {"", "core", "CORE,", "C"},
	} {
		for _, v := range bad {
			if stream[name].MatchString(v) || (name == "type" && types.MatchString(v)) {
				t.Errorf("%s %q is taken", name, v)
			}
		}
	}
}

// The import body's schema declares, for each record type, the fields the
// domain takes for it and no other, and one schema for each type.
func TestImportBodySchemaIsTheRecords(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Type     string `json:"type"`
						MinItems int    `json:"minItems"`
						Items    struct {
							OneOf []struct {
								Ref string `json:"$ref"`
							} `json:"oneOf"`
						} `json:"items"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties           map[string]map[string]any `json:"properties"`
				Required             []string                  `json:"required"`
				AdditionalProperties *bool                     `json:"additionalProperties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(NewServer(nil, nil, nil, "test").openapi, &doc); err != nil {
		t.Fatal(err)
	}
	body := doc.Paths["/v1/import"]["post"].RequestBody.Content["application/x-ndjson"].Schema
	if body.Type != "array" || body.MinItems != 1 || len(body.Items.OneOf) != len(agileplus.RecordTypes) {
		t.Fatalf("got body schema %+v, want an array of at least 1 item, one of %d record types", body, len(agileplus.RecordTypes))
	}
	for i, typ := range agileplus.RecordTypes {
		ref := body.Items.OneOf[i].Ref
		s, ok := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if !ok {
			t.Fatalf("%s: no schema %s", typ, ref)
		}
		want := append([]string{"type"}, agileplus.RecordFields(typ)...)
		var got []string
		for name, p := range s.Properties {
			got = append(got, name)
			if pat, ok := p["pattern"].(string); ok {
				if _, err := regexp.Compile(pat); err != nil {
					t.Errorf("%s.%s: pattern does not compile: %v", typ, name, err)
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got properties %v, want %v", typ, got, want)
		}
		if c := s.Properties["type"]["const"]; c != typ {
			t.Errorf("%s: type is const %v", typ, c)
		}
		if s.AdditionalProperties == nil || *s.AdditionalProperties {
			t.Errorf("%s: additional properties allowed", typ)
		}
		for _, r := range s.Required {
			if !slices.Contains(want, r) {
				t.Errorf("%s: requires %s, which it does not take", typ, r)
			}
		}
	}
}
