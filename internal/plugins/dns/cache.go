package dns

import (
	"container/list"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxCacheTTL caps how long an upstream answer is kept, whatever its TTLs.
const maxCacheTTL = 24 * time.Hour

// cache keeps upstream answers for their TTL: positive answers for their
// smallest TTL, negative ones (NXDOMAIN, NODATA) for their SOA's negative
// TTL (RFC 2308 §5); SERVFAIL and negative answers without an SOA are not
// kept. It holds at most size entries and about maxBytes bytes (see
// msgCost), dropping the least recently used. A nil *cache keeps
// nothing. Time is injected (now) for tests.
type cache struct {
	size     int
	maxBytes int
	now      func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recently used first
	m     map[string]*list.Element
	bytes int // the cost of the entries in lru
}

type cacheEntry struct {
	key     string
	msg     *dns.Msg
	cost    int
	stored  time.Time
	expires time.Time
}

// defaultUpstreamCacheBytes bounds the upstream cache's memory beside its
// entry bound (cache: {size}): answers of many records meet this one.
const defaultUpstreamCacheBytes = 32 << 20

func newCache(size int, now func() time.Time) *cache {
	if size <= 0 {
		return nil
	}
	return &cache{size: size, maxBytes: defaultUpstreamCacheBytes, now: now, lru: list.New(), m: make(map[string]*list.Element)}
}

// msgCost estimates the memory a kept answer holds: a parsed record costs
// a few times its wire length (headers, interfaces, strings), plus the
// key and the entry's own overhead.
func msgCost(key string, m *dns.Msg) int {
	n := len(key) + entryOverhead + m.Len()*2
	n += (len(m.Answer) + len(m.Ns) + len(m.Extra)) * 64
	return n
}

// remove drops el from the cache; c.mu is held.
func (c *cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.m, e.key)
	c.bytes -= e.cost
}

// cacheKey identifies a question for the cache: name (any case), type,
// class and the DO and CD bits, which change what upstream answers.
func cacheKey(req *dns.Msg) string {
	q := req.Question[0]
	do := false
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	flags := 0
	if do {
		flags |= 1
	}
	if req.CheckingDisabled {
		flags |= 2
	}
	return dns.CanonicalName(q.Name) + "/" + strconv.Itoa(int(q.Qtype)) + "/" + strconv.Itoa(int(q.Qclass)) + "/" + strconv.Itoa(flags)
}

// get returns a copy of the kept answer with its TTLs aged, or nil.
func (c *cache) get(key string) *dns.Msg {
	if c == nil {
		return nil
	}
	now := c.now()
	c.mu.Lock()
	el, ok := c.m[key]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		c.mu.Unlock()
		return nil
	}
	c.lru.MoveToFront(el)
	c.mu.Unlock()
	age := uint32(now.Sub(e.stored) / time.Second)
	m := e.msg.Copy()
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Ttl -= min(age, h.Ttl)
			}
		}
	}
	return m
}

// put keeps m, an upstream answer, under key for as long as RFC 2308 allows.
func (c *cache) put(key string, m *dns.Msg) {
	if c == nil {
		return
	}
	ttl, ok := cacheTTL(m)
	if !ok || ttl == 0 {
		return
	}
	now := c.now()
	e := &cacheEntry{key: key, msg: m.Copy(), stored: now, expires: now.Add(min(time.Duration(ttl)*time.Second, maxCacheTTL))}
	e.msg.Extra = withoutOPT(e.msg.Extra)
	e.cost = msgCost(key, e.msg)
	if e.cost > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.remove(el)
	}
	c.m[key] = c.lru.PushFront(e)
	c.bytes += e.cost
	for c.lru.Len() > c.size || c.bytes > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

// Len returns the number of kept answers.
func (c *cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cacheTTL returns how long m may be kept, and whether it may be at all.
func cacheTTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated {
		return 0, false
	}
	var soa *dns.SOA
	for _, rr := range m.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			soa = s
		}
	}
	negative := m.Rcode == dns.RcodeNameError || m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0
	switch {
	case m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError:
		return 0, false
	case negative && soa == nil:
		return 0, false
	case negative:
		return min(soa.Hdr.Ttl, soa.Minttl), true
	}
	ttl := ^uint32(0)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				ttl = min(ttl, h.Ttl)
			}
		}
	}
	return ttl, true
}
