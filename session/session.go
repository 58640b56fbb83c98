// Package session keeps browser sessions in the cache: each a hash with a
// TTL, renewed on use, revocable at once. The web board signs people in
// with it; any agileplus.Cache holds them (localcache in one process,
// rediscache shared by many).
//
// A session's id is its secret: the cache holds only its SHA-256, so a
// copy of the cache signs nobody in.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
)

// Defaults of Service.
const (
	DefaultIdle   = 30 * time.Minute   // a session unused this long ends
	DefaultMaxAge = 7 * 24 * time.Hour // a session ends this long after it began, used or not
)

// idPrefix starts every session id; 32 random bytes follow, base64url.
const idPrefix = "ses_"

var idLen = len(idPrefix) + base64.RawURLEncoding.EncodedLen(32)

// Session is one signed-in browser.
type Session struct {
	// ID is the secret the browser presents (a cookie); it is shown once,
	// by Create, and never stored.
	ID      string
	Subject string // who signed in: a key id or a user name
	Data    map[string]string
	Created time.Time
	// Expires is when the session ends unless used again.
	Expires time.Time
}

// Service creates, finds, renews and revokes sessions.
type Service struct {
	Cache agileplus.Cache
	// Idle ends a session unused this long (default DefaultIdle); each use
	// renews it. MaxAge ends it this long after Create, used or not
	// (default DefaultMaxAge).
	Idle, MaxAge time.Duration
	Now          func() time.Time // default time.Now

	// redeem makes a code's read and delete one step in this process.
	redeem sync.Mutex
}

func (s *Service) idle() time.Duration   { return cmpOr(s.Idle, DefaultIdle) }
func (s *Service) maxAge() time.Duration { return cmpOr(s.MaxAge, DefaultMaxAge) }

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Fields of a session's hash; data fields are "d:" and their name.
const (
	fieldSubject = "subject"
	fieldCreated = "created"
	dataPrefix   = "d:"
)

// key is the cache key of a session: its id's hash.
func key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "session:" + hex.EncodeToString(sum[:])
}

// Create starts a session for subject with data.
func (s *Service) Create(ctx context.Context, subject string, data map[string]string) (*Session, error) {
	return s.CreateFunc(ctx, subject, func(string) map[string]string { return data })
}

// CreateFunc is Create with data made from the new session's id, for data
// sealed with a key only the id's holder can derive.
func (s *Service) CreateFunc(ctx context.Context, subject string, dataOf func(id string) map[string]string) (*Session, error) {
	if strings.TrimSpace(subject) == "" {
		return nil, agileplus.FieldErrorf("subject", "a session needs a subject: who signs in")
	}
	var b [32]byte
	rand.Read(b[:])
	now := s.now()
	id := idPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	data := dataOf(id)
	ss := &Session{
		ID:      id,
		Subject: subject,
		Data:    maps.Clone(data),
		Created: now,
		Expires: now.Add(min(s.idle(), s.maxAge())),
	}
	h := map[string]string{fieldSubject: subject, fieldCreated: now.UTC().Format(time.RFC3339Nano)}
	for k, v := range data {
		h[dataPrefix+k] = v
	}
	if err := s.Cache.SetHash(ctx, key(ss.ID), h, ss.Expires.Sub(now)); err != nil {
		return nil, err
	}
	return ss, nil
}

// Get returns the session id stands for and renews it (see Touch). An id
// that is malformed, unknown, expired or revoked is ENOTFOUND.
func (s *Service) Get(ctx context.Context, id string) (*Session, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	h, err := s.Cache.Hash(ctx, key(id))
	if err != nil {
		return nil, notFound(err)
	}
	created, err := time.Parse(time.RFC3339Nano, h[fieldCreated])
	if err != nil || h[fieldSubject] == "" {
		return nil, agileplus.Errorf(agileplus.EINTERNAL, "session: the cache holds a session without subject or creation time")
	}
	ss := &Session{ID: id, Subject: h[fieldSubject], Created: created, Data: map[string]string{}}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, dataPrefix); ok {
			ss.Data[name] = v
		}
	}
	if ss.Expires, err = s.renew(ctx, id, created); err != nil {
		return nil, err
	}
	return ss, nil
}

// Touch renews a session: it ends Idle from now, but never later than
// MaxAge after it began.
func (s *Service) Touch(ctx context.Context, id string) error {
	_, err := s.Get(ctx, id)
	return err
}

func (s *Service) renew(ctx context.Context, id string, created time.Time) (time.Time, error) {
	now := s.now()
	expires := now.Add(s.idle())
	if end := created.Add(s.maxAge()); end.Before(expires) {
		expires = end
	}
	if !expires.After(now) {
		s.Cache.Delete(ctx, key(id))
		return time.Time{}, agileplus.Errorf(agileplus.ENOTFOUND, "no such session (it may have expired or been revoked)")
	}
	if err := s.Cache.Expire(ctx, key(id), expires.Sub(now)); err != nil {
		return time.Time{}, notFound(err)
	}
	return expires, nil
}

// Revoke ends a session at once; revoking one that has ended already
// changes nothing.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	return s.Cache.Delete(ctx, key(id))
}

func checkID(id string) error {
	if len(id) != idLen || !strings.HasPrefix(id, idPrefix) {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no such session (it may have expired or been revoked)")
	}
	return nil
}

// notFound says ENOTFOUND the same way for any session that is not there,
// and passes other errors on.
func notFound(err error) error {
	if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
		return agileplus.Errorf(agileplus.ENOTFOUND, "no such session (it may have expired or been revoked)")
	}
	return err
}

// DefaultCodeTTL is how long a sign-in code holds (Service.NewCode).
const DefaultCodeTTL = 60 * time.Second

// codePrefix starts every sign-in code; 32 random bytes follow, base64url.
const codePrefix = "sic_"

var codeLen = len(codePrefix) + base64.RawURLEncoding.EncodedLen(32)

const fieldExpires = "expires"

func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "signin-code:" + hex.EncodeToString(sum[:])
}

// NewCode stores data, made from the new code, under a one-time code that
// holds for ttl (DefaultCodeTTL when 0): whoever presents the code once,
// within ttl, gets data back (Redeem). Like a session id, the code is
// kept only as its hash.
func (s *Service) NewCode(ctx context.Context, ttl time.Duration, dataOf func(code string) map[string]string) (string, time.Time, error) {
	ttl = cmpOr(ttl, DefaultCodeTTL)
	var b [32]byte
	rand.Read(b[:])
	code := codePrefix + base64.RawURLEncoding.EncodeToString(b[:])
	expires := s.now().Add(ttl)
	h := map[string]string{fieldExpires: expires.UTC().Format(time.RFC3339Nano)}
	for k, v := range dataOf(code) {
		h[dataPrefix+k] = v
	}
	if err := s.Cache.SetHash(ctx, codeKey(code), h, ttl); err != nil {
		return "", time.Time{}, err
	}
	return code, expires, nil
}

// Redeem returns the data of a code and ends the code, so it serves once.
// A code that is malformed, unknown, used or expired is ENOTFOUND. The
// read and the delete are one step within this process; two processes
// sharing a cache could both redeem a code presented to both at once,
// which needs the code, a secret shown once.
func (s *Service) Redeem(ctx context.Context, code string) (map[string]string, error) {
	gone := agileplus.Errorf(agileplus.ENOTFOUND, "no such sign-in code (it may have been used or have expired)")
	if len(code) != codeLen || !strings.HasPrefix(code, codePrefix) {
		return nil, gone
	}
	s.redeem.Lock()
	defer s.redeem.Unlock()
	h, err := s.Cache.Hash(ctx, codeKey(code))
	if err != nil {
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			return nil, gone
		}
		return nil, err
	}
	if err := s.Cache.Delete(ctx, codeKey(code)); err != nil {
		return nil, err
	}
	// A cache may keep a key a little past its TTL: the code's own
	// deadline rules.
	expires, err := time.Parse(time.RFC3339Nano, h[fieldExpires])
	if err != nil || !s.now().Before(expires) {
		return nil, gone
	}
	data := map[string]string{}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, dataPrefix); ok {
			data[name] = v
		}
	}
	return data, nil
}
