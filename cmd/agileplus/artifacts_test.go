package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/s3test"
)

// s3Env points serve at a real S3 server's bucket.
func s3Env(s *s3test.Server, bucket string, create bool) map[string]string {
	env := map[string]string{"S3_ENDPOINT": s.Endpoint, "S3_ACCESS_KEY": s.AccessKey, "S3_SECRET_KEY": s.SecretKey, "S3_BUCKET": bucket}
	if create {
		env["S3_CREATE_BUCKET"] = "true"
	}
	return env
}

func mustStatus(t *testing.T, resp *http.Response, err error, want int) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, want)
	}
	return b
}

// roundTripArtifact uploads 3 MiB onto a new WP through the API and reads
// it back whole and in part; it returns the artifact.
func roundTripArtifact(t *testing.T, url string) *agileplus.Artifact {
	t.Helper()
	for _, c := range [][2]string{{"/v1/projects", `{"key":"ART","name":"Artifacts"}`}, {"/v1/projects/ART/features", `{"slug":"files","title":"Files"}`},
		{"/v1/features/files/wps", `{"title":"Build"}`}} {
		resp, err := http.Post(url+c[0], "application/json", strings.NewReader(c[1]))
		mustStatus(t, resp, err, 201)
	}
	body := make([]byte, 3<<20+17)
	rand.Read(body)
	sum := sha256.Sum256(body)
	req, _ := http.NewRequest("POST", url+"/v1/wps/ART-1/artifacts?name=build.tar", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set("X-Checksum-Sha256", hex.EncodeToString(sum[:]))
	resp, err := http.DefaultClient.Do(req)
	var a agileplus.Artifact
	if err := json.Unmarshal(mustStatus(t, resp, err, 201), &a); err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(body)) || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %+v, want %d bytes with sha256 %x", a, len(body), sum)
	}
	resp, err = http.Get(url + "/v1/artifacts/" + a.ID)
	if got := mustStatus(t, resp, err, 200); string(got) != string(body) {
		t.Fatalf("download: got %d bytes that differ from the %d uploaded", len(got), len(body))
	}
	req, _ = http.NewRequest("GET", url+"/v1/artifacts/"+a.ID, nil)
	req.Header.Set("Range", "bytes=1048576-1048675")
	resp, err = http.DefaultClient.Do(req)
	if got := mustStatus(t, resp, err, 206); string(got) != string(body[1<<20:1<<20+100]) {
		t.Fatalf("range: got %d bytes that differ", len(got))
	}
	resp, err = http.Get(url + "/ready")
	if got := mustStatus(t, resp, err, 200); !strings.Contains(string(got), `"blobs"`) {
		t.Errorf("/ready: got %s, want a blobs check", got)
	}
	return &a
}

func TestServeArtifactsInDataDir(t *testing.T) {
	data := t.TempDir()
	url := startTestServerIn(t, data)
	a := roundTripArtifact(t, url)
	if _, err := os.Stat(filepath.Join(data, "blobs", "data", "artifacts~", a.ID)); err != nil {
		t.Errorf("the artifact is not under DATA/blobs: %v", err)
	}
}

func TestServeArtifactsOnS3(t *testing.T) {
	s3 := s3test.Start(t)
	url := startTestServerEnv(t, t.TempDir(), s3Env(s3, "artifacts", true), "--artifact-max-size", "4MiB")
	a := roundTripArtifact(t, url)
	if _, err := os.Stat(filepath.Join(s3.Dir, "artifacts", "artifacts", a.ID)); err != nil {
		t.Errorf("the artifact is not in the bucket: %v", err)
	}
	req, _ := http.NewRequest("POST", url+"/v1/wps/ART-1/artifacts?name=big", strings.NewReader(strings.Repeat("x", 4<<20+1)))
	resp, err := http.DefaultClient.Do(req)
	mustStatus(t, resp, err, 413)
}

func TestServeRefusesBadS3Configuration(t *testing.T) {
	s3 := s3test.Start(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bucket without endpoint", map[string]string{"S3_BUCKET": "b"}, "S3_BUCKET is set but S3_ENDPOINT is not"},
		{"bad endpoint", map[string]string{"S3_ENDPOINT": "ftp://x", "S3_BUCKET": "b", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_ENDPOINT"},
		{"no bucket", map[string]string{"S3_ENDPOINT": s3.Endpoint, "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_BUCKET"},
		{"bad boolean", map[string]string{"S3_ENDPOINT": s3.Endpoint, "S3_BUCKET": "b", "S3_CREATE_BUCKET": "maybe"}, "S3_CREATE_BUCKET"},
		{"missing bucket", s3Env(s3, "missing", false), "missing"},
		{"wrong secret", map[string]string{"S3_ENDPOINT": s3.Endpoint, "S3_ACCESS_KEY": s3.AccessKey, "S3_SECRET_KEY": "wrong", "S3_BUCKET": "b", "S3_CREATE_BUCKET": "true"}, "S3"},
		{"artifact limit", map[string]string{"AGILEPLUS_ARTIFACT_MAX_SIZE": "lots"}, "--artifact-max-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, errUsage) || exitCode(err) != 2 {
				t.Errorf("exit code %d for %v, want 2", exitCode(err), err)
			}
		})
	}
}

func TestArtifactCLI(t *testing.T) {
	url := startTestServer(t)
	for _, args := range [][]string{{"project", "create", "CLI", "--name", "CLI"}, {"feature", "create", "CLI", "docs", "--title", "Docs"}, {"wp", "create", "docs", "--title", "Write"}} {
		if _, stderr, err := runCLI(t, url, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "report.html")
	content := strings.Repeat("<p>evidence</p>\n", 1000)
	if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, url, "--json", "artifact", "put", "--wp", "CLI-1", src, "--label", "evidence")
	if err != nil {
		t.Fatalf("put: %v %s", err, stderr)
	}
	var a agileplus.Artifact
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("put --json: %v: %s", err, out)
	}
	if a.Name != "report.html" || a.ContentType != "text/html; charset=utf-8" || a.Size != int64(len(content)) {
		t.Errorf("got %+v, want report.html, text/html, %d bytes", a, len(content))
	}
	got := filepath.Join(dir, "copy.html")
	if _, stderr, err := runCLI(t, url, "artifact", "get", a.ID, "-o", got); err != nil {
		t.Fatalf("get: %v %s", err, stderr)
	}
	if b, err := os.ReadFile(got); err != nil || string(b) != content {
		t.Fatalf("get wrote %d bytes (%v), want the %d uploaded", len(b), err, len(content))
	}
	if out, _, err := runCLI(t, url, "artifact", "ls", "--wp", "CLI-1"); err != nil || !strings.Contains(out, a.ID) {
		t.Errorf("ls: got %q (%v), want %s", out, err, a.ID)
	}
	if _, _, err := runCLI(t, url, "artifact", "rm", a.ID); err != nil {
		t.Fatalf("rm: %v", err)
	}
	if out, _, _ := runCLI(t, url, "artifact", "ls", "--wp", "CLI-1"); strings.Contains(out, a.ID) {
		t.Errorf("ls after rm: got %q, want no %s", out, a.ID)
	}
	if _, _, err := runCLI(t, url, "artifact", "get", a.ID); err == nil {
		t.Error("get of a deleted artifact: got no error")
	}
	if _, _, err := runCLI(t, url, "artifact", "restore", a.ID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if out, _, err := runCLI(t, url, "artifact", "get", a.ID); err != nil || out != content {
		t.Errorf("get after restore: %d bytes (%v)", len(out), err)
	}
	_, _, err = runCLI(t, url, "artifact", "put", "--wp", "CLI-1", "--feature", "docs", src)
	if !errors.Is(err, errUsage) {
		t.Errorf("put with both owners: got %v, want a usage error", err)
	}
	_, _, err = runCLI(t, url, "artifact", "put", "--wp", "CLI-1", src, "--name", "a/b")
	if err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("put with a slash in the name: got %v, want an error naming --name", err)
	}
}
