package agileplus

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// KindArtifact is the entity kind of artifacts in events.
const KindArtifact = "artifact"

// PrefixArtifact starts an artifact's id.
const PrefixArtifact = "art_"

// Artifact is a file kept on a WP or a feature (a spec, a plan, evidence,
// a build output). Its metadata is in the system of record; its bytes are
// in the BlobStore under BlobKey, which comes from its id, never from its
// name. A row exists only for a blob that was stored whole. Deleting is
// soft: DeletedAt is set, the bytes stay, and Restore brings it back.
type Artifact struct {
	ID string `json:"id"`
	// OwnerKind is "wp" or "feature", OwnerID the WP's or feature's id.
	OwnerKind   string    `json:"owner_kind" enum:"wp,feature"`
	OwnerID     string    `json:"owner_id"`
	ProjectID   string    `json:"project_id"`
	ProjectKey  string    `json:"project_key"`
	FeatureID   string    `json:"feature_id"` // the feature, or the WP's feature: whose audit trail records it
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Labels      []string  `json:"labels,omitempty"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	// DeletedAt and DeletedBy are set while the artifact is deleted.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	DeletedBy string     `json:"deleted_by,omitempty"`
}

// BlobKey is where the artifact's bytes are kept.
func (a *Artifact) BlobKey() string { return ArtifactBlobKey(a.ID) }

// ArtifactBlobKey is the blob key of the artifact id: ids are lower-case
// base32 with a prefix, which BlobKey takes as it is.
func ArtifactBlobKey(id string) string { return "artifacts/" + id }

// ArtifactFilter selects one owner's artifacts, by id.
type ArtifactFilter struct {
	OwnerID string
	// Prefix keeps the artifacts whose names start with it.
	Prefix string
	// Deleted lists the deleted artifacts instead of the live ones.
	Deleted bool
	Page
}

// ArtifactTx is the part of a store's transactions that keeps artifacts'
// metadata; both stores' ReadTx and Tx implement it.
//
// Contract: Artifact returns ENOTFOUND (field "artifact") for an unknown
// id; Artifacts lists in id order; InsertArtifact returns ECONFLICT for an
// id that exists; UpdateArtifact writes DeletedAt, DeletedBy and Version
// if the stored version is a.Version-1 (ECONFLICT otherwise).
type ArtifactTx interface {
	Artifact(ctx context.Context, id string) (*Artifact, error)
	Artifacts(ctx context.Context, f ArtifactFilter) ([]*Artifact, error)
	InsertArtifact(ctx context.Context, a *Artifact) error
	UpdateArtifact(ctx context.Context, a *Artifact) error
}

// ArtifactReadTx is what a read transaction offers of ArtifactTx.
type ArtifactReadTx interface {
	Artifact(ctx context.Context, id string) (*Artifact, error)
	Artifacts(ctx context.Context, f ArtifactFilter) ([]*Artifact, error)
}

// MaxArtifactName bounds an artifact's name, in bytes (what file systems
// allow a file name), and a name prefix in characters.
const MaxArtifactName = 255

// ArtifactAdd is what a caller says of an artifact it uploads.
type ArtifactAdd struct {
	Name        string
	ContentType string
	Labels      []string
	// Size is the body's length, -1 when unknown.
	Size int64
	// SHA256, if set, must be the body's digest (64 hex digits).
	SHA256 string
}

// CheckArtifactName checks a name: 1 to 255 bytes of UTF-8, no control
// characters, no '/' and not "." or "..". The name is only shown: keys
// come from ids.
func CheckArtifactName(field, name string) error {
	if !utf8.ValidString(name) {
		return FieldErrorf(field, "artifact name %s is not UTF-8", QuoteRef(name))
	}
	if name == "" || len(name) > MaxArtifactName {
		return FieldErrorf(field, "an artifact name is 1 to %d bytes, not %d", MaxArtifactName, len(name))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return FieldErrorf(field, "artifact name %s has a control character", QuoteRef(name))
		}
		if r == '/' || r == '\\' {
			return FieldErrorf(field, "artifact name %s has a slash: a name is one file name", QuoteRef(name))
		}
	}
	if name == "." || name == ".." {
		return FieldErrorf(field, "artifact name %s is not a file name", QuoteRef(name))
	}
	return nil
}

// Validate checks an ArtifactAdd, normalizes its labels and defaults its
// content type.
func (a *ArtifactAdd) Validate() error {
	if err := CheckArtifactName("name", a.Name); err != nil {
		return err
	}
	if a.ContentType == "" {
		a.ContentType = "application/octet-stream"
	}
	if len(a.ContentType) > 255 || !printableASCII(a.ContentType) {
		return FieldErrorf("content_type", "content type must be at most 255 printable ASCII characters")
	}
	ls, err := NormalizeLabels("labels", a.Labels)
	if err != nil {
		return err
	}
	a.Labels = ls
	if a.Size < -1 {
		return FieldErrorf("size", "size must be -1 (unknown) or at least 0, not %d", a.Size)
	}
	if a.SHA256 != "" {
		a.SHA256 = strings.ToLower(a.SHA256)
		if !isLowerHex(a.SHA256, 64) {
			return FieldErrorf("sha256", "sha256 must be 64 hex digits")
		}
	}
	return nil
}

// CheckArtifactID checks that ref looks like an artifact id, so that a
// lookup never reaches a store or a blob key with anything else.
func CheckArtifactID(field, ref string) error {
	if !HasIDForm(PrefixArtifact, ref) {
		return FieldErrorf(field, "%s is not an artifact id (art_ and 26 characters)", QuoteRef(ref))
	}
	return nil
}

// ArtifactNotFound is the error for an unknown artifact.
func ArtifactNotFound(id string) error {
	return &Error{Code: ENOTFOUND, Field: "artifact", Message: fmt.Sprintf("artifact %s not found", QuoteRef(id))}
}
