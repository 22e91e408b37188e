package dns

import (
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A flood of unique names with large answers must not grow the answer
// cache past its byte bound, whatever its entry bound.
func TestAnswerCacheBoundedByBytes(t *testing.T) {
	const bound = 1 << 20
	c := newAnswerCache(1_000_000, bound)
	answer := make([]byte, 1232)
	for i := range 20000 {
		q := new(dns.Msg)
		q.SetQuestion("random-"+strconv.Itoa(i)+".big.test.", dns.TypeA)
		raw, _ := q.Pack()
		c.put(raw, answer, q.Question[0].Name, dns.TypeA, dns.RcodeNameError)
		if b := c.bytes(); b > bound {
			t.Fatalf("after %d answers the cache holds %d bytes, over its bound of %d", i+1, b, bound)
		}
	}
	if c.bytes() < bound/4 {
		t.Errorf("cache holds %d bytes: the bound of %d is not used", c.bytes(), bound)
	}
}

func TestUpstreamCacheBoundedByBytes(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(1_000_000, func() time.Time { return now })
	c.maxBytes = 1 << 20
	for i := range 5000 {
		name := "n" + strconv.Itoa(i) + ".test."
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		rr, _ := dns.NewRR(name + ` 60 IN TXT "` + string(make([]byte, 200)) + `" "` + string(make([]byte, 200)) + `"`)
		for range 4 {
			m.Answer = append(m.Answer, rr)
		}
		c.put(name, m)
		if c.bytes > c.maxBytes {
			t.Fatalf("after %d answers the cache holds %d bytes, over its bound of %d", i+1, c.bytes, c.maxBytes)
		}
	}
	if c.Len() == 0 {
		t.Fatal("nothing cached")
	}
}
