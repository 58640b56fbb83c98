package agileplus

import (
	"context"
	"slices"
	"strings"
	"time"
)

// EventTypes lists every event type the platform emits, "<kind>.<action>".
var EventTypes = []string{
	"project.created", "project.updated", "project.imported",
	"feature.created", "feature.updated", "feature.transitioned", "feature.imported",
	"wp.created", "wp.updated", "wp.transitioned", "wp.claimed", "wp.renewed", "wp.released",
	"wp.referenced", "wp.reference_updated", "wp.imported",
	"dependency.added", "dependency.removed", "dependency.imported",
}

// EntityKinds lists the entity kinds events are about.
var EntityKinds = []string{KindProject, KindFeature, KindWP, KindDependency}

// EventSelector chooses events by project key, entity kind and event type.
// Empty fields match everything; the fields combine with AND, the values
// within one field with OR. It is what SSE clients, `events tail` and
// webhooks filter with, and it maps onto NATS subject filters.
type EventSelector struct {
	Project  string   `json:"project,omitempty" doc:"project key, e.g. CORE"`
	Entities []string `json:"entities,omitempty" doc:"entity kinds: project, feature, wp, dependency"`
	Types    []string `json:"types,omitempty" doc:"event types, e.g. wp.transitioned (the dev.agileplus. prefix is optional)"`
}

// Normalize trims the CloudEvents prefix from types and sorts and
// de-duplicates the lists, so equal selectors compare equal.
func (s EventSelector) Normalize() EventSelector {
	out := EventSelector{Project: s.Project}
	for _, e := range s.Entities {
		out.Entities = append(out.Entities, strings.TrimSpace(e))
	}
	for _, t := range s.Types {
		out.Types = append(out.Types, strings.TrimPrefix(strings.TrimSpace(t), CloudEventTypePrefix))
	}
	slices.Sort(out.Entities)
	out.Entities = slices.Compact(out.Entities)
	slices.Sort(out.Types)
	out.Types = slices.Compact(out.Types)
	return out
}

// Validate returns an EINVALID error naming the field ("project", "entity"
// or "type") of the first bad value. Call it on a normalized selector.
func (s EventSelector) Validate() error {
	if s.Project != "" && !projectKeyRE.MatchString(s.Project) {
		return FieldErrorf("project", "project %q is not a project key (2-16 upper-case letters or digits, starting with a letter)", s.Project)
	}
	for _, e := range s.Entities {
		if !slices.Contains(EntityKinds, e) {
			return FieldErrorf("entity", "entity %q is not one of %s", e, strings.Join(EntityKinds, ", "))
		}
	}
	for _, t := range s.Types {
		if !slices.Contains(EventTypes, t) {
			return FieldErrorf("type", "type %q is not an event type; known types: %s", t, strings.Join(EventTypes, ", "))
		}
		if len(s.Entities) > 0 {
			kind, _, _ := strings.Cut(t, ".")
			if !slices.Contains(s.Entities, kind) {
				return FieldErrorf("type", "type %q is about %s, which the entity filter (%s) excludes", t, kind, strings.Join(s.Entities, ", "))
			}
		}
	}
	return nil
}

// Match reports whether the selector chooses e.
func (s EventSelector) Match(e *Event) bool {
	if s.Project != "" && e.ProjectKey != s.Project {
		return false
	}
	if len(s.Entities) > 0 && !slices.Contains(s.Entities, e.EntityKind) {
		return false
	}
	if len(s.Types) > 0 && !slices.Contains(s.Types, e.Type) {
		return false
	}
	return true
}

// Subjects returns the NATS subject filters that choose the same events:
// agileplus.<project>.<entity>.<id>.<action> with wildcards where the
// selector is open.
func (s EventSelector) Subjects() []string {
	project := "*"
	if s.Project != "" {
		project = s.Project
	}
	switch {
	case len(s.Types) > 0:
		out := make([]string, 0, len(s.Types))
		for _, t := range s.Types {
			kind, action, _ := strings.Cut(t, ".")
			out = append(out, SubjectPrefix+"."+project+"."+kind+".*."+action)
		}
		return out
	case len(s.Entities) > 0:
		out := make([]string, 0, len(s.Entities))
		for _, k := range s.Entities {
			out = append(out, SubjectPrefix+"."+project+"."+k+".*.*")
		}
		return out
	case s.Project != "":
		return []string{SubjectPrefix + "." + project + ".>"}
	default:
		return []string{SubjectPrefix + ".>"}
	}
}

// String is a short human form: "project=CORE types=wp.created".
func (s EventSelector) String() string {
	var parts []string
	if s.Project != "" {
		parts = append(parts, "project="+s.Project)
	}
	if len(s.Entities) > 0 {
		parts = append(parts, "entities="+strings.Join(s.Entities, ","))
	}
	if len(s.Types) > 0 {
		parts = append(parts, "types="+strings.Join(s.Types, ","))
	}
	if len(parts) == 0 {
		return "all events"
	}
	return strings.Join(parts, " ")
}

// ---- webhooks ----

// Webhook is a registered HTTP endpoint that receives the events its filter
// selects, each POSTed as a signed CloudEvent.
type Webhook struct {
	ID        string        `json:"id"`
	URL       string        `json:"url"`
	Filter    EventSelector `json:"filter"`
	Secret    string        `json:"secret,omitempty" doc:"returned only when the webhook is created"`
	CreatedAt time.Time     `json:"created_at"`
}

// PrefixWebhook prefixes webhook ids.
const PrefixWebhook = "whk_"

// WebhookCreate registers a webhook.
type WebhookCreate struct {
	URL    string        `json:"url" doc:"http or https URL that receives the POSTs"`
	Filter EventSelector `json:"filter"`
	Secret string        `json:"secret,omitempty" doc:"HMAC-SHA256 key, 16-256 bytes; generated when empty"`
}

// Webhook delivery outcomes.
const (
	DeliveryDelivered    = "delivered"     // the receiver answered 2xx
	DeliveryFailed       = "failed"        // this attempt failed; another follows
	DeliveryDeadLettered = "dead_lettered" // the last attempt failed
	DeliverySkipped      = "skipped"       // a redelivery of an event already delivered
)

// WebhookDelivery is one attempt to deliver one event to one webhook.
type WebhookDelivery struct {
	Seq        uint64    `json:"seq"` // position in the delivery log (cursor)
	DeliveryID string    `json:"delivery_id"`
	WebhookID  string    `json:"webhook_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	GlobalSeq  int64     `json:"global_seq"`
	Attempt    int       `json:"attempt"`
	Redrive    bool      `json:"redrive,omitempty"`
	Time       time.Time `json:"time"`
	Outcome    string    `json:"outcome"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	// NextAttempt is when the next try is due, for failed attempts.
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

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

// ---- consumers ----

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

// ---- trace context ----

// traceKey carries a W3C traceparent in a context.
type traceKey struct{}

// WithTraceParent returns ctx carrying a W3C traceparent, which the events
// a command records inherit.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceKey{}, tp)
}

// TraceParentFrom returns the traceparent in ctx, or "".
func TraceParentFrom(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}

// ValidTraceParent reports whether tp is a version-00 W3C traceparent:
// 00-<32 hex trace id, not all zero>-<16 hex parent id, not all zero>-<2 hex flags>.
func ValidTraceParent(tp string) bool {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] != "00" {
		return false
	}
	isHex := func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	trace, parent, flags := tp[3:35], tp[36:52], tp[53:55]
	return isHex(trace) && isHex(parent) && isHex(flags) &&
		trace != strings.Repeat("0", 32) && parent != strings.Repeat("0", 16)
}
