package agileplus

import "time"

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
	URL    string        `json:"url" rule:"webhookurl" doc:"http or https URL that receives the POSTs (no fragment; refused with 400 when the server is reachable from elsewhere and the host is private)"`
	Filter EventSelector `json:"filter,omitempty" doc:"which events to deliver; every event when absent"`
	Secret string        `json:"secret,omitempty" minLength:"16" maxLength:"256" pattern:"^[!-~]+$" doc:"HMAC-SHA256 key, 16-256 printable ASCII characters without spaces; generated when absent"`
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
