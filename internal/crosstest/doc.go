// Package crosstest holds the tests that need two adapters at once: the
// HTTP API and its client over a SQLite store, answers of the Neo4j store
// compared with the SQLite store's, a copy from one store to the other,
// webhooks over the NATS bus. Adapters never import each other, not even
// in their tests, so such tests live here, in a package of their own; the
// tests an adapter can run alone stay with it. Files are named for the
// adapter under test: httpapi_*, neo4j_*, webhook_*.
//
// The package has no code: only this file and its tests. Neo4j and NATS
// are started through internal/neo4jtest and internal/natstest, as in the
// adapters' own tests.
package crosstest
