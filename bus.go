package agileplus

import "context"

// Publisher puts events on the event bus.
//
// Contract: Publish returns nil only when every event has been durably
// accepted by the bus. Each event is published with its ID as the
// de-duplication id (NATS: Nats-Msg-Id), so publishing the same event again,
// within the bus's de-duplication window, stores it once. Publish may return
// an error after some events were accepted; the caller publishes them all
// again. Errors reaching the bus are EUNAVAILABLE.
type Publisher interface {
	Publish(ctx context.Context, events []*Event) error
}

// Outbox is the store side of the relay: the events committed but not yet
// published, in commit order.
//
// Contract: PendingEvents returns at most limit unpublished events with
// GlobalSeq > after, ordered by GlobalSeq (after 0: from the oldest).
// MarkPublished marks the given events published; marking an
// event twice, or one that does not exist, is not an error. PendingCount
// reports the number of unpublished events.
type Outbox interface {
	PendingEvents(ctx context.Context, after int64, limit int) ([]*Event, error)
	MarkPublished(ctx context.Context, ids []string) error
	PendingCount(ctx context.Context) (int64, error)
}

// Pinger is implemented by dependencies that can report whether they are
// reachable right now; /ready asks each one.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Follower reads the bus as it is written, for this process only: it feeds
// the server's live event streams. Unlike a durable consumer it keeps no
// position on the bus, and every process that follows sees every event.
//
// Contract: LastSeq returns the bus position of the newest event (0 when
// there is none). FollowFrom calls fn with each event from position start
// on (0: from the next one published), one at a time and in bus order,
// until ctx ends (it returns ctx.Err()) or the bus is closed (an
// EUNAVAILABLE error); after any other failure it resumes where it
// stopped. fn runs on FollowFrom's goroutine and should return quickly.
type Follower interface {
	LastSeq(ctx context.Context) (uint64, error)
	FollowFrom(ctx context.Context, start uint64, fn func(*Event)) error
}
