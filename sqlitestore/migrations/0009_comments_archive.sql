-- Archived projects, features and WPs: archived_at is NULL while a record
-- is not archived. Lists leave archived records out by default, the ready
-- set always does.
ALTER TABLE projects ADD COLUMN archived_at TEXT;
ALTER TABLE features ADD COLUMN archived_at TEXT;
ALTER TABLE wps ADD COLUMN archived_at TEXT;

-- Comments on WPs and features. entity_id names a WP or a feature, so it
-- carries no foreign key; a deleted WP takes its comments with it.
-- history is the JSON array of earlier bodies.
CREATE TABLE comments (
	id          TEXT PRIMARY KEY,
	entity_kind TEXT NOT NULL,
	entity_id   TEXT NOT NULL,
	entity_key  TEXT NOT NULL,
	project_key TEXT NOT NULL,
	feature_id  TEXT NOT NULL,
	author      TEXT NOT NULL,
	body        TEXT NOT NULL,
	history     TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX comments_by_entity ON comments(entity_id, id);
