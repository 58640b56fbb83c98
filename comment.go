package agileplus

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Comment is a note in Markdown on a WP or a feature. Mentions ("@ana")
// are plain text. Only its author edits it; each edit keeps the body it
// replaced in History.
type Comment struct {
	ID         string `json:"id"`
	EntityKind string `json:"entity_kind"` // wp or feature
	EntityID   string `json:"entity_id"`
	EntityKey  string `json:"entity_key"` // the WP key or feature slug
	ProjectKey string `json:"project_key"`
	FeatureID  string `json:"feature_id"`
	Author     string `json:"author"`
	Body       string `json:"body"`
	// History holds the earlier bodies, oldest first.
	History   []CommentRevision `json:"history,omitempty"`
	Version   int64             `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// CommentRevision is a body a comment had until ReplacedAt.
type CommentRevision struct {
	Body       string    `json:"body"`
	ReplacedAt time.Time `json:"replaced_at"`
}

// Comment limits: a body is at most MaxCommentLen characters, and a
// comment keeps at most MaxCommentEdits earlier bodies.
const (
	MaxCommentLen   = 10000
	MaxCommentEdits = 100
)

// CommentCreate is the input of AddComment.
type CommentCreate struct {
	Body string `json:"body" minLength:"1" maxLength:"10000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$" doc:"Markdown; mentions are plain text"`
}

// CommentEdit is the input of EditComment: the new body.
type CommentEdit struct {
	Body string `json:"body" minLength:"1" maxLength:"10000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$" doc:"Markdown; the old body goes to the history"`
}

// Validate checks a CommentCreate.
func (c *CommentCreate) Validate() error { return validateCommentBody(c.Body) }

// Validate checks a CommentEdit.
func (c *CommentEdit) Validate() error { return validateCommentBody(c.Body) }

// validateCommentBody applies the rules of descriptions (printable text,
// tabs and line breaks allowed) with a tighter size limit, and wants
// some text.
func validateCommentBody(b string) error {
	switch {
	case strings.TrimSpace(b) == "":
		return FieldErrorf("body", "body is required")
	case utf8.RuneCountInString(b) > MaxCommentLen:
		return FieldErrorf("body", "body is longer than %d characters", MaxCommentLen)
	}
	return checkPrintable("body", b, true)
}

// validateImportedComment checks a comment an import brings whole.
func validateImportedComment(c *Comment) error {
	if !strings.HasPrefix(c.ID, PrefixComment) {
		return FieldErrorf("id", "comment id %s must start with %s", QuoteRef(c.ID), PrefixComment)
	}
	if strings.TrimSpace(c.Author) == "" {
		return FieldErrorf("author", "author is required")
	}
	if len(c.History) > MaxCommentEdits {
		return FieldErrorf("history", "history holds %d bodies; at most %d are kept", len(c.History), MaxCommentEdits)
	}
	if err := checkName("author", c.Author, true, true); err != nil {
		return err
	}
	return validateCommentBody(c.Body)
}
