package main

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/localblob"
	"github.com/agileplus/agileplus/s3blob"
)

// blobConfig says where artifacts' bytes go: a directory under the data
// directory, or an S3 bucket when S3_ENDPOINT is set.
type blobConfig struct {
	dir     string
	s3      *s3blob.Config
	maxSize int64 // the largest artifact, in bytes
}

// s3Vars are the variables that configure the S3 blob store.
var s3Vars = []string{"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "S3_REGION", "S3_VIRTUAL_HOST", "S3_CREATE_BUCKET"}

// blobConfigFrom reads the S3 variables; s3blob.Open checks the rest.
func blobConfigFrom(getenv func(string) string, dataDir, maxSize string) (blobConfig, error) {
	n, err := parseByteSize(maxSize)
	if err != nil || n <= 0 {
		return blobConfig{}, configErrorf("--artifact-max-size (env AGILEPLUS_ARTIFACT_MAX_SIZE) must be a positive size such as 5GiB, not %q", maxSize)
	}
	c := blobConfig{dir: filepath.Join(dataDir, "blobs"), maxSize: n}
	if getenv("S3_ENDPOINT") == "" {
		for _, v := range s3Vars[1:] {
			if getenv(v) != "" {
				return blobConfig{}, configErrorf("%s is set but S3_ENDPOINT is not: set S3_ENDPOINT to keep artifacts in S3, or unset %s to keep them in %s", v, v, c.dir)
			}
		}
		return c, nil
	}
	flag := func(name string) (bool, error) {
		v := getenv(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, configErrorf("%s=%q is not a boolean (true or false)", name, v)
		}
		return b, nil
	}
	vh, err := flag("S3_VIRTUAL_HOST")
	if err != nil {
		return blobConfig{}, err
	}
	create, err := flag("S3_CREATE_BUCKET")
	if err != nil {
		return blobConfig{}, err
	}
	c.s3 = &s3blob.Config{Endpoint: getenv("S3_ENDPOINT"), AccessKey: getenv("S3_ACCESS_KEY"), SecretKey: getenv("S3_SECRET_KEY"),
		Bucket: getenv("S3_BUCKET"), Region: getenv("S3_REGION"), VirtualHost: vh, CreateBucket: create}
	return c, nil
}

// openBlobs opens the blob store; a bucket or credentials that do not
// work are a configuration error (exit 2) naming what is wrong.
func openBlobs(ctx context.Context, c blobConfig) (agileplus.BlobStore, error) {
	if c.s3 == nil {
		return localblob.Open(c.dir)
	}
	s, err := s3blob.Open(ctx, *c.s3)
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	return s, nil
}
