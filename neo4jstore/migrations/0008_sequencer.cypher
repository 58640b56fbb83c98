// Global sequences are handed out after the commit by the sequencer
// (neo4jstore/sequence.go), from the counter's gseq, which is also the
// watermark readers stop at: it starts at the highest stored sequence.
// Events waiting for theirs carry the label Unsequenced.
MATCH (c:Counter {name: 'gseq'}) WHERE c.gseq IS NULL
CALL (c) {
	OPTIONAL MATCH (e:Event) USING INDEX e:Event(gseq) WHERE e.gseq IS NOT NULL
	RETURN e.gseq AS top ORDER BY e.gseq DESC LIMIT 1
}
SET c.gseq = coalesce(top, 0);

// WP numbers are taken from a counter node per project, not from the
// project node, which every create in the project locks (neo4jstore/keys.go).
CREATE CONSTRAINT wp_counter_project IF NOT EXISTS FOR (n:WPCounter) REQUIRE n.project_id IS UNIQUE;
