-- Times are TEXT in a fixed-width UTC layout (nanoseconds, always 9 digits)
-- so that they compare correctly as strings.

CREATE TABLE projects (
	id         TEXT PRIMARY KEY,
	key        TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	next_wp    INTEGER NOT NULL DEFAULT 1,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE features (
	id          TEXT PRIMARY KEY,
	project_id  TEXT NOT NULL REFERENCES projects(id),
	slug        TEXT NOT NULL UNIQUE,
	title       TEXT NOT NULL,
	description TEXT NOT NULL,
	state       TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX features_by_project ON features(project_id, id);

CREATE TABLE wps (
	id               TEXT PRIMARY KEY,
	key              TEXT NOT NULL UNIQUE,
	num              INTEGER NOT NULL,
	project_id       TEXT NOT NULL REFERENCES projects(id),
	feature_id       TEXT NOT NULL REFERENCES features(id),
	title            TEXT NOT NULL,
	description      TEXT NOT NULL,
	state            TEXT NOT NULL,
	estimate         REAL NOT NULL,
	version          INTEGER NOT NULL,
	fence            INTEGER NOT NULL DEFAULT 0, -- highest fencing token issued
	lease_agent      TEXT,
	lease_token      INTEGER,
	lease_claimed_at TEXT,
	lease_expires_at TEXT,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL
);
CREATE INDEX wps_by_project ON wps(project_id, id);
CREATE INDEX wps_by_feature ON wps(feature_id, id);

-- One row per stored edge; "blocks" is stored as the inverse depends_on.
-- from_id/to_id name two WPs or two features, so they carry no foreign key.
CREATE TABLE dependencies (
	id          TEXT PRIMARY KEY,
	entity_kind TEXT NOT NULL,
	kind        TEXT NOT NULL,
	from_id     TEXT NOT NULL,
	to_id       TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	UNIQUE (from_id, to_id, kind)
);
CREATE INDEX dependencies_by_to ON dependencies(to_id, kind);

-- gseq is the rowid: events are never deleted, so it only grows.
CREATE TABLE events (
	gseq        INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	type        TEXT NOT NULL,
	entity_kind TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	project_key TEXT NOT NULL,
	feature_id  TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL,
	time        TEXT NOT NULL,
	actor       TEXT NOT NULL,
	data        BLOB NOT NULL,
	UNIQUE (entity_id, seq)
);

CREATE TABLE audit (
	feature_id TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	event_id   TEXT NOT NULL,
	event_type TEXT NOT NULL,
	entity_id  TEXT NOT NULL,
	time       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	summary    TEXT NOT NULL,
	forced     INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	detail     BLOB,
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL,
	PRIMARY KEY (feature_id, seq)
) WITHOUT ROWID;

-- Events committed but not yet published. Every event enters the outbox in
-- the transaction that appends it; the relay deletes the row once the bus
-- has acknowledged the event: that is the "published" mark.
CREATE TABLE outbox (
	gseq     INTEGER PRIMARY KEY REFERENCES events(gseq),
	event_id TEXT NOT NULL UNIQUE
);
CREATE TRIGGER events_outbox AFTER INSERT ON events
BEGIN
	INSERT INTO outbox (gseq, event_id) VALUES (NEW.gseq, NEW.id);
END;
