// Package crosstest holds the tests that need two adapters at once:
// answers of the Neo4j store compared with the SQLite store's, a copy from
// one store to the other, webhooks over the NATS bus. Adapters never
// import each other, not even in their tests, so such tests live here, in
// a package of their own; each adapter's own tests stay with it.
//
// The package has no code: only this file and its tests. Neo4j and NATS
// are started through internal/neo4jtest and internal/natstest, as in the
// adapters' own tests.
package crosstest
