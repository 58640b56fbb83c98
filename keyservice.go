package agileplus

import (
	"context"
	"slices"
	"strings"
	"time"
)

var _ KeyAdmin = (*Service)(nil)

// CreateKey makes a key. Its projects must exist; the token is returned
// this once and only its hash is stored.
func (s *Service) CreateKey(ctx context.Context, c KeyCreate) (*KeyCreated, error) {
	if err := refuseLimited(PrincipalFrom(ctx), "key management"); err != nil {
		return nil, err
	}
	now := s.now()
	if err := c.Validate(now); err != nil {
		return nil, err
	}
	var projects []string
	for _, p := range c.Projects {
		if !slices.Contains(projects, p) {
			projects = append(projects, p)
		}
	}
	var out *KeyCreated
	err := s.update(ctx, func(tx Tx) error {
		for _, p := range projects {
			if _, err := tx.Project(ctx, p); ErrorCode(err) == ENOTFOUND {
				return &Error{Code: ENOTFOUND, Field: "projects", Message: "projects: no project " + QuoteRef(p)}
			} else if err != nil {
				return err
			}
		}
		// A prefix clash (40 random bits) is retried with a new token.
		for attempt := 0; ; attempt++ {
			token, prefix, hash := NewKeyToken()
			if _, err := tx.APIKey(ctx, prefix); err == nil {
				if attempt < 3 {
					continue
				}
				return Errorf(ECONFLICT, "could not find a free key prefix; try again")
			} else if ErrorCode(err) != ENOTFOUND {
				return err
			}
			k := &APIKey{
				ID: s.IDs.New(PrefixKey), Prefix: prefix, Name: strings.TrimSpace(c.Name), Scope: c.Scope,
				Projects: projects, CreatedAt: now, CreatedBy: ActorFrom(ctx), Version: 1, Hash: hash,
			}
			if c.ExpiresAt != nil {
				t := c.ExpiresAt.UTC()
				k.ExpiresAt = &t
			}
			if err := tx.InsertAPIKey(ctx, k); err != nil {
				return err
			}
			if _, err := s.record(ctx, tx, change{kind: KindKey, entityID: k.ID, projectKey: SystemProject, action: "created", created: true, data: k}); err != nil {
				return err
			}
			out = &KeyCreated{APIKey: k, Token: token}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Keys lists keys by id.
func (s *Service) Keys(ctx context.Context, pg Page) (ks []*APIKey, err error) {
	if err := refuseLimited(PrincipalFrom(ctx), "key management"); err != nil {
		return nil, err
	}
	if pg.Limit, err = ClampLimit(pg.Limit); err != nil {
		return nil, err
	}
	err = s.view(ctx, func(tx ReadTx) error { ks, err = tx.APIKeys(ctx, pg); return err })
	return ks, err
}

// Key returns a key by id or prefix, with its hash (which no transport
// sends: the field is not encoded).
func (s *Service) Key(ctx context.Context, ref string) (k *APIKey, err error) {
	if err := refuseLimited(PrincipalFrom(ctx), "key management"); err != nil {
		return nil, err
	}
	if err := checkKeyRef(ref); err != nil {
		return nil, err
	}
	err = s.view(ctx, func(tx ReadTx) error { k, err = tx.APIKey(ctx, ref); return err })
	return k, err
}

// checkKeyRef refuses what cannot be a key id or prefix.
func checkKeyRef(ref string) error {
	if ref == "" || len(ref) > 64 {
		return FieldErrorf("key", "key must be a key id (key_...) or the prefix of a token, as key list shows")
	}
	return nil
}

// RevokeKey revokes a key; revoking a revoked key changes nothing.
func (s *Service) RevokeKey(ctx context.Context, ref string) (*APIKey, error) {
	if err := refuseLimited(PrincipalFrom(ctx), "key management"); err != nil {
		return nil, err
	}
	if err := checkKeyRef(ref); err != nil {
		return nil, err
	}
	var k *APIKey
	err := s.update(ctx, func(tx Tx) error {
		var err error
		if k, err = tx.APIKey(ctx, ref); err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		now := s.now()
		k.RevokedAt, k.Version = &now, k.Version+1
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindKey, entityID: k.ID, projectKey: SystemProject, action: "revoked", data: k})
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RecordRefusal appends a refused admin action to the key's events, its
// audit trail. keyID may also be the key's prefix.
func (s *Service) RecordRefusal(ctx context.Context, keyID string, r Refusal) error {
	if err := checkKeyRef(keyID); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		// By the key's id, whichever ref the caller has: the event joins
		// the key's own chain.
		k, err := tx.APIKey(ctx, keyID)
		if err != nil {
			return err
		}
		_, err = s.record(ctx, tx, change{kind: KindKey, entityID: k.ID, projectKey: SystemProject, action: "refused", data: r})
		return err
	})
}

// TouchKeys records when keys were last used (key id -> time), as
// bookkeeping without events: callers batch it, it is not worth a write
// per request.
func (s *Service) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.Store.Update(ctx, func(tx Tx) error {
		for id, at := range used {
			if err := tx.TouchAPIKey(ctx, id, at.UTC()); err != nil {
				return err
			}
		}
		return nil
	})
}
