package neo4jstore

import "testing"

// TestHeadsOutOfOrderCommits replays commits reaching the remembered heads
// late: the next writer's lock returns as soon as the server committed, so
// it may begin on what the store remembers before the commit before it has
// been recorded.
func TestHeadsOutOfOrderCommits(t *testing.T) {
	var h heads
	tx := func(writes int64) *Tx {
		tx := &Tx{writes: writes, epoch: "e"}
		h.begin(tx, "e", writes)
		return tx
	}
	commit := func(tx *Tx, feature string, seq int64) {
		if !tx.gseqRead {
			tx.gseq, tx.gseqRead = tx.writes, true
		}
		tx.setHead(false, feature, chainHead{seq: seq})
		h.commit(tx)
	}
	first := tx(1)
	commit(first, "F", 1) // nothing was remembered: read from the database
	z := tx(2)
	if z.known == nil {
		t.Fatal("writes 2 right after 1: want the remembered heads")
	}
	// z commits on the server; a begins before z's commit is recorded.
	a := tx(3)
	if a.known != nil {
		t.Fatal("writes 3 while 1 is recorded: want nothing remembered")
	}
	commit(a, "F", 3)
	b := tx(4)
	if b.known == nil {
		t.Fatal("writes 4 right after 3: want the remembered heads")
	}
	commit(z, "F", 2) // z's commit recorded last: older, so it changes nothing
	if c, ok := b.known.lookup(false, "F"); !ok || c.seq != 3 {
		t.Fatalf("head of F: got %+v %v, want seq 3", c, ok)
	}
	commit(b, "F", 4)
	if h.writes != 4 {
		t.Fatalf("remembered writes %d, want 4", h.writes)
	}
	// Another epoch (a database set up again) is never taken for this one.
	other := &Tx{}
	h.begin(other, "other", 5)
	if other.known != nil {
		t.Fatal("another epoch: want nothing remembered")
	}
}
