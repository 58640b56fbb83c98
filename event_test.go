package agileplus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// testChain returns n hash-chained events of one WP.
func testChain(n int) []*Event {
	var events []*Event
	prev := ""
	for i := range n {
		e := &Event{
			ID:         "evt_" + strings.Repeat(string(rune('a'+i)), 26),
			GlobalSeq:  int64(10 + i),
			Type:       "wp.transitioned",
			EntityKind: KindWP,
			EntityID:   "wp_01jq0000000000000000000000",
			ProjectKey: "CORE",
			FeatureID:  "fea_01jq0000000000000000000000",
			Seq:        int64(i + 1),
			PrevHash:   prev,
			Time:       testTime.Add(time.Duration(i) * time.Second),
			Actor:      "alice",
			Data:       json.RawMessage(`{"from":"planned","to":"doing","n":` + string(rune('0'+i)) + `}`),
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		events = append(events, e)
	}
	return events
}

func cloneEvents(events []*Event) []*Event {
	out := make([]*Event, len(events))
	for i, e := range events {
		c := *e
		c.Data = bytes.Clone(e.Data)
		out[i] = &c
	}
	return out
}

func TestEventCanonical(t *testing.T) {
	e := testChain(1)[0]
	lp := func(s string) string { return fmt.Sprintf("%d:%s", len(s), s) }
	want := lp("") + lp(e.ID) + lp("wp.transitioned") + lp("wp") + lp(e.EntityID) + lp("CORE") + lp(e.FeatureID) +
		lp("1") + lp("2026-03-14T15:09:26.535897932Z") + lp("alice") + lp(string(e.Data))
	if got := string(e.Canonical()); got != want {
		t.Fatalf("got canonical\n%q\nwant\n%q", got, want)
	}
	sum := sha256.Sum256([]byte(want))
	if got, want := e.ComputeHash(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("got hash %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(e.Hash) {
		t.Fatalf("got hash %q, want 64 lower-case hex digits", e.Hash)
	}
}

func TestEventCanonicalIgnoresZoneAndGlobalSeq(t *testing.T) {
	e := testChain(1)[0]
	other := cloneEvents([]*Event{e})[0]
	other.Time = e.Time.In(time.FixedZone("UTC+5", 5*3600))
	other.GlobalSeq = 99
	if got, want := other.ComputeHash(), e.Hash; got != want {
		t.Fatalf("got hash %s for the same instant in another zone and another global seq, want %s", got, want)
	}
}

func TestEventHashCoversEveryField(t *testing.T) {
	tests := map[string]func(e *Event){
		"id":          func(e *Event) { e.ID = "evt_other" },
		"type":        func(e *Event) { e.Type = "wp.updated" },
		"entity_kind": func(e *Event) { e.EntityKind = KindFeature },
		"entity_id":   func(e *Event) { e.EntityID = "wp_other" },
		"project_key": func(e *Event) { e.ProjectKey = "OPS" },
		"feature_id":  func(e *Event) { e.FeatureID = "" },
		"seq":         func(e *Event) { e.Seq = 2 },
		"prev_hash":   func(e *Event) { e.PrevHash = strings.Repeat("0", 64) },
		"time":        func(e *Event) { e.Time = e.Time.Add(time.Nanosecond) },
		"actor":       func(e *Event) { e.Actor = "mallory" },
		"data":        func(e *Event) { e.Data = json.RawMessage(`{"from":"planned","to":"done"}`) },
	}
	base := testChain(1)[0]
	for field, tamper := range tests {
		e := cloneEvents([]*Event{base})[0]
		tamper(e)
		if e.ComputeHash() == base.Hash {
			t.Errorf("changing %s: got the same hash, want a different one", field)
		}
	}
}

func TestVerifyEventChain(t *testing.T) {
	if err := VerifyEventChain(nil); err != nil {
		t.Fatalf("empty chain: got %v, want nil", err)
	}
	if err := VerifyEventChain(testChain(4)); err != nil {
		t.Fatalf("intact chain: got %v, want nil", err)
	}

	tests := []struct {
		name   string
		tamper func(es []*Event) []*Event
		broken int // index of the event the error must name
	}{
		{"data", func(es []*Event) []*Event { es[1].Data = json.RawMessage(`{"to":"done"}`); return es }, 1},
		{"data of the last event", func(es []*Event) []*Event { es[3].Data = json.RawMessage(`{}`); return es }, 3},
		{"actor", func(es []*Event) []*Event { es[2].Actor = "mallory"; return es }, 2},
		{"time", func(es []*Event) []*Event { es[1].Time = es[1].Time.Add(time.Second); return es }, 1},
		{"seq", func(es []*Event) []*Event { es[1].Seq = 3; return es }, 1},
		{"seq with rehash", func(es []*Event) []*Event { es[1].Seq = 5; es[1].Hash = es[1].ComputeHash(); return es }, 1},
		{"prev_hash", func(es []*Event) []*Event { es[2].PrevHash = es[0].Hash; return es }, 2},
		{"prev_hash with rehash", func(es []*Event) []*Event {
			es[2].PrevHash = strings.Repeat("f", 64)
			es[2].Hash = es[2].ComputeHash()
			return es
		}, 2},
		{"first prev_hash", func(es []*Event) []*Event {
			es[0].PrevHash = strings.Repeat("a", 64)
			es[0].Hash = es[0].ComputeHash()
			return es
		}, 0},
		{"hash", func(es []*Event) []*Event { es[1].Hash = strings.Repeat("0", 64); return es }, 1},
		// Rewriting an event and its own hash breaks the next link.
		{"data with rehash", func(es []*Event) []*Event {
			es[1].Data = json.RawMessage(`{"to":"done"}`)
			es[1].Hash = es[1].ComputeHash()
			return es
		}, 2},
		{"dropped event", func(es []*Event) []*Event { return append(es[:1], es[2:]...) }, 1},
		{"swapped events", func(es []*Event) []*Event { es[1], es[2] = es[2], es[1]; return es }, 1},
		{"missing first event", func(es []*Event) []*Event { return es[1:] }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.tamper(cloneEvents(testChain(4)))
			err := VerifyEventChain(es)
			if got := ErrorCode(err); got != ECONFLICT {
				t.Fatalf("got code %q (err %v), want %q", got, err, ECONFLICT)
			}
			if id := es[tt.broken].ID; !strings.Contains(ErrorMessage(err), id) {
				t.Errorf("got message %q, want it to name event %s", ErrorMessage(err), id)
			}
		})
	}
}

// testAudit returns n chained audit entries of one feature.
func testAudit(n int) []*AuditEntry {
	var entries []*AuditEntry
	prev := ""
	for i := range n {
		a := &AuditEntry{
			FeatureID: "fea_1",
			Seq:       int64(i + 1),
			EventID:   "evt_" + string(rune('a'+i)),
			EventType: "wp.transitioned",
			EntityID:  "wp_1",
			Time:      testTime.Add(time.Duration(i) * time.Minute),
			Actor:     "alice",
			Summary:   "wp CORE-1: planned -> doing",
			Detail:    json.RawMessage(`{"i":` + string(rune('0'+i)) + `}`),
			PrevHash:  prev,
		}
		a.Hash = a.ComputeHash()
		prev = a.Hash
		entries = append(entries, a)
	}
	return entries
}

func TestVerifyAuditChain(t *testing.T) {
	v := VerifyAuditChain("fea_1", nil)
	if !v.Valid || v.Entries != 0 || v.HeadHash != "" || v.BrokenAt != 0 {
		t.Fatalf("empty trail: got %+v, want valid with 0 entries and no head", v)
	}
	entries := testAudit(3)
	v = VerifyAuditChain("fea_1", entries)
	want := &AuditVerification{FeatureID: "fea_1", Entries: 3, Valid: true, HeadHash: entries[2].Hash}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("intact trail: got %+v, want %+v", v, want)
	}

	tests := []struct {
		name     string
		tamper   func(as []*AuditEntry) []*AuditEntry
		brokenAt int64
	}{
		{"summary", func(as []*AuditEntry) []*AuditEntry { as[1].Summary = "nothing happened"; return as }, 2},
		{"forced", func(as []*AuditEntry) []*AuditEntry { as[1].Forced = true; return as }, 2},
		{"reason", func(as []*AuditEntry) []*AuditEntry { as[2].Reason = "because"; return as }, 3},
		{"detail", func(as []*AuditEntry) []*AuditEntry { as[0].Detail = json.RawMessage(`{}`); return as }, 1},
		{"actor", func(as []*AuditEntry) []*AuditEntry { as[0].Actor = "mallory"; return as }, 1},
		{"event id", func(as []*AuditEntry) []*AuditEntry { as[1].EventID = "evt_z"; return as }, 2},
		{"time", func(as []*AuditEntry) []*AuditEntry { as[2].Time = as[2].Time.Add(-time.Second); return as }, 3},
		{"prev_hash", func(as []*AuditEntry) []*AuditEntry {
			as[1].PrevHash = strings.Repeat("0", 64)
			as[1].Hash = as[1].ComputeHash()
			return as
		}, 2},
		{"summary with rehash", func(as []*AuditEntry) []*AuditEntry {
			as[1].Summary = "nothing happened"
			as[1].Hash = as[1].ComputeHash()
			return as
		}, 3},
		{"dropped entry", func(as []*AuditEntry) []*AuditEntry { return append(as[:1], as[2:]...) }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := VerifyAuditChain("fea_1", tt.tamper(testAudit(3)))
			if v.Valid {
				t.Fatalf("got valid %+v, want a broken trail", v)
			}
			if v.BrokenAt != tt.brokenAt {
				t.Errorf("got broken_at %d, want %d", v.BrokenAt, tt.brokenAt)
			}
			if v.Problem == "" {
				t.Errorf("got no problem description, want one")
			}
			if v.HeadHash != "" {
				t.Errorf("got head hash %q for a broken trail, want none", v.HeadHash)
			}
		})
	}
}

func TestEventSubjectAndAction(t *testing.T) {
	e := testChain(1)[0]
	if got, want := e.Action(), "transitioned"; got != want {
		t.Errorf("got action %q, want %q", got, want)
	}
	if got, want := e.Subject(), "agileplus.CORE.wp."+e.EntityID+".transitioned"; got != want {
		t.Errorf("got subject %q, want %q", got, want)
	}
	if got := len(strings.Split(e.Subject(), ".")); got != 5 {
		t.Errorf("got %d subject tokens, want 5", got)
	}
	d := &Event{Type: "dependency.removed", EntityKind: KindDependency, EntityID: "dep_x", ProjectKey: "OPS"}
	if got, want := d.Subject(), "agileplus.OPS.dependency.dep_x.removed"; got != want {
		t.Errorf("got subject %q, want %q", got, want)
	}
}

func TestCloudEventRoundTrip(t *testing.T) {
	// Data as the Service writes it: json.Marshal output.
	data, err := json.Marshal(map[string]any{"key": "CORE", "name": "<Core & co>\u2028"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Event{testChain(2)[1], {
		ID: "evt_p", GlobalSeq: 1, Type: "project.created", EntityKind: KindProject, EntityID: "prj_1",
		ProjectKey: "CORE", Seq: 1, Time: testTime, Data: data,
	}} {
		e.Hash = e.ComputeHash()
		ce := e.CloudEvent()
		if got := ce.Event(); !reflect.DeepEqual(got, e) {
			t.Errorf("in memory: got %+v, want %+v", got, e)
		}

		b, err := json.Marshal(ce)
		if err != nil {
			t.Fatal(err)
		}
		var back CloudEvent
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got := back.Event()
		if !reflect.DeepEqual(got, e) {
			t.Errorf("through JSON: got %+v, want %+v", got, e)
		}
		if got.ComputeHash() != e.Hash {
			t.Errorf("through JSON: got hash %s, want %s", got.ComputeHash(), e.Hash)
		}
	}
}

func TestCloudEventJSON(t *testing.T) {
	e := testChain(1)[0]
	b, err := json.Marshal(e.CloudEvent())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion":     "1.0",
		"id":              e.ID,
		"source":          "/agileplus/CORE",
		"type":            "dev.agileplus.wp.transitioned",
		"subject":         "wp/" + e.EntityID,
		"time":            "2026-03-14T15:09:26.535897932Z",
		"datacontenttype": "application/json",
		"entitykind":      "wp",
		"entityid":        e.EntityID,
		"project":         "CORE",
		"feature":         e.FeatureID,
		"sequence":        1.0,
		"globalseq":       10.0,
		"prevhash":        "",
		"hash":            e.Hash,
		"actor":           "alice",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("attribute %s: got %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["data"].(map[string]any); !ok {
		t.Errorf("data: got %T, want a JSON object", m["data"])
	}
	// CloudEvents attribute names are lower-case letters and digits.
	name := regexp.MustCompile(`^[a-z0-9]{1,20}$`)
	for k := range m {
		if !name.MatchString(k) {
			t.Errorf("attribute name %q is not a valid CloudEvents name", k)
		}
	}

	e.FeatureID = ""
	b, _ = json.Marshal(e.CloudEvent())
	if bytes.Contains(b, []byte(`"feature"`)) {
		t.Errorf("got %s, want no feature attribute for an event outside a feature", b)
	}
}

func TestCloudEventTimeIsUTC(t *testing.T) {
	e := testChain(1)[0]
	e.Time = e.Time.In(time.FixedZone("UTC-7", -7*3600))
	ce := e.CloudEvent()
	if ce.Time.Location() != time.UTC {
		t.Errorf("got time zone %v, want UTC", ce.Time.Location())
	}
	if got := ce.Event(); !got.Time.Equal(e.Time) || got.ComputeHash() != e.Hash {
		t.Errorf("got time %v hash %s, want the same instant %v and hash %s", got.Time, got.ComputeHash(), e.Time, e.Hash)
	}
}

func TestAuditCanonicalIsUnambiguous(t *testing.T) {
	// A forced start's reason is free text and may hold newlines. Moving
	// text between the summary and the reason must change the hash, or the
	// audit trail can be rewritten without VerifyAuditChain noticing.
	a := testAudit(1)[0]
	a.Reason = "demo\nfalse\ntomorrow"
	b := *a
	b.Summary, b.Reason = a.Summary+"\nfalse\ndemo", "tomorrow"
	if a.ComputeHash() == b.ComputeHash() {
		t.Fatalf("entries with summary %q / reason %q and summary %q / reason %q hash alike; want different hashes",
			a.Summary, a.Reason, b.Summary, b.Reason)
	}
}

func TestCloudEventTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e := testChain(1)[0]
	hash := e.Hash
	e.TraceParent = tp
	if got := e.ComputeHash(); got != hash {
		t.Errorf("got hash %s with a traceparent, want %s: the hash does not cover it", got, hash)
	}

	b, err := json.Marshal(e.CloudEvent())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["traceparent"] != tp {
		t.Errorf("attribute traceparent: got %v, want %s", m["traceparent"], tp)
	}
	var back CloudEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Event(); !reflect.DeepEqual(got, e) {
		t.Errorf("through JSON: got %+v, want %+v", got, e)
	} else if err := VerifyEventChain([]*Event{got}); err != nil {
		t.Errorf("through JSON: %v", err)
	}

	e.TraceParent = ""
	b, _ = json.Marshal(e.CloudEvent())
	if bytes.Contains(b, []byte(`"traceparent"`)) {
		t.Errorf("got %s, want no traceparent attribute for an event without one", b)
	}
}
