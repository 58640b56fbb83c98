package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"

	"github.com/agileplus/agileplus"
	"modernc.org/sqlite"
)

// Group commit. SQLite has one writer; a commit costs about as much as the
// command it commits. So one goroutine owns the write connection, takes every
// command waiting at that moment (up to maxBatch), runs each inside its own
// savepoint of one transaction, and commits once. A command that fails rolls
// back to its savepoint and leaves no trace; the others commit. No caller is
// answered before the commit that holds its change, so an acknowledged write
// is a committed write.

const maxBatch = 128

type writeReq struct {
	ctx  context.Context
	fn   func(agileplus.Tx) error
	done chan error
}

// statements is the write connection's prepared statement cache. Only the
// writer goroutine touches it, and it prepares new statements between
// transactions, when the one connection is free.
type statements struct {
	db      *sql.DB
	ready   map[string]*sql.Stmt
	pending map[string]bool
}

func (st *statements) prepareMissing(ctx context.Context) {
	for q := range st.pending {
		if s, err := st.db.PrepareContext(ctx, q); err == nil {
			st.ready[q] = s
		}
		delete(st.pending, q)
	}
}

func (st *statements) close() {
	for _, s := range st.ready {
		s.Close()
	}
}

// Update runs fn in a write transaction, committed together with whatever
// other commands are waiting.
func (s *Store) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	// The read lock keeps Close from stopping the writer between the
	// closed check and the send.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store is closed")
	}
	select {
	case s.writes <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return fmt.Errorf("sqlitestore: update: %w", ctx.Err())
	}
	// Once queued, the request is answered whatever happens to ctx: the
	// caller must learn whether its change was committed.
	return <-req.done
}

func (s *Store) writeLoop() {
	defer close(s.writerDone)
	st := &statements{db: s.writer, ready: map[string]*sql.Stmt{}, pending: map[string]bool{}}
	heads := newHeadCache()
	defer st.close()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-s.writes:
			batch = append(batch[:0], r)
		case <-s.quit:
			// Answer whatever is still queued.
			for {
				select {
				case r := <-s.writes:
					r.done <- agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store is closed")
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(st, heads, batch)
		st.prepareMissing(context.Background())
		s.noteWrites(context.Background())
	}
}

// defaultCheckpointPages is how many pages the writer appends to the WAL
// before the checkpointer copies them back into the database, unless a
// test's Config says otherwise.
const defaultCheckpointPages = 1000

// noteWrites counts the pages the writer has appended to the WAL and wakes
// the checkpointer every s.ckptPages. SQLite's own automatic
// checkpoint is off on the write connection: it runs inside the commit that
// crosses the mark, so the commands of that batch would wait for it, and
// copying pages costs the single writer about as much as the commands that
// wrote them. The checkpointer copies them on its own connection instead,
// on the other core, while the writer goes on.
//
// The WAL starts over from its beginning only when a write transaction
// begins with every frame already copied back, which a checkpoint racing
// the writer never achieves. So once the checkpointer is done, the writer
// copies the few frames committed meanwhile itself, between two batches,
// and its next transaction starts the WAL over. The writer asks for the
// next checkpoint only after that: a wake-up queued while the checkpointer
// runs would start it again at once, and the writer's copy, finding it
// busy, would miss the WAL's start over batch after batch for as long as
// checkpoints take longer than the writer takes to append ckptPages.
//
// When the writer appends several intervals more while a checkpoint runs
// all the same (a slow disk), it waits for that checkpoint and copies the
// rest itself: the WAL grows by a few intervals at most while a checkpoint
// runs, instead of with everything written meanwhile. One large batch
// (an import) is still copied back by the checkpointer alone.
func (s *Store) noteWrites(ctx context.Context) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	copyBack := func() bool {
		var busy, log, done int64
		err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
		return err == nil && busy == 0 && log == done
	}
	pages := func(reset bool) (n int) {
		conn.Raw(func(dc any) error {
			if st, ok := dc.(sqlite.DBStatus); ok {
				n, _, _ = st.Status(sqlite.DBStatusCacheWrite, reset)
			}
			return nil
		})
		return n
	}
	switch {
	case s.ckptTail.Load():
		// Incomplete while a reader still uses old frames: the next batch
		// retries.
		if copyBack() {
			s.ckptTail.Store(false)
			s.ckptAsked = false
		}
	case s.ckptAsked && pages(false) >= ckptBehind*s.ckptPages:
		// Counted since the wake-up: appended while the checkpoint runs.
		s.ckptMu.Lock()
		if copyBack() {
			s.ckptTail.Store(false)
		}
		s.ckptMu.Unlock()
		// Counted from here even when a reader kept the copy short, so
		// that the writer does not wait at every batch.
		s.ckptAsked = false
		pages(true)
	}
	if s.ckptAsked || pages(false) < s.ckptPages {
		return
	}
	pages(true)
	s.ckptAsked = true
	select {
	case s.ckptWake <- struct{}{}:
	default: // a checkpoint is already due
	}
}

// ckptBehind is how many checkpoint intervals the WAL may grow while a
// checkpoint runs before the writer waits for it.
const ckptBehind = 4

// checkpointLoop copies the WAL back into the database when the writer
// asks (see noteWrites), then leaves the tail to the writer. A failed
// checkpoint leaves the copy to the writer (see ckptBehind).
func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	ctx := context.Background()
	for {
		select {
		case <-s.quit:
			return
		case <-s.ckptWake:
		}
		s.ckptMu.Lock()
		_, err := s.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		s.ckptMu.Unlock()
		if err == nil {
			s.ckptTail.Store(true)
		}
	}
}

func (s *Store) runBatch(st *statements, heads *headCache, batch []*writeReq) {
	results := make([]error, len(batch))
	committedOK := false
	answer := func() {
		heads.batchDone(committedOK)
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	if s.graphErr.Load() != nil {
		// The index could not be rebuilt after a failed commit: try again,
		// and take no write while it is out of step with the database.
		if err := s.buildGraph(context.Background()); err != nil {
			for i := range results {
				results[i] = agileplus.Errorf(agileplus.EUNAVAILABLE, "sqlite store: graph index out of step with the database: %v", err)
			}
			committedOK = true
			answer()
			return
		}
		s.graphErr.Store(nil)
	}
	sqltx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range results {
			results[i] = unavailable("begin write", err)
		}
		answer()
		return
	}
	single := len(batch) == 1
	committed := 0
	tx := &Tx{tx: sqltx, stmts: st, heads: heads, s: s}
	rebuild := false // the graph index must be reloaded from the database
	ctx := context.Background()
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = fmt.Errorf("sqlitestore: update: %w", err)
			continue
		}
		if !single {
			if _, err := tx.exec(ctx, "SAVEPOINT cmd"); err != nil {
				results[i] = unavailable("savepoint", err)
				continue
			}
		}
		tx.gops = tx.gops[:0]
		err := runFn(r.fn, tx)
		if err != nil {
			heads.commandDone(false)
			results[i] = err
			if !single {
				_, e1 := tx.exec(ctx, "ROLLBACK TO cmd")
				_, e2 := tx.exec(ctx, "RELEASE cmd")
				if e1 != nil || e2 != nil {
					// The transaction is unusable: fail the whole batch.
					sqltx.Rollback()
					s.rebuildGraph()
					for j := range results {
						if results[j] == nil {
							results[j] = unavailable("rollback to savepoint", fmt.Errorf("%v %v", e1, e2))
						}
					}
					answer()
					return
				}
			}
			continue
		}
		if !single {
			if _, err := tx.exec(ctx, "RELEASE cmd"); err != nil {
				// The transaction may be gone: fail the whole batch.
				sqltx.Rollback()
				s.rebuildGraph()
				for j := range results {
					if results[j] == nil || j == i {
						results[j] = unavailable("release savepoint", err)
					}
				}
				answer()
				return
			}
		}
		heads.commandDone(true)
		if err := s.applyGraph(tx.gops); err != nil {
			rebuild = true
		}
		committed++
	}
	if committed == 0 {
		sqltx.Rollback()
		committedOK = true // nothing was kept from the batch: the cache holds only what the database does
	} else if err := sqltx.Commit(); err != nil {
		rebuild = true
		for i := range results {
			if results[i] == nil {
				results[i] = unavailable("commit", err)
			}
		}
	} else {
		committedOK = true
	}
	if rebuild {
		s.rebuildGraph()
	}
	answer()
}

// runFn runs one command, turning a panic into an internal error so that one
// bad command cannot take the writer down.
func runFn(fn func(agileplus.Tx) error, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlitestore: panic in write transaction: %v\n%s", v, debug.Stack())
		}
	}()
	return fn(tx)
}

// rebuildGraph reloads the graph index after the database and the index may
// have parted (a failed commit); the writer connection is free here.
func (s *Store) rebuildGraph() {
	if err := s.buildGraph(context.Background()); err != nil {
		s.graphErr.Store(&err)
	}
}
