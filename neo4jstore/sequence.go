package neo4jstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The global order of events, without a global write lock.
//
// A write transaction creates its events without a global sequence, with
// the label Unsequenced, a stamp and its position among its own events.
// After the commit, and before Update returns, the sequencer gives them
// their sequences: one auto-commit statement that locks the
// (:Counter {name: 'gseq'}) node, reads every Unsequenced event (of any
// process) in stamp order, numbers them on from the counter's gseq, and
// stores the new gseq on the counter. The counter is the one global lock
// left, held for one statement by a run that orders whatever has committed
// since the last one; the writers of one process share a run (a writer
// whose commit came during a run waits for the next one), so under load one
// run orders many commands.
//
// Why the order is safe:
//
//   - Sequences are dense and rise in commit order of the runs, which hold
//     the counter's lock one at a time: when a run commits with gseq W on
//     the counter, every event numbered up to W has committed.
//   - Readers in global order (Events, PendingEvents, hence the relay,
//     /v1/events?after= and an SSE client's resume) read the counter's gseq
//     first and return nothing above it. So a reader that sees event N read
//     a watermark of at least N, and every event numbered below N was
//     committed before that read: a follower that resumes after N never
//     misses an event numbered below N. An event committed before event N's
//     command was acknowledged has a number below N (its writer ran the
//     sequencer before answering), so a command a client starts after
//     another's 2xx always comes later in the order.
//   - Each entity's events are numbered in chain order. A transaction
//     appends to a chain only under the chain's lock (heads.go), and its
//     stamp is a hybrid clock later than the stamp of every chain head it
//     read (flush), so within a run an event sorts after its predecessor
//     even when two processes' clocks disagree. An event whose predecessor
//     is unnumbered and missing from the run's read holds back its entity's
//     events for a later run.
//   - Events of one command keep their order and are consecutive unless
//     another command's events share their stamp.
//
// A writer that dies after its commit leaves its events unnumbered: the
// relay of any process runs the sequencer when it finds such events older
// than leftoverAge (PendingEvents), so they are numbered and published
// anyway. Events are invisible to readers in global order, and to an
// entity's listing, until they are numbered.

// sequenceBatch bounds the events one run numbers.
const sequenceBatch = 5000

// leftoverAge is how old an unnumbered event must be before the relay
// numbers it: younger ones are their writer's to number.
const leftoverAge = 2 * time.Second

type sequencer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	started  uint64 // runs started
	finished uint64 // the last run finished (runs finish in order)
	running  bool
	bump     bool             // a waiter changed the graph: count a write even with no event
	waiting  int              // callers waiting for a run
	recent   map[string]int64 // numbers given by the runs the waiting callers wait for
	lastErr  error            // of the last run
	// leftoversAt is when this store last looked for events whose writer
	// died before numbering them.
	leftoversAt time.Time
}

// sequence gives the committed events es their global sequences, through a
// run of the sequencer that starts after this call; graph says the
// transaction changed the dependency graph, which graph readers must learn
// (the counter's writes) even without an event.
func (s *Store) sequence(ctx context.Context, es []*agileplus.Event, graph bool) error {
	left := es
	for attempt := 1; ; attempt++ {
		got, err := s.runShared(ctx, graph)
		graph = false
		if err == nil {
			if n := len(left); len(assign(left, got)) < n {
				attempt = 0 // progress: a big import needs a run per sequenceBatch
			}
			left = assign(left, got)
			if len(left) > 0 {
				// Numbered by another process's run, perhaps.
				var found map[string]int64
				found, err = s.lookupSeqs(ctx, left)
				left = assign(left, found)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if attempt == maxAttempts+2 || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("%d events still unnumbered", len(left))
			}
			return agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: the change was committed but its events were not ordered yet (the relay will order and publish them): %v", err)
		}
	}
}

func assign(es []*agileplus.Event, got map[string]int64) []*agileplus.Event {
	var left []*agileplus.Event
	for _, e := range es {
		if n, ok := got[e.ID]; ok && n > 0 {
			e.GlobalSeq = n
		} else {
			left = append(left, e)
		}
	}
	return left
}

// runShared waits for a run that starts after the call and returns the
// numbers given by the runs it waited for.
func (s *Store) runShared(ctx context.Context, bump bool) (map[string]int64, error) {
	q := &s.seq
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cond == nil {
		q.cond = sync.NewCond(&q.mu)
	}
	ticket := q.started
	q.waiting++
	if bump {
		q.bump = true
	}
	if q.recent == nil {
		q.recent = map[string]int64{}
	}
	got := q.recent // the map lives until no caller waits
	for q.finished <= ticket {
		if q.running {
			q.cond.Wait()
			continue
		}
		q.running = true
		q.started++
		run := q.started
		bumpNow := q.bump
		q.bump = false
		q.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		res, err := s.runSequencer(rctx, bumpNow)
		cancel()
		q.mu.Lock()
		for id, n := range res {
			q.recent[id] = n
		}
		q.lastErr = err
		q.finished = run
		q.running = false
		q.cond.Broadcast()
	}
	err := q.lastErr
	out := make(map[string]int64, len(got))
	for id, n := range got {
		out[id] = n
	}
	q.waiting--
	if q.waiting == 0 {
		q.recent = nil
	}
	return out, err
}

// lookupSeqs reads the global sequences of the events (0 while unnumbered).
func (s *Store) lookupSeqs(ctx context.Context, es []*agileplus.Event) (map[string]int64, error) {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	out := map[string]int64{}
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, "event sequences", `UNWIND $ids AS id MATCH (e:Event {id: id}) RETURN id, e.gseq`,
			map[string]any{"ids": ids})
		for _, r := range recs {
			id, _ := r.Values[0].(string)
			out[id], _ = r.Values[1].(int64)
		}
		return err
	})
	return out, err
}

// sequenceLeftovers numbers events that stayed unnumbered for longer than
// leftoverAge: their writer died after its commit. It looks at most once
// per leftoverAge.
func (s *Store) sequenceLeftovers(ctx context.Context) error {
	s.seq.mu.Lock()
	due := time.Since(s.seq.leftoversAt) >= leftoverAge
	if due {
		s.seq.leftoversAt = time.Now()
	}
	s.seq.mu.Unlock()
	if !due {
		return nil
	}
	var oldest int64
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, "unnumbered events", `MATCH (e:Unsequenced) RETURN min(e.stamp)`, nil)
		if err == nil && len(recs) > 0 {
			oldest, _ = recs[0].Values[0].(int64)
		}
		return err
	})
	if err != nil || oldest == 0 || oldest > time.Now().Add(-leftoverAge).UnixNano() {
		return err
	}
	_, err = s.runShared(ctx, false)
	return err
}

// runSequencer is one run: it numbers the unnumbered events it may and
// returns their numbers.
func (s *Store) runSequencer(ctx context.Context, bump bool) (map[string]int64, error) {
	if s.closed.Load() {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
	}
	for attempt := 1; ; attempt++ {
		got, err := s.sequenceOnce(ctx, bump)
		if err == nil || !isRetryable(err) || attempt == maxAttempts {
			if err != nil {
				err = s.unavailable("number events", err)
			}
			return got, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff(attempt)):
		}
	}
}

// numberEvents is the run, one auto-commit statement: under the counter's
// lock, it reads the unnumbered events in stamp order and numbers them on
// from the counter, except the events of an entity whose chain has an
// unnumbered event this read missed (it committed while the read ran: a
// later run takes them, in chain order).
const numberEvents = `MATCH (c:Counter {name: 'gseq'})
	SET c._lock = true REMOVE c._lock
	WITH c, coalesce(c.gseq, 0) AS last
	CALL () {
		MATCH (e:Unsequenced)
		WITH e ORDER BY e.stamp, e.ord LIMIT $limit
		OPTIONAL MATCH (p:Event {entity_id: e.entity_id, seq: e.seq - 1})
		RETURN collect({e: e, p: p}) AS rows
	}
	WITH c, last, rows, [r IN rows | r.e.id] AS ids
	WITH c, last, rows, [r IN rows WHERE r.p IS NOT NULL AND r.p.gseq IS NULL AND NOT r.p.id IN ids | r.e.entity_id] AS stuck
	WITH c, last, [r IN rows WHERE NOT r.e.entity_id IN stuck | r.e] AS todo
	SET c.gseq = last + size(todo), c.writes = c.writes + CASE WHEN size(todo) > 0 OR $bump THEN 1 ELSE 0 END
	WITH last, todo
	UNWIND range(0, size(todo) - 1) AS i
	WITH todo[i] AS e, last + i + 1 AS n
	SET e.gseq = n REMOVE e:Unsequenced
	RETURN e.id, n`

func (s *Store) sequenceOnce(ctx context.Context, bump bool) (map[string]int64, error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, numberEvents, map[string]any{"limit": sequenceBatch, "bump": bump})
	var recs []*neo4j.Record
	if err == nil {
		recs, err = res.Collect(ctx)
	}
	if err != nil {
		// Unknown outcome included: the callers look their events up.
		return nil, err
	}
	got := make(map[string]int64, len(recs))
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		got[id], _ = r.Values[1].(int64)
	}
	return got, nil
}
