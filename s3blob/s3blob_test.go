package s3blob_test

import (
	"context"
	"fmt"
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
