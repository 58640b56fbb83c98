package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamInfo is the state of the stream.
type StreamInfo struct {
	Name     string
	Messages uint64
	Bytes    uint64
	FirstSeq uint64
	LastSeq  uint64
}

// StreamInfo returns the current state of the stream.
func (b *Bus) StreamInfo(ctx context.Context) (*StreamInfo, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: stream %s info: %w", b.cfg.StreamName, err))
	}
	return &StreamInfo{
		Name:     info.Config.Name,
		Messages: info.State.Msgs,
		Bytes:    info.State.Bytes,
		FirstSeq: info.State.FirstSeq,
		LastSeq:  info.State.LastSeq,
	}, nil
}

// StreamMessage is one message of the stream with the event it carries.
type StreamMessage struct {
	Seq     uint64 // stream sequence
	Subject string
	MsgID   string // Nats-Msg-Id header
	Event   *agileplus.Event
}

// StreamEvents returns the events of every message in the stream, in stream
// order.
func (b *Bus) StreamEvents(ctx context.Context) ([]*agileplus.Event, error) {
	msgs, err := b.StreamMessages(ctx)
	if err != nil {
		return nil, err
	}
	events := make([]*agileplus.Event, len(msgs))
	for i, m := range msgs {
		events[i] = m.Event
	}
	return events, nil
}

// readBatch is how many messages StreamMessages keeps in flight.
const readBatch = 4096

// StreamMessages reads every message in the stream when it is called, in
// stream order, and decodes each one's CloudEvent. Messages published while
// it runs may or may not be included. A message that is not a CloudEvent is
// an error: everything under the stream's subjects is ours.
func (b *Bus) StreamMessages(ctx context.Context) ([]StreamMessage, error) {
	info, err := b.StreamInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Messages == 0 {
		return nil, nil
	}
	// An ordered consumer is the client's fastest way through a stream: an
	// ephemeral consumer without acks, pulled in large batches, recreated
	// by the client on any gap. The server deletes it once idle, so no
	// cleanup call is needed.
	cons, err := b.js.OrderedConsumer(ctx, b.cfg.StreamName, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: read stream %s: %w", b.cfg.StreamName, err))
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(readBatch))
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: read stream %s: %w", b.cfg.StreamName, err))
	}
	defer iter.Stop()

	out := make([]StreamMessage, 0, info.Messages)
	for {
		m, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, unavailable(fmt.Errorf("natsbus: read stream %s after %d messages: %w", b.cfg.StreamName, len(out), err))
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("natsbus: read stream %s: %w", b.cfg.StreamName, err)
		}
		var ce agileplus.CloudEvent
		if err := json.Unmarshal(m.Data(), &ce); err != nil {
			return nil, fmt.Errorf("natsbus: decode message %d on %s: %w", meta.Sequence.Stream, m.Subject(), err)
		}
		out = append(out, StreamMessage{
			Seq:     meta.Sequence.Stream,
			Subject: m.Subject(),
			MsgID:   m.Headers().Get(jetstream.MsgIDHeader),
			Event:   ce.Event(),
		})
		// NumPending counts what is left for this consumer, so it reaches 0
		// at the end even if old messages expire while we read.
		if meta.NumPending == 0 || meta.Sequence.Stream >= info.LastSeq {
			return out, nil
		}
	}
}
