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
		for range 2 { // the second time is kept
			c.put(raw, answer, q.Question[0].Name, dns.TypeA, dns.RcodeNameError)
		}
		if b := c.bytes(); b > bound {
			t.Fatalf("after %d answers the cache holds %d bytes, over its bound of %d", i+1, b, bound)
		}
	}
	if c.bytes() < bound/4 {
		t.Errorf("cache holds %d bytes: the bound of %d is not used", c.bytes(), bound)
	}
}

// A question asked once is not kept, so a flood of unique names leaves
// the cache (nearly) empty, and the popular answers in it stay.
func TestAnswerCacheKeepsOnlyRepeatedQuestions(t *testing.T) {
	c := newAnswerCache(100_000, 16<<20)
	pack := func(name string) []byte {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		raw, _ := q.Pack()
		return raw
	}
	answer := make([]byte, 100)
	hot := pack("www.big.test.")
	c.put(hot, answer, "www.big.test.", dns.TypeA, 0)
	if c.get(hot) != nil {
		t.Fatal("kept after one question")
	}
	c.put(hot, answer, "www.big.test.", dns.TypeA, 0)
	if c.get(hot) == nil {
		t.Fatal("not kept after two")
	}
	for i := range 200_000 {
		name := "r" + strconv.Itoa(i) + ".big.test."
		c.put(pack(name), answer, name, dns.TypeA, dns.RcodeNameError)
	}
	if b := c.bytes(); b > 64<<10 {
		t.Fatalf("a flood of unique names filled the cache to %d bytes", b)
	}
	if c.get(hot) == nil {
		t.Fatal("the flood pushed the popular answer out")
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
