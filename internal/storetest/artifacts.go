package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/localblob"
)

// artifacts is an ArtifactService over the fixture's store (directly: the
// contract is the store's) with a directory blob store.
func (f *fixture) artifacts(t *testing.T, store agileplus.Store, maxSize int64) (*agileplus.ArtifactService, agileplus.BlobStore) {
	t.Helper()
	blobs, err := localblob.Open(t.TempDir())
	mustOK(t, err)
	svc := &agileplus.Service{Store: store, Now: f.clock.Now, IDs: agileplus.NewIDGenerator(f.clock.Now)}
	return &agileplus.ArtifactService{Svc: svc, Blobs: blobs, MaxSize: maxSize}, blobs
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// blobKeys lists every blob the store holds.
func blobKeys(t *testing.T, blobs agileplus.BlobStore) []string {
	t.Helper()
	infos, err := blobs.List(context.Background(), "", "", 1000)
	mustOK(t, err)
	var keys []string
	for _, i := range infos {
		keys = append(keys, i.Key)
	}
	return keys
}

func readArtifact(t *testing.T, as agileplus.Artifacts, ctx context.Context, id string, rng *agileplus.BlobRange) []byte {
	t.Helper()
	rc, _, err := as.OpenArtifact(ctx, id, rng)
	mustOK(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	mustOK(t, err)
	return b
}

func testArtifacts(t *testing.T, f *fixture) {
	f.project(t, "CORE")
	fe := f.feature(t, "CORE", "alpha")
	w := f.wp(t, "alpha", "one")
	as, blobs := f.artifacts(t, f.store, 1<<20)
	body := []byte("the plan, in full\n")

	var a *agileplus.Artifact
	t.Run("AddToWP", func(t *testing.T) {
		var err error
		a, err = as.AddArtifact(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "plan v1.md", ContentType: "text/markdown",
			Labels: []string{"Spec"}, Size: int64(len(body)), SHA256: strings.ToUpper(sha(body))}, bytes.NewReader(body))
		mustOK(t, err)
		if !strings.HasPrefix(a.ID, agileplus.PrefixArtifact) {
			t.Errorf("got id %q, want the prefix %s", a.ID, agileplus.PrefixArtifact)
		}
		mustEqual(t, "owner", a.OwnerID, w.ID)
		mustEqual(t, "owner kind", a.OwnerKind, agileplus.KindWP)
		mustEqual(t, "feature", a.FeatureID, fe.ID)
		mustEqual(t, "project key", a.ProjectKey, "CORE")
		mustEqual(t, "size", a.Size, int64(len(body)))
		mustEqual(t, "sha256", a.SHA256, sha(body))
		mustEqual(t, "created by", a.CreatedBy, Actor)
		mustSame(t, "labels", a.Labels, []string{"spec"})
		got, err := as.Artifact(f.ctx, a.ID)
		mustOK(t, err)
		mustSame(t, "stored artifact", got, a)
		mustEqual(t, "content", string(readArtifact(t, as, f.ctx, a.ID, nil)), string(body))
		mustEqual(t, "range", string(readArtifact(t, as, f.ctx, a.ID, &agileplus.BlobRange{Start: 4, Length: 4})), "plan")
		mustSame(t, "blobs", blobKeys(t, blobs), []string{"artifacts/" + a.ID})

		evs := f.events(t, a.ID)
		if len(evs) != 1 || evs[0].Type != "artifact.added" || evs[0].FeatureID != fe.ID || evs[0].Actor != Actor {
			t.Fatalf("got events %+v, want one artifact.added in feature %s by %s", evs, fe.ID, Actor)
		}
		last := f.lastAudit(t, fe.ID)
		mustEqual(t, "audit event", last.EventType, "artifact.added")
		mustEqual(t, "audit entity", last.EntityID, a.ID)
	})

	t.Run("AddToFeature", func(t *testing.T) {
		b, err := as.AddArtifact(f.ctx, agileplus.KindFeature, "alpha", agileplus.ArtifactAdd{Name: "spec.pdf", Size: -1}, strings.NewReader("%PDF"))
		mustOK(t, err)
		mustEqual(t, "owner", b.OwnerID, fe.ID)
		mustEqual(t, "content type", b.ContentType, "application/octet-stream")
		list, err := as.ListArtifacts(f.ctx, agileplus.KindFeature, fe.ID, agileplus.ArtifactFilter{})
		mustOK(t, err)
		if len(list) != 1 || list[0].ID != b.ID {
			t.Fatalf("got feature artifacts %+v, want %s alone", list, b.ID)
		}
	})

	t.Run("RefusalsLeaveNothing", func(t *testing.T) {
		before := blobKeys(t, blobs)
		pending := f.pending(t)
		cases := []struct {
			name        string
			kind, ref   string
			in          agileplus.ArtifactAdd
			body        string
			code, field string
		}{
			{"slash", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "../etc/passwd", Size: -1}, "x", agileplus.EINVALID, "name"},
			{"dot dot", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "..", Size: -1}, "x", agileplus.EINVALID, "name"},
			{"control", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a\nb", Size: -1}, "x", agileplus.EINVALID, "name"},
			{"empty name", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Size: -1}, "x", agileplus.EINVALID, "name"},
			{"long name", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: strings.Repeat("n", 256), Size: -1}, "x", agileplus.EINVALID, "name"},
			{"bad label", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a", Labels: []string{"no spaces"}, Size: -1}, "x", agileplus.EINVALID, "labels"},
			{"wrong checksum", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a", Size: -1, SHA256: sha([]byte("other"))}, "x", agileplus.EINVALID, "sha256"},
			{"short body", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a", Size: 10}, "x", agileplus.EINVALID, "size"},
			{"over the limit", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a", Size: -1}, strings.Repeat("x", 1<<20+1), agileplus.EINVALID, "size"},
			{"declared over the limit", agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "a", Size: 2 << 20}, "x", agileplus.EINVALID, "size"},
			{"missing wp", agileplus.KindWP, "CORE-99", agileplus.ArtifactAdd{Name: "a", Size: -1}, "x", agileplus.ENOTFOUND, "wp"},
			{"missing feature", agileplus.KindFeature, "nope", agileplus.ArtifactAdd{Name: "a", Size: -1}, "x", agileplus.ENOTFOUND, "feature"},
			{"bad owner kind", "project", "CORE", agileplus.ArtifactAdd{Name: "a", Size: -1}, "x", agileplus.EINVALID, "owner"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := as.AddArtifact(f.ctx, c.kind, c.ref, c.in, strings.NewReader(c.body))
				mustField(t, err, c.code, c.field)
			})
		}
		mustSame(t, "blobs", blobKeys(t, blobs), before)
		mustEqual(t, "pending events", f.pending(t), pending)
		list, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactFilter{})
		mustOK(t, err)
		if len(list) != 1 {
			t.Fatalf("got %d artifacts on the WP, want 1", len(list))
		}
	})

	t.Run("FailedCommitRemovesBlob", func(t *testing.T) {
		failing, fblobs := f.artifacts(t, failingStore{f.store}, 0)
		_, err := failing.AddArtifact(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactAdd{Name: "lost", Size: -1}, strings.NewReader("lost"))
		if err == nil {
			t.Fatal("got no error from a store whose commit fails")
		}
		mustSame(t, "blobs", blobKeys(t, fblobs), []string(nil))
		list, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactFilter{Prefix: "lost"})
		mustOK(t, err)
		mustEqual(t, "rows", len(list), 0)
	})

	t.Run("ListPrefixAndPaging", func(t *testing.T) {
		w2 := f.wp(t, "alpha", "two")
		var ids []string
		for _, name := range []string{"log-1.txt", "log-2.txt", "build.tar", "log-3.txt"} {
			x, err := as.AddArtifact(f.ctx, agileplus.KindWP, w2.ID, agileplus.ArtifactAdd{Name: name, Size: -1}, strings.NewReader(name))
			mustOK(t, err)
			if strings.HasPrefix(name, "log") {
				ids = append(ids, x.ID)
			}
		}
		var got []string
		after := ""
		for {
			page, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w2.Key, agileplus.ArtifactFilter{Prefix: "log-", Page: agileplus.Page{After: after, Limit: 2}})
			mustOK(t, err)
			for _, x := range page {
				got = append(got, x.ID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		mustSame(t, "log artifacts", got, ids)
		_, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w2.Key, agileplus.ArtifactFilter{Page: agileplus.Page{After: "../x"}})
		mustField(t, err, agileplus.EINVALID, "after")
	})

	t.Run("DeleteAndRestore", func(t *testing.T) {
		f.clock.Advance(tick)
		d, err := as.DeleteArtifact(f.ctx, a.ID)
		mustOK(t, err)
		if d.DeletedAt == nil || d.DeletedBy != Actor || d.Version != 2 {
			t.Fatalf("got deleted artifact %+v, want deleted_at, deleted_by %s, version 2", d, Actor)
		}
		mustTime(t, "deleted at", *d.DeletedAt, f.clock.Now())
		got, err := as.Artifact(f.ctx, a.ID)
		mustOK(t, err)
		mustSame(t, "stored deleted artifact", got, d)
		_, _, err = as.OpenArtifact(f.ctx, a.ID, nil)
		mustField(t, err, agileplus.ENOTFOUND, "artifact")
		live, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactFilter{})
		mustOK(t, err)
		mustEqual(t, "live artifacts", len(live), 0)
		gone, err := as.ListArtifacts(f.ctx, agileplus.KindWP, w.Key, agileplus.ArtifactFilter{Deleted: true})
		mustOK(t, err)
		if len(gone) != 1 || gone[0].ID != a.ID {
			t.Fatalf("got deleted artifacts %+v, want %s", gone, a.ID)
		}
		// Deleting again records nothing.
		_, err = as.DeleteArtifact(f.ctx, a.ID)
		mustOK(t, err)
		mustEqual(t, "events after deleting twice", len(f.events(t, a.ID)), 2)

		r, err := as.RestoreArtifact(f.ctx, a.ID)
		mustOK(t, err)
		if r.DeletedAt != nil || r.DeletedBy != "" || r.Version != 3 {
			t.Fatalf("got restored artifact %+v, want live at version 3", r)
		}
		mustEqual(t, "content after restore", string(readArtifact(t, as, f.ctx, a.ID, nil)), string(body))
		var types []string
		for _, e := range f.events(t, a.ID) {
			types = append(types, e.Type)
		}
		mustSame(t, "event types", types, []string{"artifact.added", "artifact.deleted", "artifact.restored"})
		mustEqual(t, "last audit", f.lastAudit(t, fe.ID).EventType, "artifact.restored")
	})

	t.Run("UnknownArtifact", func(t *testing.T) {
		_, err := as.Artifact(f.ctx, agileplus.PrefixArtifact+strings.Repeat("0", 26))
		mustField(t, err, agileplus.ENOTFOUND, "artifact")
		_, err = as.Artifact(f.ctx, "art_../../x")
		mustField(t, err, agileplus.EINVALID, "artifact")
		_, err = as.DeleteArtifact(f.ctx, agileplus.PrefixArtifact+strings.Repeat("0", 26))
		mustField(t, err, agileplus.ENOTFOUND, "artifact")
	})
}

// failingStore fails every write transaction after its function ran, as a
// commit that fails would.
type failingStore struct{ agileplus.Store }

func (s failingStore) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	return s.Store.Update(ctx, func(tx agileplus.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errBoom{}
	})
}
