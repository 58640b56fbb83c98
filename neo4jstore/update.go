package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Transactions. A View is one read transaction; an Update one write
// transaction that locks what it changes and what its checks read
// (locks.go), so writers that touch different entities run in parallel,
// in this process and in any other sharing the database. After its commit
// an Update gives its events their global sequences (sequence.go) before
// it returns.
//
// An Update whose transaction failed for a reason the server reports as
// transient (a deadlock between two writers, a leader switch, a lost
// connection before the commit) left nothing behind, so fn runs again, up
// to maxAttempts times; so does one that lost a race for a chain's next
// link or for a WP number. A commit that fails without the server saying
// so may or may not have happened: that is never retried and is
// EUNAVAILABLE.

const maxAttempts = 6

// backoff is the pause before attempt n+1.
func backoff(n int) time.Duration { return time.Duration(25<<n) * time.Millisecond }

// View runs fn in a read transaction. Neo4j's isolation is read committed:
// each statement sees what was committed when it ran, so a View that reads
// several times may see a write that committed in between.
func (s *Store) View(ctx context.Context, fn func(agileplus.ReadTx) error) error {
	if s.closed.Load() {
		return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
	}
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(context.WithoutCancel(ctx))
	ntx, err := s.begin(ctx, sess)
	if err != nil {
		return s.unavailable("begin read", err)
	}
	t := &Tx{ntx: ntx, s: s}
	defer func() {
		t.done = true
		ntx.Close(context.WithoutCancel(ctx))
	}()
	return fn(t)
}

// Update runs fn in a write transaction and commits it if fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(agileplus.Tx) error) error {
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
		}
		retry, err := s.update(ctx, fn)
		if !retry || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		s.log.Debug("neo4jstore: retrying a write transaction", "attempt", attempt, "err", err)
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// update makes one attempt; retry reports that nothing was committed and
// the failure was transient.
func (s *Store) update(ctx context.Context, fn func(agileplus.Tx) error) (retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("neo4jstore: update: %w", err)
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	ntx, err := s.begin(ctx, sess) // retries on its own
	if err != nil {
		return false, s.unavailable("begin write", err)
	}
	t := &Tx{ntx: ntx, s: s, write: true}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			ntx.Close(context.WithoutCancel(ctx)) // rolls back
			s.freeNumbers(t.numbers)
		}
	}()
	again := func(err error) bool {
		return isRetryable(t.err) || errors.Is(err, errChainCollision) || errors.Is(err, errKeyTaken)
	}
	if err := runFn(fn, t); err != nil {
		return again(err), err
	}
	if err := t.flush(ctx); err != nil {
		return again(err), err
	}
	if t.err != nil {
		// fn went on after a failed statement; the server has rolled the
		// transaction back.
		return isRetryable(t.err), s.unavailable("update", t.err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("neo4jstore: update: %w", err)
	}
	// The caller must learn whether the change was committed, so the
	// commit is not abandoned when ctx ends.
	committed = true
	if err := ntx.Commit(context.WithoutCancel(ctx)); err != nil {
		var ne *neo4j.Neo4jError
		if errors.As(err, &ne) {
			// The server answered: the transaction was rolled back.
			s.freeNumbers(t.numbers)
			if isConstraint(err) {
				return true, errChainCollision
			}
			return ne.IsRetriable(), s.unavailable("commit", err)
		}
		return false, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: commit: Neo4j at %s: %v; the change may or may not have been committed", s.url, err)
	}
	if len(t.appended) > 0 || t.graphWrite {
		if err := s.sequence(ctx, t.appended, t.graphWrite); err != nil {
			return false, err
		}
	}
	return false, nil
}

// begin starts a transaction. The driver finds out that a pooled
// connection died (the server restarted) only when it uses it, at the
// BEGIN, before fn runs; so a failed begin is tried again, each time on
// another connection.
func (s *Store) begin(ctx context.Context, sess neo4j.SessionWithContext) (neo4j.ExplicitTransaction, error) {
	for attempt := 1; ; attempt++ {
		ntx, err := sess.BeginTransaction(ctx)
		if err == nil || !isRetryable(err) || attempt == maxAttempts {
			return ntx, err
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// runFn runs fn, turning a panic into an internal error.
func runFn(fn func(agileplus.Tx) error, tx *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("neo4jstore: panic in write transaction: %v\n%s", v, debug.Stack())
		}
	}()
	return fn(tx)
}
