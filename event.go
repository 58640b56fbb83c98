package agileplus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Entity kinds, as they appear in event types and subjects.
const (
	KindProject    = "project"
	KindFeature    = "feature"
	KindWP         = "wp"
	KindDependency = "dependency"
	KindLabel      = "label" // a project's label definition
)

// Event is one change to one entity. Events of an entity form a hash chain:
// Seq counts from 1, PrevHash is the Hash of the previous event ("" for the
// first) and Hash covers the canonical encoding of the event (see Canonical).
//
// TraceParent is the W3C traceparent of the request that caused the event,
// so a trace can be followed from the API request to the event and its
// consumers. It is not covered by the hash: it is transport metadata about
// the request, not part of the entity's history, and chains written before
// it existed stay valid.
type Event struct {
	ID          string          `json:"id"`
	GlobalSeq   int64           `json:"global_seq"` // assigned by the store on append, strictly increasing
	Type        string          `json:"type"`       // "<kind>.<action>", e.g. "wp.transitioned"
	EntityKind  string          `json:"entity_kind"`
	EntityID    string          `json:"entity_id"`
	ProjectKey  string          `json:"project_key"`
	FeatureID   string          `json:"feature_id,omitempty"`
	Seq         int64           `json:"seq"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Data        json.RawMessage `json:"data"`
	TraceParent string          `json:"traceparent,omitempty"`
}

// Action is the part of Type after the entity kind ("transitioned").
func (e *Event) Action() string {
	_, a, _ := strings.Cut(e.Type, ".")
	return a
}

// Subject is the NATS subject the event is published on:
// agileplus.<project>.<entity>.<id>.<event>.
func (e *Event) Subject() string {
	return SubjectPrefix + "." + e.ProjectKey + "." + e.EntityKind + "." + e.EntityID + "." + e.Action()
}

// SubjectPrefix is the first token of every platform subject.
const SubjectPrefix = "agileplus"

// Canonical is the byte string an event hash covers: the fields that define
// the event in a fixed order, each written as "<length>:<bytes>" so that no
// two different events encode alike, with the time in UTC RFC 3339 at
// nanosecond precision and the data as stored. GlobalSeq is not covered: it
// is a property of the store, not of the entity's history. Neither is
// TraceParent (see Event).
func (e *Event) Canonical() []byte {
	return canonical(e.PrevHash, e.ID, e.Type, e.EntityKind, e.EntityID, e.ProjectKey, e.FeatureID,
		strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, string(e.Data))
}

// canonical length-prefixes each field: "5:hello3:abc".
func canonical(fields ...string) []byte {
	n := 0
	for _, f := range fields {
		n += len(f) + 8
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
	}
	return b
}

// ComputeHash returns the hex SHA-256 of the canonical encoding.
func (e *Event) ComputeHash() string {
	sum := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(sum[:])
}

// VerifyEventChain checks that events (one entity, ordered by Seq) form an
// unbroken chain with correct hashes. It returns a *Error naming the first
// broken link, or nil.
func VerifyEventChain(events []*Event) error {
	prev := ""
	for i, e := range events {
		if e.Seq != int64(i+1) {
			return Errorf(ECONFLICT, "event chain of %s: event %s has seq %d, want %d", e.EntityID, e.ID, e.Seq, i+1)
		}
		if e.PrevHash != prev {
			return Errorf(ECONFLICT, "event chain of %s: event %s (seq %d) prev_hash does not match the previous hash", e.EntityID, e.ID, e.Seq)
		}
		if h := e.ComputeHash(); h != e.Hash {
			return Errorf(ECONFLICT, "event chain of %s: event %s (seq %d) hash mismatch", e.EntityID, e.ID, e.Seq)
		}
		prev = e.Hash
	}
	return nil
}

// CloudEvent is the CloudEvents 1.0 JSON form in which events are published.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	// Extensions: lowercase alphanumeric names, as the spec requires.
	EntityKind string `json:"entitykind"`
	EntityID   string `json:"entityid"`
	Project    string `json:"project"`
	Feature    string `json:"feature,omitempty"`
	Sequence   int64  `json:"sequence"`
	GlobalSeq  int64  `json:"globalseq"`
	PrevHash   string `json:"prevhash"`
	Hash       string `json:"hash"`
	Actor      string `json:"actor,omitempty"`
	// TraceParent is the CloudEvents distributed-tracing extension: the
	// W3C traceparent of the request that caused the event.
	TraceParent string `json:"traceparent,omitempty"`
}

// CloudEventTypePrefix prefixes event types in their CloudEvents form.
const CloudEventTypePrefix = "dev.agileplus."

// CloudEvent returns the CloudEvents form of e.
func (e *Event) CloudEvent() *CloudEvent {
	return &CloudEvent{
		SpecVersion:     "1.0",
		ID:              e.ID,
		Source:          "/agileplus/" + e.ProjectKey,
		Type:            CloudEventTypePrefix + e.Type,
		Subject:         e.EntityKind + "/" + e.EntityID,
		Time:            e.Time.UTC(),
		DataContentType: "application/json",
		Data:            e.Data,
		EntityKind:      e.EntityKind,
		EntityID:        e.EntityID,
		Project:         e.ProjectKey,
		Feature:         e.FeatureID,
		Sequence:        e.Seq,
		GlobalSeq:       e.GlobalSeq,
		PrevHash:        e.PrevHash,
		Hash:            e.Hash,
		Actor:           e.Actor,
		TraceParent:     e.TraceParent,
	}
}

// Event converts a CloudEvent back to the event it was made from.
func (c *CloudEvent) Event() *Event {
	return &Event{
		ID:          c.ID,
		GlobalSeq:   c.GlobalSeq,
		Type:        strings.TrimPrefix(c.Type, CloudEventTypePrefix),
		EntityKind:  c.EntityKind,
		EntityID:    c.EntityID,
		ProjectKey:  c.Project,
		FeatureID:   c.Feature,
		Seq:         c.Sequence,
		PrevHash:    c.PrevHash,
		Hash:        c.Hash,
		Time:        c.Time,
		Actor:       c.Actor,
		Data:        c.Data,
		TraceParent: c.TraceParent,
	}
}

// AuditEntry is one line of a feature's audit trail: every feature-scoped
// change, chained per feature the way events are chained per entity.
type AuditEntry struct {
	FeatureID string          `json:"feature_id"`
	Seq       int64           `json:"seq"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	EntityID  string          `json:"entity_id"`
	Time      time.Time       `json:"time"`
	Actor     string          `json:"actor"`
	Summary   string          `json:"summary"`
	Forced    bool            `json:"forced,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// Canonical is the byte string an audit hash covers, encoded like an event's.
func (a *AuditEntry) Canonical() []byte {
	return canonical(a.PrevHash, a.FeatureID, strconv.FormatInt(a.Seq, 10), a.EventID, a.EventType, a.EntityID,
		a.Time.UTC().Format(time.RFC3339Nano), a.Actor, a.Summary, strconv.FormatBool(a.Forced), a.Reason, string(a.Detail))
}

// ComputeHash returns the hex SHA-256 of the canonical encoding.
func (a *AuditEntry) ComputeHash() string {
	sum := sha256.Sum256(a.Canonical())
	return hex.EncodeToString(sum[:])
}

// AuditVerification reports whether a feature's audit trail chain holds.
type AuditVerification struct {
	FeatureID string `json:"feature_id"`
	Entries   int64  `json:"entries"`
	Valid     bool   `json:"valid"`
	// BrokenAt is the seq of the first entry that does not verify (0 if valid).
	BrokenAt int64  `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"`
	HeadHash string `json:"head_hash,omitempty"`
}

// VerifyAuditChain checks a feature's audit entries, ordered by Seq.
func VerifyAuditChain(featureID string, entries []*AuditEntry) *AuditVerification {
	v := &AuditVerification{FeatureID: featureID, Entries: int64(len(entries)), Valid: true}
	prev := ""
	for i, a := range entries {
		switch {
		case a.Seq != int64(i+1):
			v.Problem = "sequence gap: seq " + strconv.FormatInt(a.Seq, 10) + ", want " + strconv.Itoa(i+1)
		case a.PrevHash != prev:
			v.Problem = "prev_hash does not match the previous entry's hash"
		case a.ComputeHash() != a.Hash:
			v.Problem = "hash does not match the entry's content"
		}
		if v.Problem != "" {
			v.Valid, v.BrokenAt = false, a.Seq
			return v
		}
		prev = a.Hash
	}
	v.HeadHash = prev
	return v
}
