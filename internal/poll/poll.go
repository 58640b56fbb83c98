// Package poll waits in tests for a condition to hold. Tests assert what
// happens, not how fast: the full suite runs every package at once beside a
// Neo4j JVM and NATS clusters on a small machine, where anything can take
// many times longer than on an idle one. A condition is checked again and
// again and the wait ends as soon as it holds, so a generous bound costs a
// passing test nothing.
package poll

import (
	"testing"
	"time"
)

// Timeout is how long Until waits: long enough for anything a test waits
// on to happen on a loaded machine, short enough to fail a stuck test well
// before the suite's own timeout.
const Timeout = 60 * time.Second

// Until calls cond until it returns true, failing the test (t.Fatalf,
// naming what) when it has not within Timeout.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Wait(Timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", Timeout, what)
	}
}

// Within is Until with another bound: one that is part of what the test
// checks, such as "before the ack wait could have redelivered it", or a
// longer one for work known to take minutes on a loaded machine.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// Wait reports whether cond held before d passed, for a test that has more
// to say than Until when it did not. It checks often at first and then
// every 50ms, so that a condition that queries a server does not flood it.
func Wait(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return true
}
