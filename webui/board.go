// Package webui serves the web board: a browser client of the HTTP API,
// its assets embedded in the binary (plain HTML, CSS and JavaScript
// modules, no build step), and the browser sessions that let it call the
// API without holding a key.
//
// The board is a handler in front of the API: it owns /, /ui/ and nothing
// else, and passes every other request on unchanged. A request to /v1/
// carrying the board's session cookie (and no Authorization header) goes
// to the API with the session's key as its bearer token, so the API
// authenticates and authorizes it exactly as it does any other caller:
// this package never decides what a key may do. A state-changing request
// made with the cookie needs the session's CSRF token in X-CSRF-Token.
package webui

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/session"
)

//go:embed assets
var assets embed.FS

// Authenticator turns an API key's token into its principal (keyauth's
// Authenticator, the one the API uses). It returns an EUNAUTHORIZED error
// for a token that identifies no active key.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*agileplus.Principal, error)
}

// Config is what the board needs.
type Config struct {
	// API serves every request the board does not own.
	API http.Handler
	// Auth checks the key a browser signs in with, and again each time
	// the board asks who is signed in. Nil: the server runs without
	// authentication, and the board opens for everyone.
	Auth Authenticator
	// Sessions keeps who signed in; needed with Auth.
	Sessions *session.Service
	// Secure marks the cookie Secure: the server speaks TLS.
	Secure bool
	Logger *slog.Logger
}

// Paths the board owns.
const (
	prefix      = "/ui/"
	sessionPath = "/ui/session"
	signInPath  = "/ui/signin"
	signOutPath = "/ui/signout"
	codePath    = "/ui/signin-code"
	assetPrefix = "/ui/assets/"
)

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-CSRF-Token"

// Cookie names: with TLS the __Host- prefix pins the cookie to this host,
// path / and Secure.
const (
	cookieName       = "agileplus_session"
	secureCookieName = "__Host-agileplus_session"
)

// Session data fields.
const (
	dataName  = "name"
	dataScope = "scope"
	dataCSRF  = "csrf"
	dataToken = "token" // the key's token, sealed with the session id
)

// maxSignInBytes bounds a sign-in body: a token is agileplus.TokenLen.
const maxSignInBytes = 4 << 10

// Board is the web board's handler.
type Board struct {
	cfg    Config
	static http.Handler
	index  []byte
}

// New returns the board over cfg.API.
func New(cfg Config) *Board {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return &Board{cfg: cfg, static: http.StripPrefix(assetPrefix, http.FileServerFS(sub)), index: index}
}

func (b *Board) cookieName() string {
	if b.cfg.Secure {
		return secureCookieName
	}
	return cookieName
}

// ServeHTTP implements http.Handler.
func (b *Board) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		b.serveIndex(w, r)
	case strings.HasPrefix(p, assetPrefix):
		b.serveAsset(w, r)
	case p == sessionPath:
		b.serveSession(w, r)
	case p == signInPath:
		b.serveSignIn(w, r)
	case p == signOutPath:
		b.serveSignOut(w, r)
	case p == codePath:
		b.serveCode(w, r)
	case strings.HasPrefix(p, prefix):
		writeError(w, http.StatusNotFound, agileplus.ENOTFOUND, "no such page of the board: "+agileplus.QuoteRef(p))
	case strings.HasPrefix(p, "/v1/"):
		b.serveAPI(w, r)
	default:
		b.cfg.API.ServeHTTP(w, r)
	}
}

// securityHeaders keep the board's pages to their own origin: no inline
// script, no framing, no referrer.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (b *Board) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b.index)
}

func (b *Board) serveAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return
	}
	// FileServer would list a directory and redirect index.html; the
	// board has neither.
	name := strings.TrimPrefix(r.URL.Path, assetPrefix)
	if name == "" || strings.HasSuffix(name, "/") || name == "index.html" {
		writeError(w, http.StatusNotFound, agileplus.ENOTFOUND, "no such asset: "+agileplus.QuoteRef(name))
		return
	}
	if _, err := fs.Stat(assets, "assets/"+name); err != nil {
		writeError(w, http.StatusNotFound, agileplus.ENOTFOUND, "no such asset: "+agileplus.QuoteRef(name))
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-cache")
	b.static.ServeHTTP(w, r)
}

// SessionInfo is the answer of GET /ui/session: who the board acts as.
type SessionInfo struct {
	// Auth is "keys", or "off" on a server without authentication.
	Auth     string `json:"auth"`
	SignedIn bool   `json:"signed_in"`
	Name     string `json:"name,omitempty"`
	Scope    string `json:"scope,omitempty"`
	// CSRF is the token state-changing requests carry in X-CSRF-Token.
	CSRF string `json:"csrf,omitempty"`
}

// current returns the session of the request's cookie with its key's
// token, or nil when there is none that still holds.
func (b *Board) current(r *http.Request) (*session.Session, string) {
	if b.cfg.Sessions == nil {
		return nil, ""
	}
	c, err := r.Cookie(b.cookieName())
	if err != nil {
		return nil, ""
	}
	s, err := b.cfg.Sessions.Get(r.Context(), c.Value)
	if err != nil {
		if agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
			b.cfg.Logger.Warn("read a board session", "err", err)
		}
		return nil, ""
	}
	token, err := open(s.ID, s.Data[dataToken])
	if err != nil {
		return nil, ""
	}
	return s, token
}

func (b *Board) serveSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r, "GET")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if b.cfg.Auth == nil {
		writeJSON(w, http.StatusOK, SessionInfo{Auth: "off", SignedIn: true})
		return
	}
	s, token := b.current(r)
	if s != nil {
		// The key may have been revoked since: ask again.
		if _, err := b.cfg.Auth.Authenticate(r.Context(), token); err == nil {
			writeJSON(w, http.StatusOK, infoOf(s))
			return
		}
		b.cfg.Sessions.Revoke(r.Context(), s.ID)
	}
	writeJSON(w, http.StatusOK, SessionInfo{Auth: "keys"})
}

// crossSite reports whether the browser says another site sent the
// request.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		return !strings.EqualFold(o, scheme+r.Host)
	}
	return false
}

// SignIn is the body of POST /ui/signin: an API key's token, or a
// sign-in code (POST /ui/signin-code).
type SignIn struct {
	Token string `json:"token,omitempty"`
	Code  string `json:"code,omitempty"`
}

// signInPOST answers what the sign-in routes refuse alike, a method other
// than POST and a server without authentication, and reports whether the
// request goes on; no answer of theirs is cached.
func (b *Board) signInPOST(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if b.cfg.Auth == nil {
		writeError(w, http.StatusConflict, agileplus.ECONFLICT, "this server runs without authentication: the board needs no sign-in")
		return false
	}
	return true
}

func (b *Board) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if !b.signInPOST(w, r) {
		return
	}
	if crossSite(r) {
		writeError(w, http.StatusForbidden, agileplus.EFORBIDDEN, "sign-in is accepted from the board's own pages only")
		return
	}
	var in SignIn
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSignInBytes))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writeFieldError(w, http.StatusBadRequest, "body", "send JSON {\"token\": \"<API key>\"} or {\"code\": \"<sign-in code>\"} of at most 4 KiB")
		return
	}
	in.Token, in.Code = strings.TrimSpace(in.Token), strings.TrimSpace(in.Code)
	switch {
	case in.Token != "" && in.Code != "":
		writeFieldError(w, http.StatusBadRequest, "code", "send a token or a code, not both")
		return
	case in.Code != "":
		b.signInWithCode(w, r, in.Code)
		return
	case in.Token == "":
		writeFieldError(w, http.StatusBadRequest, "token", "token is required: an API key (agileplus key create), or a code from agileplus board")
		return
	}
	info, err := b.signIn(w, r, in.Token)
	if err != nil {
		if code := agileplus.ErrorCode(err); code == agileplus.EUNAUTHORIZED || code == agileplus.EINVALID {
			writeError(w, http.StatusUnauthorized, agileplus.EUNAUTHORIZED, "that API key identifies no active key")
			return
		}
		b.cfg.Logger.Error("board sign-in", "err", err)
		writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "sign-in failed: the key or session store cannot be reached")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// signIn checks token with the API's authenticator and starts a session
// for it, setting the cookie.
func (b *Board) signIn(w http.ResponseWriter, r *http.Request, token string) (SessionInfo, error) {
	p, err := b.cfg.Auth.Authenticate(r.Context(), token)
	if err == nil && p == nil {
		err = agileplus.Errorf(agileplus.EUNAUTHORIZED, "the API key identifies no active key")
	}
	if err != nil {
		return SessionInfo{}, err
	}
	data := map[string]string{dataName: p.Name, dataScope: p.Scope, dataCSRF: randomToken()}
	s, err := b.cfg.Sessions.CreateFunc(r.Context(), cmpOr(p.KeyID, p.Name), func(id string) map[string]string {
		data[dataToken] = seal(id, token)
		return data
	})
	if err != nil {
		return SessionInfo{}, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: b.cookieName(), Value: s.ID, Path: "/",
		HttpOnly: true, Secure: b.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
	return infoOf(s), nil
}

// CodeTTL is how long a sign-in code holds: long enough to open a link
// the CLI printed, short enough that one found later is spent.
const CodeTTL = 60 * time.Second

// Code is the answer of POST /ui/signin-code.
type Code struct {
	// Code signs a browser in once (POST /ui/signin {"code": ...}); the
	// board's page takes it from the address's fragment, #signin=CODE.
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// serveCode gives the holder of a key a one-time code that signs a
// browser in with that key, so a browser gets a session only from someone
// who could read a key (the CLI's local key file is its owner's only).
// The key comes in Authorization, which no other site's page can send.
func (b *Board) serveCode(w http.ResponseWriter, r *http.Request) {
	if !b.signInPOST(w, r) {
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, agileplus.EUNAUTHORIZED, "a sign-in code needs an API key: send Authorization: Bearer <token> (agileplus board does)")
		return
	}
	p, err := b.cfg.Auth.Authenticate(r.Context(), token)
	if err == nil && p == nil {
		err = agileplus.Errorf(agileplus.EUNAUTHORIZED, "the API key identifies no active key")
	}
	if err != nil {
		if code := agileplus.ErrorCode(err); code == agileplus.EUNAUTHORIZED || code == agileplus.EINVALID {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, agileplus.EUNAUTHORIZED, "that API key identifies no active key")
			return
		}
		b.cfg.Logger.Error("board sign-in code", "err", err)
		writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "no sign-in code: the key store cannot be reached")
		return
	}
	// The cache holds the key sealed with the code, which only the
	// caller holds, as a session's key is sealed with its id.
	code, expires, err := b.cfg.Sessions.NewCode(r.Context(), CodeTTL, func(code string) map[string]string {
		return map[string]string{dataToken: seal(code, token)}
	})
	if err != nil {
		b.cfg.Logger.Error("board sign-in code", "err", err)
		writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "no sign-in code: the session store cannot be reached")
		return
	}
	writeJSON(w, http.StatusOK, Code{Code: code, ExpiresAt: expires.UTC()})
}

// signInWithCode spends a sign-in code on a session with its key.
func (b *Board) signInWithCode(w http.ResponseWriter, r *http.Request, code string) {
	refused := func() {
		writeError(w, http.StatusUnauthorized, agileplus.EUNAUTHORIZED, "that sign-in code is unknown, used or expired: run agileplus board for a new one")
	}
	data, err := b.cfg.Sessions.Redeem(r.Context(), code)
	if err != nil {
		if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
			refused()
			return
		}
		b.cfg.Logger.Error("board sign-in with a code", "err", err)
		writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "sign-in failed: the session store cannot be reached")
		return
	}
	token, err := open(code, data[dataToken])
	if err != nil {
		refused()
		return
	}
	info, err := b.signIn(w, r, token)
	if err != nil {
		if c := agileplus.ErrorCode(err); c == agileplus.EUNAUTHORIZED || c == agileplus.EINVALID {
			// The key was revoked since the code was made.
			refused()
			return
		}
		b.cfg.Logger.Error("board sign-in with a code", "err", err)
		writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "sign-in failed: the key or session store cannot be reached")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func infoOf(s *session.Session) SessionInfo {
	return SessionInfo{Auth: "keys", SignedIn: true, Name: s.Data[dataName], Scope: s.Data[dataScope], CSRF: s.Data[dataCSRF]}
}

func (b *Board) serveSignOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, "POST")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s, _ := b.current(r)
	if s != nil {
		if !csrfOK(r, s) {
			csrfRefused(w)
			return
		}
		if err := b.cfg.Sessions.Revoke(r.Context(), s.ID); err != nil {
			writeError(w, http.StatusServiceUnavailable, agileplus.EUNAVAILABLE, "sign-out failed: the session store cannot be reached")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: b.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: b.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
	w.WriteHeader(http.StatusNoContent)
}

// serveAPI passes a request to the API, with the key of its session when
// it comes from the board.
func (b *Board) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" || b.cfg.Sessions == nil {
		b.cfg.API.ServeHTTP(w, r)
		return
	}
	if _, err := r.Cookie(b.cookieName()); err != nil {
		b.cfg.API.ServeHTTP(w, r)
		return
	}
	s, token := b.current(r)
	if s == nil {
		// An ended session: the API answers 401 as to anyone without a key.
		b.cfg.API.ServeHTTP(w, r)
		return
	}
	if !safeMethod(r.Method) && !csrfOK(r, s) {
		csrfRefused(w)
		return
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	b.cfg.API.ServeHTTP(w, r)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func csrfOK(r *http.Request, s *session.Session) bool {
	want := s.Data[dataCSRF]
	got := r.Header.Get(CSRFHeader)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func csrfRefused(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, agileplus.EFORBIDDEN, "a change made with the board's session needs its CSRF token in the "+CSRFHeader+" header (GET /ui/session gives it)")
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sealKey derives the key that seals a session's API token from the
// session's id, which only the browser holds: the cache keeps the id's
// hash under another label, so a copy of the cache opens no token.
func sealKey(sessionID string) []byte {
	sum := sha256.Sum256([]byte("agileplus board token\x00" + sessionID))
	return sum[:]
}

func seal(sessionID, token string) string {
	g := gcm(sessionID)
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(token), nil))
}

func open(sessionID, sealed string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	g := gcm(sessionID)
	if err != nil || len(b) < g.NonceSize() {
		return "", errors.New("webui: malformed sealed token")
	}
	pt, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], nil)
	if err != nil {
		return "", errors.New("webui: the sealed token does not open")
	}
	return string(pt), nil
}

func gcm(sessionID string) cipher.AEAD {
	block, err := aes.NewCipher(sealKey(sessionID))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// errorBody is the API's error shape, so the board's client reads both
// alike.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e errorBody
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeFieldError(w http.ResponseWriter, status int, field, msg string) {
	var e errorBody
	e.Error.Code, e.Error.Message, e.Error.Field = agileplus.EINVALID, msg, field
	writeJSON(w, status, e)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, agileplus.EINVALID, "method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
