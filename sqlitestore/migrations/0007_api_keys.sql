-- API keys: the hash of each secret, never the secret.
CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	prefix       TEXT NOT NULL UNIQUE,
	name         TEXT NOT NULL,
	scope        TEXT NOT NULL,
	projects     TEXT NOT NULL, -- comma-separated project keys; empty for all
	hash         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT,
	revoked_at   TEXT,
	version      INTEGER NOT NULL
);
