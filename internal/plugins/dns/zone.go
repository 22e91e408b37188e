package dns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one zone's authoritative data: its records by owner name and
// type. A Zone is immutable once built, so a query can read it while a
// reload or a transfer builds its successor.
type Zone struct {
	// Origin is the zone's apex, lower case and fully qualified.
	Origin string
	// SOA is the apex SOA record.
	SOA *dns.SOA

	nodes    map[string]*node // by nameKey of the owner, empty non-terminals included
	records  []dns.RR         // in file order, for transfers
	warnings []string
}

// nameKey returns the key of a name in a zone's nodes: lower case, fully
// qualified, in the presentation miekg/dns gives names off the wire, so
// that sp\032ace and esc\065pe in a zone file match the "sp ace" and
// "escApe" a client asks for.
func nameKey(name string) string {
	if strings.IndexByte(name, '\\') < 0 {
		return dns.CanonicalName(name)
	}
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return dns.CanonicalName(name)
	}
	wire, _, err := dns.UnpackDomainName(buf[:n], 0)
	if err != nil {
		return dns.CanonicalName(name)
	}
	return dns.CanonicalName(wire)
}

// Warnings returns what is suspect in the zone's data but was served
// anyway (records of one set with different TTLs), one line each.
func (z *Zone) Warnings() []string { return z.warnings }

// node holds the records of one owner name.
type node struct {
	sets []rrset // sorted by type
	cut  bool    // NS records below the apex: a delegation point
}

// rrset is the records of one owner name and type.
type rrset struct {
	typ uint16
	rrs []dns.RR
}

func (n *node) get(t uint16) []dns.RR {
	for i := range n.sets {
		if n.sets[i].typ == t {
			return n.sets[i].rrs
		}
	}
	return nil
}

// Len returns the number of records in the zone.
func (z *Zone) Len() int { return len(z.records) }

// Records returns the zone's records in file order, the SOA first. The
// slice and its records must not be modified.
func (z *Zone) Records() []dns.RR { return z.records }

// Serial returns the SOA serial.
func (z *Zone) Serial() uint32 { return z.SOA.Serial }

// ParseZone reads a BIND master file from r. file names it in errors and
// anchors relative $INCLUDE paths. The origin is origin when given, else
// the file's $ORIGIN, else the owner of its SOA record. Errors name
// file:line:col.
func ParseZone(r io.Reader, origin, file string) (*Zone, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if origin == "" {
		if origin, err = findOrigin(data, file); err != nil {
			return nil, err
		}
	}
	origin = dns.CanonicalName(origin)
	zp := newZoneParser(data, origin, file)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, parseError(err, file, data)
	}
	z, err := NewZone(origin, rrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for i, w := range z.warnings {
		z.warnings[i] = file + ": " + w
	}
	return z, nil
}

// defaultZoneTTL is the TTL of records before any $TTL or explicit TTL.
const defaultZoneTTL = 3600

// newZoneParser reads data with $INCLUDE allowed (relative to file) and a
// default TTL for records that give none before any $TTL.
func newZoneParser(data []byte, origin, file string) *dns.ZoneParser {
	zp := dns.NewZoneParser(bytes.NewReader(data), origin, file)
	zp.SetIncludeAllowed(true)
	zp.SetDefaultTTL(defaultZoneTTL)
	return zp
}

// findOrigin returns the origin a file declares: the first $ORIGIN before
// any record, else the owner of the first record when it is the SOA.
func findOrigin(data []byte, file string) (string, error) {
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		f := bytes.Fields(line)
		if len(f) == 0 || bytes.EqualFold(f[0], []byte("$TTL")) {
			continue
		}
		if bytes.EqualFold(f[0], []byte("$ORIGIN")) && len(f) > 1 {
			return string(f[1]), nil
		}
		break
	}
	zp := newZoneParser(data, ".", file)
	rr, ok := zp.Next()
	if !ok {
		if err := zp.Err(); err != nil {
			return "", parseError(err, file, data)
		}
		return "", fmt.Errorf("%s: no records", file)
	}
	if rr.Header().Rrtype != dns.TypeSOA || rr.Header().Name == "." {
		// Relative names were taken relative to the root: say what is missing.
		return "", fmt.Errorf("%s: cannot tell the zone's origin: start the file with $ORIGIN or an SOA record with an absolute owner name", file)
	}
	// Names before the SOA are relative to nothing else; re-read with its owner.
	return rr.Header().Name, nil
}

// miekg/dns formats parse errors as `file: dns: msg: "token" at line: L:C`.
var parseErrorRE = regexp.MustCompile(`^(?s)(?:(.*): )?dns: (.*?)(?:: ("(?:[^"\\]|\\.)*"))? at line: (\d+):(\d+)$`)

// parseError rewrites a zone parser error as `file:line:col: msg`, msg
// saying what is wrong in words a zone's author knows. data is the text
// of file, to find an SOA's unclosed parenthesis.
func parseError(err error, file string, data []byte) error {
	m := parseErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	where, msg, tok := m[1]+":"+m[4]+":"+m[5], m[2], m[3]
	if open, ok := unclosedParen(data); ok && m[1] == file {
		if errLine, _ := strconv.Atoi(m[4]); open <= errLine {
			// The parser read on past the end of the record and complains
			// of what it found there: say what is missing instead.
			what := "record"
			for _, f := range bytes.Fields(lineOf(data, open)) {
				if bytes.EqualFold(f, []byte("SOA")) {
					what = "SOA record"
				}
			}
			return fmt.Errorf("%s:%d: %s: missing \")\"", file, open, what)
		}
	}
	if kind, field, ok := strings.Cut(strings.TrimPrefix(msg, "bad "), " "); ok && strings.HasPrefix(msg, "bad ") && kind != "" {
		// `bad A A`, `bad MX Pref`, `bad SOA zone parameter`: the record's type, then its field.
		switch {
		case kind == "SOA":
			return fmt.Errorf("%s: bad %s in SOA record", where, withToken("value", tok))
		case kind == "A" && field == "A":
			field = "IPv4 address"
		case kind == "AAAA" && field == "AAAA":
			field = "IPv6 address"
		default:
			field = strings.ToLower(strings.TrimPrefix(field, kind+" "))
			if field == "pref" {
				field = "preference"
			}
		}
		return fmt.Errorf("%s: bad %s in %s record", where, withToken(field, tok), kind)
	}
	if msg == "not a TTL" && tok != "" {
		// The owner is followed by neither a TTL, a class nor a type the parser knows.
		if t := strings.Trim(tok, `"`); t != "" && ('a' <= t[0]|0x20 && t[0]|0x20 <= 'z') {
			return fmt.Errorf("%s: unknown record type %s", where, tok)
		}
		return fmt.Errorf("%s: bad TTL %s", where, tok)
	}
	return fmt.Errorf("%s: %s", where, withToken(msg, tok))
}

func withToken(s, tok string) string {
	if tok == "" {
		return s
	}
	return s + " " + tok
}

// lineOf returns line n (from 1) of data.
func lineOf(data []byte, n int) []byte {
	for ; n > 1; n-- {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	return data
}

// unclosedParen returns the line of the first "(" in data that no ")"
// closes, outside quotes and comments.
func unclosedParen(data []byte) (int, bool) {
	line, open, depth := 1, 0, 0
	quoted := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\n':
			line++
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case c == '(':
			if depth == 0 {
				open = line
			}
			depth++
		case c == ')':
			depth = max(depth-1, 0)
		}
	}
	return open, depth > 0
}

// Errors of NewZone.
var (
	ErrNoSOA     = errors.New("zone has no SOA record at its apex")
	ErrOutOfZone = errors.New("record outside the zone")
)

// NewZone builds a zone from its records. It needs exactly one SOA, at
// origin; records outside origin, of a class other than IN, or a CNAME
// beside other data are errors.
func NewZone(origin string, rrs []dns.RR) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	z := &Zone{Origin: origin, nodes: make(map[string]*node, len(rrs))}
	records := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		h := rr.Header()
		if h.Class != dns.ClassINET {
			return nil, fmt.Errorf("%s: class %s not served (only IN)", strings.TrimSpace(rr.String()), dns.ClassToString[h.Class])
		}
		name := nameKey(h.Name)
		if !dns.IsSubDomain(origin, name) {
			return nil, fmt.Errorf("%w %s: %s", ErrOutOfZone, origin, strings.TrimSpace(rr.String()))
		}
		if h.Rrtype == dns.TypeSOA {
			if name != origin {
				return nil, fmt.Errorf("SOA record for %s in zone %s", h.Name, origin)
			}
			if z.SOA != nil {
				if dns.IsDuplicate(z.SOA, rr) {
					continue
				}
				return nil, fmt.Errorf("zone %s has more than one SOA record", origin)
			}
			z.SOA = rr.(*dns.SOA)
		}
		n := z.nodes[name]
		if n == nil {
			n = &node{}
			z.nodes[name] = n
		}
		if !n.add(rr) {
			continue // a duplicate
		}
		if h.Rrtype != dns.TypeSOA {
			records = append(records, rr)
		}
	}
	if z.SOA == nil {
		return nil, fmt.Errorf("%w %s", ErrNoSOA, origin)
	}
	z.records = append([]dns.RR{z.SOA}, records...)
	defer sort.Strings(z.warnings)
	names := make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		names = append(names, name)
	}
	for _, name := range names {
		n := z.nodes[name]
		if n.get(dns.TypeCNAME) != nil && len(n.sets) > 1 && !n.onlyDNSSEC() {
			return nil, fmt.Errorf("%s has a CNAME record and other data", name)
		}
		if n.get(dns.TypeDNAME) != nil && len(n.get(dns.TypeDNAME)) > 1 {
			return nil, fmt.Errorf("%s has more than one DNAME record", name)
		}
		for _, set := range n.sets {
			// RRs of one set share the set's TTL (RFC 2181 §5.2): the first one's.
			ttl := set.rrs[0].Header().Ttl
			mixed := false
			for _, rr := range set.rrs[1:] {
				if rr.Header().Ttl != ttl {
					mixed = true
				}
				rr.Header().Ttl = ttl
			}
			if mixed {
				z.warnings = append(z.warnings, fmt.Sprintf("%s %s: records of one set have different TTLs; all are served with the first one's, %d",
					set.rrs[0].Header().Name, dns.TypeToString[set.typ], ttl))
			}
		}
		sort.Slice(n.sets, func(i, j int) bool { return n.sets[i].typ < n.sets[j].typ })
		n.cut = name != origin && n.get(dns.TypeNS) != nil
		z.addAncestors(name)
	}
	return z, nil
}

// addAncestors adds empty non-terminals between name and the apex.
func (z *Zone) addAncestors(name string) {
	for name != z.Origin {
		i, _ := dns.NextLabel(name, 0)
		name = name[i:]
		if name == "" {
			name = "."
		}
		if _, ok := z.nodes[name]; ok {
			return
		}
		z.nodes[name] = &node{}
	}
}

// add puts rr in its set; false when the set holds it already.
func (n *node) add(rr dns.RR) bool {
	t := rr.Header().Rrtype
	for i := range n.sets {
		if n.sets[i].typ != t {
			continue
		}
		for _, r := range n.sets[i].rrs {
			if dns.IsDuplicate(r, rr) {
				return false
			}
		}
		n.sets[i].rrs = append(n.sets[i].rrs, rr)
		return true
	}
	n.sets = append(n.sets, rrset{typ: t, rrs: []dns.RR{rr}})
	return true
}

// onlyDNSSEC reports whether the types beside a CNAME are RRSIG and NSEC only.
func (n *node) onlyDNSSEC() bool {
	for _, set := range n.sets {
		switch set.typ {
		case dns.TypeCNAME, dns.TypeRRSIG, dns.TypeNSEC:
		default:
			return false
		}
	}
	return true
}

// negativeSOA returns the SOA for the authority section of a negative
// answer, its TTL the lesser of its own and its MINIMUM (RFC 2308 §3).
func (z *Zone) negativeSOA() dns.RR {
	soa := *z.SOA
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}

// String describes the zone for logs: origin, serial and size.
func (z *Zone) String() string {
	return z.Origin + " serial " + strconv.FormatUint(uint64(z.SOA.Serial), 10) + " (" + strconv.Itoa(len(z.records)) + " records)"
}
