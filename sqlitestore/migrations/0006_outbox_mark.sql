-- The outbox becomes a mark. The relay publishes events in global order, so
-- "every event after relay_mark.upto" names the pending ones without a row
-- per event: a command no longer writes an outbox row (through a trigger)
-- and the relay no longer deletes one per event. Events marked published
-- ahead of an older pending one (the Outbox contract allows any order) are
-- kept in published_early until the mark passes them.
CREATE TABLE relay_mark (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	upto INTEGER NOT NULL
);
INSERT INTO relay_mark (id, upto)
	VALUES (1, COALESCE((SELECT min(gseq) - 1 FROM outbox), (SELECT max(gseq) FROM events), 0));

CREATE TABLE published_early (gseq INTEGER PRIMARY KEY);
INSERT INTO published_early (gseq)
	SELECT gseq FROM events
	WHERE gseq > (SELECT upto FROM relay_mark) AND gseq NOT IN (SELECT gseq FROM outbox);

DROP TRIGGER events_outbox;
DROP TABLE outbox;
