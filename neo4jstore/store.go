// Package neo4jstore is the scale-out system of record: Neo4j 5 (Community
// is enough) through the official Go driver, shared by any number of API
// replicas.
//
// The data is a graph a person can read in the Neo4j Browser (see
// migrations/0001_init.cypher): projects, features and work packages are
// nodes joined by IN_PROJECT and DEFINES; a dependency is a relationship
// from the waiting end to the other, DEPENDS_ON or RELATES_TO after its
// kind ("blocks" arrives already stored as the inverse depends_on), with
// its own id; a claim is a CLAIMED_BY relationship to the claiming Agent;
// references point at CodeCommit and PullRequest nodes. Events, audit
// entries and counters are nodes of their own; an event waiting for the
// relay also has the label Pending. Times are strings in a fixed-width UTC
// layout with nanoseconds, so that they compare as strings and event
// hashes, which cover the exact time, verify. JSON data is kept as strings.
//
// Every Update is one explicit Neo4j transaction holding the change, its
// events, audit entries and outbox marks. It locks only what it touches
// (locks.go): the WPs and features it reads to change, the node of each
// event chain it appends to and the feature of each audit trail, both ends
// of a new dependency and every node the cycle check reads. Writers of
// different entities run in parallel across every replica. WP numbers come
// from a per-project counter taken outside the command's transaction
// (keys.go). Global sequences are handed out after the commit by a short
// transaction on the one counter node, which also gives readers a
// watermark (sequence.go: why a follower never misses an event). Reads run
// in parallel and take no lock.
//
// Neo4j's isolation is read committed, so a View that reads several times
// may see a commit that happened in between; every single read is
// consistent. The graph index is rebuilt from the database when another
// write happened since it was last built (see graph.go).
package neo4jstore

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
)

//go:embed migrations/*.cypher
var migrationFS embed.FS

// Config configures a Store.
type Config struct {
	// URL of the server: bolt:// or neo4j:// (routing), with +s or +ssc
	// for TLS.
	URL string
	// User and Password log in with basic authentication.
	User     string
	Password string
	// Database is the database to use (default "neo4j", Community's one
	// user database).
	Database string
	// Logger receives the driver's warnings and errors (default: none).
	Logger *slog.Logger
}

// Timeouts of the driver. A store that cannot be reached must answer
// EUNAVAILABLE in seconds, not hang a request.
const (
	connectTimeout = 5 * time.Second
	acquireTimeout = 30 * time.Second
)

// Store is the Neo4j system of record.
type Store struct {
	driver    neo4j.DriverWithContext
	db        string
	url       string // without credentials, for messages
	log       *slog.Logger
	bookmarks neo4j.BookmarkManager
	graph     graphCache
	keys      keyAlloc
	seq       sequencer
	instance  string // tells this store's write stamps from other processes'
	closed    atomic.Bool
}

var (
	_ agileplus.Store       = (*Store)(nil)
	_ agileplus.Outbox      = (*Store)(nil)
	_ agileplus.Pinger      = (*Store)(nil)
	_ agileplus.GraphReader = (*Store)(nil)
)

// Open connects to the server at cfg.URL, checks that it answers and
// accepts the credentials, and applies pending schema migrations. An
// unreachable server or refused credentials are EUNAVAILABLE, with a
// message that says which.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("neo4jstore: url is required")
	}
	if cfg.Database == "" {
		cfg.Database = "neo4j"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	shown := redact(cfg.URL)
	driver, err := neo4j.NewDriverWithContext(cfg.URL, neo4j.BasicAuth(cfg.User, cfg.Password, ""), func(c *config.Config) {
		c.SocketConnectTimeout = connectTimeout
		c.ConnectionAcquisitionTimeout = acquireTimeout
		c.Log = driverLogger{cfg.Logger}
		c.UserAgent = "agileplus-neo4jstore"
	})
	if err != nil {
		return nil, fmt.Errorf("neo4jstore: %s: %w", shown, err)
	}
	s := &Store{
		driver:    driver,
		db:        cfg.Database,
		url:       shown,
		log:       cfg.Logger,
		bookmarks: neo4j.NewBookmarkManager(neo4j.BookmarkManagerConfig{}),
		instance:  randomHex(8),
	}
	if err := driver.VerifyConnectivity(ctx); err != nil {
		driver.Close(context.WithoutCancel(ctx))
		return nil, s.connectError(cfg.User, err)
	}
	if err := s.migrate(ctx); err != nil {
		driver.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// connectError explains why Open could not use the server.
func (s *Store) connectError(user string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("neo4jstore: connect to %s: %w", s.url, err)
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) && ne.HasSecurityCode() {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: Neo4j at %s refused the credentials of user %q: %s", s.url, user, ne.Msg)
	}
	return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: cannot reach Neo4j at %s: %v", s.url, err)
}

// redact drops a password from a URL, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// Close closes the driver and its connections. It is safe to call more
// than once.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.driver.Close(context.Background())
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	return s.View(ctx, func(rt agileplus.ReadTx) error {
		_, err := rt.(*Tx).run(ctx, "ping", "RETURN 1", nil)
		return err
	})
}

func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.db, AccessMode: mode, BookmarkManager: s.bookmarks})
}

// ---- migrations ----

// migration is one embedded file of idempotent statements.
type migration struct {
	version    int
	name       string
	statements []string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.cypher")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("neo4jstore: migration %s: name must start with a number", base)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, statements: splitStatements(string(body))})
	}
	return out, nil
}

// splitStatements splits a migration at the semicolons that end lines,
// dropping // comment lines.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "//") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if st := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); st != "" {
				out = append(out, st)
			}
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}

// migrate applies the migrations the database has not recorded (each
// version's :SchemaVersion node), in order, each statement in an
// auto-commit transaction (Neo4j does not mix schema and data changes in
// one), then records the version. A version missing below the highest
// recorded one is applied too: migrations written on different branches
// may land in either order.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	applied, err := s.schemaVersions(ctx)
	if err != nil {
		return err
	}
	current := 0
	for v := range applied {
		current = max(current, v)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("neo4jstore: the database at %s has schema version %d, newer than this program's %d: upgrade the program", s.url, current, latest)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		for _, st := range m.statements {
			if err := s.autocommit(ctx, st, nil); err != nil {
				return fmt.Errorf("neo4jstore: migration %s: %w", m.name, s.unavailable("migrate", err))
			}
		}
		if m.version == searchMigration {
			if err := s.fillSearchText(ctx); err != nil {
				return fmt.Errorf("neo4jstore: migration %s: %w", m.name, s.unavailable("migrate", err))
			}
		}
		if err := s.autocommit(ctx, "CALL db.awaitIndexes(300)", nil); err != nil {
			return fmt.Errorf("neo4jstore: migration %s: wait for indexes: %w", m.name, s.unavailable("migrate", err))
		}
		err := s.autocommit(ctx, `MERGE (v:SchemaVersion {version: $version}) ON CREATE SET v.name = $name, v.applied_at = $now`,
			map[string]any{"version": int64(m.version), "name": m.name, "now": fmtTime(time.Now())})
		if err != nil {
			return fmt.Errorf("neo4jstore: migration %s: %w", m.name, s.unavailable("migrate", err))
		}
	}
	return nil
}

// schemaVersions returns the versions of the migrations the database has
// recorded.
func (s *Store) schemaVersions(ctx context.Context) (map[int]bool, error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, `MATCH (v:SchemaVersion) RETURN v.version AS v`, nil)
	if err != nil {
		return nil, s.unavailable("schema version", err)
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		return nil, s.unavailable("schema version", err)
	}
	out := make(map[int]bool, len(recs))
	for _, r := range recs {
		v, _ := r.Values[0].(int64)
		out[int(v)] = true
	}
	return out, nil
}

func (s *Store) autocommit(ctx context.Context, q string, params map[string]any) error {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// ---- errors ----

// unavailable turns a driver error outside a transaction into a domain
// error: EUNAVAILABLE for a server that cannot be reached or is failing,
// the context's error as it is, anything else wrapped.
func (s *Store) unavailable(op string, err error) error {
	var de *agileplus.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("neo4jstore: %s: %w", op, err)
	case isUnavailable(err):
		return &agileplus.Error{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf("neo4j store: %s: Neo4j at %s: %v", op, s.url, err)}
	}
	return fmt.Errorf("neo4jstore: %s: %w", op, err)
}

// isUnavailable reports whether err says the server cannot serve us right
// now: a lost or refused connection, an exhausted pool, a transient server
// error (deadlock, leader switch, database starting), refused credentials.
func isUnavailable(err error) bool {
	var ce *neo4j.ConnectivityError
	if errors.As(err, &ce) {
		return true
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		return ne.IsRetriable() || ne.HasSecurityCode() ||
			strings.HasPrefix(ne.Code, "Neo.DatabaseError.") ||
			ne.Code == "Neo.ClientError.Database.DatabaseNotFound" ||
			ne.Code == "Neo.ClientError.Transaction.Terminated"
	}
	var ue *neo4j.UsageError
	if errors.As(err, &ue) {
		// A closed driver or a connection the driver gave up on.
		return true
	}
	return neo4j.IsRetryable(err)
}

// isRetryable reports whether a transaction that failed with err left
// nothing behind and may be run again.
func isRetryable(err error) bool {
	return err != nil && neo4j.IsRetryable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// isConstraint reports whether err is a uniqueness violation.
func isConstraint(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Schema.ConstraintValidationFailed"
}

// ---- times ----

// timeLayout is fixed-width so stored times compare as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
