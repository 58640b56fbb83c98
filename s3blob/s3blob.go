// Package s3blob keeps blobs in a bucket of an S3-compatible server
// (MinIO is the recommended one; anything that speaks the S3 API with
// multipart uploads works), through minio-go.
//
// A body up to PartSize is read whole and checked (size, digest, limit)
// before a single PUT sends it, with its SHA-256 kept as object metadata.
// A larger body, or one of unknown size, goes up as a multipart upload
// part by part, one part in memory at a time; the checks run as it is
// read, and a body that fails them, or a client gone mid-way, aborts the
// upload, which S3 never shows: the object under the key stays as it was.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/agileplus/agileplus"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultPartSize is the size of the parts of a multipart upload, and the
// largest body sent in one PUT. A multipart upload has at most 10,000
// parts, so with it an object is at most about 156 GiB.
const DefaultPartSize = 16 << 20

// Config is where the bucket is.
type Config struct {
	// Endpoint is the server's URL: http://127.0.0.1:9000, https://s3.example.com.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string // optional; us-east-1 when the server does not care
	// VirtualHost addresses the bucket as a host name
	// (bucket.s3.example.com) instead of a path (the default, what MinIO
	// and most self-hosted servers expect).
	VirtualHost bool
	// CreateBucket makes the bucket at Open when it does not exist.
	CreateBucket bool
	PartSize     int64 // default DefaultPartSize
	// Transport, if set, carries the requests (tests, custom TLS).
	Transport http.RoundTripper
}

// Store is a BlobStore in an S3 bucket.
type Store struct {
	c        *minio.Client
	bucket   string
	partSize int64
}

var _ agileplus.BlobStore = (*Store)(nil)

// Open connects and checks that the bucket is there (making it with
// CreateBucket), so that wrong credentials or a missing bucket stop the
// program at start with a message that says which.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("S3_ENDPOINT %q: want http:// or https:// and a host, such as http://127.0.0.1:9000", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3_BUCKET is not set")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("S3_ACCESS_KEY and S3_SECRET_KEY must both be set")
	}
	lookup := minio.BucketLookupPath
	if cfg.VirtualHost {
		lookup = minio.BucketLookupDNS
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s: %w", cfg.Endpoint, err)
	}
	s := &Store{c: c, bucket: cfg.Bucket, partSize: cfg.PartSize}
	if s.partSize <= 0 {
		s.partSize = DefaultPartSize
	}
	if s.partSize < 5<<20 {
		return nil, fmt.Errorf("S3 part size %d: S3 takes parts of at least 5 MiB", s.partSize)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 at %s, bucket %s: %s", cfg.Endpoint, cfg.Bucket, explain(err))
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("S3 at %s has no bucket %s (S3_BUCKET): create it, or let agileplus create it", cfg.Endpoint, cfg.Bucket)
		}
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("S3 at %s: create bucket %s: %s", cfg.Endpoint, cfg.Bucket, explain(err))
		}
	}
	return s, nil
}

// explain names what a failed S3 request says of the configuration.
func explain(err error) string {
	switch minio.ToErrorResponse(err).Code {
	case "InvalidAccessKeyId", "XAdminUserNotFound": // the latter: versitygw's
		return "the access key is unknown to the server (S3_ACCESS_KEY)"
	case "SignatureDoesNotMatch":
		return "the secret key does not match the access key (S3_SECRET_KEY)"
	case "AccessDenied":
		return "access denied for these credentials (S3_ACCESS_KEY)"
	}
	return err.Error()
}

const shaMeta = "Sha256" // user metadata: X-Amz-Meta-Sha256

// Put stores r under key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o agileplus.BlobPut) (*agileplus.BlobInfo, error) {
	if err := agileplus.BlobKey(key); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	body := agileplus.NewBlobReader(r, o)
	meta := map[string]string{}
	for k, v := range o.Metadata {
		meta[k] = v
	}
	opts := minio.PutObjectOptions{ContentType: o.ContentType, UserMetadata: meta, PartSize: uint64(s.partSize)}
	if o.Size >= 0 && o.Size <= s.partSize {
		// Small enough to check whole before it leaves: one PUT.
		buf, err := io.ReadAll(io.LimitReader(body, s.partSize+1))
		if err == nil {
			err = body.Finish()
		}
		if err != nil {
			return nil, err
		}
		meta[shaMeta] = body.Sum()
		if _, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(buf), int64(len(buf)), opts); err != nil {
			return nil, s.fail("put", key, err)
		}
	} else {
		// Of unknown length to minio-go: it reads part after part until
		// the body ends, which is where BlobReader checks it, and aborts
		// the upload on any error.
		if _, err := s.c.PutObject(ctx, s.bucket, key, body, -1, opts); err != nil {
			return nil, s.fail("put", key, err)
		}
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	info.SHA256 = body.Sum()
	return info, nil
}

// fail turns a minio error into the platform's.
func (s *Store) fail(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3blob: %s %s: %w", op, key, err)
	}
	if be := (*agileplus.Error)(nil); errors.As(err, &be) {
		return be
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		return agileplus.Errorf(agileplus.ENOTFOUND, "no blob %s", key)
	case "InvalidRange":
		return agileplus.FieldErrorf("range", "range not satisfiable for blob %s", key)
	}
	return &agileplus.Error{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf("S3 %s of blob %s: %s", op, key, explain(err))}
}

func (s *Store) info(key string, oi minio.ObjectInfo) *agileplus.BlobInfo {
	meta := map[string]string{}
	var sum string
	for k, v := range oi.UserMetadata {
		if strings.EqualFold(k, shaMeta) {
			sum = v
			continue
		}
		meta[strings.ToLower(k)] = v
	}
	if len(meta) == 0 {
		meta = nil
	}
	return &agileplus.BlobInfo{Key: key, Size: oi.Size, ContentType: oi.ContentType, Metadata: meta,
		ETag: `"` + strings.Trim(oi.ETag, `"`) + `"`, ModTime: oi.LastModified.UTC(), SHA256: sum}
}

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (*agileplus.BlobInfo, error) {
	if err := agileplus.BlobKey(key); err != nil {
		return nil, err
	}
	oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, s.fail("stat", key, err)
	}
	return s.info(key, oi), nil
}

// Get opens key, or a range of it.
func (s *Store) Get(ctx context.Context, key string, rng *agileplus.BlobRange) (io.ReadCloser, *agileplus.BlobInfo, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	opts := minio.GetObjectOptions{}
	// The object read is the one described: a replacement meanwhile fails
	// the read instead of mixing two.
	opts.SetMatchETag(strings.Trim(info.ETag, `"`))
	if rng != nil {
		end, err := rng.Check(info.Size)
		if err != nil {
			return nil, nil, err
		}
		if err := opts.SetRange(rng.Start, end-1); err != nil {
			return nil, nil, agileplus.FieldErrorf("range", "%v", err)
		}
	}
	obj, err := s.c.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, nil, s.fail("get", key, err)
	}
	// GetObject is lazy: the first read says whether it exists.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, nil, s.fail("get", key, err)
	}
	return obj, info, nil
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := agileplus.BlobKey(key); err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		return s.fail("delete", key, err)
	}
	return nil
}

// List pages through the keys under prefix after after. What it lists
// carries key, size, ETag and time; Stat gives the rest.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]*agileplus.BlobInfo, error) {
	if limit <= 0 {
		return nil, agileplus.FieldErrorf("limit", "limit must be positive, not %d", limit)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []*agileplus.BlobInfo
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, StartAfter: after, Recursive: true, WithMetadata: false}) {
		if oi.Err != nil {
			return nil, s.fail("list", prefix, oi.Err)
		}
		if oi.Key <= after {
			continue
		}
		out = append(out, s.info(oi.Key, oi))
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Ping checks that the bucket answers.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.c.BucketExists(ctx, s.bucket); err != nil {
		return &agileplus.Error{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf("S3 bucket %s: %s", s.bucket, explain(err))}
	}
	return nil
}
