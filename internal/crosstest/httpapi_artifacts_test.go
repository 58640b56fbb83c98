package crosstest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/localblob"
	"github.com/agileplus/agileplus/sqlitestore"
)

// newArtifactAPI serves the API with artifacts (a directory blob store,
// a 1 KiB limit) over SQLite, with WP CORE-1 in feature f1.
func newArtifactAPI(t *testing.T) (*httptest.Server, agileplus.BlobStore) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := localblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := agileplus.NewService(store)
	api := httpapi.NewServer(svc, nil, nil, "test")
	api.Artifacts = &agileplus.ArtifactService{Svc: svc, Blobs: blobs, MaxSize: 1024}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for _, c := range [][3]string{
		{"POST", "/v1/projects", `{"key":"CORE","name":"Core"}`},
		{"POST", "/v1/projects/CORE/features", `{"slug":"f1","title":"F1"}`},
		{"POST", "/v1/features/f1/wps", `{"title":"W1"}`},
	} {
		if code, eb, _ := do(t, srv, c[0], c[1], c[2]); code != 201 {
			t.Fatalf("%s %s: %d %+v", c[0], c[1], code, eb.Error)
		}
	}
	return srv, blobs
}

// send makes a raw request and returns the response, its body read.
func send(t *testing.T, method, u string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func upload(t *testing.T, srv *httptest.Server, owner, name string, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return send(t, "POST", srv.URL+owner+"/artifacts?name="+url.QueryEscape(name), strings.NewReader(body), hdr...)
}

func TestArtifactsOverHTTP(t *testing.T) {
	srv, blobs := newArtifactAPI(t)
	body := "hello, artifacts\n"
	sum := sha256.Sum256([]byte(body))
	hexSum := hex.EncodeToString(sum[:])

	resp, raw := upload(t, srv, "/v1/wps/CORE-1", "notes.txt", body, "Content-Type", "text/plain", "X-Checksum-Sha256", hexSum)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: got %d %s, want 201", resp.StatusCode, raw)
	}
	var a agileplus.Artifact
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "notes.txt" || a.ContentType != "text/plain" || a.Size != int64(len(body)) || a.SHA256 != hexSum || a.OwnerKind != "wp" {
		t.Fatalf("got artifact %+v, want notes.txt, text/plain, %d bytes, sha256 %s", a, len(body), hexSum)
	}
	if got := resp.Header.Get("Location"); got != "/v1/artifacts/"+a.ID {
		t.Errorf("got Location %q", got)
	}

	t.Run("Download", func(t *testing.T) {
		resp, got := send(t, "GET", srv.URL+"/v1/artifacts/"+a.ID, nil)
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, body)
		}
		if et := resp.Header.Get("ETag"); et != `"`+hexSum+`"` {
			t.Errorf("got ETag %s, want the SHA-256 quoted", et)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("got Content-Type %q, want text/plain", ct)
		}
		resp, got = send(t, "GET", srv.URL+"/v1/artifacts/"+a.ID, nil, "If-None-Match", `"`+hexSum+`"`)
		if resp.StatusCode != 304 || len(got) != 0 {
			t.Errorf("If-None-Match: got %d %q, want 304 and no body", resp.StatusCode, got)
		}
		resp, got = send(t, "GET", srv.URL+"/v1/artifacts/"+a.ID, nil, "Range", "bytes=7-15")
		if resp.StatusCode != 206 || string(got) != "artifacts" {
			t.Errorf("Range: got %d %q, want 206 \"artifacts\"", resp.StatusCode, got)
		}
		if cr := resp.Header.Get("Content-Range"); cr != "bytes 7-15/17" {
			t.Errorf("got Content-Range %q", cr)
		}
		resp, got = send(t, "GET", srv.URL+"/v1/artifacts/"+a.ID, nil, "Range", "bytes=100-")
		var eb httpapi.ErrorBody
		if err := json.Unmarshal(got, &eb); resp.StatusCode != 416 || err != nil || eb.Error.Field != "Range" ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Range") != "bytes */17" {
			t.Errorf("range past the end: got %d %s %q, Content-Range %q; want 416, a JSON error naming Range and bytes */17",
				resp.StatusCode, resp.Header.Get("Content-Type"), got, resp.Header.Get("Content-Range"))
		}
		resp, got = send(t, "HEAD", srv.URL+"/v1/artifacts/"+a.ID, nil)
		if resp.StatusCode != 200 || len(got) != 0 || resp.ContentLength != int64(len(body)) {
			t.Errorf("HEAD: got %d, length %d, body %q", resp.StatusCode, resp.ContentLength, got)
		}
		code, eb, _ := do(t, srv, "GET", "/v1/artifacts/art_00000000000000000000000000", "")
		if code != 404 || eb.Error.Field != "artifact" {
			t.Errorf("unknown artifact: got %d %+v, want 404 naming artifact", code, eb.Error)
		}
	})

	t.Run("BadUploads", func(t *testing.T) {
		before, err := blobs.List(context.Background(), "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		other := sha256.Sum256([]byte("other"))
		cases := []struct {
			name, owner, file, body string
			hdr                     []string
			status                  int
			field                   string
		}{
			{"slash in the name", "/v1/wps/CORE-1", "a/b", "x", nil, 400, "name"},
			{"dot dot", "/v1/wps/CORE-1", "..", "x", nil, 400, "name"},
			{"control character", "/v1/wps/CORE-1", "a\tb", "x", nil, 400, "name"},
			{"long name", "/v1/wps/CORE-1", strings.Repeat("n", 256), "x", nil, 400, "name"},
			{"missing WP", "/v1/wps/CORE-9", "a", "x", nil, 404, "wp"},
			{"missing feature", "/v1/features/nope", "a", "x", nil, 404, "feature"},
			{"over the limit", "/v1/wps/CORE-1", "a", strings.Repeat("x", 1025), nil, 413, "size"},
			{"wrong checksum", "/v1/wps/CORE-1", "a", "x", []string{"X-Checksum-Sha256", hex.EncodeToString(other[:])}, 400, "sha256"},
			{"wrong digest", "/v1/wps/CORE-1", "a", "x", []string{"Digest", "sha-256=" + base64.StdEncoding.EncodeToString(other[:])}, 400, "sha256"},
			{"malformed checksum", "/v1/wps/CORE-1", "a", "x", []string{"X-Checksum-Sha256", "nope"}, 400, "X-Checksum-Sha256"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, raw := upload(t, srv, c.owner, c.file, c.body, c.hdr...)
				var eb httpapi.ErrorBody
				json.Unmarshal(raw, &eb)
				if resp.StatusCode != c.status || eb.Error.Field != c.field {
					t.Errorf("got %d %s, want %d naming %s", resp.StatusCode, raw, c.status, c.field)
				}
			})
		}
		after, err := blobs.List(context.Background(), "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("got %d blobs after refused uploads, want %d", len(after), len(before))
		}
		code, _, raw := do(t, srv, "GET", "/v1/wps/CORE-1/artifacts", "")
		var l httpapi.List[*agileplus.Artifact]
		json.Unmarshal(raw, &l)
		if code != 200 || len(l.Items) != 1 {
			t.Errorf("got %d %s, want the one artifact", code, raw)
		}
	})

	t.Run("ListDeleteRestore", func(t *testing.T) {
		for _, n := range []string{"log-1", "log-2", "other"} {
			if resp, raw := upload(t, srv, "/v1/features/f1", n, n); resp.StatusCode != 201 {
				t.Fatalf("upload %s: %d %s", n, resp.StatusCode, raw)
			}
		}
		code, _, raw := do(t, srv, "GET", "/v1/features/f1/artifacts?prefix=log-&limit=1", "")
		var l httpapi.List[*agileplus.Artifact]
		json.Unmarshal(raw, &l)
		if code != 200 || len(l.Items) != 1 || l.Items[0].Name != "log-1" || l.Next == "" {
			t.Fatalf("got %d %s, want log-1 and a next cursor", code, raw)
		}
		_, _, raw = do(t, srv, "GET", "/v1/features/f1/artifacts?prefix=log-&after="+l.Next, "")
		l = httpapi.List[*agileplus.Artifact]{}
		json.Unmarshal(raw, &l)
		if len(l.Items) != 1 || l.Items[0].Name != "log-2" {
			t.Fatalf("got %s, want log-2", raw)
		}

		if code, eb, _ := do(t, srv, "DELETE", "/v1/artifacts/"+a.ID, ""); code != 200 {
			t.Fatalf("delete: %d %+v", code, eb.Error)
		}
		if code, _, _ := do(t, srv, "GET", "/v1/artifacts/"+a.ID, ""); code != 404 {
			t.Errorf("download of a deleted artifact: got %d, want 404", code)
		}
		_, _, raw = do(t, srv, "GET", "/v1/artifacts/"+a.ID+"/meta", "")
		var d agileplus.Artifact
		json.Unmarshal(raw, &d)
		if d.DeletedAt == nil {
			t.Errorf("got %s, want deleted_at", raw)
		}
		if code, eb, _ := do(t, srv, "POST", "/v1/artifacts/"+a.ID+"/restore", ""); code != 200 {
			t.Fatalf("restore: %d %+v", code, eb.Error)
		}
		if resp, got := send(t, "GET", srv.URL+"/v1/artifacts/"+a.ID, nil); resp.StatusCode != 200 || string(got) != body {
			t.Errorf("after restore: got %d %q", resp.StatusCode, got)
		}
	})
}

func TestArtifactsFollowKeys(t *testing.T) {
	api := newAuthAPI(t)
	blobs, err := localblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Read per request: set before the first one.
	api.api.Artifacts = &agileplus.ArtifactService{Svc: api.svc, Blobs: blobs}
	ctx := agileplus.WithActor(context.Background(), "setup")
	for _, p := range []string{"CORE", "WEB"} {
		if _, err := api.svc.CreateFeature(ctx, p, agileplus.FeatureCreate{Slug: strings.ToLower(p) + "-f", Title: "F"}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.svc.CreateWP(ctx, strings.ToLower(p)+"-f", agileplus.WPCreate{Title: "W"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		key, wp string
		status  int
	}{
		{"reader", "CORE-1", 403},
		{"limited", "WEB-1", 403},
		{"limited", "CORE-1", 201},
		{"writer", "WEB-1", 201},
	} {
		resp, raw := upload(t, api.srv, "/v1/wps/"+c.wp, "a.txt", "x", bearer(api.tokens[c.key])...)
		if resp.StatusCode != c.status {
			t.Errorf("%s uploads to %s: got %d %s, want %d", c.key, c.wp, resp.StatusCode, raw, c.status)
		}
	}
}
