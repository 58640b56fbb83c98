package poll

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		if !Wait(time.Minute, func() bool { calls++; return time.Since(start) >= time.Second }) {
			t.Fatal("got false for a condition that holds after 1s, want true")
		}
		if d := time.Since(start); d < time.Second || d > time.Second+50*time.Millisecond {
			t.Errorf("returned after %s, want within one pause of the condition holding at 1s", d)
		}
		if calls > 30 {
			t.Errorf("checked %d times in 1s, want the pauses to grow to 50ms", calls)
		}

		start = time.Now()
		if Wait(time.Minute, func() bool { return false }) {
			t.Fatal("got true for a condition that never holds, want false")
		}
		if d := time.Since(start); d < time.Minute || d > time.Minute+50*time.Millisecond {
			t.Errorf("gave up after %s, want one minute", d)
		}
	})
}
