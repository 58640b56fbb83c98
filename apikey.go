package agileplus

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Scopes of an API key, each including the ones before it: read (GET,
// event streams), write (everything that changes work), admin (keys,
// webhooks, dead letters, import, export).
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
)

// Scopes lists the scopes from least to most.
var Scopes = []string{ScopeRead, ScopeWrite, ScopeAdmin}

// ScopeAllows reports whether a key with scope have may do what needs
// scope need.
func ScopeAllows(have, need string) bool {
	h, n := slices.Index(Scopes, have), slices.Index(Scopes, need)
	return h >= 0 && n >= 0 && h >= n
}

// KindKey is the entity kind of API keys in events.
const KindKey = "key"

// PrefixKey starts the id of an API key.
const PrefixKey = "key_"

// SystemProject is the project token of events that belong to no project
// (API keys): project keys are upper case, so it names none of them.
const SystemProject = "_system"

// APIKey is an identity that calls the API: a name, a scope, optionally a
// set of projects it is limited to, and the hash of its secret. The token
// a caller presents is "ap_<prefix>_<secret>"; only the prefix and the
// SHA-256 of the secret are stored.
type APIKey struct {
	ID     string `json:"id"`
	Prefix string `json:"prefix"`
	Name   string `json:"name"`
	Scope  string `json:"scope"`
	// Projects are the keys of the projects the key may see and change;
	// empty means every project.
	Projects   []string   `json:"projects,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Version    int64      `json:"version"`
	// Hash is the hex SHA-256 of the secret; it never leaves the server.
	Hash string `json:"-"`
}

// Active reports whether the key may be used at now: not revoked, not expired.
func (k *APIKey) Active(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// KeyCreate is the input of CreateKey.
type KeyCreate struct {
	Name      string     `json:"name" rule:"keyname" doc:"who or what uses the key (1-100 characters); recorded as the actor of its changes"`
	Scope     string     `json:"scope" enum:"read,write,admin" doc:"read, write or admin"`
	Projects  []string   `json:"projects,omitempty" maxItems:"100" pattern:"^[A-Z][A-Z0-9]{1,15}$" doc:"project keys the key is limited to; empty for every project (not with admin)"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"when the key stops working (RFC 3339); never if absent"`
}

// MaxKeyProjects bounds the projects one key may be limited to.
const MaxKeyProjects = 100

// Validate checks a KeyCreate at now.
func (c *KeyCreate) Validate(now time.Time) error {
	name := strings.TrimSpace(c.Name)
	switch {
	case name == "":
		return FieldErrorf("name", "name is required: who or what uses the key, such as ci-bot")
	case utf8.RuneCountInString(c.Name) > 100:
		return FieldErrorf("name", "name is longer than 100 characters")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return FieldErrorf("name", "name must be valid UTF-8 without control characters")
	}
	if !slices.Contains(Scopes, c.Scope) {
		return FieldErrorf("scope", "scope must be read, write or admin, not %s", QuoteRef(c.Scope))
	}
	if len(c.Projects) > MaxKeyProjects {
		return FieldErrorf("projects", "a key is limited to at most %d projects, not %d", MaxKeyProjects, len(c.Projects))
	}
	if len(c.Projects) > 0 && c.Scope == ScopeAdmin {
		return FieldErrorf("projects", "an admin key acts on the whole deployment and cannot be limited to projects; use scope write")
	}
	for _, p := range c.Projects {
		if !projectKeyRE.MatchString(p) {
			return FieldErrorf("projects", "projects must hold project keys such as CORE, not %s", QuoteRef(p))
		}
	}
	if c.ExpiresAt != nil && !c.ExpiresAt.After(now) {
		// Well formed, but past by the server's clock: a rule, not a
		// malformed request, as the document can only say the former.
		return &Error{Code: ERULE, Field: "expires_at", Message: "expires_at " + c.ExpiresAt.UTC().Format(time.RFC3339) + " is not in the future"}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// KeyCreated is the answer of CreateKey: the key and, this once, its token.
type KeyCreated struct {
	*APIKey
	Token string `json:"token" doc:"the secret to present as Authorization: Bearer <token>; shown only once"`
}

// Token format: "ap_" + 8 prefix characters + "_" + 64 hex digits (32
// random bytes).
const (
	tokenPrefixLen = 8
	tokenSecretLen = 64
	// TokenLen is the length of a whole token.
	TokenLen = 3 + tokenPrefixLen + 1 + tokenSecretLen
)

// NewKeyToken returns a new token, its prefix and the hex SHA-256 of its
// secret.
func NewKeyToken() (token, prefix, hash string) {
	var b [5]byte
	rand.Read(b[:])
	p := make([]byte, tokenPrefixLen)
	v := uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	for i := range p {
		p[i] = crockford[v&31]
		v >>= 5
	}
	var s [32]byte
	rand.Read(s[:])
	secret := hex.EncodeToString(s[:])
	prefix = string(p)
	return "ap_" + prefix + "_" + secret, prefix, HashSecret(secret)
}

// ParseKeyToken splits a token into its prefix and secret. The error is
// EUNAUTHORIZED and says what is wrong with the form, never the token.
func ParseKeyToken(token string) (prefix, secret string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", Errorf(EUNAUTHORIZED, "malformed API key: %s (want ap_<prefix>_<secret>, as agileplus key create prints it)", why)
	}
	if len(token) != TokenLen {
		return bad(fmt.Sprintf("%d characters, not %d", len(token), TokenLen))
	}
	if !strings.HasPrefix(token, "ap_") || token[3+tokenPrefixLen] != '_' {
		return bad("it does not start with ap_ and a prefix")
	}
	prefix, secret = token[3:3+tokenPrefixLen], token[3+tokenPrefixLen+1:]
	if !isKeyPrefix(prefix) {
		return bad("the prefix has a character that is not a lower-case letter or digit")
	}
	// The secret has the form of a stored hash: 64 lower-case hex digits.
	if !isHexHash(secret) {
		return bad("the secret is not 64 lower-case hex digits")
	}
	return prefix, secret, nil
}

// HashSecret returns the hex SHA-256 of a token's secret, as stored.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares a presented secret with a stored hash in time
// that does not depend on where they differ.
func SecretMatches(secret, hash string) bool {
	h := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1
}

// Principal is who calls: the key a request authenticated with. Commands
// without a principal in their context (in-process callers, local mode)
// act on everything.
type Principal struct {
	KeyID string
	Name  string
	Scope string
	// Projects limits the principal to these project keys; nil allows all.
	Projects []string
}

// AllowsProject reports whether p may see and change the project key.
// A nil principal allows everything.
func (p *Principal) AllowsProject(projectKey string) bool {
	return p == nil || len(p.Projects) == 0 || slices.Contains(p.Projects, projectKey)
}

// Limited reports whether p is limited to some projects.
func (p *Principal) Limited() bool { return p != nil && len(p.Projects) > 0 }

// ProjectDenied is the error for a project a principal may not use.
func (p *Principal) ProjectDenied(field, projectKey string) error {
	return &Error{Code: EFORBIDDEN, Field: field, Message: fmt.Sprintf("key %s is limited to projects %s; it cannot use project %s",
		p.Name, strings.Join(p.Projects, ", "), projectKey)}
}

type principalKey struct{}

// WithPrincipal returns a context whose commands act for p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, nil if none.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Refusal is an admin action a key was refused, for the audit trail.
type Refusal struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Need   string `json:"need"` // the scope the action needs
}

// KeyAdmin manages API keys. The Service implements it over the store
// and the HTTP client against a server.
type KeyAdmin interface {
	// CreateKey makes a key and returns it with its token, the only time
	// the token is seen.
	CreateKey(ctx context.Context, c KeyCreate) (*KeyCreated, error)
	// Keys lists keys by id, revoked ones too.
	Keys(ctx context.Context, p Page) ([]*APIKey, error)
	// Key returns a key by id or prefix.
	Key(ctx context.Context, ref string) (*APIKey, error)
	// RevokeKey stops a key working at once; revoking a revoked key
	// returns it unchanged.
	RevokeKey(ctx context.Context, ref string) (*APIKey, error)
}

// AllowsEvent reports whether p may see an event: events of its projects,
// and events of no project (API keys) only with the admin scope. A nil
// principal sees everything.
func (p *Principal) AllowsEvent(e *Event) bool {
	if p == nil {
		return true
	}
	if e.ProjectKey == SystemProject {
		return p.Scope == ScopeAdmin
	}
	return p.AllowsProject(e.ProjectKey)
}
