package dns

import (
	"strconv"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// dnsQueries is twistd_dns_queries_total{service,qtype,rcode} (SPEC §6).
var dnsQueries = prometheus.CounterOpts{Name: "twistd_dns_queries_total",
	Help: "DNS queries answered, by service, query type and response code."}

// dnsDuration is twistd_dns_query_duration_seconds{service}: the time
// from a query read to its answer handed to the socket, for the status
// page's p50/p99. Buckets from 50 µs (an answer from memory) to 3.3 s (a
// slow upstream).
var dnsDuration = prometheus.HistogramOpts{Name: "twistd_dns_query_duration_seconds",
	Help: "Time to answer DNS queries, by service.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 17)}

// counters counts answered queries by type and rcode into
// twistd_dns_queries_total{service,qtype,rcode}. The common combinations
// are resolved to their counter once and kept in an array, so counting a
// query is one atomic add with no label lookup.
type counters struct {
	vec      *prometheus.CounterVec
	duration prometheus.Observer // nil: not measured
	service  string
	fast     [256][24]atomic.Pointer[prometheus.Counter]
}

func newCounters(vec *prometheus.CounterVec, service string) *counters {
	return &counters{vec: vec, service: service}
}

// inc counts one answered query.
func (c *counters) inc(qtype uint16, rcode int) {
	if c == nil || c.vec == nil {
		return
	}
	if int(qtype) >= len(c.fast) || rcode < 0 || rcode >= len(c.fast[0]) {
		c.vec.WithLabelValues(c.service, typeName(qtype), rcodeName(rcode)).Inc()
		return
	}
	p := &c.fast[qtype][rcode]
	if ctr := p.Load(); ctr != nil {
		(*ctr).Inc()
		return
	}
	ctr := c.vec.WithLabelValues(c.service, typeName(qtype), rcodeName(rcode))
	p.Store(&ctr)
	ctr.Inc()
}

// typeName is a query type's mnemonic, TYPEn for unknown ones and "" for none.
func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// rcodeName is an rcode's mnemonic (NOERROR, NXDOMAIN, ...).
func rcodeName(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS" // 16 is BADSIG too, but only in TSIG records
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}
