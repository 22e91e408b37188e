package dns

import (
	"maps"

	"github.com/miekg/dns"
)

// maxChase bounds how many CNAMEs one answer follows.
const maxChase = 8

// store is one snapshot of a service's authoritative data: its zones and
// its hosts file. A store is never modified; reloads and transfers build
// a new one and swap it in.
type store struct {
	// zones by origin. A nil *Zone is a secondary zone with no usable data
	// (not transferred yet, or expired): its names get SERVFAIL.
	zones map[string]*Zone
	hosts *Hosts
	ttl   uint32 // of hosts-file answers
}

// with returns a copy of s in which origin holds z.
func (s *store) with(origin string, z *Zone) *store {
	n := *s
	n.zones = maps.Clone(s.zones)
	n.zones[origin] = z
	return &n
}

// zoneFor returns the longest of the zones holding lname (lower case).
func (s *store) zoneFor(lname string) (z *Zone, ok bool) {
	if len(s.zones) == 0 {
		return nil, false
	}
	for off, end := 0, false; !end; off, end = dns.NextLabel(lname, off) {
		if z, ok := s.zones[lname[off:]]; ok {
			return z, true
		}
	}
	z, ok = s.zones["."]
	return z, ok
}

// resolve answers qname and qtype from the hosts file and the zones. ok is
// false when neither holds the name (the caller forwards or refuses).
func (s *store) resolve(qname string, qtype uint16) (res result, ok bool) {
	lname := nameKey(qname)
	z, inZone := s.zoneFor(lname)
	if _, apex := s.zones[lname]; apex && qtype == dns.TypeDS && lname != "." {
		// DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): when
		// the parent is ours too, it answers — also while the child is a
		// secondary zone without data (not transferred yet, or expired).
		i, _ := dns.NextLabel(lname, 0)
		if pz, ok := s.zoneFor(lname[i:]); ok && pz != nil {
			z = pz
		}
	}
	if s.hosts.has(lname) {
		switch qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypePTR, dns.TypeANY:
			return s.hosts.lookup(qname, qtype, s.ttl), true
		}
		if !inZone {
			return s.hosts.lookup(qname, qtype, s.ttl), true
		}
	}
	if !inZone {
		return result{}, false
	}
	if z == nil {
		return result{rcode: dns.RcodeServerFailure}, true
	}
	res = z.lookup(qname, qtype)
	if qtype == dns.TypeCNAME || qtype == dns.TypeANY {
		return res, true
	}
	// Follow the chain through our own zones (RFC 1034 §4.3.2 step 3a).
	seen := []string{lname}
	for hops := 0; res.cname != "" && hops < maxChase; hops++ {
		target := nameKey(res.cname)
		if contains(seen, target) {
			break
		}
		seen = append(seen, target)
		tz, ok := s.zoneFor(target)
		if !ok || tz == nil {
			break
		}
		next := tz.lookup(res.cname, qtype)
		if !next.authoritative {
			// A delegated target: the referral tells the client whom to
			// ask (RFC 1034 §4.3.2 step 3b).
			res.ns, res.extra, res.glue, res.cname = next.ns, next.extra, next.glue, ""
			break
		}
		res.answer = append(res.answer, next.answer...)
		res.ns, res.extra, res.glue, res.rcode, res.cname = next.ns, next.extra, next.glue, next.rcode, next.cname
	}
	return res, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
