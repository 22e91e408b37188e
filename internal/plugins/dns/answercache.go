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
// changes. Each shard holds at most perShard entries; a full shard is
// emptied, so a flood of random names cannot grow it.
type answerCache struct {
	seed     maphash.Seed
	perShard int
	shards   [answerShards]answerShard
}

const (
	answerShards   = 16
	maxCachedQuery = 512 // longer queries are not worth a key
)

type answerShard struct {
	mu sync.RWMutex
	m  map[string]*cachedAnswer
}

// cachedAnswer is one packed answer and what the counters need to know about it.
type cachedAnswer struct {
	wire  []byte
	qname string
	qtype uint16
	rcode int
}

// newAnswerCache returns a cache of about size entries; 0 disables it.
func newAnswerCache(size int) *answerCache {
	c := &answerCache{seed: maphash.MakeSeed(), perShard: (size + answerShards - 1) / answerShards}
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
	a := &cachedAnswer{wire: append([]byte(nil), answer...), qname: qname, qtype: qtype, rcode: rcode}
	s := c.shard(key)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		clear(s.m)
	}
	s.m[string(key)] = a
	s.mu.Unlock()
}

// writeTo copies the answer into buf with the query's ID.
func (a *cachedAnswer) writeTo(buf []byte, query []byte) []byte {
	out := append(buf[:0], a.wire...)
	out[0], out[1] = query[0], query[1]
	return out
}
