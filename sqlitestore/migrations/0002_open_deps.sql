-- open_deps counts a WP's depends_on targets that are not done, kept by
-- triggers in the same transaction as every change, so "ready" is an index
-- range instead of a dependency check per WP.
ALTER TABLE wps ADD COLUMN open_deps INTEGER NOT NULL DEFAULT 0;

UPDATE wps SET open_deps = (
	SELECT count(*) FROM dependencies d JOIN wps t ON t.id = d.to_id
	WHERE d.from_id = wps.id AND d.kind = 'depends_on' AND t.state <> 'done');

CREATE INDEX wps_ready ON wps(project_id, state, open_deps, num);

CREATE TRIGGER wps_done AFTER UPDATE OF state ON wps
WHEN NEW.state = 'done' AND OLD.state <> 'done'
BEGIN
	UPDATE wps SET open_deps = open_deps - 1
	WHERE id IN (SELECT from_id FROM dependencies WHERE to_id = NEW.id AND kind = 'depends_on');
END;

CREATE TRIGGER wps_undone AFTER UPDATE OF state ON wps
WHEN OLD.state = 'done' AND NEW.state <> 'done'
BEGIN
	UPDATE wps SET open_deps = open_deps + 1
	WHERE id IN (SELECT from_id FROM dependencies WHERE to_id = NEW.id AND kind = 'depends_on');
END;

CREATE TRIGGER dependencies_added AFTER INSERT ON dependencies
WHEN NEW.kind = 'depends_on'
BEGIN
	UPDATE wps SET open_deps = open_deps + 1
	WHERE id = NEW.from_id AND (SELECT state FROM wps WHERE id = NEW.to_id) <> 'done';
END;

CREATE TRIGGER dependencies_removed AFTER DELETE ON dependencies
WHEN OLD.kind = 'depends_on'
BEGIN
	UPDATE wps SET open_deps = open_deps - 1
	WHERE id = OLD.from_id AND (SELECT state FROM wps WHERE id = OLD.to_id) <> 'done';
END;
