package sqlitestore

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

func eventHead(entityID string) string  { return "e" + entityID }
func auditHead(featureID string) string { return "a" + featureID }

// maxHeads bounds the committed heads kept; past it the cache starts over.
const maxHeads = 200_000

type headCache struct {
	committed map[string]head
	batch     map[string]head
	cmd       map[string]head
}

func newHeadCache() *headCache {
	return &headCache{committed: map[string]head{}, batch: map[string]head{}, cmd: map[string]head{}}
}

// get and put are no-ops on a nil cache: read transactions have none.
func (c *headCache) get(key string) (head, bool) {
	if c == nil {
		return head{}, false
	}
	if h, ok := c.cmd[key]; ok {
		return h, true
	}
	if h, ok := c.batch[key]; ok {
		return h, true
	}
	h, ok := c.committed[key]
	return h, ok
}

func (c *headCache) put(key string, h head) {
	if c != nil {
		c.cmd[key] = h
	}
}

// update replaces a head the cache holds; one it does not hold is read
// from the database when needed. A bulk append uses it so as not to fill
// the cache with the heads of many new chains.
func (c *headCache) update(key string, h head) {
	if _, ok := c.get(key); ok {
		c.cmd[key] = h
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
			c.committed[k] = h
		}
	}
	clear(c.batch)
	clear(c.cmd)
}
