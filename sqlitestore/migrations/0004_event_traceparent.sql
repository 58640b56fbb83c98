-- The W3C traceparent of the request that caused an event ('' when none).
-- Not covered by the event hash: it is transport metadata, not history, so
-- events stored before it existed keep valid chains with ''.
ALTER TABLE events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
