package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The global order of events, without a global write lock.
//
// A write transaction creates its events without a global sequence, with
// the label Unsequenced, a stamp (its start time and an id unique to the
// transaction) and its position among its own events. After the commit, and
// before Update returns, the sequencer gives them their sequences: one
// short transaction that locks the (:Counter {name: 'gseq'}) node, reads
// every Unsequenced event (of any process), numbers them from the
// counter's gseq on, and stores the new gseq on the counter with the
// numbers on the events. The counter is the one global lock left, held for
// two statements by a transaction that orders whatever has committed since
// the last one; the writers of one process share a run (a writer whose
// commit came during a run waits for the next one), so under load one run
// orders many commands.
//
// Why the order is safe:
//
//   - Sequences are dense and rise in commit order of the sequencer's
//     transactions, which run one at a time (the counter's lock): when one
//     commits with gseq W on the counter, every event numbered up to W has
//     committed.
//   - Readers in global order (Events, PendingEvents, hence the relay,
//     /v1/events?after= and an SSE client's resume) read the counter's gseq
//     first and return nothing above it. So a reader that sees event N
//     read a watermark of at least N, and every event numbered below N was
//     committed before that read: a follower that resumes after N never
//     misses an event numbered below N. An event that committed before
//     event N was acknowledged has a number below N (its writer ran the
//     sequencer before answering), so a command a client starts after
//     another's 2xx always comes later in the order.
//   - Each entity's events are numbered in chain order. A transaction
//     appends to a chain only under the chain's lock (heads.go), so an
//     event is never committed before its predecessor; the sequencer
//     numbers events by stamp and position, and holds back one whose
//     predecessor is still unnumbered until the predecessor has been
//     numbered, in the same run or a later one.
//   - Events of one command keep their order and are consecutive, unless
//     another command's event had to come between them for a chain.
//
// A writer that dies after its commit leaves its events unnumbered: the
// relay runs the sequencer when it finds such events older than
// leftoverAge (PendingEvents), so they are numbered and published anyway.
// Events are invisible to readers in global order, and to an entity's
// listing, until they are numbered.

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
	stamps   uint64
}

// nextStamp returns a stamp for a new write transaction: its start time
// (fixed width, so stamps compare as strings) and an id unique to it.
func (s *Store) nextStamp() string {
	s.seq.mu.Lock()
	s.seq.stamps++
	n := s.seq.stamps
	s.seq.mu.Unlock()
	return fmt.Sprintf("%s/%s/%016x", fmtTime(time.Now()), s.instance, n)
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
// leftoverAge: their writer died after its commit.
func (s *Store) sequenceLeftovers(ctx context.Context) error {
	var oldest string
	err := s.View(ctx, func(rt agileplus.ReadTx) error {
		recs, err := rt.(*Tx).run(ctx, "unnumbered events", `MATCH (e:Unsequenced) RETURN min(e.stamp)`, nil)
		if err == nil && len(recs) > 0 {
			oldest, _ = recs[0].Values[0].(string)
		}
		return err
	})
	if err != nil || oldest == "" || oldest > fmtTime(time.Now().Add(-leftoverAge)) {
		return err
	}
	_, err = s.runShared(ctx, false)
	return err
}

// unnumbered is an event the sequencer read.
type unnumbered struct {
	id, entity string
	seq        int64
	waits      bool // its predecessor exists and is unnumbered
}

// runSequencer is one run: it numbers the unnumbered events it may and
// returns their numbers.
func (s *Store) runSequencer(ctx context.Context, bump bool) (map[string]int64, error) {
	if s.closed.Load() {
		return nil, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store is closed")
	}
	for attempt := 1; ; attempt++ {
		got, retry, err := s.sequenceOnce(ctx, bump)
		if !retry || attempt == maxAttempts {
			return got, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff(attempt)):
		}
	}
}

func (s *Store) sequenceOnce(ctx context.Context, bump bool) (map[string]int64, bool, error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	ntx, err := s.begin(ctx, sess)
	if err != nil {
		return nil, false, s.unavailable("begin sequence", err)
	}
	defer ntx.Close(context.WithoutCancel(ctx))
	t := &Tx{ntx: ntx, s: s, write: true}
	recs, err := t.run(ctx, "read unnumbered", `MATCH (c:Counter {name: 'gseq'}) SET c._lock = true REMOVE c._lock
		WITH c, coalesce(c.gseq, 0) AS last
		OPTIONAL MATCH (e:Unsequenced)
		WITH last, e ORDER BY e.stamp, e.ord LIMIT $limit
		OPTIONAL MATCH (p:Event {entity_id: e.entity_id, seq: e.seq - 1})
		RETURN last, e.id, e.entity_id, e.seq, p IS NOT NULL AND p.gseq IS NULL`, map[string]any{"limit": sequenceBatch})
	if err != nil {
		return nil, isRetryable(t.err), err
	}
	if len(recs) == 0 {
		return nil, false, agileplus.Errorf(agileplus.EUNAVAILABLE, "neo4j store: the database at %s has no gseq counter: it was emptied under a running store; restart to set it up again", s.url)
	}
	last, _ := recs[0].Values[0].(int64)
	var read []unnumbered
	for _, r := range recs {
		id, _ := r.Values[1].(string)
		if id == "" {
			continue
		}
		u := unnumbered{id: id}
		u.entity, _ = r.Values[2].(string)
		u.seq, _ = r.Values[3].(int64)
		u.waits, _ = r.Values[4].(bool)
		read = append(read, u)
	}
	order := numberOrder(read)
	if len(order) == 0 && !bump {
		return nil, false, nil
	}
	got := make(map[string]int64, len(order))
	assign := make([]map[string]any, len(order))
	for i, id := range order {
		n := last + int64(i) + 1
		got[id] = n
		assign[i] = map[string]any{"id": id, "gseq": n}
	}
	_, err = t.run(ctx, "number events", `UNWIND $assign AS a
		MATCH (e:Event {id: a.id}) SET e.gseq = a.gseq REMOVE e:Unsequenced, e.stamp, e.ord
		WITH count(*) AS n
		MATCH (c:Counter {name: 'gseq'}) SET c.gseq = $last, c.writes = c.writes + 1`,
		map[string]any{"assign": assign, "last": last + int64(len(order))})
	if err != nil {
		return nil, isRetryable(t.err), err
	}
	if err := ntx.Commit(context.WithoutCancel(ctx)); err != nil {
		var ne *neo4j.Neo4jError
		if errors.As(err, &ne) {
			return nil, ne.IsRetriable(), s.unavailable("commit sequence", err)
		}
		// Unknown outcome: the callers look their events up.
		return nil, false, s.unavailable("commit sequence", err)
	}
	return got, false, nil
}

// numberOrder returns the ids of the events to number, in order: as read
// (stamp, position), except that an event whose predecessor in its chain
// is unnumbered waits until that one has been placed; one whose
// predecessor is not in this read at all waits for a later run.
func numberOrder(read []unnumbered) []string {
	type key struct {
		entity string
		seq    int64
	}
	placed := map[key]bool{}
	held := map[key]unnumbered{} // by the predecessor it waits for
	var out []string
	var place func(u unnumbered)
	place = func(u unnumbered) {
		out = append(out, u.id)
		k := key{u.entity, u.seq}
		placed[k] = true
		if next, ok := held[k]; ok {
			delete(held, k)
			place(next)
		}
	}
	for _, u := range read {
		prev := key{u.entity, u.seq - 1}
		if u.waits && !placed[prev] {
			held[prev] = u
			continue
		}
		place(u)
	}
	return out
}
