package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/keyauth"
)

// LocalKeyFile is where serve on loopback keeps the token of the local
// admin key, readable by its owner only; the CLI on the same machine
// reads it when no other token is given.
const LocalKeyFile = "local-key"

// localKeyCreator is the creator recorded on local keys: what tells them
// from keys a person made.
const localKeyCreator = "agileplus serve (local mode)"

// setupAuth gives the API its authenticator and key routes: local mode on
// loopback, keys required beyond it, none with --insecure-no-auth.
func (a *app) setupAuth(ctx context.Context, api *httpapi.Server, svc *agileplus.Service) error {
	cfg, log := a.cfg, a.cfg.logger
	mode := "keys"
	api.Keys = svc
	if cfg.insecureNoAuth {
		mode = "insecure-no-auth"
		log.Warn("serving WITHOUT authentication (--insecure-no-auth): anyone who reaches the port can change everything; authenticate in a proxy in front")
	} else {
		loopback := isLoopback(a.ln.Addr())
		if loopback {
			if err := ensureLocalKey(ctx, svc, cfg.dataDir, cfg.localKeyName); err != nil {
				return err
			}
		} else {
			has, err := hasPersonalKey(ctx, svc)
			if err != nil {
				return err
			}
			if !has {
				return configErrorf("serve listens on %s, beyond loopback, and no API key exists: anyone who reaches it could change everything.\n"+
					"Create an admin key first, with serve stopped:\n"+
					"  agileplus key create --data %s%s --name NAME --scope admin\n"+
					"(or through a server already running: agileplus key create --name NAME --scope admin),\n"+
					"then give clients its token with --token, AGILEPLUS_TOKEN or agileplus login.\n"+
					"A proxy in front that authenticates callers itself: pass --insecure-no-auth",
					a.ln.Addr(), cfg.dataDir, neo4jFlagHint(cfg.neo4j.URL))
			}
		}
		auth := keyauth.New(keyauth.Config{
			Keys:  svc,
			Touch: svc,
			// Only a store this process alone writes may be cached: on a
			// shared one a revoke by another process must hold here at once.
			Cache:  cfg.neo4j.URL == "",
			Logger: log,
		})
		auth.Open()
		a.onClose(auth.Close)
		api.Auth = auth
		api.Keys = auth.Admin(svc)
		api.Refused = func(ctx context.Context, keyID string, r agileplus.Refusal) {
			if err := svc.RecordRefusal(context.WithoutCancel(ctx), keyID, r); err != nil {
				log.Warn("record a refused admin action", "key", keyID, "err", err)
			}
		}
	}
	api.Checks = append(api.Checks, httpapi.Check{Name: "auth", Func: func(context.Context) (map[string]any, error) {
		return map[string]any{"mode": mode}, nil
	}})
	return nil
}

func neo4jFlagHint(url string) string {
	if url == "" {
		return ""
	}
	return " --neo4j-url " + redact(url)
}

// isLoopback reports whether addr is on a loopback interface only.
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// hostIsLoopback reports whether a host is a loopback address or
// localhost (with or without the root's trailing dot).
func hostIsLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasPersonalKey reports whether an active key exists that local mode did
// not make.
func hasPersonalKey(ctx context.Context, svc *agileplus.Service) (bool, error) {
	pg := agileplus.Page{Limit: agileplus.MaxPageLimit}
	for {
		ks, err := svc.Keys(ctx, pg)
		if err != nil {
			return false, fmt.Errorf("list API keys: %w", err)
		}
		for _, k := range ks {
			if k.CreatedBy != localKeyCreator && k.Active(svc.Now()) {
				return true, nil
			}
		}
		if len(ks) < pg.Limit {
			return false, nil
		}
		pg.After = ks[len(ks)-1].ID
	}
}

// ensureLocalKey makes sure DATA/local-key holds the token of an active
// admin key, creating the key (named after the user) when the file is
// missing or its key is gone, revoked or expired.
func ensureLocalKey(ctx context.Context, svc *agileplus.Service, dataDir, name string) error {
	path := filepath.Join(dataDir, LocalKeyFile)
	if tok, err := readTokenFile(path); err == nil {
		if prefix, secret, err := agileplus.ParseKeyToken(tok); err == nil {
			k, err := svc.Key(ctx, prefix)
			if err != nil && agileplus.ErrorCode(err) != agileplus.ENOTFOUND {
				return fmt.Errorf("read the local key: %w", err)
			}
			if err == nil && k.Prefix == prefix && agileplus.SecretMatches(secret, k.Hash) && k.Active(svc.Now()) {
				return os.Chmod(path, 0o600)
			}
		}
	}
	kc, err := svc.CreateKey(agileplus.WithActor(ctx, localKeyCreator), agileplus.KeyCreate{Name: name, Scope: agileplus.ScopeAdmin})
	if err != nil {
		return fmt.Errorf("create the local key: %w", err)
	}
	return writeTokenFile(path, kc.Token)
}

// readTokenFile reads a token kept in a file.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// writeTokenFile writes a token readable by its owner only, replacing the
// file whole.
func writeTokenFile(path, token string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// WriteFile keeps the mode of a file that existed.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// limitListener accepts at most n connections at a time; the next waits
// in the backlog until one closes, so a flood of connections cannot take
// every file descriptor and goroutine.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
