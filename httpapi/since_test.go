package httpapi

import (
	"testing"
	"time"
)

// ParseSince takes exactly what sincePattern, in the document, declares.
func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"90s":                       now.Add(-90 * time.Second),
		"1h30m":                     now.Add(-90 * time.Minute),
		"2m5s":                      now.Add(-125 * time.Second),
		"2024-02-29T00:00:00Z":      time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"2000-02-29T23:59:59.5Z":    time.Date(2000, 2, 29, 23, 59, 59, 5e8, time.UTC),
		"2026-03-14T15:09:26+02:00": time.Date(2026, 3, 14, 13, 9, 26, 0, time.UTC),
		"2026-03-14T15:09:26 02:00": time.Date(2026, 3, 14, 13, 9, 26, 0, time.UTC), // an unescaped +
	} {
		if got, err := ParseSince(v, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "0", "1.5h", "-1h", "1d", " 1h", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-03-14T24:00:00Z", "2026-03-14t15:09:26z", "2026-03-14T15:09:60Z", "9999999h"} {
		if _, err := ParseSince(v, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", v)
		}
	}
}
