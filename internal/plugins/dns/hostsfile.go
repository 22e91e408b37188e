package dns

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Hosts is the content of an /etc/hosts-format file: names and their
// addresses, and the reverse. The zero value is empty; a Hosts is
// immutable once parsed.
type Hosts struct {
	byName map[string][]netip.Addr // lower-case FQDN → addresses, in file order
	byAddr map[string][]string     // reverse name (in-addr.arpa/ip6.arpa) → names as written
	// Skipped counts lines that were not a valid address followed by names.
	Skipped int
	// Bad says what is wrong with each skipped line or name, as
	// "LINE: problem", in file order.
	Bad []string
}

// ParseHosts reads the hosts(5) format: an address, then one or more names,
// separated by blanks; "#" starts a comment. IPv4 and IPv6 addresses are
// taken (an IPv6 zone such as %eth0 is dropped); lines that do not parse
// are skipped and counted. It fails only when r does.
func ParseHosts(r io.Reader) (*Hosts, error) {
	h := &Hosts{byName: make(map[string][]netip.Addr), byAddr: make(map[string][]string)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bad := func(n int, format string, args ...any) {
		h.Bad = append(h.Bad, strconv.Itoa(n)+": "+fmt.Sprintf(format, args...))
	}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil || len(fields) < 2 {
			h.Skipped++
			if err != nil {
				bad(n, "bad address %q: a line is an address followed by names", fields[0])
			} else {
				bad(n, "no names after address %q", fields[0])
			}
			continue
		}
		addr = addr.WithZone("").Unmap()
		rev, _ := dns.ReverseAddr(addr.String())
		added := false
		for _, name := range fields[1:] {
			if !hostName(name) {
				bad(n, "bad host name %q", name)
				continue
			}
			fq := dns.Fqdn(name)
			key := dns.CanonicalName(fq)
			if !containsAddr(h.byName[key], addr) {
				h.byName[key] = append(h.byName[key], addr)
			}
			if !containsName(h.byAddr[rev], key) {
				h.byAddr[rev] = append(h.byAddr[rev], fq)
			}
			added = true
		}
		if !added {
			h.Skipped++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	return h, nil
}

// hostName reports whether s is a host name as hosts files hold them:
// letters, digits, '-', '_' and '.', forming a valid domain name.
func hostName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	_, ok := dns.IsDomainName(s)
	return ok
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

func containsName(list []string, lname string) bool {
	for _, n := range list {
		if dns.CanonicalName(n) == lname {
			return true
		}
	}
	return false
}

// Len returns the number of names in the file.
func (h *Hosts) Len() int {
	if h == nil {
		return 0
	}
	return len(h.byName)
}

// Addrs returns the addresses of a name (any case, fully qualified).
func (h *Hosts) Addrs(name string) []netip.Addr {
	if h == nil {
		return nil
	}
	return h.byName[dns.CanonicalName(name)]
}

// Names returns the names of a reverse name (4.3.2.1.in-addr.arpa.), as written.
func (h *Hosts) Names(reverse string) []string {
	if h == nil {
		return nil
	}
	return h.byAddr[dns.CanonicalName(reverse)]
}

// has reports whether the file knows lname (lower case), forward or reverse.
func (h *Hosts) has(lname string) bool {
	if h == nil {
		return false
	}
	_, fwd := h.byName[lname]
	_, rev := h.byAddr[lname]
	return fwd || rev
}

// lookup answers from the file: A and AAAA for names, PTR for reverse
// names, an empty (NODATA) answer for other types; ttl for every record.
func (h *Hosts) lookup(qname string, qtype uint16, ttl uint32) result {
	res := result{rcode: dns.RcodeSuccess, authoritative: true}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: qname, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	lname := dns.CanonicalName(qname)
	for _, a := range h.byName[lname] {
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			res.answer = append(res.answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
		case a.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			res.answer = append(res.answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	if qtype == dns.TypePTR || qtype == dns.TypeANY {
		for _, n := range h.byAddr[lname] {
			res.answer = append(res.answer, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: n})
		}
	}
	return res
}
