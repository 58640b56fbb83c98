// Artifacts' metadata: (:Artifact {id, owner_kind, owner_id, project_id,
// project_key, feature_id, name, content_type, labels, size, sha256,
// version, created_at, created_by, deleted_at, deleted_by})-[:ATTACHED_TO]->
// its WorkPackage or Feature. deleted_at is '' while it is live. The bytes
// are in the blob store under a key made from the id.
CREATE CONSTRAINT artifact_id IF NOT EXISTS FOR (n:Artifact) REQUIRE n.id IS UNIQUE;
CREATE INDEX artifact_owner IF NOT EXISTS FOR (n:Artifact) ON (n.owner_id, n.id);
