package dns

import (
	"hash/maphash"
	"sync"
)

// answerCache keeps packed UDP answers keyed by the query's bytes after
// its ID: a repeated question (same name, case, type, flags and EDNS
// options) is answered by copying bytes and patching the ID, with no
// parsing and no allocation. It only holds answers that depend on the
// question alone (our own data), and is replaced whole when the data
// changes. Each shard holds at most perShard entries and about
// bytesPerShard bytes (see answerCost); a full shard is emptied. An
// answer is only kept the second time its question is seen (a doorkeeper
// of question hashes, TinyLFU's): a flood of unique random names passes
// through without filling the cache, so it neither grows the memory nor
// pushes the popular answers out.
type answerCache struct {
	seed          maphash.Seed
	perShard      int
	bytesPerShard int
	shards        [answerShards]answerShard
}

const (
	answerShards   = 16
	maxCachedQuery = 512 // longer queries are not worth a key
	// defaultAnswerCacheBytes bounds the answer cache's memory: with the
	// default 100,000 entries of small answers it is the entry bound that
	// applies; a flood of unique names with large answers meets this one.
	defaultAnswerCacheBytes = 16 << 20
	// entryOverhead estimates what an entry costs beyond its bytes: the
	// cachedAnswer, the map slot, and the string and slice headers.
	entryOverhead = 128
)

type answerShard struct {
	mu    sync.RWMutex
	m     map[string]*cachedAnswer
	bytes int // the answerCost of the entries in m
	// seen holds the hashes of questions asked once, one per slot: a
	// question is admitted when its hash is found in its slot.
	seen [doorkeeperSlots]uint64
}

// doorkeeperSlots is the doorkeeper's size per shard (8 bytes each).
const doorkeeperSlots = 4096

// cachedAnswer is one packed answer and what the counters need to know about it.
type cachedAnswer struct {
	wire  []byte
	qname string
	qtype uint16
	rcode int
}

// newAnswerCache returns a cache of about size entries and maxBytes
// bytes; either 0 disables it.
func newAnswerCache(size, maxBytes int) *answerCache {
	c := &answerCache{seed: maphash.MakeSeed(), perShard: (size + answerShards - 1) / answerShards,
		bytesPerShard: maxBytes / answerShards}
	if c.bytesPerShard == 0 {
		c.perShard = 0
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cachedAnswer)
	}
	return c
}

func (c *answerCache) shard(key []byte) *answerShard {
	return &c.shards[maphash.Bytes(c.seed, key)%answerShards]
}

// get returns the answer to query, nil if none is kept.
func (c *answerCache) get(query []byte) *cachedAnswer {
	if c.perShard == 0 || len(query) < 12 || len(query) > maxCachedQuery {
		return nil
	}
	key := query[2:]
	s := c.shard(key)
	s.mu.RLock()
	a := s.m[string(key)]
	s.mu.RUnlock()
	return a
}

// put keeps the packed answer to query.
func (c *answerCache) put(query, answer []byte, qname string, qtype uint16, rcode int) {
	if c.perShard == 0 || len(query) < 12 || len(query) > maxCachedQuery {
		return
	}
	key := query[2:]
	cost := answerCost(len(key), len(answer), len(qname))
	if cost > c.bytesPerShard {
		return
	}
	h := maphash.Bytes(c.seed, key)
	s := &c.shards[h%answerShards]
	slot := &s.seen[(h/answerShards)%doorkeeperSlots]
	s.mu.Lock()
	if *slot != h {
		*slot = h // asked once: kept if asked again
		s.mu.Unlock()
		return
	}
	a := &cachedAnswer{wire: append([]byte(nil), answer...), qname: qname, qtype: qtype, rcode: rcode}
	if old := s.m[string(key)]; old != nil {
		s.bytes -= answerCost(len(key), len(old.wire), len(old.qname))
		delete(s.m, string(key))
	}
	if len(s.m) >= c.perShard || s.bytes+cost > c.bytesPerShard {
		clear(s.m)
		s.bytes = 0
	}
	s.m[string(key)] = a
	s.bytes += cost
	s.mu.Unlock()
}

// answerCost estimates the memory an entry holds: its key, answer and
// name, and entryOverhead.
func answerCost(key, answer, qname int) int { return key + answer + qname + entryOverhead }

// bytes returns the estimated memory the cache's entries hold.
func (c *answerCache) bytes() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.bytes
		s.mu.RUnlock()
	}
	return n
}

// writeTo copies the answer into buf with the query's ID.
func (a *cachedAnswer) writeTo(buf []byte, query []byte) []byte {
	out := append(buf[:0], a.wire...)
	out[0], out[1] = query[0], query[1]
	return out
}
