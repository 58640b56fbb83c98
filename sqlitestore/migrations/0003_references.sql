-- Commits and pull requests a WP points at.
CREATE TABLE wp_references (
	id         TEXT PRIMARY KEY,
	wp_id      TEXT NOT NULL REFERENCES wps(id),
	kind       TEXT NOT NULL,
	repo       TEXT NOT NULL,
	sha        TEXT NOT NULL,
	url        TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX wp_references_by_wp ON wp_references(wp_id, id);
