// The graph a person reads in the Neo4j Browser:
//
//   (:Feature)-[:IN_PROJECT]->(:Project)<-[:IN_PROJECT]-(:WorkPackage)
//   (:Feature)-[:DEFINES]->(:WorkPackage)
//   (:WorkPackage)-[:DEPENDS_ON|RELATES_TO]->(:WorkPackage), the same between features
//   (:WorkPackage)-[:CLAIMED_BY {token, claimed_at, expires_at}]->(:Agent)
//   (:WorkPackage)-[:REFERENCES]->(:CodeCommit|PullRequest)
//   (:Event), (:AuditEntry), (:Counter), (:SchemaVersion)
//
// Every statement runs in a transaction of its own and must be idempotent:
// two replicas may apply a migration at the same time, and one interrupted
// half way is applied again from the start.

// Ids, human keys and chain positions are unique.
CREATE CONSTRAINT project_id IF NOT EXISTS FOR (n:Project) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT project_key IF NOT EXISTS FOR (n:Project) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT feature_id IF NOT EXISTS FOR (n:Feature) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT feature_slug IF NOT EXISTS FOR (n:Feature) REQUIRE n.slug IS UNIQUE;
CREATE CONSTRAINT wp_id IF NOT EXISTS FOR (n:WorkPackage) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT wp_key IF NOT EXISTS FOR (n:WorkPackage) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT agent_name IF NOT EXISTS FOR (n:Agent) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT commit_repo_sha IF NOT EXISTS FOR (n:CodeCommit) REQUIRE (n.repo, n.sha) IS UNIQUE;
CREATE CONSTRAINT pull_request_url IF NOT EXISTS FOR (n:PullRequest) REQUIRE n.url IS UNIQUE;
CREATE CONSTRAINT depends_on_id IF NOT EXISTS FOR ()-[r:DEPENDS_ON]-() REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT relates_to_id IF NOT EXISTS FOR ()-[r:RELATES_TO]-() REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT reference_id IF NOT EXISTS FOR ()-[r:REFERENCES]-() REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT event_id IF NOT EXISTS FOR (n:Event) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT event_gseq IF NOT EXISTS FOR (n:Event) REQUIRE n.gseq IS UNIQUE;
// Also the index of an entity's events, by seq.
CREATE CONSTRAINT event_entity_seq IF NOT EXISTS FOR (n:Event) REQUIRE (n.entity_id, n.seq) IS UNIQUE;
CREATE CONSTRAINT audit_feature_seq IF NOT EXISTS FOR (n:AuditEntry) REQUIRE (n.feature_id, n.seq) IS UNIQUE;
CREATE CONSTRAINT counter_name IF NOT EXISTS FOR (n:Counter) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT schema_version IF NOT EXISTS FOR (n:SchemaVersion) REQUIRE n.version IS UNIQUE;

// Listings by parent, ready WPs (a seek on project and state, in key
// number order), WPs by state, and the outbox: unpublished events carry
// the extra label Pending, indexed by global sequence.
CREATE INDEX feature_project IF NOT EXISTS FOR (n:Feature) ON (n.project_id, n.id);
CREATE INDEX wp_project IF NOT EXISTS FOR (n:WorkPackage) ON (n.project_id, n.id);
CREATE INDEX wp_feature IF NOT EXISTS FOR (n:WorkPackage) ON (n.feature_id, n.id);
CREATE INDEX wp_ready IF NOT EXISTS FOR (n:WorkPackage) ON (n.project_id, n.state, n.num);
CREATE INDEX wp_state IF NOT EXISTS FOR (n:WorkPackage) ON (n.state);
CREATE INDEX event_pending IF NOT EXISTS FOR (n:Pending) ON (n.gseq);

// The write lock: every write transaction increments writes first, which
// serializes writers, so global sequences (the highest stored one plus 1)
// follow commit order.
MERGE (c:Counter {name: 'gseq'}) ON CREATE SET c.writes = 0;
