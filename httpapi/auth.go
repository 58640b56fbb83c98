package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/agileplus/agileplus"
)

// Authenticator turns the bearer token of a request into the principal
// that calls. It returns an EUNAUTHORIZED *agileplus.Error for a token
// that identifies no active key (malformed, unknown, revoked, expired).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*agileplus.Principal, error)
}

// scopePublic marks the routes anyone may call: /health, /ready and
// /openapi.json. Every other route needs one of agileplus.Scopes.
const scopePublic = "public"

// MaxAuthorizationBytes bounds the Authorization header: a token is
// agileplus.TokenLen characters, and nothing longer is worth hashing.
const MaxAuthorizationBytes = 4 << 10

// authRealm is the challenge of every 401.
const authRealm = `Bearer realm="agileplus"`

// howToGetAKey ends the message of a 401 without credentials.
const howToGetAKey = "create a key with `agileplus key create --name NAME --scope read|write|admin` on the server (or ask its admin), then pass it with --token, AGILEPLUS_TOKEN or `agileplus login`"

// bearerToken returns the token of a request's Authorization header. The
// error, EUNAUTHORIZED, says what is wrong with the header; it never
// repeats the header, which may hold a secret.
func bearerToken(h http.Header) (string, error) {
	vs := h.Values("Authorization")
	switch {
	case len(vs) == 0:
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "this route needs an API key: send Authorization: Bearer <key>; %s", howToGetAKey)
	case len(vs) > 1:
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the request has %d Authorization headers; send exactly one: Authorization: Bearer <key>", len(vs))
	}
	v := vs[0]
	if len(v) > MaxAuthorizationBytes {
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the Authorization header is %d bytes long; the limit is %d (a key is %d characters)", len(v), MaxAuthorizationBytes, agileplus.TokenLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the Authorization header has a byte that is not printable ASCII (0x%02x at %d): send Authorization: Bearer <key>", c, i)
		}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the Authorization header is empty: send Authorization: Bearer <key>; %s", howToGetAKey)
	}
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the Authorization scheme is %s, not Bearer: send Authorization: Bearer <key>", agileplus.QuoteRef(scheme))
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", agileplus.Errorf(agileplus.EUNAUTHORIZED, "the Authorization header has no key after Bearer: send Authorization: Bearer <key>")
	}
	return token, nil
}

// guard authenticates a request to a route that needs scope, checks the
// scope, and puts the principal and the actor in the request's context.
// Without an Authenticator it only sets the actor from the header.
func (s *Server) guard(scope string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Auth == nil || scope == scopePublic {
			next(w, r)
			return
		}
		token, err := bearerToken(r.Header)
		if err != nil {
			s.unauthorized(w, r, err)
			return
		}
		p, err := s.Auth.Authenticate(r.Context(), token)
		if err == nil && p == nil {
			err = agileplus.Errorf(agileplus.EUNAUTHORIZED, "the API key identifies no active key")
		}
		if agileplus.ErrorCode(err) == agileplus.EUNAUTHORIZED {
			s.unauthorized(w, r, err)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !agileplus.ScopeAllows(p.Scope, scope) {
			if scope == agileplus.ScopeAdmin && s.Refused != nil {
				s.Refused(context.WithoutCancel(r.Context()), p.KeyID, agileplus.Refusal{Method: r.Method, Path: r.URL.Path, Need: scope})
			}
			s.fail(w, r, agileplus.Errorf(agileplus.EFORBIDDEN, "%s %s needs scope %s; key %s has %s", r.Method, r.URL.Path, scope, p.Name, p.Scope))
			return
		}
		r = r.WithContext(agileplus.WithPrincipal(r.Context(), p))
		next(w, withActor(r))
	}
}

// unauthorized answers 401 with the bearer challenge.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("WWW-Authenticate", authRealm)
	s.fail(w, r, err)
}

// actorFor returns the actor of a change made by principal p with the
// actor header h (already trimmed): the key's name, narrowed by the
// header to "<name>/<what the header says>". A header that already
// starts with the name stays as it is, so "ci-bot/job-7" is not doubled.
func actorFor(p *agileplus.Principal, h string) string {
	if p == nil {
		return h
	}
	switch {
	case h == "" || h == p.Name:
		return p.Name
	case strings.HasPrefix(h, p.Name+"/"):
		return h
	default:
		return p.Name + "/" + h
	}
}

// Whoami is the answer of GET /v1/whoami: the key a request authenticated
// with, or, on a server without authentication, a word saying so.
type Whoami struct {
	Authenticated bool   `json:"authenticated" doc:"false when the server runs without authentication"`
	KeyID         string `json:"key_id,omitempty"`
	Name          string `json:"name,omitempty" doc:"the key's name, the actor of its changes"`
	Scope         string `json:"scope,omitempty" doc:"read, write or admin"`
	// Projects limits the key; empty means every project.
	Projects []string `json:"projects,omitempty" doc:"the project keys the key is limited to; empty for every project"`
	Actor    string   `json:"actor,omitempty" doc:"the actor this request's changes would record"`
	Message  string   `json:"message,omitempty"`
}

func whoami(r *http.Request, authOn bool) *Whoami {
	p := agileplus.PrincipalFrom(r.Context())
	if !authOn || p == nil {
		return &Whoami{Actor: agileplus.ActorFrom(r.Context()), Message: "authentication is off on this server: every caller may do everything, and the actor header is taken as given"}
	}
	return &Whoami{Authenticated: true, KeyID: p.KeyID, Name: p.Name, Scope: p.Scope, Projects: p.Projects, Actor: agileplus.ActorFrom(r.Context())}
}

// keys returns the server's key admin or the error to answer with.
func (s *Server) keys() (agileplus.KeyAdmin, error) {
	if s.Keys == nil {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "API keys are not managed by this server")
	}
	return s.Keys, nil
}

func (s *Server) keyRoutes() []route {
	return []route{
		op(s, "GET", "/v1/whoami", "The key this request authenticates with: id, name, scope and projects", 200, nil, func(r *http.Request, _ *noBody) (*Whoami, error) {
			return whoami(r, s.Auth != nil), nil
		}).needs(agileplus.ScopeRead),
		op(s, "POST", "/v1/keys", "Create an API key; its token is in the answer, this once", 201, nil, func(r *http.Request, in *agileplus.KeyCreate) (*agileplus.KeyCreated, error) {
			k, err := s.keys()
			if err != nil {
				return nil, err
			}
			return k.CreateKey(r.Context(), *in)
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/keys", "List API keys by id, revoked ones too (never their secrets)", 200, cursorParams(idCursor(agileplus.PrefixKey)), func(r *http.Request, _ *noBody) (*List[*agileplus.APIKey], error) {
			k, err := s.keys()
			if err != nil {
				return nil, err
			}
			pg, err := idPage(r, agileplus.PrefixKey)
			if err != nil {
				return nil, err
			}
			ks, err := k.Keys(r.Context(), pg)
			return list(ks, pg.Limit, func(k *agileplus.APIKey) string { return k.ID }), err
		}).needs(agileplus.ScopeAdmin),
		op(s, "GET", "/v1/keys/{key}", "Get an API key by id or token prefix", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.APIKey, error) {
			k, err := s.keys()
			if err != nil {
				return nil, err
			}
			return k.Key(r.Context(), r.PathValue("key"))
		}).needs(agileplus.ScopeAdmin),
		op(s, "POST", "/v1/keys/{key}/revoke", "Revoke an API key at once; answers the revoked key, which stays listed with its revoked_at (revoking twice changes nothing)", 200, nil, func(r *http.Request, _ *noBody) (*agileplus.APIKey, error) {
			k, err := s.keys()
			if err != nil {
				return nil, err
			}
			return k.RevokeKey(r.Context(), r.PathValue("key"))
		}).needs(agileplus.ScopeAdmin),
	}
}

// needs declares the scope a route needs.
func (rt route) needs(scope string) route {
	rt.scope = scope
	return rt
}

// scopeNote is the sentence the OpenAPI document adds to an operation.
func scopeNote(scope string) string {
	if scope == scopePublic {
		return "Public: needs no API key."
	}
	return fmt.Sprintf("Needs scope %s.", scope)
}
