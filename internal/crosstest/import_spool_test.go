package crosstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/sqlitestore"
)

// An import through the HTTP route keeps every description byte for byte
// (they wait in a temporary file while the import runs): exporting gives
// the canonical file back, importing it again changes nothing, a refused
// file writes nothing, and no temporary file is left either way.
func TestImportThroughHTTPKeepsDescriptions(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := httptest.NewServer(httpapi.NewServer(agileplus.NewService(store), nil, nil, "test"))
	defer srv.Close()

	descs := []string{"", "plain", "line one\nline two\ttab", "ünïcödé ✓ and \"quotes\" and <html> & \\ backslash", strings.Repeat("long text ", 3000)}
	recs := []agileplus.Record{{Type: agileplus.RecProject, Key: "SP", Name: "Spool"}}
	for f := range 3 {
		recs = append(recs, agileplus.Record{Type: agileplus.RecFeature, Project: "SP", Slug: fmt.Sprintf("f%d", f), Title: fmt.Sprintf("Feature %d", f),
			Description: descs[f%len(descs)], State: agileplus.FeatureCreated})
	}
	for i := 1; i <= 40; i++ {
		est := float64(i%5 + 1)
		recs = append(recs, agileplus.Record{Type: agileplus.RecWP, Key: fmt.Sprintf("SP-%d", i), Feature: fmt.Sprintf("f%d", i%3), Title: fmt.Sprintf("WP %d", i),
			Description: descs[i%len(descs)], State: agileplus.WPPlanned, Estimate: &est})
		if i > 1 {
			recs = append(recs, agileplus.Record{Type: agileplus.RecDependency, From: fmt.Sprintf("SP-%d", i), To: fmt.Sprintf("SP-%d", i-1), Kind: agileplus.DependsOn})
		}
	}
	agileplus.SortRecords(recs)
	var canonical bytes.Buffer
	if err := agileplus.WriteRecords(&canonical, recs); err != nil {
		t.Fatal(err)
	}
	// The file in reverse order: the import sorts it.
	lines := strings.SplitAfter(strings.TrimSuffix(canonical.String(), "\n"), "\n")
	var reversed strings.Builder
	for i := len(lines) - 1; i >= 0; i-- {
		reversed.WriteString(strings.TrimSuffix(lines[i], "\n") + "\n")
	}

	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/v1/import", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	noTempFiles := func(when string) {
		t.Helper()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%s: %d file(s) left in the temporary directory, first %s", when, len(left), left[0].Name())
		}
	}

	// A bad record near the end refuses the whole file, descriptions read
	// or not.
	bad := reversed.String() + `{"type":"wp","key":"SP-99","feature":"nope","title":"x","description":"d"}` + "\n"
	if code, body := post(bad); code != 409 || !strings.Contains(body, `no feature \"nope\"`) {
		t.Fatalf("bad file: got %d %s, want 409 naming the feature", code, body)
	}
	if n, _ := store.PendingCount(context.Background()); n != 0 {
		t.Fatalf("got %d events after a refused import, want 0", n)
	}
	noTempFiles("after a refused import")

	code, body := post(reversed.String())
	if code != 200 || !strings.Contains(body, `"wp":40`) || !strings.Contains(body, `"dependency":39`) {
		t.Fatalf("import: got %d %s, want 40 WPs and 39 dependencies created", code, body)
	}
	noTempFiles("after an import")
	resp, err := http.Get(srv.URL + "/v1/export")
	if err != nil {
		t.Fatal(err)
	}
	exported, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(exported, canonical.Bytes()) {
		t.Errorf("export differs from the imported file:\n got %.400s\nwant %.400s", exported, canonical.Bytes())
	}
	code, body = post(canonical.String())
	if code != 200 || strings.Contains(body, `"created":{"`) && !strings.Contains(body, `"created":{}`) || !strings.Contains(body, `"wp":40`) {
		t.Errorf("import again: got %d %s, want everything unchanged", code, body)
	}
	// A description changed in the file contradicts the stored one.
	changed := strings.Replace(canonical.String(), `"description":"plain"`, `"description":"plain!"`, 1)
	if code, body := post(changed); code != 409 || !strings.Contains(body, "exists with other content") {
		t.Errorf("changed description: got %d %s, want 409", code, body)
	}
	noTempFiles("at the end")
}
