// Package blobtest is the contract every agileplus.BlobStore keeps, run
// against each adapter with a real backend (a directory; a real S3
// server).
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/agileplus/agileplus"
)

// Run runs the contract; open returns an empty store for each case.
// partSize is the store's multipart part size (0 when it has none), so
// that the large cases cross it.
func Run(t *testing.T, open func(t *testing.T) agileplus.BlobStore, partSize int64) {
	big := int64(3 << 20)
	if partSize > 0 {
		big = 2*partSize + 12345
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, s agileplus.BlobStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"UnknownSizeAndLarge", func(t *testing.T, s agileplus.BlobStore) { testLarge(t, s, big) }},
		{"Ranges", testRanges},
		{"Replace", testReplace},
		{"FailedPutsLeaveNothing", func(t *testing.T, s agileplus.BlobStore) { testFailedPuts(t, s, big) }},
		{"BadInput", testBadInput},
		{"ListAndDelete", testListAndDelete},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func random(t *testing.T, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func put(t *testing.T, s agileplus.BlobStore, key string, b []byte, o agileplus.BlobPut) *agileplus.BlobInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(b), o)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

func get(t *testing.T, s agileplus.BlobStore, key string, rng *agileplus.BlobRange) []byte {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, rng)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func code(t *testing.T, what string, err error, want, field string) {
	t.Helper()
	var e *agileplus.Error
	if !errors.As(err, &e) || e.Code != want || (field != "" && e.Field != field) {
		t.Fatalf("%s: got %v, want %s (field %q)", what, err, want, field)
	}
}

func testRoundTrip(t *testing.T, s agileplus.BlobStore) {
	ctx := context.Background()
	for _, n := range []int64{0, 1, 100 << 10} {
		key := fmt.Sprintf("wp/wp_1/art_%d", n)
		b := random(t, n)
		o := agileplus.BlobPut{Size: n, ContentType: "application/octet-stream", Metadata: map[string]string{"name": "evidence.bin"}, SHA256: sum(b)}
		info := put(t, s, key, b, o)
		if info.Key != key || info.Size != n || info.SHA256 != sum(b) || info.ETag == "" {
			t.Fatalf("put %d bytes: got %+v", n, info)
		}
		if got := get(t, s, key, nil); !bytes.Equal(got, b) {
			t.Fatalf("get %d bytes: got %d bytes back, not the same", n, len(got))
		}
		st, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != n || st.ContentType != "application/octet-stream" || st.Metadata["name"] != "evidence.bin" || st.ETag != info.ETag {
			t.Errorf("stat: got %+v, want what put said (%+v)", st, info)
		}
		if st.SHA256 != "" && st.SHA256 != sum(b) {
			t.Errorf("stat: sha256 %s, want %s", st.SHA256, sum(b))
		}
	}
	_, err := s.Stat(ctx, "wp/none")
	code(t, "stat of a missing blob", err, agileplus.ENOTFOUND, "")
	_, _, err = s.Get(ctx, "wp/none", nil)
	code(t, "get of a missing blob", err, agileplus.ENOTFOUND, "")
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func testLarge(t *testing.T, s agileplus.BlobStore, n int64) {
	b := random(t, n)
	// Of unknown size, streamed from a reader that is not a bytes.Reader.
	info, err := s.Put(context.Background(), "big/one", io.MultiReader(bytes.NewReader(b[:n/3]), bytes.NewReader(b[n/3:])), agileplus.BlobPut{Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != n || info.SHA256 != sum(b) {
		t.Fatalf("got size %d sha %s, want %d %s", info.Size, info.SHA256, n, sum(b))
	}
	if got := get(t, s, "big/one", nil); !bytes.Equal(got, b) {
		t.Fatal("the large blob came back different")
	}
	// Known size, over a part.
	put(t, s, "big/two", b, agileplus.BlobPut{Size: n, SHA256: sum(b)})
	if got := get(t, s, "big/two", &agileplus.BlobRange{Start: n - 1000, Length: -1}); !bytes.Equal(got, b[n-1000:]) {
		t.Fatal("the large blob's tail came back different")
	}
}

func testRanges(t *testing.T, s agileplus.BlobStore) {
	b := random(t, 1000)
	put(t, s, "r/x", b, agileplus.BlobPut{Size: -1})
	for _, r := range []agileplus.BlobRange{{Start: 0, Length: 1}, {Start: 10, Length: 90}, {Start: 999, Length: 1}, {Start: 500, Length: -1}, {Start: 900, Length: 500}} {
		end := int64(len(b))
		if r.Length != -1 && r.Start+r.Length < end {
			end = r.Start + r.Length
		}
		if got := get(t, s, "r/x", &r); !bytes.Equal(got, b[r.Start:end]) {
			t.Errorf("range %+v: got %d bytes, want %d", r, len(got), end-r.Start)
		}
	}
	for _, r := range []agileplus.BlobRange{{Start: 1000, Length: 1}, {Start: -1, Length: 5}, {Start: 0, Length: 0}} {
		_, _, err := s.Get(context.Background(), "r/x", &r)
		code(t, fmt.Sprintf("range %+v", r), err, agileplus.EINVALID, "range")
	}
}

func testReplace(t *testing.T, s agileplus.BlobStore) {
	a, b := random(t, 300), random(t, 200)
	first := put(t, s, "x/y", a, agileplus.BlobPut{Size: -1})
	second := put(t, s, "x/y", b, agileplus.BlobPut{Size: 200})
	if first.ETag == second.ETag {
		t.Error("the ETag did not change with the content")
	}
	if got := get(t, s, "x/y", nil); !bytes.Equal(got, b) {
		t.Error("a replaced blob reads as the old one")
	}
}

// errAfter is a body that fails after n bytes: a client gone mid-upload.
type errAfter struct {
	r io.Reader
	n int64
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	return n, err
}

func testFailedPuts(t *testing.T, s agileplus.BlobStore, big int64) {
	ctx := context.Background()
	old := random(t, 100)
	put(t, s, "keep/it", old, agileplus.BlobPut{Size: -1})
	for _, n := range []int64{1000, big} {
		b := random(t, n)
		bad := []struct {
			name  string
			r     io.Reader
			o     agileplus.BlobPut
			field string
		}{
			{"wrong sha256", bytes.NewReader(b), agileplus.BlobPut{Size: n, SHA256: sum(old)}, "sha256"},
			{"wrong sha256, size unknown", bytes.NewReader(b), agileplus.BlobPut{Size: -1, SHA256: sum(old)}, "sha256"},
			{"shorter than its size", bytes.NewReader(b), agileplus.BlobPut{Size: n + 1}, "size"},
			{"longer than its size", bytes.NewReader(b), agileplus.BlobPut{Size: n - 1}, "size"},
			{"over the limit", bytes.NewReader(b), agileplus.BlobPut{Size: -1, MaxSize: n - 1}, "size"},
			{"client gone", &errAfter{bytes.NewReader(b), n / 2}, agileplus.BlobPut{Size: -1}, ""},
		}
		for _, c := range bad {
			for _, key := range []string{"keep/it", "new/one"} {
				_, err := s.Put(ctx, key, c.r, c.o)
				if err == nil {
					t.Fatalf("%d bytes, %s, onto %s: put succeeded", n, c.name, key)
				}
				if c.field != "" {
					code(t, fmt.Sprintf("%d bytes, %s", n, c.name), err, agileplus.EINVALID, c.field)
				}
				if seeker, ok := c.r.(io.Seeker); ok {
					seeker.Seek(0, io.SeekStart)
				} else {
					c.r = &errAfter{bytes.NewReader(b), n / 2}
				}
			}
			if got := get(t, s, "keep/it", nil); !bytes.Equal(got, old) {
				t.Fatalf("%d bytes, %s: the earlier blob changed", n, c.name)
			}
			_, err := s.Stat(ctx, "new/one")
			code(t, fmt.Sprintf("%d bytes, %s: a new key", n, c.name), err, agileplus.ENOTFOUND, "")
		}
	}
	// A canceled context stops the upload and leaves nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, "new/one", bytes.NewReader(random(t, 100)), agileplus.BlobPut{Size: -1}); err == nil {
		t.Fatal("put with a canceled context succeeded")
	}
	_, err := s.Stat(ctx, "new/one")
	code(t, "after a canceled put", err, agileplus.ENOTFOUND, "")
	list, err := s.List(ctx, "", "", 100)
	if err != nil || len(list) != 1 || list[0].Key != "keep/it" {
		t.Fatalf("after the failed puts the store lists %v, %v; want keep/it alone", keys(list), err)
	}
}

func keys(list []*agileplus.BlobInfo) []string {
	var ks []string
	for _, i := range list {
		ks = append(ks, i.Key)
	}
	return ks
}

func testBadInput(t *testing.T, s agileplus.BlobStore) {
	ctx := context.Background()
	for _, key := range []string{"", "../x", "a/../b", "a//b", "/a", "a/", "A", "a b", "a\x00b", "é", strings.Repeat("a", agileplus.MaxBlobKey+1)} {
		_, err := s.Put(ctx, key, strings.NewReader("x"), agileplus.BlobPut{Size: 1})
		code(t, fmt.Sprintf("put %q", key), err, agileplus.EINVALID, "key")
		_, err = s.Stat(ctx, key)
		code(t, fmt.Sprintf("stat %q", key), err, agileplus.EINVALID, "key")
		code(t, fmt.Sprintf("delete %q", key), s.Delete(ctx, key), agileplus.EINVALID, "key")
	}
	for field, o := range map[string]agileplus.BlobPut{
		"size":         {Size: -2},
		"max_size":     {Size: -1, MaxSize: -1},
		"sha256":       {Size: -1, SHA256: "ABC"},
		"content_type": {Size: -1, ContentType: "text/plain\n"},
		"metadata":     {Size: -1, Metadata: map[string]string{"Name": "x"}},
	} {
		_, err := s.Put(ctx, "ok/key", strings.NewReader("x"), o)
		code(t, "put with a bad "+field, err, agileplus.EINVALID, field)
	}
	if list, err := s.List(ctx, "", "", 10); err != nil || len(list) != 0 {
		t.Errorf("bad input stored %v, %v", keys(list), err)
	}
	_, err := s.List(ctx, "", "", 0)
	code(t, "list with limit 0", err, agileplus.EINVALID, "limit")
}

func testListAndDelete(t *testing.T, s agileplus.BlobStore) {
	ctx := context.Background()
	names := []string{"p/a", "p/a-b", "p/b/c", "p/c", "q/a"}
	for _, k := range names {
		put(t, s, k, []byte(k), agileplus.BlobPut{Size: -1})
	}
	var all []string
	for after := ""; ; {
		page, err := s.List(ctx, "p/", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, i := range page {
			if i.Size != int64(len(i.Key)) || i.ETag == "" {
				t.Errorf("listed %+v", i)
			}
		}
		all = append(all, keys(page)...)
		after = page[len(page)-1].Key
	}
	if got, want := strings.Join(all, " "), "p/a p/a-b p/b/c p/c"; got != want {
		t.Errorf("list p/ in pages of 2: %s, want %s", got, want)
	}
	if err := s.Delete(ctx, "p/a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "p/a"); err != nil {
		t.Errorf("deleting what is gone: %v", err)
	}
	_, err := s.Stat(ctx, "p/a")
	code(t, "stat after delete", err, agileplus.ENOTFOUND, "")
	if got := string(get(t, s, "p/a-b", nil)); got != "p/a-b" {
		t.Errorf("deleting p/a changed p/a-b: %q", got)
	}
	list, err := s.List(ctx, "", "", 100)
	if err != nil || strings.Join(keys(list), " ") != "p/a-b p/b/c p/c q/a" {
		t.Errorf("after delete: %v, %v", keys(list), err)
	}
}

func testConcurrentPuts(t *testing.T, s agileplus.BlobStore) {
	const writers = 8
	bodies := make([][]byte, writers)
	for i := range bodies {
		bodies[i] = random(t, 64<<10)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := s.Put(context.Background(), "race/key", bytes.NewReader(bodies[i]), agileplus.BlobPut{Size: -1})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := get(t, s, "race/key", nil)
	for _, b := range bodies {
		if bytes.Equal(got, b) {
			return
		}
	}
	t.Fatal("after concurrent puts the blob is none of the bodies written")
}
