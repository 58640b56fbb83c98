package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agileplus/agileplus"
)

// Lists of work packages (/v1/ready, a feature's WPs, a project's WPs) are
// the API's most frequent large answers: 100 WPs are about 48 KB of JSON.
// encoding/json spends most of its time on them in reflection and in
// checking again what each time.Time's MarshalJSON wrote, so the routes
// encode them here instead (Server.writeResult), to the same bytes
// encoding/json writes with HTML escaping off
// (TestFastJSONMatchesEncodingJSON compares the two on random WPs). Anything it does not handle (a WP with references, a time
// MarshalJSON would refuse) goes to encoding/json.

var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// fastEncoder is the hand-written encoding of a route's answer, nil for
// anything but a WP list or a WP. Its output ends in a newline, as
// json.Encoder's does; ok is false when encoding/json must do it.
func fastEncoder(v any) func(b []byte) (_ []byte, ok bool) {
	switch v := v.(type) {
	case *List[*agileplus.WP]:
		return func(b []byte) ([]byte, bool) { return appendWPList(b, v) }
	case *agileplus.WP: // what a WP's create, update, transition and claim answer
		if v != nil {
			return func(b []byte) ([]byte, bool) {
				b, ok := appendWP(b, v)
				return append(b, '\n'), ok
			}
		}
	}
	return nil
}

// appendWPList appends l and a newline as json.Encoder would; ok is false
// when encoding/json must do it.
func appendWPList(b []byte, l *List[*agileplus.WP]) (_ []byte, ok bool) {
	if l.Items == nil {
		b = append(b, `{"items":null`...)
	} else {
		b = append(b, `{"items":[`...)
		for i, w := range l.Items {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendWP(b, w); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	if l.Next != "" {
		b = append(b, `,"next":`...)
		b = appendJSONString(b, l.Next)
	}
	return append(b, "}\n"...), true
}

func appendWP(b []byte, w *agileplus.WP) (_ []byte, ok bool) {
	if w == nil {
		return append(b, "null"...), true
	}
	if len(w.References) > 0 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, w.ID)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, w.Key)
	b = append(b, `,"project_id":`...)
	b = appendJSONString(b, w.ProjectID)
	b = append(b, `,"project_key":`...)
	b = appendJSONString(b, w.ProjectKey)
	b = append(b, `,"feature_id":`...)
	b = appendJSONString(b, w.FeatureID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, w.Title)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, w.Description)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, w.State)
	b = append(b, `,"estimate":`...)
	if b, ok = appendJSONFloat(b, w.Estimate); !ok {
		return b, false
	}
	b = append(b, `,"priority":`...)
	b = appendJSONString(b, w.Priority)
	if len(w.Labels) > 0 {
		b = append(b, `,"labels":[`...)
		for i, l := range w.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l)
		}
		b = append(b, ']')
	}
	if w.Owner != "" {
		b = append(b, `,"owner":`...)
		b = appendJSONString(b, w.Owner)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, w.Version, 10)
	if l := w.Lease; l != nil {
		b = append(b, `,"lease":{"wp_id":`...)
		b = appendJSONString(b, l.WPID)
		b = append(b, `,"agent":`...)
		b = appendJSONString(b, l.Agent)
		b = append(b, `,"token":`...)
		b = strconv.AppendInt(b, l.Token, 10)
		b = append(b, `,"claimed_at":`...)
		if b, ok = appendJSONTime(b, l.ClaimedAt); !ok {
			return b, false
		}
		b = append(b, `,"expires_at":`...)
		if b, ok = appendJSONTime(b, l.ExpiresAt); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	b = append(b, `,"created_at":`...)
	if b, ok = appendJSONTime(b, w.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = appendJSONTime(b, w.UpdatedAt); !ok {
		return b, false
	}
	if w.ArchivedAt != nil {
		b = append(b, `,"archived_at":`...)
		if b, ok = appendJSONTime(b, *w.ArchivedAt); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONTime writes t as time.Time's MarshalJSON does; ok is false
// for what it refuses (a year outside 0-9999, an offset with seconds).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendJSONFloat writes f as encoding/json writes a float64: like %g but
// in plain notation from 1e-6 up to 1e21, and with exponents unpadded.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string the way encoding/json does
// with HTML escaping off: quotes, backslashes and control characters
// escaped (\b \f \n \r \t short), invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped for JavaScript's sake.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
