package agileplus_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rule (CONTRIBUTING.md), by role of a package of the module:
//
//   - root, the domain: imports only the standard library;
//   - adapter, a package with a third-party import or one of stdAdapters:
//     never imports another adapter, in its code nor in its tests;
//   - engine, any other package: imports no adapter in its code;
//   - cmd/, bench/ and internal/ wire and test adapters together: free.
//
// Tests of the root and of engines may use an adapter (a real store).
const module = "github.com/agileplus/agileplus"

// stdAdapters are the adapters that need only the standard library, so
// their imports do not give them away.
var stdAdapters = []string{"httpapi", "localblob", "webhook", "webui"}

// listed is what the import rule needs from `go list -json`.
type listed struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// violation is one import the rule forbids.
type violation struct {
	from, to string // module-relative paths, "" for the root
	inTests  bool   // only the package's tests import it
	why      string
}

func (v violation) String() string {
	where := ""
	if v.inTests {
		where = " (in its tests)"
	}
	return name(v.from) + " imports " + name(v.to) + where + ": " + v.why
}

func name(rel string) string {
	if rel == "" {
		return "the root package"
	}
	return rel
}

// rel returns path relative to the module, "" for the root, and whether
// path is in the module at all.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// standard reports whether path is in the standard library, whose paths
// have no dot in their first element.
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// role is "root", "adapter", "engine", or "" for the packages the rule
// leaves free (cmd/, bench/, internal/).
func role(p listed) string {
	r, _ := rel(p.ImportPath)
	if r == "" {
		return "root"
	}
	elems := strings.Split(r, "/")
	if elems[0] == "cmd" || elems[0] == "bench" || slices.Contains(elems, "internal") {
		return ""
	}
	if slices.Contains(stdAdapters, r) {
		return "adapter"
	}
	for _, imp := range p.Imports {
		if _, ours := rel(imp); !ours && !standard(imp) {
			return "adapter"
		}
	}
	return "engine"
}

// importViolations returns every import in pkgs that the rule forbids.
func importViolations(pkgs []listed) []violation {
	roles := map[string]string{}
	for _, p := range pkgs {
		roles[p.ImportPath] = role(p)
	}
	var vs []violation
	for _, p := range pkgs {
		from, _ := rel(p.ImportPath)
		check := func(imports []string, inTests bool) {
			for _, imp := range imports {
				to, ours := rel(imp)
				if !ours {
					to = imp
				}
				switch {
				case imp == p.ImportPath:
					// An external test package imports the package it tests.
				case roles[p.ImportPath] == "root" && !inTests && !standard(imp):
					vs = append(vs, violation{from, to, inTests, "the domain imports only the standard library"})
				case roles[p.ImportPath] == "engine" && !inTests && ours && roles[imp] == "adapter":
					vs = append(vs, violation{from, to, inTests, "an engine imports no adapter"})
				case roles[p.ImportPath] == "adapter" && ours && roles[imp] == "adapter":
					vs = append(vs, violation{from, to, inTests, "adapters never import each other; a test that needs two goes in internal/crosstest"})
				}
			}
		}
		check(p.Imports, false)
		check(slices.Concat(p.TestImports, p.XTestImports), true)
	}
	return vs
}

func goList(t *testing.T) []listed {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list: decode: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRule(t *testing.T) {
	pkgs := goList(t)
	if !slices.ContainsFunc(pkgs, func(p listed) bool { return p.ImportPath == module }) {
		t.Fatalf("go list ./...: got %d packages, none of them %s", len(pkgs), module)
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
	// The roles the packages have today, so that a change of role is seen.
	got := map[string][]string{}
	for _, p := range pkgs {
		if r := role(p); r == "adapter" || r == "engine" {
			n, _ := rel(p.ImportPath)
			got[r] = append(got[r], n)
		}
	}
	for r, want := range map[string][]string{
		"adapter": {"httpapi", "localblob", "localcache", "mcpserver", "natsbus", "neo4jstore", "prommetrics", "rediscache", "s3blob", "sqlitestore", "webhook"},
		"engine":  {"depgraph", "keyauth", "ratelimit", "relay", "session", "storemigrate"},
	} {
		for _, n := range want {
			if !slices.Contains(got[r], n) {
				t.Errorf("%s is not an %s: got %ss %v", n, r, r, got[r])
			}
		}
	}
}

// TestImportViolations checks the rule itself on made-up packages.
func TestImportViolations(t *testing.T) {
	pkg := func(path string, imports ...string) listed {
		return listed{ImportPath: module + path, Imports: imports}
	}
	withTests := func(p listed, imports ...string) listed {
		p.XTestImports = append([]string{p.ImportPath}, imports...)
		return p
	}
	const (
		store = module + "/sqlitestore"
		bus   = module + "/natsbus"
		http  = module + "/httpapi"
		graph = module + "/depgraph"
	)
	base := []listed{
		pkg("", "context", "time"),
		pkg("/depgraph", module, "slices"),
		pkg("/relay", module, graph),
		pkg("/sqlitestore", module, graph, "modernc.org/sqlite"),
		pkg("/natsbus", module, "github.com/nats-io/nats.go"),
		pkg("/httpapi", module, "net/http"),
		pkg("/cmd/agileplus", module, store, bus, http, "github.com/spf13/cobra"),
		pkg("/bench", module, store, bus, http),
		pkg("/internal/crosstest"),
		withTests(pkg("/internal/crosstest"), store, http),
	}
	tests := []struct {
		name string
		pkg  listed // replaces the package of its path in base, or joins it
		want []string
	}{
		{"the layout as it should be", listed{}, nil},
		{"root imports a third-party package", pkg("", "context", "github.com/google/uuid"),
			[]string{"the root package imports github.com/google/uuid: the domain imports only the standard library"}},
		{"root imports an engine", pkg("", "context", graph),
			[]string{"the root package imports depgraph: the domain imports only the standard library"}},
		{"root's tests use an adapter", withTests(pkg("", "context"), store), nil},
		{"engine imports an adapter", pkg("/relay", module, graph, bus),
			[]string{"relay imports natsbus: an engine imports no adapter"}},
		{"engine's tests use an adapter", withTests(pkg("/relay", module), store), nil},
		{"adapter imports an adapter", pkg("/sqlitestore", module, bus, "modernc.org/sqlite"),
			[]string{"sqlitestore imports natsbus: adapters never import each other; a test that needs two goes in internal/crosstest"}},
		{"adapter's tests import an adapter", withTests(pkg("/natsbus", module, "github.com/nats-io/nats.go"), store),
			[]string{"natsbus imports sqlitestore (in its tests): adapters never import each other; a test that needs two goes in internal/crosstest"}},
		{"adapter's internal tests import an adapter", listed{ImportPath: store, Imports: []string{module, "modernc.org/sqlite"}, TestImports: []string{http}},
			[]string{"sqlitestore imports httpapi (in its tests): adapters never import each other; a test that needs two goes in internal/crosstest"}},
		{"standard-library adapter imports an adapter", pkg("/httpapi", module, store),
			[]string{"httpapi imports sqlitestore: adapters never import each other; a test that needs two goes in internal/crosstest"}},
		{"new adapter imports an adapter", pkg("/rediscache", module, store, "github.com/redis/go-redis/v9"),
			[]string{"rediscache imports sqlitestore: adapters never import each other; a test that needs two goes in internal/crosstest"}},
		{"adapter imports an engine", pkg("/natsbus", module, graph, "github.com/nats-io/nats.go"), nil},
		{"internal package imports two adapters", pkg("/internal/crosstest", store, bus), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := slices.Clone(base)
			if tt.pkg.ImportPath != "" {
				i := slices.IndexFunc(pkgs, func(p listed) bool { return p.ImportPath == tt.pkg.ImportPath })
				if i < 0 {
					pkgs = append(pkgs, tt.pkg)
				} else {
					pkgs[i] = tt.pkg
				}
			}
			var got []string
			for _, v := range importViolations(pkgs) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got violations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
