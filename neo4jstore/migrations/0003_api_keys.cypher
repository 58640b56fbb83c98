// API keys: (:ApiKey {id, prefix, name, scope, projects, hash, ...}), the
// hash of each secret, never the secret.
CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT api_key_prefix IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.prefix IS UNIQUE;
