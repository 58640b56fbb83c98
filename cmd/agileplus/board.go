package main

import (
	"fmt"
	"path/filepath"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/session"
	"github.com/agileplus/agileplus/webui"
)

// board puts the web board in front of the API: it signs browsers in with
// the API's own authenticator and keeps their sessions in the cache; on
// loopback it signs them in with the local key, as the CLI uses it.
func (a *app) board(api *httpapi.Server, cache agileplus.Cache) (*webui.Board, error) {
	cfg := webui.Config{API: api, Secure: a.cfg.tls != nil, Logger: a.cfg.logger}
	if api.Auth != nil {
		cfg.Auth = api.Auth
		cfg.Sessions = &session.Service{Cache: cache}
		if isLoopback(a.ln.Addr()) {
			tok, err := readTokenFile(filepath.Join(a.cfg.dataDir, LocalKeyFile))
			if err != nil {
				return nil, fmt.Errorf("read the local key for the web board: %w", err)
			}
			cfg.LocalToken = tok
		}
	}
	return webui.New(cfg), nil
}
