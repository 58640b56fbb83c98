// Package agileplus is the domain of AgilePlus, a tracker of software work
// for developers and coding agents, and the glossary to read first. It
// imports only the standard library.
//
// The domain: projects hold features, features are split into work
// packages (WPs), and WPs and features depend on each other (depends_on,
// blocks, relates_to; see Dependency and EdgeDirection), across projects;
// a dependency that would close a cycle is refused. Features and WPs move
// through state machines, a WP may be claimed by one agent at a time
// (Lease, with a fencing token), and every change is an Event, hash-chained
// per entity, with an AuditEntry chained per feature for feature-scoped
// changes. Service implements Tracker, the whole set of commands and
// queries, over a Store: one command, one transaction that checks the
// rules, writes, appends the event and puts it in the outbox. Errors are
// one type, *Error, with a code.
//
// The ports, each documented with its contract:
//   - Store, with ReadTx and Tx: the system of record; the optional BulkTx,
//     BulkGraphTx and FenceReader for bulk writes and reads, and
//     TextSearcher, a read transaction's text search (search.go);
//     SnapshotReader and SnapshotWriter, the snapshots that time travel
//     starts from (history.go).
//   - Outbox and Publisher: a store's committed events waiting for the bus,
//     and the bus that takes them.
//   - GraphReader, GraphIndex and GraphCopy, and the optional
//     GraphTraverser: the dependency graph in memory, or answered by the
//     store's own query engine.
//   - ConsumerHost and Consumer: durable consumers on the event stream;
//     Follower: every event in order, for the live stream; Backbone:
//     webhooks and dead letters over them.
//   - Pinger: a dependency that can say whether it is reachable.
//   - Cache and RateLimiter: values and hashes with a TTL, and GCRA rate
//     limits, in the process or on a Redis-protocol server.
//
// Adapters, one package each, never importing one another: sqlitestore
// (embedded SQLite) and neo4jstore (Neo4j) implement Store; natsbus (NATS
// JetStream) implements Publisher, ConsumerHost and Follower; httpapi is
// the HTTP server over a Tracker and a Backbone, the live event stream, and
// a client implementing both; webhook delivers events to registered
// endpoints; localcache (in the process) and rediscache (a Redis-protocol
// server) implement Cache and RateLimiter; prommetrics exports metrics to Prometheus, fed by hooks of
// the others that cmd/agileplus connects. Engines that are neither domain nor adapter import this
// package and no adapter: depgraph answers the graph queries in memory,
// relay publishes the outbox to the bus, storemigrate copies and verifies
// a whole store, ratelimit falls back to the in-process limiter while the
// shared one is down, session keeps browser sessions in the cache. cmd/agileplus wires everything
// and is the CLI.
package agileplus
