// Package keyauth authenticates API requests by their key's token: it
// parses the token, finds the key by its prefix, compares the secret in
// constant time and checks the key is active. It keeps when keys were last
// used in memory and writes it back in batches.
package keyauth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
)

// Keys finds a key by id or prefix; it returns an ENOTFOUND error for none.
// agileplus.Service implements it.
type Keys interface {
	Key(ctx context.Context, ref string) (*agileplus.APIKey, error)
}

// Toucher records when keys were last used (key id -> time).
// agileplus.Service implements it.
type Toucher interface {
	TouchKeys(ctx context.Context, used map[string]time.Time) error
}

// Config configures an Authenticator.
type Config struct {
	Keys Keys
	// Touch, if set, receives last-used times every FlushEvery and at Close.
	Touch Toucher
	// Cache keeps the keys it has read in memory. Only for a store this
	// process alone writes (SQLite in its data directory): a key revoked by
	// another process would go on working here. With Cache off every
	// request reads its key, so a revoke anywhere takes effect at once.
	Cache bool
	// FlushEvery is how often last-used times are written (default 30s).
	FlushEvery time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Bounds of what requests can make the authenticator hold.
const (
	// maxCached bounds cached keys: only keys the store holds get there,
	// so it is reached only by a deployment with very many keys.
	maxCached = 10000
	// maxMissing bounds remembered unknown prefixes, which anyone can
	// send: when full it is emptied.
	maxMissing = 4096
	// maxUsed bounds pending last-used times; a fuller map is flushed early.
	maxUsed = 10000
)

// Authenticator turns tokens into principals. Open starts its flusher;
// Close stops it and writes the last-used times it holds.
type Authenticator struct {
	cfg Config

	mu      sync.RWMutex
	cached  map[string]*entry   // by prefix, with Cache
	missing map[string]struct{} // prefixes the store does not hold, with Cache
	// gen counts Forget calls: a key read from the store before one is
	// not cached, since it may predate a revoke.
	gen uint64

	usedMu sync.Mutex
	used   map[string]time.Time // key id -> last use not yet written

	flush chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

// entry is a key as read from the store, with the principal it yields.
type entry struct {
	key       *agileplus.APIKey
	principal agileplus.Principal
}

// New returns an Authenticator; call Open to start writing last-used times.
func New(cfg Config) *Authenticator {
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{
		cfg:     cfg,
		cached:  map[string]*entry{},
		missing: map[string]struct{}{},
		used:    map[string]time.Time{},
		flush:   make(chan struct{}, 1),
	}
}

// Open starts the goroutine that writes last-used times.
func (a *Authenticator) Open() {
	if a.stop != nil || a.cfg.Touch == nil {
		return
	}
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go a.flushLoop()
}

// Close stops the flusher and writes what it holds.
func (a *Authenticator) Close() error {
	if a.stop != nil {
		close(a.stop)
		<-a.done
		a.stop = nil
	}
	return a.Flush(context.Background())
}

func (a *Authenticator) flushLoop() {
	defer close(a.done)
	t := time.NewTicker(a.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		case <-a.flush:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.Flush(ctx); err != nil {
			a.cfg.Logger.Warn("record when API keys were last used", "err", err)
		}
		cancel()
	}
}

// Flush writes the last-used times held so far.
func (a *Authenticator) Flush(ctx context.Context) error {
	if a.cfg.Touch == nil {
		return nil
	}
	a.usedMu.Lock()
	used := a.used
	a.used = map[string]time.Time{}
	a.usedMu.Unlock()
	if len(used) == 0 {
		return nil
	}
	return a.cfg.Touch.TouchKeys(ctx, used)
}

// dummyHash is compared against when no key has the prefix, so that an
// unknown prefix costs what a known one does.
var dummyHash = agileplus.HashSecret("")

// Authenticate returns the principal of token, or an EUNAUTHORIZED error
// that says why it is refused without repeating the token's secret.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*agileplus.Principal, error) {
	prefix, secret, err := agileplus.ParseKeyToken(token)
	if err != nil {
		return nil, err
	}
	e, err := a.lookup(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if e == nil {
		agileplus.SecretMatches(secret, dummyHash)
		return nil, unknown(prefix)
	}
	if !agileplus.SecretMatches(secret, e.key.Hash) {
		// The same answer as an unknown prefix: a wrong secret tells
		// nothing about the key.
		return nil, unknown(prefix)
	}
	now := a.cfg.Now()
	k := e.key
	if k.RevokedAt != nil {
		return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "API key %s (ap_%s_…) was revoked at %s; ask an admin for a new one",
			k.Name, k.Prefix, k.RevokedAt.UTC().Format(time.RFC3339))
	}
	if !k.Active(now) {
		return nil, agileplus.Errorf(agileplus.EUNAUTHORIZED, "API key %s (ap_%s_…) expired at %s; ask an admin for a new one",
			k.Name, k.Prefix, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	a.touch(k.ID, now)
	p := e.principal
	return &p, nil
}

func unknown(prefix string) error {
	return agileplus.Errorf(agileplus.EUNAUTHORIZED, "unknown API key ap_%s_…: a key of another deployment or a deleted one, or its secret is wrong", prefix)
}

// lookup returns the key with prefix, nil if none.
func (a *Authenticator) lookup(ctx context.Context, prefix string) (*entry, error) {
	if a.cfg.Cache {
		a.mu.RLock()
		e, ok := a.cached[prefix]
		_, miss := a.missing[prefix]
		a.mu.RUnlock()
		if ok {
			return e, nil
		}
		if miss {
			return nil, nil
		}
	}
	a.mu.RLock()
	gen := a.gen
	a.mu.RUnlock()
	k, err := a.cfg.Keys.Key(ctx, prefix)
	if agileplus.ErrorCode(err) == agileplus.ENOTFOUND {
		if a.cfg.Cache {
			a.mu.Lock()
			if len(a.missing) >= maxMissing {
				clear(a.missing)
			}
			if a.gen == gen {
				a.missing[prefix] = struct{}{}
			}
			a.mu.Unlock()
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if k.Prefix != prefix {
		// The ref matched a key id, which a prefix never is.
		return nil, nil
	}
	e := &entry{key: k, principal: agileplus.Principal{KeyID: k.ID, Name: k.Name, Scope: k.Scope, Projects: k.Projects}}
	if a.cfg.Cache {
		a.mu.Lock()
		if len(a.cached) >= maxCached {
			clear(a.cached)
		}
		if a.gen == gen {
			a.cached[prefix] = e
		}
		a.mu.Unlock()
	}
	return e, nil
}

// touch remembers that key id was used at now.
func (a *Authenticator) touch(id string, now time.Time) {
	if a.cfg.Touch == nil {
		return
	}
	a.usedMu.Lock()
	a.used[id] = now
	full := len(a.used) >= maxUsed
	a.usedMu.Unlock()
	if full {
		select {
		case a.flush <- struct{}{}:
		default:
		}
	}
}

// Forget drops what the cache holds of the key with prefix, so that its
// next use reads the store.
func (a *Authenticator) Forget(prefix string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	delete(a.missing, prefix)
	delete(a.cached, prefix)
}

// Admin wraps a KeyAdmin so that keys it creates and revokes take effect
// on this authenticator at once.
func (a *Authenticator) Admin(k agileplus.KeyAdmin) agileplus.KeyAdmin {
	return &admin{KeyAdmin: k, a: a}
}

type admin struct {
	agileplus.KeyAdmin
	a *Authenticator
}

func (ad *admin) CreateKey(ctx context.Context, c agileplus.KeyCreate) (*agileplus.KeyCreated, error) {
	k, err := ad.KeyAdmin.CreateKey(ctx, c)
	if err == nil {
		ad.a.Forget(k.Prefix)
	}
	return k, err
}

func (ad *admin) RevokeKey(ctx context.Context, ref string) (*agileplus.APIKey, error) {
	k, err := ad.KeyAdmin.RevokeKey(ctx, ref)
	if err == nil {
		ad.a.Forget(k.Prefix)
	}
	return k, err
}
