package neo4jstore

import (
	"context"
	"slices"
	"sync"

	"github.com/agileplus/agileplus"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// WP numbers. A counter in the project node would be locked until the
// commit by every create in the project (and the project node is also
// locked by each new IN_PROJECT relationship), so creates in different
// features of one project would run one at a time. Instead a number is
// taken from a (:WPCounter {project_id}) node of its own, made from the
// project's next_wp the first time, in a transaction one statement long,
// before the command's: the counter is locked for a round trip, not for a
// command. A project created by the command itself, which that transaction
// cannot see yet, counts in its next_wp as before. Creates waiting in one process at the same time
// share one such transaction (it takes as many numbers as there are
// waiters), so under load a process takes a block per round trip.
//
// A number taken by a command that then rolls back goes back to the
// process's free list and is handed out next, so a failed create does not
// leave a gap; a process that dies with numbers taken but unused leaves
// gaps, and those numbers are never handed out again. ReserveWPNumber drops
// free numbers it covers; another process may still hold such a number,
// and InsertWP then fails on the key and the command is run again with a
// fresh one (errKeyTaken).

type takenNumber struct {
	project string
	num     int64
	shared  bool // from the allocator, not from an in-transaction increment
}

type keyAlloc struct {
	mu       sync.Mutex
	projects map[string]*projectKeys
}

type projectKeys struct {
	free    []int64 // sorted
	waiters []chan keyResult
	busy    bool
}

type keyResult struct {
	num int64
	err error // errNoProject: not committed yet (created by the waiting transaction)
}

func (k *keyAlloc) project(id string) *projectKeys {
	if k.projects == nil {
		k.projects = map[string]*projectKeys{}
	}
	p := k.projects[id]
	if p == nil {
		p = &projectKeys{}
		k.projects[id] = p
	}
	return p
}

// next returns a number of the project, from the free list or the counter.
func (s *Store) nextNumber(ctx context.Context, projectID string) (int64, error) {
	k := &s.keys
	k.mu.Lock()
	p := k.project(projectID)
	if len(p.free) > 0 {
		n := p.free[0]
		p.free = p.free[1:]
		k.mu.Unlock()
		return n, nil
	}
	ch := make(chan keyResult, 1)
	p.waiters = append(p.waiters, ch)
	run := !p.busy
	p.busy = true
	k.mu.Unlock()
	if run {
		s.allocate(ctx, projectID)
	}
	select {
	case r := <-ch:
		return r.num, r.err
	case <-ctx.Done():
		// The number, if it comes, goes to the free list.
		go func() {
			if r := <-ch; r.err == nil {
				s.freeNumbers([]takenNumber{{project: projectID, num: r.num, shared: true}})
			}
		}()
		return 0, ctx.Err()
	}
}

// allocate serves the project's waiters until none is left, one counter
// transaction per round.
func (s *Store) allocate(ctx context.Context, projectID string) {
	k := &s.keys
	for {
		k.mu.Lock()
		p := k.project(projectID)
		ws := p.waiters
		p.waiters = nil
		if len(ws) == 0 {
			p.busy = false
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
		first, err := s.takeNumbers(context.WithoutCancel(ctx), projectID, int64(len(ws)))
		for i, ch := range ws {
			if err != nil {
				ch <- keyResult{err: err}
			} else {
				ch <- keyResult{num: first + int64(i)}
			}
		}
	}
}

// errNoProject: the counter transaction does not see the project.
var errNoProject = agileplus.Errorf(agileplus.ENOTFOUND, "project not committed")

// takeNumbers raises the counter by n and returns the first number taken.
func (s *Store) takeNumbers(ctx context.Context, projectID string, n int64) (int64, error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(ctx)
	for attempt := 1; ; attempt++ {
		res, err := sess.Run(ctx, `MATCH (p:Project {id: $id})
			MERGE (k:WPCounter {project_id: $id}) ON CREATE SET k.next = p.next_wp
			SET k.next = k.next + $n RETURN k.next - $n`,
			map[string]any{"id": projectID, "n": n})
		var recs []*neo4j.Record
		if err == nil {
			recs, err = res.Collect(ctx)
		}
		if err != nil {
			if isRetryable(err) && attempt < maxAttempts {
				continue
			}
			return 0, s.unavailable("next wp number", err)
		}
		if len(recs) == 0 {
			return 0, errNoProject
		}
		first, _ := recs[0].Values[0].(int64)
		return first, nil
	}
}

// freeNumbers puts numbers of a transaction that did not commit back.
func (s *Store) freeNumbers(ns []takenNumber) {
	k := &s.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range ns {
		if !n.shared {
			continue
		}
		p := k.project(n.project)
		if i, found := slices.BinarySearch(p.free, n.num); !found {
			p.free = slices.Insert(p.free, i, n.num)
		}
	}
}

// dropNumbers forgets the free numbers up to num (ReserveWPNumber).
func (s *Store) dropNumbers(projectID string, num int64) {
	k := &s.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.project(projectID)
	i, found := slices.BinarySearch(p.free, num)
	if found {
		i++
	}
	p.free = p.free[i:]
}

// errKeyTaken: a number from the allocator is the key of a WP already (a
// reservation by another process); the command runs again.
var errKeyTaken = agileplus.Errorf(agileplus.ECONFLICT, "work package number taken by an import: retrying with another")

// takenShared reports whether the transaction took num of the project
// from the allocator, and if so forgets it: it is not to be freed.
func (t *Tx) takenShared(projectID string, num int64) bool {
	for i, n := range t.numbers {
		if n.project == projectID && n.num == num && n.shared {
			t.numbers = slices.Delete(t.numbers, i, i+1)
			return true
		}
	}
	return false
}
