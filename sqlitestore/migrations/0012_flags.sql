-- Flag values: scope is '' for the global flags or a project id; value is
-- the value's canonical JSON.
CREATE TABLE flags (
	scope TEXT NOT NULL,
	name  TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (scope, name)
) WITHOUT ROWID;

-- An agent's live leases, counted for wip.max_claims_per_agent.
CREATE INDEX wps_by_lease_agent ON wps(lease_agent, lease_expires_at) WHERE lease_agent IS NOT NULL;
