package agileplus

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// ID prefixes make ids distinguishable from keys and from each other.
const (
	PrefixProject    = "prj_"
	PrefixFeature    = "fea_"
	PrefixWP         = "wp_"
	PrefixDependency = "dep_"
	PrefixEvent      = "evt_"
	PrefixLabel      = "lbl_"
	PrefixComment    = "cmt_"
)

// IDGenerator makes ids that sort by creation time: 48 bits of milliseconds
// and 80 bits of randomness in Crockford base32, incremented within one
// millisecond so ids from one generator are strictly increasing.
type IDGenerator struct {
	mu   sync.Mutex
	now  func() time.Time
	last [16]byte
	ms   int64
}

// NewIDGenerator returns a generator reading time from now (time.Now if nil).
func NewIDGenerator(now func() time.Time) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	return &IDGenerator{now: now}
}

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// HasIDForm reports whether s is shaped like an id with the prefix: the
// prefix and 26 characters of the ids' alphabet.
func HasIDForm(prefix, s string) bool {
	id, ok := strings.CutPrefix(s, prefix)
	if !ok || len(id) != 26 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !strings.ContainsRune(crockford, rune(id[i])) {
			return false
		}
	}
	return true
}

// New returns a new id with the prefix.
func (g *IDGenerator) New(prefix string) string {
	g.mu.Lock()
	ms := g.now().UnixMilli()
	var b [16]byte
	if ms <= g.ms {
		// Same (or earlier) millisecond: increment the previous id.
		b = g.last
		for i := 15; i >= 6; i-- {
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	} else {
		g.ms = ms
		binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16)
		rand.Read(b[6:])
		b[6] &= 0x7f // room to increment
	}
	g.last = b
	g.mu.Unlock()

	// 128 bits -> 26 base32 characters.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return prefix + string(out[:])
}
