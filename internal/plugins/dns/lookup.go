package dns

import (
	"strings"

	"github.com/miekg/dns"
)

// result is what one zone says about one name and type (RFC 1034 §4.3.2
// with RFC 4592 wildcards and RFC 2308 negative answers).
type result struct {
	rcode         int
	authoritative bool // false for a referral
	answer, ns    []dns.RR
	extra         []dns.RR
	// glue is how many of extra's first records a referral cannot go
	// without: see referral.
	glue int
	// cname is the canonical name to go on with when the answer ends in a CNAME.
	cname string
}

// lookup answers qname (as asked, any case) and qtype from the zone.
// qname must be at or below the zone's origin.
func (z *Zone) lookup(qname string, qtype uint16) result {
	lname := nameKey(qname)
	// Walk down from the apex: a delegation on the way answers with a
	// referral, a DNAME with its synthesised CNAME; a missing name ends
	// the walk at its closest encloser.
	encloser := z.Origin
	labels := dns.SplitDomainName(lname)
	originLabels := dns.CountLabel(z.Origin)
	exact := true
	for i := len(labels) - originLabels; i >= 0; i-- {
		name := z.Origin
		if i < len(labels)-originLabels {
			name = dns.Fqdn(joinLabels(labels[i:]))
		}
		n := z.nodes[name]
		if n == nil {
			exact = false
			break
		}
		if n.cut && !(i == 0 && qtype == dns.TypeDS) {
			return z.referral(name, n)
		}
		if dn := n.get(dns.TypeDNAME); dn != nil && i > 0 {
			return z.dname(dn[0].(*dns.DNAME), qname)
		}
		encloser = name
	}
	if exact {
		return z.answerFrom(z.nodes[lname], qname, qtype)
	}
	if w := z.nodes["*."+encloser]; w != nil {
		return z.answerFrom(w, qname, qtype)
	}
	return result{rcode: dns.RcodeNameError, authoritative: true, ns: []dns.RR{z.negativeSOA()}}
}

// dname answers a name below a DNAME (RFC 6672 §3.2): the DNAME, and a
// CNAME from qname to qname with the DNAME's owner replaced by its
// target, with the DNAME's TTL, to be followed as CNAMEs are. A name
// that would grow longer than a name can be is YXDOMAIN (§2.2).
//
// A DNAME at a wildcard owner (*.example. DNAME target.) is where RFC
// 6672 §3.3 and RFC 4592 §4.4 leave the answer undefined. We answer as
// Knot does: a name that matches the wildcard (a.example.) is
// synthesised from it like any wildcard answer — the DNAME with the name
// as its owner for type DNAME, else NODATA, as it redirects nothing at
// its own owner — and a name below the literal * label (a.*.example.)
// is redirected by the DNAME, which is then sent with the name asked as
// its owner, as wildcard records are.
func (z *Zone) dname(d *dns.DNAME, qname string) result {
	answer := []dns.RR{d}
	if strings.HasPrefix(d.Hdr.Name, "*.") {
		answer = withOwner(answer, qname)
	}
	res := result{rcode: dns.RcodeSuccess, authoritative: true, answer: answer}
	// qname's labels above the DNAME's owner, as asked.
	prefix := dns.SplitDomainName(qname)
	prefix = prefix[:len(prefix)-dns.CountLabel(d.Hdr.Name)]
	target := joinLabels(prefix) + d.Target
	if d.Target == "." {
		target = joinLabels(prefix)
	}
	if _, ok := dns.IsDomainName(target); !ok || wireLen(target) > 255 {
		res.rcode = dns.RcodeYXDomain
		return res
	}
	res.answer = append(res.answer, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
		Target: target,
	})
	res.cname = target
	return res
}

// wireLen returns the length of a name in the wire format, 256 when it
// cannot be packed.
func wireLen(name string) int {
	var buf [256]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		return 256
	}
	return n
}

func joinLabels(labels []string) string {
	n := 0
	for _, l := range labels {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for _, l := range labels {
		b = append(b, l...)
		b = append(b, '.')
	}
	return string(b)
}

// answerFrom answers from the node of qname (or the wildcard that
// synthesises it), owner names rewritten to qname as asked.
func (z *Zone) answerFrom(n *node, qname string, qtype uint16) result {
	res := result{rcode: dns.RcodeSuccess, authoritative: true}
	switch {
	case qtype == dns.TypeANY:
		// RFC 8482 §4.2: one RRset of the name's, as Knot does (the lowest type).
		if len(n.sets) > 0 {
			res.answer = withOwner(n.sets[0].rrs, qname)
			res.extra = z.additional(res.answer)
			return res
		}
	case n.get(qtype) != nil:
		res.answer = withOwner(n.get(qtype), qname)
		res.extra = z.additional(res.answer)
		return res
	case n.get(dns.TypeCNAME) != nil:
		cn := n.get(dns.TypeCNAME)
		res.answer = withOwner(cn, qname)
		res.cname = cn[0].(*dns.CNAME).Target
		return res
	}
	res.ns = []dns.RR{z.negativeSOA()}
	return res
}

// referral answers for names at or below the delegation at cut: its NS
// records in the authority section, their addresses from the zone in the
// additional section, without AA. The addresses of name servers at or
// below cut come first: without them the child cannot be reached, so
// when they do not all fit the reply is truncated (RFC 9471 §3); those
// of other names (sibling glue, the parent's own names) may be left out.
// Knot orders and truncates them the same way.
func (z *Zone) referral(cut string, n *node) result {
	ns := n.get(dns.TypeNS)
	var inDomain, other []dns.RR
	for _, rr := range ns {
		if dns.IsSubDomain(cut, nameKey(rr.(*dns.NS).Ns)) {
			inDomain = append(inDomain, rr)
		} else {
			other = append(other, rr)
		}
	}
	glue := z.addresses(inDomain)
	return result{rcode: dns.RcodeSuccess, ns: ns, extra: append(glue, z.addresses(other)...), glue: len(glue)}
}

// additional returns the in-zone addresses of the names an answer's NS,
// MX and SRV records point at.
func (z *Zone) additional(answer []dns.RR) []dns.RR {
	switch answer[0].Header().Rrtype {
	case dns.TypeNS, dns.TypeMX, dns.TypeSRV:
		return z.addresses(answer)
	}
	return nil
}

// addresses returns the A and AAAA records the zone holds for the targets of rrs.
func (z *Zone) addresses(rrs []dns.RR) []dns.RR {
	var extra []dns.RR
	for _, rr := range rrs {
		var target string
		switch rr := rr.(type) {
		case *dns.NS:
			target = rr.Ns
		case *dns.MX:
			target = rr.Mx
		case *dns.SRV:
			target = rr.Target
		}
		if target == "" || target == "." {
			continue
		}
		if n := z.nodes[nameKey(target)]; n != nil {
			extra = append(extra, n.get(dns.TypeA)...)
			extra = append(extra, n.get(dns.TypeAAAA)...)
		}
	}
	return extra
}

// withOwner returns copies of rrs whose owner is name.
func withOwner(rrs []dns.RR, name string) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		if rr.Header().Name == name {
			out[i] = rr
			continue
		}
		c := dns.Copy(rr)
		c.Header().Name = name
		out[i] = c
	}
	return out
}
