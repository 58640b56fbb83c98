package sqlitestore

import "encoding/hex"

// Chain heads. Every command reads the last event of its entity and the last
// audit entry of its feature to chain the new ones. The writer goroutine
// remembers heads it has read or written, so the hot path skips those two
// lookups. What a command learns is kept apart until the command succeeds,
// and what a batch learns until its commit succeeds; a failed commit forgets
// everything, so the cache never holds a head the database does not.

type head struct {
	seq  int64
	hash string
}

// headKey names a chain: an entity's events or a feature's audit entries.
// It shares the id's string, so remembering a head allocates no key.
type headKey struct {
	audit bool
	id    string
}

func eventHead(entityID string) headKey  { return headKey{id: entityID} }
func auditHead(featureID string) headKey { return headKey{audit: true, id: featureID} }

// cachedHead is a head as the cache keeps it: the SHA-256 hash as its 32
// bytes rather than 64 hex digits, which halves what a remembered chain
// costs (a busy project remembers tens of thousands of them). A head whose hash
// is not in that form (ok false) is not kept; its entry hides older ones,
// so the next lookup reads the database.
type cachedHead struct {
	seq int64
	sum [32]byte
	ok  bool
}

func toCached(h head) cachedHead {
	c := cachedHead{seq: h.seq}
	if len(h.hash) != 64 {
		return c
	}
	for i := range len(h.hash) {
		if b := h.hash[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return c // not lower-case hex: head() would not give it back
		}
	}
	_, err := hex.Decode(c.sum[:], []byte(h.hash))
	c.ok = err == nil
	return c
}

func (c cachedHead) head() head { return head{c.seq, hex.EncodeToString(c.sum[:])} }

// maxHeads bounds the committed heads kept (about 4 MB); past it the cache
// starts over. A chain not kept costs one indexed read when next written.
const maxHeads = 50_000

type headCache struct {
	committed map[headKey]cachedHead
	batch     map[headKey]cachedHead
	cmd       map[headKey]cachedHead
}

func newHeadCache() *headCache {
	return &headCache{committed: map[headKey]cachedHead{}, batch: map[headKey]cachedHead{}, cmd: map[headKey]cachedHead{}}
}

// get and put are no-ops on a nil cache: read transactions have none.
func (c *headCache) get(key headKey) (head, bool) {
	if c == nil {
		return head{}, false
	}
	h, ok := c.cmd[key]
	if !ok {
		h, ok = c.batch[key]
	}
	if !ok {
		h, ok = c.committed[key]
	}
	if !ok || !h.ok {
		return head{}, false
	}
	return h.head(), true
}

func (c *headCache) put(key headKey, h head) {
	if c != nil {
		c.cmd[key] = toCached(h)
	}
}

// update replaces a head the cache holds; one it does not hold is read
// from the database when needed. A bulk append uses it so as not to fill
// the cache with the heads of many new chains.
func (c *headCache) update(key headKey, h head) {
	if _, ok := c.get(key); ok {
		c.cmd[key] = toCached(h)
	}
}

// commandDone keeps (ok) or forgets what the command learned.
func (c *headCache) commandDone(ok bool) {
	if ok {
		for k, h := range c.cmd {
			c.batch[k] = h
		}
	}
	clear(c.cmd)
}

// batchDone keeps (committed) or forgets what the batch learned; a failed
// commit forgets everything.
func (c *headCache) batchDone(committed bool) {
	if !committed {
		clear(c.committed)
	} else {
		if len(c.committed)+len(c.batch) > maxHeads {
			clear(c.committed)
		}
		for k, h := range c.batch {
			if h.ok {
				c.committed[k] = h
			} else {
				delete(c.committed, k)
			}
		}
	}
	clear(c.batch)
	clear(c.cmd)
}
