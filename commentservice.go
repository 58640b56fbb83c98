package agileplus

import (
	"context"
	"fmt"
	"strings"
)

// Comments are events of the WP or feature they are on ("wp.commented",
// "feature.comment_edited"), so they sit in its event chain and in its
// feature's audit trail.

// commentTarget resolves the WP or feature a comment is on and checks the
// key may use its project.
func commentTarget(ctx context.Context, tx ReadTx, ref string) (endpoint, error) {
	if ref == "" {
		return endpoint{}, FieldErrorf("ref", "ref is required: a WP key or a feature slug")
	}
	ep, err := resolveEndpoint(ctx, tx, "ref", ref)
	if err != nil {
		return ep, err
	}
	return ep, allow(limited(ctx), "ref", ep.projectKey)
}

// AddComment adds a comment by the caller's actor to a WP or a feature.
func (s *Service) AddComment(ctx context.Context, ref string, c CommentCreate) (cm *Comment, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		ep, err := commentTarget(ctx, tx, ref)
		if err != nil {
			return err
		}
		now := s.now()
		cm = &Comment{ID: s.IDs.New(PrefixComment), EntityKind: ep.kind, EntityID: ep.id, EntityKey: ep.key, ProjectKey: ep.projectKey,
			FeatureID: ep.featureID, Author: ActorFrom(ctx), Body: c.Body, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertComment(ctx, cm); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: ep.kind, entityID: ep.id, projectKey: ep.projectKey, action: "commented",
			data: map[string]any{"comment": cm}, features: []string{ep.featureID},
			summary: fmt.Sprintf("%s %s: comment %s by %s", ep.kind, ep.key, cm.ID, cm.Author)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return cm, nil
}

// EditComment replaces the body of one of the caller's own comments,
// keeping the old body in its history. The same body again records
// nothing.
func (s *Service) EditComment(ctx context.Context, id string, c CommentEdit, ifVersion int64) (cm *Comment, err error) {
	if !strings.HasPrefix(id, PrefixComment) {
		return nil, FieldErrorf("comment", "comment must be a comment id starting with %s, not %s", PrefixComment, QuoteRef(id))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx Tx) error {
		if cm, err = tx.Comment(ctx, id); err != nil {
			return err
		}
		if err := allow(limited(ctx), "comment", cm.ProjectKey); err != nil {
			return err
		}
		if actor := ActorFrom(ctx); actor != cm.Author {
			return &Error{Code: EFORBIDDEN, Field: "comment", Message: fmt.Sprintf("comment %s is by %s; only its author edits it, not %s", cm.ID, cm.Author, actor)}
		}
		if err := checkVersion("comment", cm.ID, cm.Version, ifVersion); err != nil {
			return err
		}
		if c.Body == cm.Body {
			return nil
		}
		if len(cm.History) >= MaxCommentEdits {
			return &Error{Code: ERULE, Field: "body", Message: fmt.Sprintf("comment %s has been edited %d times, the most it keeps; add a new comment instead", cm.ID, MaxCommentEdits)}
		}
		now := s.now()
		cm.History = append(cm.History, CommentRevision{Body: cm.Body, ReplacedAt: now})
		cm.Body, cm.Version, cm.UpdatedAt = c.Body, cm.Version+1, now
		if err := tx.UpdateComment(ctx, cm); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: cm.EntityKind, entityID: cm.EntityID, projectKey: cm.ProjectKey, action: "comment_edited",
			data: map[string]any{"comment": cm}, features: []string{cm.FeatureID},
			summary: fmt.Sprintf("%s %s: comment %s edited by %s", cm.EntityKind, cm.EntityKey, cm.ID, cm.Author)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return cm, nil
}

// Comments lists the comments on a WP or a feature, oldest first;
// pg.After is the id of the last comment of the previous page.
func (s *Service) Comments(ctx context.Context, ref string, pg Page) (cs []*Comment, err error) {
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	if pg.After != "" && !strings.HasPrefix(pg.After, PrefixComment) {
		return nil, FieldErrorf("after", "after must be the next cursor of the previous page (a comment id starting with %s), not %s", PrefixComment, QuoteRef(pg.After))
	}
	pg.Archived = ""
	err = s.view(ctx, func(tx ReadTx) error {
		ep, err := commentTarget(ctx, tx, ref)
		if err != nil {
			return err
		}
		cs, err = tx.Comments(ctx, ep.id, pg)
		return err
	})
	return cs, err
}
