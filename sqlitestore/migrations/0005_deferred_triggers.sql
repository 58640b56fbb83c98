-- Bulk writes (BulkTx) keep the open_deps counters and the outbox with one
-- statement per batch instead of a trigger program per row. While
-- deferred_triggers names a trigger, the trigger does nothing; the bulk
-- write does its work itself and removes the name in the same transaction,
-- so no committed state ever names one.
CREATE TABLE deferred_triggers (name TEXT PRIMARY KEY) WITHOUT ROWID;

DROP TRIGGER dependencies_added;
CREATE TRIGGER dependencies_added AFTER INSERT ON dependencies
WHEN NEW.kind = 'depends_on' AND NOT EXISTS (SELECT 1 FROM deferred_triggers WHERE name = 'dependencies_added')
BEGIN
	UPDATE wps SET open_deps = open_deps + 1
	WHERE id = NEW.from_id AND (SELECT state FROM wps WHERE id = NEW.to_id) <> 'done';
END;

DROP TRIGGER events_outbox;
CREATE TRIGGER events_outbox AFTER INSERT ON events
WHEN NOT EXISTS (SELECT 1 FROM deferred_triggers WHERE name = 'events_outbox')
BEGIN
	INSERT INTO outbox (gseq, event_id) VALUES (NEW.gseq, NEW.id);
END;
