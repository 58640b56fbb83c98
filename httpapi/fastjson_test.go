package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agileplus/agileplus"
)

// randomText mixes plain text with everything encoding/json escapes:
// quotes, backslashes, control characters, HTML characters (not escaped
// here), U+2028/U+2029, other runes and invalid UTF-8.
func randomText(r *rand.Rand) string {
	parts := []string{"plain", " ", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "<b>&amp;</b>",
		"\u2028", "\u2029", "é", "日本", "🙂", "\xff", "\xe2\x80", "CORE-12", "/", "'"}
	var sb strings.Builder
	for range r.IntN(8) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func randomTime(r *rand.Rand) time.Time {
	t := time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
	switch r.IntN(4) {
	case 0:
		return t.Truncate(time.Second) // no fraction
	case 1:
		return t.In(time.FixedZone("", 3600*(r.IntN(25)-12)))
	case 2:
		return time.Time{}
	}
	return t
}

func TestFastJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, 1, 2.5, 1e-7, 1.5e-6, 1e20, 1e21, 123456789.125, 0.1, 20000, math.SmallestNonzeroFloat64, -3}
	for i := range 2000 {
		l := &List[*agileplus.WP]{}
		for range r.IntN(5) {
			w := &agileplus.WP{ID: randomText(r), Key: randomText(r), ProjectID: randomText(r), ProjectKey: randomText(r),
				FeatureID: randomText(r), Title: randomText(r), Description: randomText(r), State: randomText(r),
				Estimate: floats[r.IntN(len(floats))] * (1 + r.Float64()), Version: r.Int64N(1 << 40),
				CreatedAt: randomTime(r), UpdatedAt: randomTime(r)}
			w.Priority = randomText(r)
			for range r.IntN(3) {
				w.Labels = append(w.Labels, randomText(r))
			}
			if r.IntN(2) == 0 {
				w.Owner = randomText(r)
			}
			if r.IntN(3) == 0 {
				at := randomTime(r)
				w.ArchivedAt = &at
			}
			if r.IntN(3) == 0 {
				w.Lease = &agileplus.Lease{WPID: randomText(r), Agent: randomText(r), Token: r.Int64N(1e9), ClaimedAt: randomTime(r), ExpiresAt: randomTime(r)}
			}
			l.Items = append(l.Items, w)
			if r.IntN(20) == 0 {
				l.Items = append(l.Items, nil)
			}
		}
		if r.IntN(2) == 0 {
			l.Next = randomText(r)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
		for _, w := range l.Items {
			checkWriteJSONWP(t, i, w)
		}
		got, ok := appendWPList(nil, l)
		if !ok {
			t.Fatalf("case %d: fell back to encoding/json", i)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("case %d:\ngot  %s\nwant %s", i, got, want.Bytes())
		}
	}
}

// TestFastJSONFallsBack leaves to encoding/json what it does not write.
func TestFastJSONFallsBack(t *testing.T) {
	for name, w := range map[string]*agileplus.WP{
		"references": {References: []*agileplus.Reference{{ID: "ref_1"}}},
		"year 10000": {CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"NaN":        {Estimate: math.NaN()},
		"odd offset": {UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 30))},
		"lease year": {Lease: &agileplus.Lease{ExpiresAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		if _, ok := appendWPList(nil, &List[*agileplus.WP]{Items: []*agileplus.WP{w}}); ok {
			t.Errorf("%s: encoded, want a fall back", name)
		}
		if name != "NaN" && name != "year 10000" && name != "lease year" { // encoding/json refuses these
			checkWriteJSONWP(t, 0, w)
		}
	}
}

// checkWriteJSONWP compares writeResult's answer for one WP with encoding/json's.
func checkWriteJSONWP(t *testing.T, i int, w *agileplus.WP) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	(&Server{}).writeResult(rec, http.StatusCreated, w)
	if got := rec.Body.String(); got != want.String() {
		t.Fatalf("case %d: writeResult of one WP\n got %s\nwant %s", i, got, want.String())
	}
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("case %d: status %d, content type %q", i, rec.Code, rec.Header().Get("Content-Type"))
	}
}
