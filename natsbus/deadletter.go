package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/nats-io/nats.go/jetstream"
)

// The dead-letter stream captures the JetStream advisories the server
// publishes when a consumer of the event stream gives up on a message:
// max deliveries reached, or the consumer terminated it. An advisory names
// the consumer and the event's stream sequence; the event itself stays in
// the event stream, where redrive reads it.
const (
	advisoryMaxDeliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
	advisoryTerminated    = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"
)

// DeadLetterStream is the name of the dead-letter stream of a bus.
func (b *Bus) DeadLetterStream() string { return b.cfg.StreamName + "_DLQ" }

// openAuxiliary creates the streams and buckets besides the event stream:
// dead letters and the webhook registry and delivery log.
func (b *Bus) openAuxiliary(ctx context.Context) error {
	var err error
	b.dlq, err = b.setUpStream(ctx, b.dlqConfig())
	if err != nil {
		return fmt.Errorf("natsbus: create stream %s: %w", b.DeadLetterStream(), err)
	}
	b.webhooks, err = openWebhookStore(ctx, b)
	return err
}

// dlqConfig is the dead-letter stream's configuration.
func (b *Bus) dlqConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        b.DeadLetterStream(),
		Description: "Events consumers of " + b.cfg.StreamName + " gave up on (JetStream advisories)",
		Subjects: []string{
			advisoryMaxDeliveries + "." + b.cfg.StreamName + ".*",
			advisoryTerminated + "." + b.cfg.StreamName + ".*",
		},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		// A dead letter is useful as long as its event is in the stream.
		MaxAge:   b.cfg.MaxAge,
		Replicas: b.cfg.Replicas,
	}
}

// advisory is the part of a JetStream consumer advisory we read.
type advisory struct {
	Type       string    `json:"type"`
	Time       time.Time `json:"timestamp"`
	Stream     string    `json:"stream"`
	Consumer   string    `json:"consumer"`
	StreamSeq  uint64    `json:"stream_seq"`
	Deliveries int       `json:"deliveries"`
	Reason     string    `json:"reason"` // terminated advisories
}

const advisoryTypeTerminated = "io.nats.jetstream.advisory.v1.terminated"

// deadLetter turns a dead-letter stream message into a DeadLetter, with the
// event read from the event stream.
func (b *Bus) deadLetter(ctx context.Context, m *jetstream.RawStreamMsg) (*agileplus.DeadLetter, error) {
	var a advisory
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return nil, fmt.Errorf("natsbus: dead letter %d: %w", m.Sequence, err)
	}
	dl := &agileplus.DeadLetter{
		Seq: m.Sequence, Consumer: a.Consumer, Reason: "max_deliveries", Deliveries: a.Deliveries,
		StreamSeq: a.StreamSeq, Time: a.Time,
	}
	if a.Type == advisoryTypeTerminated {
		dl.Reason = "terminated"
		if a.Reason != "" {
			dl.Reason += ": " + a.Reason
		}
	}
	ev, err := b.eventAt(ctx, a.StreamSeq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// Expired from the event stream: the dead letter stays listable.
	case errors.Is(err, errNotCloudEvent):
		dl.Reason += " (the message is not a CloudEvent)"
	case err != nil:
		return nil, err
	}
	dl.Event = ev
	return dl, nil
}

// eventAt reads the event at a stream sequence.
func (b *Bus) eventAt(ctx context.Context, seq uint64) (*agileplus.Event, error) {
	m, err := b.stream.GetMsg(ctx, seq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, err
		}
		return nil, unavailable(fmt.Errorf("natsbus: read event at %d: %w", seq, err))
	}
	var ce agileplus.CloudEvent
	if err := json.Unmarshal(m.Data, &ce); err != nil {
		return nil, fmt.Errorf("natsbus: decode event at %d: %w: %v", seq, errNotCloudEvent, err)
	}
	return ce.Event(), nil
}

var errNotCloudEvent = errors.New("not a CloudEvent")

// DeadLetters lists dead letters after the dead-letter sequence after, of
// one consumer or of all (consumer ""), oldest first.
func (b *Bus) DeadLetters(ctx context.Context, consumerName string, after uint64, limit int) ([]*agileplus.DeadLetter, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	if consumerName != "" && !consumerNameRE.MatchString(consumerName) {
		return nil, agileplus.FieldErrorf("consumer", "consumer %q is not a consumer name (letters, digits, '-' or '_')", consumerName)
	}
	limit, err := agileplus.ClampLimit(limit)
	if err != nil {
		return nil, err
	}
	filter := "$JS.EVENT.ADVISORY.CONSUMER.*." + b.cfg.StreamName + ".*"
	if consumerName != "" {
		filter = "$JS.EVENT.ADVISORY.CONSUMER.*." + b.cfg.StreamName + "." + consumerName
	}
	out := []*agileplus.DeadLetter{}
	for seq := after + 1; len(out) < limit; {
		m, err := b.dlq.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, unavailable(fmt.Errorf("natsbus: read dead letters: %w", err))
		}
		dl, err := b.deadLetter(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
		seq = m.Sequence + 1
	}
	return out, nil
}

// Redrive hands the dead letter at seq to the consumer that gave up on it,
// once, in this process. When the consumer handles it, the dead letter is
// removed; when it fails again, it stays and the result says why.
func (b *Bus) Redrive(ctx context.Context, seq uint64) (*agileplus.RedriveResult, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	m, err := b.dlq.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, &agileplus.Error{Code: agileplus.ENOTFOUND, Field: "seq", Message: fmt.Sprintf("dead letter %d not found: it was re-driven, discarded or has expired", seq)}
	}
	if err != nil {
		return nil, unavailable(fmt.Errorf("natsbus: read dead letter %d: %w", seq, err))
	}
	dl, err := b.deadLetter(ctx, m)
	if err != nil {
		return nil, err
	}
	res := &agileplus.RedriveResult{Seq: seq, Consumer: dl.Consumer}
	if dl.Event == nil && strings.Contains(dl.Reason, "not a CloudEvent") {
		res.Error = "the message is not a CloudEvent, so no consumer can handle it; discard this dead letter"
		return res, nil
	}
	if dl.Event == nil {
		res.Error = fmt.Sprintf("the event stream no longer holds message %d (older than the stream's retention); discard this dead letter", dl.StreamSeq)
		return res, nil
	}
	res.EventID = dl.Event.ID
	c := b.consumers.get(dl.Consumer)
	if c == nil {
		res.Error = fmt.Sprintf("consumer %s does not run on this server (was its webhook deleted?); discard this dead letter", dl.Consumer)
		return res, nil
	}
	d := agileplus.Delivery{
		Consumer: dl.Consumer, Attempt: dl.Deliveries + 1, MaxAttempts: b.cfg.Consumer.MaxDeliver,
		StreamSeq: dl.StreamSeq, Redrive: true,
	}
	if err := c.spec.Handle(ctx, dl.Event, d); err != nil {
		res.Error = err.Error()
		return res, nil
	}
	res.Delivered = true
	if err := b.dlq.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, unavailable(fmt.Errorf("natsbus: remove re-driven dead letter %d: %w", seq, err))
	}
	return res, nil
}

// DiscardDeadLetter removes a dead letter without re-driving it.
func (b *Bus) DiscardDeadLetter(ctx context.Context, seq uint64) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	// Deleting a sequence past the end is a server error, not "not
	// found", so look first.
	_, err := b.dlq.GetMsg(ctx, seq)
	if err == nil {
		err = b.dlq.DeleteMsg(ctx, seq)
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return &agileplus.Error{Code: agileplus.ENOTFOUND, Field: "seq", Message: fmt.Sprintf("dead letter %d not found", seq)}
	}
	if err != nil {
		return unavailable(fmt.Errorf("natsbus: discard dead letter %d: %w", seq, err))
	}
	return nil
}
