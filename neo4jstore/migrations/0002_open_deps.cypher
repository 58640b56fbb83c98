// Ready WPs by a counter instead of a walk: every WorkPackage holds
// open_deps, the number of WorkPackages it depends on that are not done,
// which every write keeps, and /v1/ready seeks the planned WPs with none
// in key number order. Computed from scratch here, so applying it again
// gives the same counts.
CREATE INDEX wp_ready_open IF NOT EXISTS FOR (n:WorkPackage) ON (n.project_id, n.state, n.open_deps, n.num);
MATCH (w:WorkPackage)
CALL (w) {
	OPTIONAL MATCH (w)-[:DEPENDS_ON]->(d:WorkPackage) WHERE d.state <> 'done'
	WITH w, count(d) AS n
	SET w.open_deps = n
} IN TRANSACTIONS OF 5000 ROWS;
DROP INDEX wp_ready IF EXISTS;
