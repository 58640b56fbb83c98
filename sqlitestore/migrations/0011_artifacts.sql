-- Artifacts' metadata; their bytes are in the blob store under a key made
-- from the id. owner_id is a WP's or a feature's id; labels are sorted,
-- lower-case and joined by commas; deleted_at is '' while the artifact is
-- live (a soft delete sets it).
CREATE TABLE artifacts (
	id           TEXT PRIMARY KEY,
	owner_kind   TEXT NOT NULL,
	owner_id     TEXT NOT NULL,
	project_id   TEXT NOT NULL REFERENCES projects(id),
	feature_id   TEXT NOT NULL REFERENCES features(id),
	name         TEXT NOT NULL,
	content_type TEXT NOT NULL,
	labels       TEXT NOT NULL,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	version      INTEGER NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	deleted_at   TEXT NOT NULL DEFAULT '',
	deleted_by   TEXT NOT NULL DEFAULT ''
);

-- An owner's artifacts by id.
CREATE INDEX artifacts_owner ON artifacts(owner_id, id);
