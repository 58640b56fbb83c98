// Flag values: (:Flag {key, scope, name, value}) where scope is '' for the
// global flags or a project id, key is "<scope>/<name>" and value is the
// value's canonical JSON.
CREATE CONSTRAINT flag_key IF NOT EXISTS FOR (n:Flag) REQUIRE n.key IS UNIQUE;
CREATE INDEX flag_scope IF NOT EXISTS FOR (n:Flag) ON (n.scope);
