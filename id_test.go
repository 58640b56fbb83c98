package agileplus

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// frozenClock returns a clock stuck at t until the returned setter moves it.
func frozenClock(t time.Time) (now func() time.Time, set func(time.Time)) {
	var mu sync.Mutex
	return func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return t
		}, func(nt time.Time) {
			mu.Lock()
			t = nt
			mu.Unlock()
		}
}

// idMillis decodes the millisecond timestamp in the first 10 characters
// after the prefix.
func idMillis(t *testing.T, id, prefix string) int64 {
	t.Helper()
	var ms int64
	for _, c := range strings.TrimPrefix(id, prefix)[:10] {
		i := strings.IndexRune(crockford, c)
		if i < 0 {
			t.Fatalf("id %q: character %q is not Crockford base32", id, c)
		}
		ms = ms<<5 | int64(i)
	}
	return ms
}

func TestIDFormat(t *testing.T) {
	now, _ := frozenClock(testTime)
	g := NewIDGenerator(now)
	for _, prefix := range []string{PrefixProject, PrefixFeature, PrefixWP, PrefixDependency, PrefixEvent, ""} {
		id := g.New(prefix)
		if !strings.HasPrefix(id, prefix) {
			t.Errorf("got %q, want prefix %q", id, prefix)
		}
		body := strings.TrimPrefix(id, prefix)
		if got, want := len(body), 26; got != want {
			t.Errorf("id %q: got %d characters after the prefix, want %d", id, got, want)
		}
		for _, c := range body {
			if !strings.ContainsRune(crockford, c) {
				t.Errorf("id %q: character %q is not lower-case Crockford base32", id, c)
			}
		}
		if got, want := idMillis(t, id, prefix), testTime.UnixMilli(); got != want {
			t.Errorf("id %q: got timestamp %d ms, want %d", id, got, want)
		}
	}
}

func TestIDStrictlyIncreasingInOneMillisecond(t *testing.T) {
	now, _ := frozenClock(testTime)
	g := NewIDGenerator(now)
	prev := g.New(PrefixEvent)
	for i := range 10000 {
		id := g.New(PrefixEvent)
		if id <= prev {
			t.Fatalf("call %d: got %q after %q, want strictly increasing ids", i, id, prev)
		}
		prev = id
	}
}

func TestIDSortableAcrossMilliseconds(t *testing.T) {
	now, set := frozenClock(testTime)
	g := NewIDGenerator(now)
	var ids []string
	for ms := range 50 {
		set(testTime.Add(time.Duration(ms) * time.Millisecond))
		// Several ids per millisecond: the next millisecond's random part
		// may be lower than this one's incremented part, yet it sorts after.
		for range 1 + ms%7 {
			ids = append(ids, g.New(PrefixWP))
		}
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("got %q after %q, want ids to sort by creation", ids[i], ids[i-1])
		}
	}
	if got, want := idMillis(t, ids[len(ids)-1], PrefixWP), testTime.Add(49*time.Millisecond).UnixMilli(); got != want {
		t.Fatalf("got timestamp %d, want %d", got, want)
	}
}

func TestIDClockGoingBackwards(t *testing.T) {
	now, set := frozenClock(testTime)
	g := NewIDGenerator(now)
	a := g.New(PrefixWP)
	set(testTime.Add(-time.Second))
	b := g.New(PrefixWP)
	if b <= a {
		t.Fatalf("got %q after %q when the clock stepped back, want strictly increasing ids", b, a)
	}
}

func TestIDConcurrentUnique(t *testing.T) {
	g := NewIDGenerator(nil) // real clock
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	out := make([][]string, workers)
	for w := range workers {
		wg.Go(func() {
			for range each {
				out[w] = append(out[w], g.New(PrefixEvent))
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, workers*each)
	for w := range out {
		for i, id := range out[w] {
			if seen[id] {
				t.Fatalf("got duplicate id %q", id)
			}
			seen[id] = true
			if i > 0 && id <= out[w][i-1] {
				t.Fatalf("worker %d: got %q after %q, want increasing ids", w, id, out[w][i-1])
			}
		}
	}
}
