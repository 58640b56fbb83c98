-- Priority, labels and owners. priority is the rank in agileplus.Priorities
-- (0 urgent, 1 high, 2 normal, 3 low) so that "by priority" is an index
-- order; labels are sorted, lower-case and joined by commas, which a label
-- cannot hold. Rows stored before read as normal, no labels, no owner.
ALTER TABLE wps ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
ALTER TABLE wps ADD COLUMN labels TEXT NOT NULL DEFAULT '';
ALTER TABLE wps ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE features ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
ALTER TABLE features ADD COLUMN labels TEXT NOT NULL DEFAULT '';

-- The ready set by priority, then key number: an index range, as by number.
CREATE INDEX wps_ready_priority ON wps(project_id, state, open_deps, priority, num);

-- A project's label definitions: a colour and what the label means.
CREATE TABLE label_defs (
	id          TEXT PRIMARY KEY,
	project_id  TEXT NOT NULL REFERENCES projects(id),
	name        TEXT NOT NULL,
	color       TEXT NOT NULL,
	description TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	UNIQUE (project_id, name)
);
