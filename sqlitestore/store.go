// Package sqlitestore is the embedded system of record: a SQLite file (pure
// Go driver) in WAL mode with foreign keys on and versioned migrations.
package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agileplus/agileplus"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config configures a Store.
type Config struct {
	// Path of the database file; created if missing.
	Path string
	// Synchronous is the SQLite synchronous setting: "normal" (default; in
	// WAL mode a commit survives a process crash but the last commits may be
	// lost on power loss) or "full" (a commit survives power loss; every
	// commit waits for an fsync).
	Synchronous string
	// Readers bounds concurrent read transactions (default 4).
	Readers int

	// checkpointPages overrides defaultCheckpointPages, for tests.
	checkpointPages int
}

// Store is the SQLite system of record.
type Store struct {
	writer *sql.DB // one connection, owned by the writer goroutine
	reader *sql.DB
	// readStmts holds the read transactions' statements, prepared once
	// per reader connection (query -> *sql.Stmt); readStmtN counts them.
	// readPrep holds the queries being prepared (query -> struct{}), by
	// goroutines that prepCancel stops and prepWG waits for.
	readStmts  sync.Map
	readStmtN  atomic.Int32
	readPrep   sync.Map
	prepCtx    context.Context
	prepCancel context.CancelFunc
	prepWG     sync.WaitGroup

	graph    graphIndex
	graphErr atomic.Pointer[error] // set when the index could not be rebuilt

	writes     chan *writeReq
	quit       chan struct{}
	writerDone chan struct{}

	ckpt      *sql.DB       // the checkpointer's connection
	ckptWake  chan struct{} // the writer asks for a checkpoint
	ckptDone  chan struct{}
	ckptTail  atomic.Bool  // the checkpointer is done: the writer copies the rest
	ckptMu    sync.Mutex   // held by whoever copies the WAL back
	ckptAsked bool         // the writer's: it asked for a checkpoint and has not copied the tail since
	ckptPages int          // pages between checkpoints: see defaultCheckpointPages
	mu        sync.RWMutex // guards closed against concurrent Update
	closed    bool
	closeOnce sync.Once
}

var (
	_ agileplus.Store  = (*Store)(nil)
	_ agileplus.Outbox = (*Store)(nil)
	_ agileplus.Pinger = (*Store)(nil)
)

// Open opens (creating if needed) the database at cfg.Path and applies
// pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("sqlitestore: path is required")
	}
	sync := "NORMAL"
	switch strings.ToLower(cfg.Synchronous) {
	case "", "normal":
	case "full":
		sync = "FULL"
	default:
		return nil, fmt.Errorf("sqlitestore: synchronous must be normal or full, not %q", cfg.Synchronous)
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 4
	}
	q := url.Values{}
	// The checkpointer copies the WAL back (see noteWrites).
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(" + sync + ")", "temp_store(MEMORY)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + cfg.Path + "?" + q.Encode()
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", cfg.Path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	s := &Store{writer: writer}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	if err := s.buildGraph(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	rq := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "query_only(1)"} {
		rq.Add("_pragma", p)
	}
	reader, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", cfg.Path, err)
	}
	reader.SetMaxOpenConns(cfg.Readers)
	reader.SetMaxIdleConns(cfg.Readers)
	reader.SetConnMaxLifetime(0)
	s.reader = reader
	s.prepCtx, s.prepCancel = context.WithCancel(context.Background())
	ckpt, err := sql.Open("sqlite", dsn)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", cfg.Path, err)
	}
	ckpt.SetMaxOpenConns(1)
	ckpt.SetMaxIdleConns(1)
	ckpt.SetConnMaxLifetime(0)
	s.ckpt = ckpt
	s.writes = make(chan *writeReq, maxBatch)
	s.quit = make(chan struct{})
	s.writerDone = make(chan struct{})
	s.ckptWake = make(chan struct{}, 1)
	s.ckptPages = cmp.Or(cfg.checkpointPages, defaultCheckpointPages)
	s.ckptDone = make(chan struct{})
	go s.writeLoop()
	go s.checkpointLoop()
	return s, nil
}

// Close stops the writer, answering queued commands with EUNAVAILABLE, and
// closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		<-s.writerDone
		<-s.ckptDone
		s.prepCancel()
		s.prepWG.Wait()
		s.readStmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
		err = errors.Join(s.reader.Close(), s.ckpt.Close(), s.writer.Close())
	})
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.graphErr.Load(); err != nil {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store: graph index could not be rebuilt after a failed commit: %v; writes are refused until a rebuild succeeds", *err)
	}
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store: %v", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlitestore: migration %s: name must start with a number", base)
		}
		var n int
		if err := s.writer.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return fmt.Errorf("sqlitestore: migrate: %w", err)
		} else if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlitestore: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, v, base, fmtTime(time.Now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlitestore: migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlitestore: migration %s: %w", base, err)
		}
	}
	return nil
}

// View runs fn in a read transaction.
func (s *Store) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	sqltx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return unavailable("begin read", err)
	}
	defer sqltx.Rollback()
	return fn(&Tx{tx: sqltx, s: s, read: true})
}

// maxReadStmts bounds the statements readStmt keeps; queries past it are
// prepared each time.
const maxReadStmts = 256

// readStmt returns q prepared on the reader pool, or nil the first times
// q is seen: parsing a query costs more than running a small one.
//
// It never prepares q itself. The caller holds a reader connection (its
// read transaction), and preparing on the pool needs a connection too: with
// every connection held by a read transaction that waits to prepare a new
// query, no read could go on until their contexts ended. So a goroutine
// that holds no connection prepares q, and this read runs q unprepared.
func (s *Store) readStmt(q string) *sql.Stmt {
	if v, ok := s.readStmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if s.readStmtN.Load() >= maxReadStmts {
		return nil
	}
	if _, busy := s.readPrep.LoadOrStore(q, struct{}{}); busy {
		return nil
	}
	s.prepWG.Go(func() {
		defer s.readPrep.Delete(q)
		st, err := s.reader.PrepareContext(s.prepCtx, q)
		if err != nil {
			return
		}
		if _, loaded := s.readStmts.LoadOrStore(q, st); loaded {
			st.Close()
			return
		}
		s.readStmtN.Add(1)
	})
	return nil
}

func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	return &agileplus.Error{Code: agileplus.EUNAVAILABLE, Message: fmt.Sprintf("sqlite store: %s: %v", op, err)}
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// timeLayout is fixed-width so stored times compare as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// timeCol scans a stored time into *t; NULL scans as the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
		return nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("time column holds %T, not text", v)
	}
	t, err := parseStoredTime(s)
	*c.t = t
	return err
}
