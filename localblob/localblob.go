// Package localblob keeps blobs in a directory: the embedded default of
// agileplus.BlobStore, under the data directory. An object is two files:
// its bytes under data/ and a small JSON description under meta/, both at
// the object's key. A Put writes the bytes to a temporary file, hashing
// them on the way, syncs it, and renames it into place only when it is
// whole and matches what the caller said; the description is written the
// same way, and it is what makes the object exist, so a crash between the
// two renames leaves bytes nobody sees, which Open sweeps away.
package localblob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
)

// Store is a BlobStore in a directory.
type Store struct {
	root string
}

var _ agileplus.BlobStore = (*Store)(nil)

// meta is an object's description on disk.
type meta struct {
	Size        int64             `json:"size"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	ModTime     time.Time         `json:"mod_time"`
}

// Open uses dir (made when missing), clearing what an interrupted Put
// left: temporary files and bytes without a description.
func Open(dir string) (*Store, error) {
	s := &Store{root: dir}
	for _, d := range []string{"data", "meta", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("localblob: %w", err)
		}
	}
	if err := s.sweep(); err != nil {
		return nil, fmt.Errorf("localblob: clear what an interrupted write left: %w", err)
	}
	return s, nil
}

func (s *Store) sweep() error {
	tmps, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return err
	}
	for _, e := range tmps {
		os.Remove(filepath.Join(s.root, "tmp", e.Name()))
	}
	data := filepath.Join(s.root, "data")
	return filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, path)
		if _, err := os.Stat(filepath.Join(s.root, "meta", rel)); errors.Is(err, fs.ErrNotExist) {
			return os.Remove(path)
		}
		return nil
	})
}

func (s *Store) dataPath(key string) string { return filepath.Join(s.root, "data", keyPath(key)) }
func (s *Store) metaPath(key string) string { return filepath.Join(s.root, "meta", keyPath(key)) }

// keyPath is where key lives under data/ and meta/: its last segment a
// file, the others directories named with a '~' after them, which no key
// holds, so that "a" and "a/b" are both objects, as on S3.
func keyPath(key string) string {
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += dirMark
	}
	return filepath.Join(segs...)
}

const dirMark = "~"

// pathKey is keyPath's inverse, for a path relative to data/ or meta/.
func pathKey(rel string) string {
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i := range segs[:len(segs)-1] {
		segs[i] = strings.TrimSuffix(segs[i], dirMark)
	}
	return strings.Join(segs, "/")
}

// Put stores r under key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o agileplus.BlobPut) (*agileplus.BlobInfo, error) {
	if err := agileplus.BlobKey(key); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := s.parentsFor(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "put-*")
	if err != nil {
		return nil, unavailable(err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed
	body := agileplus.NewBlobReader(r, o)
	_, err = io.Copy(tmp, ctxReader{ctx, body})
	if err == nil {
		err = body.Finish()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	m := meta{Size: body.Len(), SHA256: body.Sum(), ContentType: o.ContentType, Metadata: o.Metadata, ModTime: time.Now().UTC()}
	mtmp, err := writeTemp(filepath.Join(s.root, "tmp"), m)
	if err != nil {
		return nil, unavailable(err)
	}
	defer os.Remove(mtmp)
	// The bytes first: until the description follows, a reader sees the
	// object as it was (or none), never new bytes with an old description
	// for long; Get checks the size it reads against the description.
	if err := os.Rename(tmp.Name(), s.dataPath(key)); err != nil {
		return nil, unavailable(err)
	}
	if err := os.Rename(mtmp, s.metaPath(key)); err != nil {
		return nil, unavailable(err)
	}
	syncDir(filepath.Dir(s.dataPath(key)))
	syncDir(filepath.Dir(s.metaPath(key)))
	return m.info(key), nil
}

// parentsFor makes the directories key's files go in.
func (s *Store) parentsFor(key string) error {
	for _, p := range []string{s.dataPath(key), s.metaPath(key)} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

func writeTemp(dir string, m meta) (string, error) {
	f, err := os.CreateTemp(dir, "meta-*")
	if err != nil {
		return "", err
	}
	err = json.NewEncoder(f).Encode(m)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func (m meta) info(key string) *agileplus.BlobInfo {
	return &agileplus.BlobInfo{Key: key, Size: m.Size, SHA256: m.SHA256, ContentType: m.ContentType, Metadata: m.Metadata,
		ModTime: m.ModTime, ETag: `"` + m.SHA256 + `"`}
}

func (s *Store) readMeta(key string) (*meta, error) {
	b, err := os.ReadFile(s.metaPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, agileplus.Errorf(agileplus.ENOTFOUND, "no blob %s", key)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, agileplus.Errorf(agileplus.EINTERNAL, "blob %s: unreadable description: %v", key, err)
	}
	return &m, nil
}

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (*agileplus.BlobInfo, error) {
	if err := agileplus.BlobKey(key); err != nil {
		return nil, err
	}
	m, err := s.readMeta(key)
	if err != nil {
		return nil, err
	}
	return m.info(key), nil
}

// Get opens key, or a range of it.
func (s *Store) Get(ctx context.Context, key string, rng *agileplus.BlobRange) (io.ReadCloser, *agileplus.BlobInfo, error) {
	if err := agileplus.BlobKey(key); err != nil {
		return nil, nil, err
	}
	m, err := s.readMeta(key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(s.dataPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, agileplus.Errorf(agileplus.ENOTFOUND, "no blob %s", key)
	} else if err != nil {
		return nil, nil, unavailable(err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != m.Size {
		// Replaced between the two reads: read again.
		f.Close()
		return s.Get(ctx, key, rng)
	}
	if rng == nil {
		return f, m.info(key), nil
	}
	end, err := rng.Check(m.Size)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, rng.Start, end-rng.Start), f}, m.info(key), nil
}

// Delete removes key: its description first, so that it is gone at once.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := agileplus.BlobKey(key); err != nil {
		return err
	}
	if err := os.Remove(s.metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unavailable(err)
	}
	if err := os.Remove(s.dataPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unavailable(err)
	}
	return nil
}

// List pages through the keys under prefix after after.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]*agileplus.BlobInfo, error) {
	if limit <= 0 {
		return nil, agileplus.FieldErrorf("limit", "limit must be positive, not %d", limit)
	}
	metaRoot := filepath.Join(s.root, "meta")
	var keys []string
	err := filepath.WalkDir(metaRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(metaRoot, path)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			// Skip directories that cannot hold a key under prefix: the
			// keys in one start with under.
			under := strings.TrimSuffix(pathKey(filepath.Join(rel, "x")), "x")
			if !strings.HasPrefix(under, prefix) && !strings.HasPrefix(prefix, under) {
				return fs.SkipDir
			}
			return nil
		}
		if key := pathKey(rel); strings.HasPrefix(key, prefix) && key > after {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	// WalkDir goes in lexical order of names within each directory, which
	// is not the order of whole keys ("a/b" < "a-b" as names, not keys).
	slices.Sort(keys)
	var out []*agileplus.BlobInfo
	for _, k := range keys {
		if len(out) == limit {
			break
		}
		m, err := s.readMeta(k)
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, m.info(k))
	}
	return out, nil
}

// Ping checks that the directory is there and writable.
func (s *Store) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "ping-*")
	if err != nil {
		return unavailable(err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func unavailable(err error) error {
	return &agileplus.Error{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf("blob directory: %v", err)}
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
