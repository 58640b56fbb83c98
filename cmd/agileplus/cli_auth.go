package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
	"github.com/spf13/cobra"
)

// client returns the client of the server named by --server, with the
// token resolveToken finds.
func (e *env) client() *httpapi.Client {
	opts := []httpapi.ClientOption{httpapi.WithActor(e.actor)}
	if tok := e.resolveToken(); tok != "" {
		opts = append(opts, httpapi.WithToken(tok))
	}
	if e.httpClient != nil {
		opts = append(opts, httpapi.WithHTTPClient(e.httpClient))
	}
	return httpapi.NewClient(e.server, opts...)
}

// resolveToken picks the token to send: --token, then AGILEPLUS_TOKEN
// (not the flag's default, which help would print), then what login stored for this server, then the local
// key serve keeps in its data directory when the server is on loopback.
func (e *env) resolveToken() string {
	if e.token != "" {
		return e.token
	}
	if tok := e.getenv("AGILEPLUS_TOKEN"); tok != "" {
		return tok
	}
	if creds, err := e.loadCredentials(); err == nil {
		if c, ok := creds.Servers[serverKey(e.server)]; ok && c.Token != "" {
			return c.Token
		}
	}
	if u, err := url.Parse(e.server); err == nil && hostIsLoopback(u.Hostname()) {
		if tok, err := readTokenFile(filepath.Join(e.dataDir, LocalKeyFile)); err == nil {
			return tok
		}
	}
	return ""
}

// checkCACert reads --ca-cert into the HTTP client the commands use.
func (e *env) checkCACert(cmd *cobra.Command) error {
	if e.caCert == "" {
		return nil
	}
	src := e.flagSourceOf(cmd, "ca-cert", "AGILEPLUS_CA_CERT")
	pem, err := os.ReadFile(e.caCert)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--ca-cert %s (%s): %v", e.caCert, src, err)}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return &usageError{msg: fmt.Sprintf("--ca-cert %s (%s) holds no PEM certificate", e.caCert, src)}
	}
	e.httpClient = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
			IdleConnTimeout:   90 * time.Second,
		},
	}
	return nil
}

// flagSourceOf says where a flag's value came from.
func (e *env) flagSourceOf(cmd *cobra.Command, flag, envVar string) string {
	if f := cmd.Flag(flag); f != nil && f.Changed {
		return "from --" + flag
	}
	return "from " + envVar
}

// credentials is what login keeps: a token per server URL.
type credentials struct {
	Servers map[string]credential `json:"servers"`
}

type credential struct {
	Token   string    `json:"token"`
	Name    string    `json:"name,omitempty"`
	SavedAt time.Time `json:"saved_at"`
}

// serverKey is the form of a server URL credentials are kept under.
func serverKey(server string) string { return strings.TrimRight(server, "/") }

// credentialsPath is $XDG_CONFIG_HOME/agileplus/credentials, or under
// ~/.config; "" when neither is known.
func (e *env) credentialsPath() string {
	dir := e.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "agileplus", "credentials")
}

func (e *env) loadCredentials() (*credentials, error) {
	c := &credentials{Servers: map[string]credential{}}
	path := e.credentialsPath()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("read %s: %v (delete it and log in again)", path, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]credential{}
	}
	return c, nil
}

func (e *env) saveCredentials(c *credentials) error {
	path := e.credentialsPath()
	if path == "" {
		return errors.New("cannot tell where to keep credentials: set HOME or XDG_CONFIG_HOME")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeTokenFile(path, string(b))
}

// printWhoami prints who the server takes the CLI for.
func (e *env) printWhoami(w *httpapi.Whoami) error {
	if e.asJSON {
		return printJSON(e.stdout, w)
	}
	server := serverKey(e.server)
	if !w.Authenticated {
		_, err := fmt.Fprintf(e.stdout, "%s runs without authentication; changes are recorded as %s\n", server, orDash(w.Actor))
		return err
	}
	projects := "every project"
	if len(w.Projects) > 0 {
		projects = "projects " + strings.Join(w.Projects, ", ")
	}
	_, err := fmt.Fprintf(e.stdout, "%s (key %s, scope %s, %s) on %s; changes recorded as %s\n", w.Name, w.KeyID, w.Scope, projects, server, w.Actor)
	return err
}

func newWhoamiCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "whoami",
		Short:             "Show the key the server knows this CLI by",
		Args:              argNames(),
		PersistentPreRunE: e.checkClientFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := e.client().Whoami(cmd.Context())
			if err != nil {
				return err
			}
			return e.printWhoami(w)
		},
	}
}

func newLoginCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check a token with the server and keep it for that server",
		Long: `Check a token with the server (--server) and keep it, with the server's URL,
in $XDG_CONFIG_HOME/agileplus/credentials (~/.config/agileplus/credentials),
readable by you only. The token comes from --token or AGILEPLUS_TOKEN, or
else the first line of stdin.`,
		Args:              argNames(),
		PersistentPreRunE: e.checkClientFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok := cmpOr(e.token, e.getenv("AGILEPLUS_TOKEN"))
			if tok == "" {
				line, err := bufio.NewReader(e.stdin).ReadString('\n')
				if err != nil && line == "" {
					return &usageError{msg: "login needs a token: pass --token, set AGILEPLUS_TOKEN or write it on stdin"}
				}
				tok = strings.TrimSpace(line)
			}
			if _, _, err := agileplus.ParseKeyToken(tok); err != nil {
				return &usageError{msg: "--token: " + agileplus.ErrorMessage(err)}
			}
			e.token = tok
			w, err := e.client().Whoami(cmd.Context())
			if err != nil {
				return err
			}
			if !w.Authenticated {
				return fmt.Errorf("%s runs without authentication: there is no token to keep", serverKey(e.server))
			}
			creds, err := e.loadCredentials()
			if err != nil {
				return err
			}
			creds.Servers[serverKey(e.server)] = credential{Token: tok, Name: w.Name, SavedAt: time.Now().UTC()}
			if err := e.saveCredentials(creds); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, w)
			}
			_, err = fmt.Fprintf(e.stdout, "logged in to %s as %s (scope %s)\n", serverKey(e.server), w.Name, w.Scope)
			return err
		},
	}
}

func newLogoutCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "logout",
		Short:             "Forget the token login kept for the server",
		Args:              argNames(),
		PersistentPreRunE: e.checkClientFlags,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := e.loadCredentials()
			if err != nil {
				return err
			}
			key := serverKey(e.server)
			if _, ok := creds.Servers[key]; !ok {
				_, err := fmt.Fprintf(e.stdout, "no token kept for %s\n", key)
				return err
			}
			delete(creds.Servers, key)
			if err := e.saveCredentials(creds); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "logged out of %s\n", key)
			return err
		},
	}
}
