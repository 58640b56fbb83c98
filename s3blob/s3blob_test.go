package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/internal/blobtest"
	"github.com/agileplus/agileplus/internal/s3test"
	"github.com/agileplus/agileplus/s3blob"
)

const partSize = 5 << 20 // S3's smallest: the large cases cross parts

func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real S3 server; make test runs it")
	}
	srv := s3test.Start(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) agileplus.BlobStore {
		s, err := s3blob.Open(context.Background(), s3blob.Config{
			Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			Bucket: fmt.Sprintf("contract-%d", n.Add(1)), CreateBucket: true, PartSize: partSize,
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, srv.Log())
		}
		return s
	}, partSize)
}

// Open says which setting is wrong: a missing bucket, unknown
// credentials, a wrong secret, a bad endpoint.
func TestOpenNamesWhatIsWrong(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real S3 server; make test runs it")
	}
	srv := s3test.Start(t)
	ctx := context.Background()
	ok := s3blob.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Bucket: "named"}
	for name, c := range map[string]struct {
		mutate func(*s3blob.Config)
		want   string
	}{
		"missing bucket": {func(c *s3blob.Config) {}, "has no bucket named (S3_BUCKET)"},
		"unknown key":    {func(c *s3blob.Config) { c.AccessKey = "nobody" }, "S3_ACCESS_KEY"},
		"wrong secret":   {func(c *s3blob.Config) { c.SecretKey = "wrong-secret-key" }, "S3_SECRET_KEY"},
		"bad endpoint":   {func(c *s3blob.Config) { c.Endpoint = "127.0.0.1:9000" }, "S3_ENDPOINT"},
		"no bucket name": {func(c *s3blob.Config) { c.Bucket = "" }, "S3_BUCKET is not set"},
		"small parts":    {func(c *s3blob.Config) { c.PartSize = 1 << 20 }, "at least 5 MiB"},
	} {
		cfg := ok
		c.mutate(&cfg)
		if _, err := s3blob.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, c.want)
		}
	}
	ok.CreateBucket = true
	if _, err := s3blob.Open(ctx, ok); err != nil {
		t.Fatalf("with CreateBucket: %v", err)
	}
}

// The S3 server killed in the middle of an upload: the Put fails with an
// error, and once the server is back nothing is visible under the key and
// the same Put succeeds.
func TestServerKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real S3 server; make test runs it")
	}
	srv := s3test.Start(t)
	ctx := context.Background()
	s, err := s3blob.Open(ctx, s3blob.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Bucket: "crash", CreateBucket: true, PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 3*partSize)
	rand.Read(body)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "crash/big", pr, agileplus.BlobPut{Size: -1})
		done <- err
	}()
	// A part and a half in, the server dies.
	if _, err := pw.Write(body[:partSize+partSize/2]); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)
	go func() { pw.Write(body[partSize+partSize/2:]); pw.Close() }()
	if err := <-done; err == nil {
		t.Fatal("the put succeeded although the server died during it")
	}
	pr.Close()
	srv.Restart(t)
	_, err = s.Stat(ctx, "crash/big")
	if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
		t.Fatalf("after the crash: stat = %v, want not found", err)
	}
	info, err := s.Put(ctx, "crash/big", bytes.NewReader(body), agileplus.BlobPut{Size: int64(len(body))})
	if err != nil {
		t.Fatalf("the retry: %v\n%s", err, srv.Log())
	}
	if info.Size != int64(len(body)) {
		t.Fatalf("the retry stored %d bytes, want %d", info.Size, len(body))
	}
}
