-- Snapshots of WPs and features for time travel: the entity's state (its
-- JSON as a single read returns it) right after its event seq, whose
-- global sequence and time are gseq and time.
CREATE TABLE snapshots (
	entity_id   TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	entity_kind TEXT NOT NULL,
	gseq        INTEGER NOT NULL,
	time        TEXT NOT NULL,
	state       BLOB NOT NULL,
	PRIMARY KEY (entity_id, seq)
) WITHOUT ROWID;
