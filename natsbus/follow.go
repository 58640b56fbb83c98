package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go/jetstream"
)

var _ agileplus.Follower = (*Bus)(nil)

// Tuning of Follow.
const (
	// followBatch is how many messages the consumer keeps in flight.
	followBatch = 512
	// Restarts after an error back off from followMinBackoff to
	// followMaxBackoff, and start over at the minimum once messages flow.
	followMinBackoff = 100 * time.Millisecond
	followMaxBackoff = 5 * time.Second
)

// Follow calls fn with every event published to the stream after Follow
// starts, one at a time and in stream order, until ctx ends (it then
// returns ctx.Err()) or the bus is closed (an EUNAVAILABLE error).
//
// It reads through an ordered consumer: ephemeral, without acks, recreated
// by the client when it sees a gap. After any other error, a lost
// connection or a restarted server, Follow makes a new one that resumes
// after the last message it handed to fn, backing off between attempts, so
// it gives up only with ctx or the bus. A message that is not a CloudEvent
// is logged and skipped. fn runs on Follow's goroutine: it should return
// quickly (a hub that fans events out must not block it).
//
// It is per process on purpose, not a shared durable consumer. It feeds the
// server's live event streams (SSE), whose clients carry their own
// position, the GlobalSeq of the last event they saw, and catch up from the
// store: nothing needs a position kept on the server. And when several
// server processes share the bus, each one must see every event for its
// own clients, whereas a durable consumer would split the events among
// them.
func (b *Bus) Follow(ctx context.Context, fn func(*agileplus.Event)) error {
	return b.FollowFrom(ctx, 0, fn)
}

// FollowFrom is Follow from the stream sequence start (0: the next message
// published, fixed when Follow first reads the stream's state). With
// LastSeq, a caller fixes "from now on" before it returns to its own
// caller.
func (b *Bus) FollowFrom(ctx context.Context, start uint64, fn func(*agileplus.Event)) error {
	backoff := followMinBackoff
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.checkOpen(); err != nil {
			return err
		}
		if start == 0 {
			// "From now on" is fixed once, as a stream sequence, so that a
			// restart before the first message loses nothing either.
			info, err := b.stream.Info(ctx)
			if err == nil {
				start = info.State.LastSeq + 1
			} else if ctx.Err() == nil {
				b.cfg.Logger.Warn("natsbus: follow: reading the stream position", "err", err, "retry_in", backoff)
			}
		}
		if start > 0 {
			n, err := b.followFrom(ctx, &start, fn)
			if n > 0 {
				backoff = followMinBackoff
			}
			if ctx.Err() == nil && b.checkOpen() == nil {
				b.cfg.Logger.Warn("natsbus: follow: restarting the consumer", "from_seq", start, "err", err, "retry_in", backoff)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return b.checkOpen()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, followMaxBackoff)
	}
}

// followFrom reads the stream from *start until an error, advancing *start
// past each message it handles, and returns how many events it handed to
// fn.
func (b *Bus) followFrom(ctx context.Context, start *uint64, fn func(*agileplus.Event)) (int, error) {
	cons, err := b.js.OrderedConsumer(ctx, b.cfg.StreamName, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       *start,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("natsbus: follow %s: %w", b.cfg.StreamName, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(followBatch))
	if err != nil {
		return 0, fmt.Errorf("natsbus: follow %s: %w", b.cfg.StreamName, err)
	}
	defer iter.Stop()
	n := 0
	for {
		m, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			return n, fmt.Errorf("natsbus: follow %s from %d: %w", b.cfg.StreamName, *start, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return n, fmt.Errorf("natsbus: follow %s: %w", b.cfg.StreamName, err)
		}
		*start = meta.Sequence.Stream + 1
		var ce agileplus.CloudEvent
		if err := json.Unmarshal(m.Data(), &ce); err != nil || ce.SpecVersion == "" || ce.ID == "" {
			if err == nil {
				err = errors.New("no specversion or id")
			}
			b.cfg.Logger.Warn("natsbus: follow: skipping a message that is not a CloudEvent", "seq", meta.Sequence.Stream, "subject", m.Subject(), "err", err)
			continue
		}
		fn(ce.Event())
		n++
	}
}

// LastSeq returns the sequence of the last message in the stream (0 when
// it is empty).
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsbus: stream %s: %w", b.cfg.StreamName, err)
	}
	return info.State.LastSeq, nil
}
