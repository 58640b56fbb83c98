package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/spf13/cobra"
)

// keyCmd holds the flags that choose where key commands act: through the
// server, or straight on a store with no server running (bootstrapping).
type keyCmd struct {
	e        *env
	neo4jURL string
}

func newKeyCmd(e *env) *cobra.Command {
	k := &keyCmd{e: e}
	g := group("key", "Create, list and revoke API keys (admin)", k.createCmd(), k.listCmd(), k.revokeCmd())
	g.Long = `Create, list and revoke API keys. Through the server (--server) by default,
which needs an admin key. With --data DIR and no server running on it (the
directory's lock tells), or with --neo4j-url URL, they act on the store
itself: how the first key of a server reachable beyond loopback is made.`
	g.PersistentFlags().StringVar(&k.neo4jURL, "neo4j-url", "", "act on this Neo4j store directly instead of through the server (user and password from NEO4J_USER, NEO4J_PASSWORD)")
	g.PersistentPreRunE = e.checkClientFlags
	return g
}

// admin returns where the commands act, and what to close after.
func (k *keyCmd) admin(cmd *cobra.Command) (agileplus.KeyAdmin, func(), error) {
	e := k.e
	ctx := cmd.Context()
	if f := cmd.Flag("data"); (f == nil || !f.Changed) && k.neo4jURL == "" {
		return e.client(), func() {}, nil
	}
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var store agileplus.Store
	if k.neo4jURL != "" {
		if !isNeo4jURL(k.neo4jURL) {
			return nil, nil, &usageError{msg: fmt.Sprintf("--neo4j-url %q must start with neo4j://, bolt://, neo4j+s:// or bolt+s://", k.neo4jURL)}
		}
		st, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: k.neo4jURL, User: cmpOr(e.getenv("NEO4J_USER"), "neo4j"), Password: e.getenv("NEO4J_PASSWORD")})
		if err != nil {
			return nil, nil, err
		}
		store, closers = st, append(closers, st.Close)
	} else {
		if err := os.MkdirAll(e.dataDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create data directory: %w", err)
		}
		lock, err := lockDataDir(e.dataDir)
		var inUse *inUseError
		if errors.As(err, &inUse) {
			// A server runs on it: go through the server, with its local key.
			return e.client(), func() {}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, lock.Close)
		st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: filepath.Join(e.dataDir, "agileplus.db")})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		store, closers = st, append(closers, st.Close)
	}
	return agileplus.NewService(store), closeAll, nil
}

func (k *keyCmd) createCmd() *cobra.Command {
	var name, scope, expires string
	var projects []string
	cmd := &cobra.Command{
		Use:   "create --name NAME --scope read|write|admin",
		Short: "Create a key and print its token, the only time it is shown",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := k.e
			if strings.TrimSpace(name) == "" {
				return usagef(cmd, "--name is required: who or what uses the key, such as ci-bot")
			}
			if !slices.Contains(agileplus.Scopes, scope) {
				return usagef(cmd, "--scope must be read, write or admin, not %q", scope)
			}
			c := agileplus.KeyCreate{Name: name, Scope: scope, Projects: splitList(projects)}
			if expires != "" {
				at, err := parseExpires(expires, time.Now())
				if err != nil {
					return usagef(cmd, "--expires %q: %v", expires, err)
				}
				c.ExpiresAt = &at
			}
			if err := c.Validate(time.Now()); err != nil {
				var de *agileplus.Error
				if errors.As(err, &de) && de.Field != "" {
					return usagef(cmd, "--%s: %s", keyFlagOf(de.Field), de.Message)
				}
				return err
			}
			admin, done, err := k.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			kc, err := admin.CreateKey(agileplus.WithActor(cmd.Context(), e.actor), c)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, kc)
			}
			fmt.Fprintln(e.stdout, kc.Token)
			fmt.Fprintf(e.stderr, "created key %s (prefix %s, scope %s%s%s); the token above is shown only this once\n",
				kc.Name, kc.Prefix, kc.Scope, projectsNote(kc.Projects), expiresNote(kc.ExpiresAt))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "who or what uses the key, such as ci-bot; recorded as the actor of its changes")
	f.StringVar(&scope, "scope", "", "read (GET and streams), write (changes to work) or admin (keys, webhooks, import, everything)")
	f.StringSliceVar(&projects, "project", nil, "limit the key to this project key (repeatable, or comma-separated); not with admin")
	f.StringVar(&expires, "expires", "", "when the key stops working: after 30d, 12h, 90m, or at an RFC 3339 time; never if absent")
	return cmd
}

// keyFlagOf is the flag of a KeyCreate field.
func keyFlagOf(field string) string {
	switch field {
	case "projects":
		return "project"
	case "expires_at":
		return "expires"
	}
	return field
}

// parseExpires reads --expires: a span (30d, 12h, 1h30m) from now or an
// RFC 3339 time.
func parseExpires(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.After(now) {
			return time.Time{}, errors.New("the time is not in the future")
		}
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return time.Time{}, errors.New("want a number of days from 1 to 3650, such as 30d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, errors.New("want a span such as 30d, 12h or 90m, or an RFC 3339 time")
		}
	}
	if d < time.Minute {
		return time.Time{}, errors.New("the span must be at least 1m")
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}

func projectsNote(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return ", projects " + strings.Join(ps, ", ")
}

func expiresNote(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", expires " + when(*t)
}

func (k *keyCmd) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List keys, revoked ones too (never their tokens)",
		Args:  argNames(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := k.e
			admin, done, err := k.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			ks, err := allKeys(cmd.Context(), admin)
			if err != nil {
				return err
			}
			if e.asJSON {
				return printPage(e.stdout, ks, "") // every page read already
			}
			t := newTable(e.stdout, "PREFIX", "NAME", "SCOPE", "PROJECTS", "CREATED", "LAST USED", "EXPIRES", "REVOKED")
			for _, k := range ks {
				projects := "all"
				if len(k.Projects) > 0 {
					projects = strings.Join(k.Projects, ",")
				}
				t.row(k.Prefix, k.Name, k.Scope, projects, when(k.CreatedAt), whenPtr(k.LastUsedAt), whenPtr(k.ExpiresAt), whenPtr(k.RevokedAt))
			}
			return t.flush()
		},
	}
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

// allKeys reads every page of keys.
func allKeys(ctx context.Context, admin agileplus.KeyAdmin) ([]*agileplus.APIKey, error) {
	var all []*agileplus.APIKey
	pg := agileplus.Page{Limit: agileplus.MaxPageLimit}
	for {
		ks, err := admin.Keys(ctx, pg)
		if err != nil {
			return nil, err
		}
		all = append(all, ks...)
		if len(ks) < pg.Limit {
			return all, nil
		}
		pg.After = ks[len(ks)-1].ID
	}
}

func (k *keyCmd) revokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY",
		Short: "Stop a key working at once (KEY: its prefix or id, as key list shows)",
		Args:  argNames("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e := k.e
			admin, done, err := k.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			key, err := admin.RevokeKey(agileplus.WithActor(cmd.Context(), e.actor), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, key)
			}
			_, err = fmt.Fprintf(e.stdout, "revoked key %s (prefix %s) at %s\n", key.Name, key.Prefix, whenPtr(key.RevokedAt))
			return err
		},
	}
}
