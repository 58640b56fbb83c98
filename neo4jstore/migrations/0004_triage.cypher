// Priority (its rank: 0 urgent .. 3 low), labels and a WP's owner. Nodes
// stored before get normal, no labels, no owner, so that they are in the
// ready-by-priority index, which holds only nodes with every property.
MATCH (w:WorkPackage) WHERE w.priority IS NULL
CALL (w) {
	SET w.priority = 2, w.labels = coalesce(w.labels, []), w.owner = coalesce(w.owner, '')
} IN TRANSACTIONS OF 5000 ROWS;
MATCH (f:Feature) WHERE f.priority IS NULL SET f.priority = 2, f.labels = coalesce(f.labels, []);
CREATE INDEX wp_ready_priority IF NOT EXISTS FOR (n:WorkPackage) ON (n.project_id, n.state, n.open_deps, n.priority, n.num);
// A project's label definitions; key is "<project id>/<name>", unique.
CREATE CONSTRAINT label_def_id IF NOT EXISTS FOR (n:LabelDef) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT label_def_key IF NOT EXISTS FOR (n:LabelDef) REQUIRE n.key IS UNIQUE;
