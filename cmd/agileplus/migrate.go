package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/neo4jstore"
	"github.com/agileplus/agileplus/sqlitestore"
	"github.com/agileplus/agileplus/storemigrate"
	"github.com/spf13/cobra"
)

func newMigrateCmd(e *env) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --from SOURCE --to TARGET",
		Short: "Copy every project, work package, event and audit trail from one store into another",
		Long: `Copy a whole system of record into an empty one: projects, features, work
packages with their leases and fencing counters, dependencies, references,
API keys with the hashes of their secrets, every event with its hash chain, the audit trails, and which events are
still to be published. Both sides are verified before and after: every event
and audit chain, and a digest of everything each store holds, which must be
equal.

A store is a data directory (the SQLite store of "agileplus serve --data
DIR"; no server may be running on it) or a Neo4j URL (neo4j://, bolt://,
neo4j+s://, bolt+s://) with NEO4J_USER and NEO4J_PASSWORD. The target must be
empty: a new or empty data directory, or an empty Neo4j database.`,
		Example: `  agileplus migrate --from agileplus-data --to bolt://127.0.0.1:7687
  agileplus migrate --from neo4j://db.internal:7687 --to ./laptop-data
  agileplus migrate --from agileplus-data --to ./copy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usagef(cmd, "both --from and --to are required")
			}
			if from == to {
				return usagef(cmd, "--from and --to are the same store")
			}
			return runMigrate(cmd.Context(), e, from, to)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "source: a data directory or a Neo4j URL")
	cmd.Flags().StringVar(&to, "to", "", "target (empty): a data directory or a Neo4j URL")
	return cmd
}

func runMigrate(ctx context.Context, e *env, from, to string) error {
	src, closeSrc, err := openStoreSpec(ctx, e, from, false)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer closeSrc()
	dst, closeDst, err := openStoreSpec(ctx, e, to, true)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer closeDst()

	start := time.Now()
	last := ""
	progress := func(stage string, done, total int) {
		if e.asJSON {
			return
		}
		line := stage
		if done > 0 {
			line = fmt.Sprintf("%s: %d", stage, done)
			if total > 0 {
				line += fmt.Sprintf(" of %d", total)
			}
		}
		if stage != last && last != "" {
			fmt.Fprintln(e.stderr)
		}
		last = stage
		fmt.Fprintf(e.stderr, "\r%s", line)
	}
	rep, err := storemigrate.Run(ctx, src, dst, progress)
	if last != "" && !e.asJSON {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return err
	}
	if e.asJSON {
		return printJSON(e.stdout, rep)
	}
	_, err = fmt.Fprintf(e.stdout, "migrated %s -> %s in %s: %d projects, %d label definitions, %d flag values, %d features, %d work packages, %d dependencies, %d references, %d API keys, %d events (%d still to publish), %d audit entries; %d event chains and %d audit chains verify on both sides; digest %s\n",
		from, to, time.Since(start).Round(time.Millisecond), rep.Projects, rep.Labels, rep.Flags, rep.Features, rep.WPs, rep.Dependencies, rep.References,
		rep.Keys, rep.Events, rep.Pending, rep.AuditEntries, rep.EventChains, rep.AuditChains, rep.Digest[:16])
	return err
}

// isNeo4jURL reports whether spec names a Neo4j server rather than a
// data directory.
func isNeo4jURL(spec string) bool {
	for _, s := range []string{"neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://"} {
		if strings.HasPrefix(spec, s) {
			return true
		}
	}
	return false
}

// openStoreSpec opens the store a --from or --to names. A data directory
// is locked like serve locks it; as a target it must hold no store yet.
func openStoreSpec(ctx context.Context, e *env, spec string, target bool) (agileplus.Store, func(), error) {
	if isNeo4jURL(spec) {
		return openNeo4j(ctx, e, spec)
	}
	if strings.Contains(spec, "://") {
		return nil, nil, fmt.Errorf("%q is neither a data directory nor a Neo4j URL (neo4j://, bolt://, neo4j+s://, bolt+s://)", spec)
	}
	db := filepath.Join(spec, "agileplus.db")
	if target {
		if _, err := os.Stat(db); err == nil {
			return nil, nil, fmt.Errorf("%s already holds a store; migrate into a new or empty directory", spec)
		}
		if err := os.MkdirAll(spec, 0o755); err != nil {
			return nil, nil, err
		}
	} else if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s holds no store (no agileplus.db)", spec)
	}
	lock, err := lockDataDir(spec)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlitestore.Open(ctx, sqlitestore.Config{Path: db})
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return st, func() { st.Close(); lock.Close() }, nil
}

// openNeo4j opens a Neo4j store with NEO4J_USER (default neo4j) and
// NEO4J_PASSWORD.
func openNeo4j(ctx context.Context, e *env, url string) (agileplus.Store, func(), error) {
	st, err := neo4jstore.Open(ctx, neo4jstore.Config{URL: url, User: cmpOr(e.getenv("NEO4J_USER"), "neo4j"), Password: e.getenv("NEO4J_PASSWORD")})
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}
