// Snapshots of WPs and features for time travel: (:Snapshot {entity_id,
// seq, entity_kind, gseq, time, state}), the entity's state (its JSON as a
// single read returns it) right after its event seq.
CREATE CONSTRAINT snapshot_entity_seq IF NOT EXISTS FOR (n:Snapshot) REQUIRE (n.entity_id, n.seq) IS UNIQUE;
