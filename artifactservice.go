package agileplus

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Artifacts is how transports reach artifacts: ArtifactService in
// process, the HTTP client remotely.
type Artifacts interface {
	// AddArtifact streams body into a new artifact on the WP or feature
	// (ownerKind KindWP or KindFeature): the artifact exists once every
	// byte arrived and matched in; a refused or broken body leaves none.
	AddArtifact(ctx context.Context, ownerKind, ownerRef string, in ArtifactAdd, body io.Reader) (*Artifact, error)
	// Artifact describes an artifact, deleted or not.
	Artifact(ctx context.Context, id string) (*Artifact, error)
	// OpenArtifact opens a live artifact's bytes, or the range rng of
	// them; the caller closes the reader.
	OpenArtifact(ctx context.Context, id string, rng *BlobRange) (io.ReadCloser, *Artifact, error)
	// ListArtifacts pages through a WP's or feature's artifacts by id.
	ListArtifacts(ctx context.Context, ownerKind, ownerRef string, f ArtifactFilter) ([]*Artifact, error)
	// DeleteArtifact deletes an artifact softly; RestoreArtifact brings
	// it back. Either on an artifact already so records nothing.
	DeleteArtifact(ctx context.Context, id string) (*Artifact, error)
	RestoreArtifact(ctx context.Context, id string) (*Artifact, error)
}

// ArtifactService keeps artifacts' bytes in Blobs and their metadata, with
// events and audit, in Svc's store (which must implement ArtifactTx).
type ArtifactService struct {
	Svc   *Service
	Blobs BlobStore
	// MaxSize refuses bodies larger than it (0: no limit).
	MaxSize int64
}

var _ Artifacts = (*ArtifactService)(nil)

// artifactOwner is what an artifact takes from its WP or feature.
type artifactOwner struct {
	kind, id, key, projectID, projectKey, featureID string
}

func resolveOwner(ctx context.Context, tx ReadTx, kind, ref string) (*artifactOwner, error) {
	var o *artifactOwner
	switch kind {
	case KindWP:
		w, err := tx.WP(ctx, ref)
		if err != nil {
			return nil, err
		}
		o = &artifactOwner{kind: kind, id: w.ID, key: w.Key, projectID: w.ProjectID, projectKey: w.ProjectKey, featureID: w.FeatureID}
	case KindFeature:
		f, err := tx.Feature(ctx, ref)
		if err != nil {
			return nil, err
		}
		o = &artifactOwner{kind: kind, id: f.ID, key: f.Slug, projectID: f.ProjectID, projectKey: f.ProjectKey, featureID: f.ID}
	default:
		return nil, FieldErrorf("owner", "artifacts belong to a wp or a feature, not %s", QuoteRef(kind))
	}
	return o, allow(limited(ctx), kind, o.projectKey)
}

func artifactTx(tx ReadTx) (ArtifactReadTx, error) {
	if a, ok := tx.(ArtifactReadTx); ok {
		return a, nil
	}
	return nil, Errorf(EUNAVAILABLE, "this store keeps no artifacts")
}

func artifactWriteTx(tx Tx) (ArtifactTx, error) {
	if a, ok := tx.(ArtifactTx); ok {
		return a, nil
	}
	return nil, Errorf(EUNAVAILABLE, "this store keeps no artifacts")
}

// AddArtifact stores the body, then the row and its event: a body that
// fails leaves no row, and a row that does not commit takes its blob away.
func (s *ArtifactService) AddArtifact(ctx context.Context, ownerKind, ownerRef string, in ArtifactAdd, body io.Reader) (*Artifact, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if s.MaxSize > 0 && in.Size > s.MaxSize {
		return nil, &ArtifactTooLarge{Limit: s.MaxSize}
	}
	var owner *artifactOwner
	err := s.Svc.view(ctx, func(tx ReadTx) (err error) {
		owner, err = resolveOwner(ctx, tx, ownerKind, ownerRef)
		return err
	})
	if err != nil {
		return nil, err
	}
	a := &Artifact{ID: s.Svc.IDs.New(PrefixArtifact), OwnerKind: owner.kind, OwnerID: owner.id, ProjectID: owner.projectID,
		ProjectKey: owner.projectKey, FeatureID: owner.featureID, Name: in.Name, ContentType: in.ContentType,
		Labels: in.Labels, Version: 1, CreatedBy: ActorFrom(ctx)}
	counted := &countingReader{r: body}
	info, err := s.Blobs.Put(ctx, a.BlobKey(), counted, BlobPut{ContentType: in.ContentType, Size: in.Size, MaxSize: s.MaxSize, SHA256: in.SHA256,
		Metadata: map[string]string{"artifact": a.ID, "owner": owner.id}})
	if err != nil {
		if s.MaxSize > 0 && counted.n > s.MaxSize {
			return nil, &ArtifactTooLarge{Limit: s.MaxSize}
		}
		return nil, err
	}
	a.Size, a.SHA256 = info.Size, info.SHA256
	err = s.Svc.update(ctx, func(tx Tx) error {
		atx, err := artifactWriteTx(tx)
		if err != nil {
			return err
		}
		a.CreatedAt = s.Svc.now()
		if err := atx.InsertArtifact(ctx, a); err != nil {
			return err
		}
		_, err = s.Svc.record(ctx, tx, change{kind: KindArtifact, entityID: a.ID, projectKey: a.ProjectKey, action: "added", created: true, data: a,
			features: []string{a.FeatureID}, summary: fmt.Sprintf("artifact %s added to %s %s", QuoteRef(a.Name), owner.kind, owner.key)})
		return err
	})
	if err != nil {
		// The row is not there: nobody can reach the blob but us.
		if derr := s.Blobs.Delete(context.WithoutCancel(ctx), a.BlobKey()); derr != nil {
			return nil, fmt.Errorf("%w (and its blob %s stays: %v)", err, a.BlobKey(), derr)
		}
		return nil, err
	}
	return a, nil
}

func (s *ArtifactService) load(ctx context.Context, tx ReadTx, id string) (*Artifact, error) {
	if err := CheckArtifactID("artifact", id); err != nil {
		return nil, err
	}
	atx, err := artifactTx(tx)
	if err != nil {
		return nil, err
	}
	a, err := atx.Artifact(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := allow(limited(ctx), "artifact", a.ProjectKey); err != nil {
		return nil, err
	}
	return a, nil
}

// Artifact describes an artifact, deleted or not.
func (s *ArtifactService) Artifact(ctx context.Context, id string) (a *Artifact, err error) {
	err = s.Svc.view(ctx, func(tx ReadTx) error {
		a, err = s.load(ctx, tx, id)
		return err
	})
	return a, err
}

// OpenArtifact opens a live artifact's bytes.
func (s *ArtifactService) OpenArtifact(ctx context.Context, id string, rng *BlobRange) (io.ReadCloser, *Artifact, error) {
	a, err := s.Artifact(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if a.DeletedAt != nil {
		return nil, nil, &Error{Code: ENOTFOUND, Field: "artifact", Message: fmt.Sprintf("artifact %s is deleted; restore it to read it", a.ID)}
	}
	if rng != nil {
		if _, err := rng.Check(a.Size); err != nil {
			return nil, nil, err
		}
	}
	rc, _, err := s.Blobs.Get(ctx, a.BlobKey(), rng)
	if err != nil {
		return nil, nil, err
	}
	return rc, a, nil
}

// ListArtifacts pages through an owner's live (or, with f.Deleted,
// deleted) artifacts by id.
func (s *ArtifactService) ListArtifacts(ctx context.Context, ownerKind, ownerRef string, f ArtifactFilter) (as []*Artifact, err error) {
	if f.Limit, err = ClampLimit(f.Limit); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(f.Prefix) > MaxArtifactName || strings.ContainsAny(f.Prefix, "\x00") {
		return nil, FieldErrorf("prefix", "prefix must be at most %d characters of a name", MaxArtifactName)
	}
	if f.After != "" {
		if err := CheckArtifactID("after", f.After); err != nil {
			return nil, err
		}
	}
	err = s.Svc.view(ctx, func(tx ReadTx) error {
		owner, err := resolveOwner(ctx, tx, ownerKind, ownerRef)
		if err != nil {
			return err
		}
		atx, err := artifactTx(tx)
		if err != nil {
			return err
		}
		f.OwnerID = owner.id
		as, err = atx.Artifacts(ctx, f)
		return err
	})
	return as, err
}

// DeleteArtifact deletes an artifact softly: its bytes stay until it is
// purged, and RestoreArtifact brings it back.
func (s *ArtifactService) DeleteArtifact(ctx context.Context, id string) (*Artifact, error) {
	return s.setDeleted(ctx, id, true)
}

// RestoreArtifact brings a deleted artifact back.
func (s *ArtifactService) RestoreArtifact(ctx context.Context, id string) (*Artifact, error) {
	return s.setDeleted(ctx, id, false)
}

func (s *ArtifactService) setDeleted(ctx context.Context, id string, deleted bool) (a *Artifact, err error) {
	err = s.Svc.update(ctx, func(tx Tx) error {
		if a, err = s.load(ctx, tx, id); err != nil {
			return err
		}
		if (a.DeletedAt != nil) == deleted {
			return nil
		}
		action := "restored"
		if deleted {
			now := s.Svc.now()
			a.DeletedAt, a.DeletedBy, action = &now, ActorFrom(ctx), "deleted"
		} else {
			a.DeletedAt, a.DeletedBy = nil, ""
		}
		a.Version++
		atx, err := artifactWriteTx(tx)
		if err != nil {
			return err
		}
		if err := atx.UpdateArtifact(ctx, a); err != nil {
			return err
		}
		_, err = s.Svc.record(ctx, tx, change{kind: KindArtifact, entityID: a.ID, projectKey: a.ProjectKey, action: action, data: a,
			features: []string{a.FeatureID}, summary: fmt.Sprintf("artifact %s %s", QuoteRef(a.Name), action)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ArtifactTooLarge refuses a body over ArtifactService.MaxSize (HTTP 413);
// it is an EINVALID *Error on field "size".
type ArtifactTooLarge struct{ Limit int64 }

func (e *ArtifactTooLarge) Error() string {
	return fmt.Sprintf("the body is over the artifact limit of %d bytes", e.Limit)
}

// Unwrap makes it an EINVALID error on field "size" for callers that know
// only codes.
func (e *ArtifactTooLarge) Unwrap() error {
	return &Error{Code: EINVALID, Field: "size", Message: e.Error()}
}

// countingReader counts what passes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
