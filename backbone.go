package agileplus

import (
	"context"
	"time"
)

// DeadLetter is an event a consumer gave up on after its last delivery
// attempt.
type DeadLetter struct {
	Seq        uint64    `json:"seq"` // position in the dead-letter stream (what redrive takes)
	Consumer   string    `json:"consumer"`
	Reason     string    `json:"reason"` // "max_deliveries" or "terminated"
	Deliveries int       `json:"deliveries"`
	StreamSeq  uint64    `json:"stream_seq"` // the event's position in the event stream
	Time       time.Time `json:"time"`
	Event      *Event    `json:"event,omitempty"` // nil when the stream no longer holds it
}

// RedriveResult says what one redrive did.
type RedriveResult struct {
	Seq      uint64 `json:"seq"`
	Consumer string `json:"consumer"`
	EventID  string `json:"event_id,omitempty"`
	// Delivered is true when the consumer handled the event; the dead
	// letter is then removed. Otherwise Error says why and it stays.
	Delivered bool   `json:"delivered"`
	Error     string `json:"error,omitempty"`
}

// Backbone is what the server offers over the event stream besides the
// Tracker: webhooks and dead letters. It is implemented by the wiring of
// the bus and the webhook dispatcher.
type Backbone interface {
	CreateWebhook(ctx context.Context, c WebhookCreate) (*Webhook, error)
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	WebhookDeliveries(ctx context.Context, id string, after uint64, limit int) ([]*WebhookDelivery, error)

	DeadLetters(ctx context.Context, consumer string, after uint64, limit int) ([]*DeadLetter, error)
	Redrive(ctx context.Context, seq uint64) (*RedriveResult, error)
	DiscardDeadLetter(ctx context.Context, seq uint64) error
}

// ConsumerPolicy is how durable consumers inside the server receive events:
// explicit acks, at most MaxDeliver attempts per event, the n-th retry
// after Backoff[n-1] (the last value repeats), then the event goes to the
// dead-letter stream.
type ConsumerPolicy struct {
	MaxDeliver int
	Backoff    []time.Duration
	// AckWait is how long an attempt may take before the bus assumes the
	// consumer died and delivers the event again.
	AckWait time.Duration
}

// DefaultConsumerPolicy: 5 attempts, retries after 1 s, 5 s, 30 s, 30 s.
func DefaultConsumerPolicy() ConsumerPolicy {
	return ConsumerPolicy{MaxDeliver: 5, Backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}, AckWait: time.Minute}
}

// RetryDelay is the wait before attempt n+1 after attempt n failed.
func (p ConsumerPolicy) RetryDelay(attempt int) time.Duration {
	if len(p.Backoff) == 0 {
		return 0
	}
	return p.Backoff[min(max(attempt, 1), len(p.Backoff))-1]
}

// Delivery describes one delivery of an event to a consumer.
type Delivery struct {
	Consumer    string
	Attempt     int // 1 for the first delivery
	MaxAttempts int
	StreamSeq   uint64
	// Redrive is true when an operator re-drives a dead letter: the
	// consumer should act even if it believes it handled the event.
	Redrive bool
	// RetryIn is the wait before the next attempt if this one fails; 0 on
	// the last attempt.
	RetryIn time.Duration
}

// Last reports whether a failure of this attempt dead-letters the event.
func (d Delivery) Last() bool { return !d.Redrive && d.Attempt >= d.MaxAttempts }

// ConsumerSpec describes a durable consumer: its name (shared by every
// server process, which then split the work), what it selects, and the
// handler. A handler error makes the bus deliver the event again later.
type ConsumerSpec struct {
	Name     string
	Selector EventSelector
	Handle   func(ctx context.Context, e *Event, d Delivery) error
}

// ConsumerHost runs durable consumers on the event stream.
type ConsumerHost interface {
	// Consume creates the durable consumer if it does not exist (starting
	// with events published from now on) and runs the handler in this
	// process until Stop.
	Consume(ctx context.Context, spec ConsumerSpec) (Consumer, error)
	// DeleteConsumer removes a durable consumer and its position.
	DeleteConsumer(ctx context.Context, name string) error
	// Consumers lists the durable consumers whose name starts with prefix,
	// by name.
	Consumers(ctx context.Context, prefix string) ([]ConsumerInfo, error)
}

// ConsumerInfo describes a durable consumer on the bus.
type ConsumerInfo struct {
	Name    string
	Created time.Time // as the bus's clock tells it
}

// Consumer is a running consumer.
type Consumer interface {
	Stop()
	// Done is closed when the consumer stops, by Stop or because the bus
	// removed it (its durable consumer was deleted).
	Done() <-chan struct{}
}
