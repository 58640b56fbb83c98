package agileplus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// BlobStore keeps the bytes of artifacts (specs, plans, evidence, build
// outputs, exports, backups) by key. The embedded default is a directory
// under the data directory; S3_ENDPOINT names an S3-compatible server
// (MinIO, or any other) instead. Keys are made by the platform from ids,
// never taken from user input as they are (BlobKey checks them).
//
// A blob is all or nothing: Put makes the object visible only once every
// byte arrived and matched what the caller said (size, SHA-256); a failed
// Put, a client gone mid-upload or a wrong checksum leaves nothing behind
// under the key (an earlier object under it stays as it was).
type BlobStore interface {
	// Put streams r into the object key without holding it in memory and
	// reports its size and SHA-256.
	Put(ctx context.Context, key string, r io.Reader, o BlobPut) (*BlobInfo, error)
	// Get opens the object, or the byte range rng of it when rng is not
	// nil; the caller closes it.
	Get(ctx context.Context, key string, rng *BlobRange) (io.ReadCloser, *BlobInfo, error)
	// Stat describes the object.
	Stat(ctx context.Context, key string) (*BlobInfo, error)
	// Delete removes the object; deleting what is not there is no error.
	Delete(ctx context.Context, key string) error
	// List pages through the objects whose keys start with prefix, in key
	// order, after the key after.
	List(ctx context.Context, prefix, after string, limit int) ([]*BlobInfo, error)
	// Ping reports whether the store answers (for /ready).
	Ping(ctx context.Context) error
}

// BlobPut is what a caller says of an object it stores.
type BlobPut struct {
	ContentType string
	// Metadata is kept with the object: at most 16 pairs, keys of
	// lower-case letters, digits and '-', values of printable ASCII;
	// 2 KiB in all.
	Metadata map[string]string
	// Size is the number of bytes r holds, -1 when unknown; a body that
	// ends early or runs past it is refused.
	Size int64
	// MaxSize refuses a body larger than it (0: no limit).
	MaxSize int64
	// SHA256, if set (64 hex digits), must be the body's digest.
	SHA256 string
}

// BlobInfo describes a stored object.
type BlobInfo struct {
	Key         string
	Size        int64
	ContentType string
	Metadata    map[string]string
	// ETag identifies the content for HTTP caching; it changes when the
	// object is replaced.
	ETag    string
	ModTime time.Time
	// SHA256 is the body's digest (hex) as Put computed it; stores that
	// cannot keep it leave it empty in Stat and List.
	SHA256 string
}

// BlobRange is a byte range of an object: from Start, Length bytes, or
// to the end when Length is -1.
type BlobRange struct {
	Start, Length int64
}

// MaxBlobKey is the longest key a BlobStore takes, in bytes.
const MaxBlobKey = 512

// BlobKey checks an object key: 1 to MaxBlobKey bytes of lower-case
// letters, digits and . _ - /, no empty, "." or ".." segment, not starting
// or ending with '/'. Every store takes such keys as they are, but for
// one thing: a key may not be a whole-segment prefix of another ("a" and
// "a/b"), which MinIO and S3 servers on file systems refuse; the
// platform's keys never are.
func BlobKey(key string) error {
	if key == "" || len(key) > MaxBlobKey {
		return FieldErrorf("key", "a blob key is 1 to %d bytes, not %d", MaxBlobKey, len(key))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return FieldErrorf("key", "blob key %q has %q: only a-z, 0-9 and . _ - / are allowed", key, c)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return FieldErrorf("key", "blob key %q has an empty, . or .. segment", key)
		}
	}
	return nil
}

// Validate checks a BlobPut.
func (o *BlobPut) Validate() error {
	if o.Size < -1 {
		return FieldErrorf("size", "size must be -1 (unknown) or at least 0, not %d", o.Size)
	}
	if o.MaxSize < 0 {
		return FieldErrorf("max_size", "max_size must be 0 (none) or positive, not %d", o.MaxSize)
	}
	if o.MaxSize > 0 && o.Size > o.MaxSize {
		return FieldErrorf("size", "the body is %d bytes, over the limit of %d", o.Size, o.MaxSize)
	}
	if o.SHA256 != "" && !isLowerHex(o.SHA256, 64) {
		return FieldErrorf("sha256", "sha256 must be 64 lower-case hex digits")
	}
	if len(o.ContentType) > 255 || !printableASCII(o.ContentType) {
		return FieldErrorf("content_type", "content_type must be at most 255 printable ASCII characters")
	}
	if len(o.Metadata) > 16 {
		return FieldErrorf("metadata", "at most 16 metadata pairs, not %d", len(o.Metadata))
	}
	total := 0
	for k, v := range o.Metadata {
		total += len(k) + len(v)
		if k == "" || len(k) > 64 {
			return FieldErrorf("metadata", "metadata key %q must be 1 to 64 characters", k)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return FieldErrorf("metadata", "metadata key %q: only a-z, 0-9 and - are allowed", k)
			}
		}
		if !printableASCII(v) || !utf8.ValidString(v) {
			return FieldErrorf("metadata", "metadata %s: the value must be printable ASCII", k)
		}
	}
	if total > 2048 {
		return FieldErrorf("metadata", "metadata is %d bytes, over 2048", total)
	}
	return nil
}

// Check checks a range against an object of size bytes and returns where
// it ends (exclusive).
func (r *BlobRange) Check(size int64) (end int64, err error) {
	if r.Start < 0 || r.Length < -1 || r.Length == 0 {
		return 0, FieldErrorf("range", "a range starts at 0 or later and has a length of at least 1 (or -1: to the end)")
	}
	if r.Start >= size {
		return 0, &Error{Code: EINVALID, Field: "range", Message: fmt.Sprintf("range starts at %d, past the end of a %d-byte object", r.Start, size)}
	}
	end = size
	if r.Length != -1 && r.Start+r.Length < size {
		end = r.Start + r.Length
	}
	return end, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// BlobReader reads a Put's body for a store: it counts and hashes what
// passes and refuses, in place of the end of the body, one that breaks
// what BlobPut said (Size, MaxSize, SHA256) with an EINVALID error naming
// the field. A store that may stop reading at Size calls Finish to learn
// whether the body really ended there.
type BlobReader struct {
	r    io.Reader
	o    BlobPut
	h    hash.Hash
	n    int64
	done bool  // the body ended and was checked
	err  error // what the checks found
}

// NewBlobReader wraps r.
func NewBlobReader(r io.Reader, o BlobPut) *BlobReader {
	return &BlobReader{r: r, o: o, h: sha256.New()}
}

func (b *BlobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	switch {
	case b.o.MaxSize > 0 && b.n > b.o.MaxSize:
		b.err = FieldErrorf("size", "the body is over the limit of %d bytes", b.o.MaxSize)
	case b.o.Size >= 0 && b.n > b.o.Size:
		b.err = FieldErrorf("size", "the body runs past the %d bytes its size says", b.o.Size)
	case err == io.EOF:
		b.err = b.check()
		if b.err == nil {
			b.done = true
			return n, io.EOF
		}
	case err != nil:
		// Wrapped: an S3 client takes a bare io.ErrUnexpectedEOF for a
		// short last part, and would store a body a client broke off.
		b.err = fmt.Errorf("the body broke off after %d bytes: %w", b.n, err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, nil
}

// check is the end-of-body check.
func (b *BlobReader) check() error {
	if b.o.Size >= 0 && b.n != b.o.Size {
		return FieldErrorf("size", "the body ended after %d bytes, before the %d its size says", b.n, b.o.Size)
	}
	if b.o.SHA256 != "" && b.Sum() != b.o.SHA256 {
		return FieldErrorf("sha256", "the body's SHA-256 is %s, not %s", b.Sum(), b.o.SHA256)
	}
	return nil
}

// Finish reads what is left (nothing, for a body that ended where it
// said) and returns the checks' verdict.
func (b *BlobReader) Finish() error {
	if b.done || b.err != nil {
		return b.err
	}
	var one [1]byte
	for {
		_, err := b.Read(one[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Len is how many bytes were read so far; Sum their SHA-256 in hex.
func (b *BlobReader) Len() int64  { return b.n }
func (b *BlobReader) Sum() string { return hex.EncodeToString(b.h.Sum(nil)) }
