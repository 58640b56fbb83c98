package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/agileplus/agileplus/session"
	"github.com/agileplus/agileplus/webui"
	"github.com/spf13/cobra"
)

// board puts the web board in front of the API: it signs browsers in with
// the API's own authenticator and keeps their sessions, and the sign-in
// codes agileplus board asks for, in the cache.
func (a *app) board(api *httpapi.Server, cache agileplus.Cache) (*webui.Board, error) {
	cfg := webui.Config{API: api, Secure: a.cfg.tls != nil, Logger: a.cfg.logger}
	if api.Auth != nil {
		cfg.Auth = api.Auth
		cfg.Sessions = &session.Service{Cache: cache}
	}
	return webui.New(cfg), nil
}

// openBrowser opens path (a file) in the user's browser; tests replace it.
var openBrowser = func(path string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", path)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", path)
	default:
		cmd = exec.Command("xdg-open", path)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // a browser started anew may outlive this command
	return nil
}

// boardLink is what agileplus board hands out.
type boardLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func newBoardCmd(e *env) *cobra.Command {
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "board",
		Short: "Open the web board, signed in with this CLI's key",
		Long: `Open the web board of --server in your browser, signed in with the key this
CLI uses (--token, AGILEPLUS_TOKEN, login, or on loopback the local key).

The server gives a one-time sign-in code for the key, valid 60 seconds; the
browser opens http://SERVER/#signin=CODE, spends the code on a session and
drops it from the address. The link reaches the browser through a file only
you can read, not the command line, which other users may see. With --print
(or --json) the link is printed instead. On a server without authentication
the board needs no code.`,
		Args:              argNames(),
		PersistentPreRunE: e.checkClientFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			link, err := e.boardLink(cmd.Context())
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, link)
			}
			if printOnly {
				_, err := fmt.Fprintln(e.stdout, link.URL)
				return err
			}
			path, err := e.writeSignInPage(link.URL)
			if err == nil {
				err = openBrowser(path)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "agileplus: cannot open a browser (%v); open this link within 60 s:\n", err)
				_, err := fmt.Fprintln(e.stdout, link.URL)
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "opened the board of %s in your browser\n", serverKey(e.server))
			return err
		},
	}
	cmd.Flags().BoolVar(&printOnly, "print", false, "print the sign-in link instead of opening a browser")
	return cmd
}

// boardLink asks the server for a sign-in code for the CLI's key.
func (e *env) boardLink(ctx context.Context) (*boardLink, error) {
	base := serverKey(e.server)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ui/signin-code", nil)
	if err != nil {
		return nil, err
	}
	if tok := e.resolveToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc := e.httpClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s for a sign-in code: %w", base, err)
	}
	defer resp.Body.Close()
	var body struct {
		webui.Code
		Error struct{ Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	switch {
	case resp.StatusCode == http.StatusOK && body.Code.Code != "":
		return &boardLink{URL: base + "/#signin=" + body.Code.Code, ExpiresAt: body.ExpiresAt}, nil
	case resp.StatusCode == http.StatusConflict:
		// A server without authentication: the board opens for anyone.
		return &boardLink{URL: base + "/"}, nil
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%s refused the key: %s; pass --token, set AGILEPLUS_TOKEN, run agileplus login, or on loopback pass the server's --data", base, cmpOr(body.Error.Message, "no key"))
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s has no web board sign-in (POST /ui/signin-code answered 404): is it an older agileplus?", base)
	}
	return nil, fmt.Errorf("%s answered %s to POST /ui/signin-code: %s", base, resp.Status, cmpOr(body.Error.Message, "no sign-in code"))
}

// writeSignInPage writes a page that sends the browser to link into the
// user's cache directory, readable by the user only, and returns its path.
func (e *env) writeSignInPage(link string) (string, error) {
	dir := e.getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return "", errors.New("cannot tell where to write the sign-in page: set HOME or XDG_CACHE_HOME")
		}
		dir = filepath.Join(home, ".cache")
	}
	dir = filepath.Join(dir, "agileplus")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "board-signin.html")
	q := html.EscapeString(link)
	page := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0; url=` + q + `"><title>AgilePlus board</title><a href="` + q + `">Open the board</a>` + "\n"
	// writeTokenFile writes with mode 0600, replacing the last link.
	if err := writeTokenFile(path, page); err != nil {
		return "", err
	}
	return path, nil
}
