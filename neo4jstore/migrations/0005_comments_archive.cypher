// Comments on WPs and features: (:Comment {id, entity_kind, entity_id,
// entity_key, project_key, feature_id, author, body, history, version,
// created_at, updated_at})-[:ON]->(:WorkPackage|Feature); history is the
// JSON array of earlier bodies. Listed per WP or feature by id.
//
// Archived projects, features and WPs carry archived_at; nodes without it
// are not archived, so nodes stored before need nothing.
CREATE CONSTRAINT comment_id IF NOT EXISTS FOR (n:Comment) REQUIRE n.id IS UNIQUE;
CREATE INDEX comment_entity IF NOT EXISTS FOR (n:Comment) ON (n.entity_id, n.id);
