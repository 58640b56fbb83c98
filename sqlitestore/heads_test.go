package sqlitestore

import (
	"strings"
	"testing"
)

// TestHeadCacheKeepsOnlyHexHashes checks the cache's layers and that a
// head whose hash it cannot keep as 32 bytes hides the older head instead
// of letting it through.
func TestHeadCacheKeepsOnlyHexHashes(t *testing.T) {
	c := newHeadCache()
	k := eventHead("wp_1")
	h1 := head{1, strings.Repeat("ab", 32)}
	want := func(step string, h head, ok bool) {
		t.Helper()
		got, gotOK := c.get(k)
		if gotOK != ok || (ok && got != h) {
			t.Fatalf("%s: got %v %v, want %v %v", step, got, gotOK, h, ok)
		}
	}
	c.put(k, h1)
	want("put in the command", h1, true)
	c.commandDone(true)
	c.batchDone(true)
	want("committed", h1, true)

	c.put(k, head{2, "not-a-sha256"})
	want("a head that cannot be kept hides the older one", head{}, false)
	c.commandDone(true)
	want("... in the batch", head{}, false)
	c.batchDone(true)
	want("... and after the commit", head{}, false)

	c.put(k, head{3, strings.Repeat("AB", 32)})
	want("upper-case hex is not what the cache keeps", head{}, false)
	c.commandDone(false)
	c.put(k, h1)
	c.commandDone(false)
	want("a failed command leaves nothing", head{}, false)

	if _, ok := c.get(auditHead("wp_1")); ok {
		t.Fatal("an audit chain shares a key with an event chain of the same id")
	}
	var nilCache *headCache
	nilCache.put(k, h1)
	if _, ok := nilCache.get(k); ok {
		t.Fatal("a nil cache remembered a head")
	}
}
