package dns

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func loadTestZone(t testing.TB) *Zone {
	t.Helper()
	f, err := os.Open("testdata/example.com.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := ParseZone(f, "", "testdata/example.com.zone")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// The expected answers are what Knot 3 gives for testdata/example.com.zone.
func TestLookup(t *testing.T) {
	s := &store{zones: map[string]*Zone{}}
	z := loadTestZone(t)
	s.zones[z.Origin] = z
	tests := []struct {
		name, qname string
		qtype       uint16
		rcode       int
		aa          bool
		answer      []string // "name type" of each answer record
		ns, extra   int
	}{
		{name: "cname followed", qname: "www.example.com.", qtype: dns.TypeA, aa: true, answer: []string{"www.example.com. CNAME", "web.example.com. A"}},
		{name: "case preserved", qname: "WwW.ExAmple.com.", qtype: dns.TypeA, aa: true, answer: []string{"WwW.ExAmple.com. CNAME", "web.example.com. A"}},
		{name: "mx with additional", qname: "example.com.", qtype: dns.TypeMX, aa: true, answer: []string{"example.com. MX"}, extra: 2},
		{name: "any gives one set", qname: "example.com.", qtype: dns.TypeANY, aa: true, answer: []string{"example.com. A"}},
		{name: "nxdomain", qname: "nx.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: 1},
		{name: "nodata after cname", qname: "www.example.com.", qtype: dns.TypeMX, aa: true, answer: []string{"www.example.com. CNAME"}, ns: 1},
		{name: "wildcard", qname: "x.wild.example.com.", qtype: dns.TypeA, aa: true, answer: []string{"x.wild.example.com. A"}},
		{name: "wildcard nodata", qname: "x.wild.example.com.", qtype: dns.TypeMX, aa: true, ns: 1},
		{name: "empty non-terminal", qname: "c.example.com.", qtype: dns.TypeA, aa: true, ns: 1},
		{name: "below empty non-terminal", qname: "x.b.c.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: 1},
		{name: "referral", qname: "foo.sub.example.com.", qtype: dns.TypeA, ns: 2, extra: 1},
		{name: "referral at cut", qname: "sub.example.com.", qtype: dns.TypeNS, ns: 2, extra: 1},
		{name: "ds at cut from parent", qname: "sub.example.com.", qtype: dns.TypeDS, aa: true, ns: 1},
		{name: "dangling cname", qname: "dangling.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, answer: []string{"dangling.example.com. CNAME"}, ns: 1},
		{name: "external cname", qname: "ext.example.com.", qtype: dns.TypeA, aa: true, answer: []string{"ext.example.com. CNAME"}},
		{name: "cname loop", qname: "loop1.example.com.", qtype: dns.TypeA, aa: true, answer: []string{"loop1.example.com. CNAME", "loop2.example.com. CNAME"}},
		{name: "srv with additional", qname: "_sip._tcp.example.com.", qtype: dns.TypeSRV, aa: true, answer: []string{"_sip._tcp.example.com. SRV"}, extra: 1},
		{name: "cname asked", qname: "WWW.example.com.", qtype: dns.TypeCNAME, aa: true, answer: []string{"WWW.example.com. CNAME"}},
		{name: "caa", qname: "caa.example.com.", qtype: dns.TypeCAA, aa: true, answer: []string{"caa.example.com. CAA"}},
		{name: "naptr", qname: "naptr.example.com.", qtype: dns.TypeNAPTR, aa: true, answer: []string{"naptr.example.com. NAPTR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := s.resolve(tt.qname, tt.qtype)
			if !ok {
				t.Fatal("not found")
			}
			var got []string
			for _, rr := range res.answer {
				got = append(got, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
			}
			if res.rcode != tt.rcode || res.authoritative != tt.aa || strings.Join(got, ",") != strings.Join(tt.answer, ",") ||
				len(res.ns) != tt.ns || len(res.extra) != tt.extra {
				t.Errorf("got rcode %d aa %v answer %v ns %d extra %d; want rcode %d aa %v answer %v ns %d extra %d",
					res.rcode, res.authoritative, got, len(res.ns), len(res.extra), tt.rcode, tt.aa, tt.answer, tt.ns, tt.extra)
			}
			if len(res.ns) == 1 {
				soa := res.ns[0].(*dns.SOA)
				if soa.Hdr.Ttl != 300 {
					t.Errorf("negative TTL %d, want 300 (RFC 2308: min of SOA TTL and MINIMUM)", soa.Hdr.Ttl)
				}
			}
		})
	}
	if _, ok := s.resolve("example.org.", dns.TypeA); ok {
		t.Error("example.org. answered from example.com.")
	}
}

func TestLongestZoneWins(t *testing.T) {
	parent, err := ParseZone(strings.NewReader("$ORIGIN example.com.\n@ SOA ns h 1 2 3 4 5\nsub NS ns.sub\nns.sub A 192.0.2.1\n"), "", "p")
	if err != nil {
		t.Fatal(err)
	}
	child, err := ParseZone(strings.NewReader("sub.example.com. 60 IN SOA ns h 1 2 3 4 5\nwww 60 A 192.0.2.2\n"), "", "c")
	if err != nil {
		t.Fatal(err)
	}
	s := &store{zones: map[string]*Zone{parent.Origin: parent, child.Origin: child}}
	res, _ := s.resolve("www.sub.example.com.", dns.TypeA)
	if !res.authoritative || len(res.answer) != 1 {
		t.Fatalf("www.sub.example.com. not answered by the child zone: %+v", res)
	}
}

func TestParseZoneErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{name: "syntax", text: "$ORIGIN example.com.\n@ SOA ns h 1 2 3 4 5\nwww A 300.1.1.1\n", want: "z.zone:3:"},
		{name: "no origin", text: "@ SOA ns h 1 2 3 4 5\n", want: "cannot tell the zone's origin"},
		{name: "no soa", text: "$ORIGIN example.com.\nwww A 192.0.2.1\n", want: "no SOA"},
		{name: "out of zone", text: "$ORIGIN example.com.\n@ SOA ns h 1 2 3 4 5\nwww.example.net. A 192.0.2.1\n", want: "outside the zone"},
		{name: "cname and data", text: "$ORIGIN example.com.\n@ SOA ns h 1 2 3 4 5\nx CNAME y\nx A 192.0.2.1\n", want: "CNAME record and other data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseZone(strings.NewReader(tt.text), "", "z.zone")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseZoneInclude(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/inc.db", []byte("extra 60 IN A 192.0.2.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := "$ORIGIN example.com.\n$TTL 120\n@ SOA ns h 1 2 3 4 5\n$INCLUDE inc.db\nwww A 192.0.2.1\n"
	if err := os.WriteFile(dir+"/main.zone", []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	z, err := readZone(dir + "/main.zone")
	if err != nil {
		t.Fatal(err)
	}
	if res := z.lookup("extra.example.com.", dns.TypeA); len(res.answer) != 1 {
		t.Fatalf("$INCLUDEd record missing: %+v", res)
	}
	if res := z.lookup("www.example.com.", dns.TypeA); len(res.answer) != 1 || res.answer[0].Header().Ttl != 120 {
		t.Fatalf("$TTL not applied: %+v", res)
	}
}

// BenchmarkLoadZone100k loads a zone of 100,000 records; the goal is
// for under a second (see TestLoad100kRecords for the bound as a test).
func BenchmarkLoadZone100k(b *testing.B) {
	text := bigZone(100000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ParseZone(strings.NewReader(text), "", "big.zone"); err != nil {
			b.Fatal(err)
		}
	}
}

func bigZone(n int) string {
	var sb strings.Builder
	sb.WriteString("$ORIGIN big.test.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n")
	for i := 0; i < n-3; i++ {
		sb.WriteString("h")
		sb.WriteString(itoa(i))
		sb.WriteString(" A 10.")
		sb.WriteString(itoa(i >> 16 & 255))
		sb.WriteString(".")
		sb.WriteString(itoa(i >> 8 & 255))
		sb.WriteString(".")
		sb.WriteString(itoa(i & 255))
		sb.WriteString("\n")
	}
	return sb.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func parseTestZone(t testing.TB, text string) *Zone {
	t.Helper()
	z, err := ParseZone(strings.NewReader(text), "", "t.zone")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func answerNames(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.ToLower(rr.Header().Name)+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	return out
}

// RFC 6672: a name below a DNAME answers with the DNAME and a CNAME
// synthesised from it, chased inside our zones as CNAMEs are.
func TestDNAME(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns h 1 2 3 4 5\n"+
		"old 600 DNAME new\nwww.new A 192.0.2.7\nout 300 DNAME example.net.\n"+
		"long DNAME "+strings.Repeat("a", 60)+"."+strings.Repeat("b", 60)+"."+strings.Repeat("c", 60)+"."+strings.Repeat("d", 60)+".\n")
	s := &store{zones: map[string]*Zone{z.Origin: z}}
	tests := []struct {
		name, qname string
		qtype       uint16
		rcode       int
		answer      []string
		ns          int
	}{
		{name: "synthesised and chased", qname: "www.old.example.com.", qtype: dns.TypeA,
			answer: []string{"old.example.com. DNAME", "www.old.example.com. CNAME", "www.new.example.com. A"}},
		{name: "chased to nxdomain", qname: "nx.old.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			answer: []string{"old.example.com. DNAME", "nx.old.example.com. CNAME"}, ns: 1},
		{name: "out of our zones", qname: "www.out.example.com.", qtype: dns.TypeA,
			answer: []string{"out.example.com. DNAME", "www.out.example.com. CNAME"}},
		{name: "owner itself is not redirected", qname: "old.example.com.", qtype: dns.TypeA, ns: 1},
		{name: "dname asked at its owner", qname: "old.example.com.", qtype: dns.TypeDNAME, answer: []string{"old.example.com. DNAME"}},
		{name: "cname asked below", qname: "www.old.example.com.", qtype: dns.TypeCNAME,
			answer: []string{"old.example.com. DNAME", "www.old.example.com. CNAME"}},
		{name: "too long", qname: strings.Repeat("x", 63) + "." + strings.Repeat("y", 63) + ".long.example.com.", qtype: dns.TypeA,
			rcode: dns.RcodeYXDomain, answer: []string{"long.example.com. DNAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := s.resolve(tt.qname, tt.qtype)
			if !ok {
				t.Fatal("not found")
			}
			got := answerNames(res.answer)
			if res.rcode != tt.rcode || !res.authoritative || strings.Join(got, ",") != strings.Join(tt.answer, ",") || len(res.ns) != tt.ns {
				t.Fatalf("rcode %s aa %v answer %v ns %d; want %s %v ns %d", dns.RcodeToString[res.rcode], res.authoritative,
					got, len(res.ns), dns.RcodeToString[tt.rcode], tt.answer, tt.ns)
			}
			for _, rr := range res.answer {
				if c, ok := rr.(*dns.CNAME); ok {
					if c.Hdr.Ttl != 600 && c.Hdr.Ttl != 300 {
						t.Errorf("synthesised CNAME TTL %d, want the DNAME's", c.Hdr.Ttl)
					}
					if strings.HasPrefix(tt.qname, "www.old") && c.Target != "www.new.example.com." {
						t.Errorf("CNAME target %s", c.Target)
					}
				}
			}
		})
	}
}

// Owner names written with \DDD escapes of printable characters (as BIND
// and Knot dump them) match the same names asked off the wire.
func TestEscapedOwnerNames(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n"+
		"sp\\032ace A 192.0.2.1\nesc\\065pe A 192.0.2.2\nMy\\032Printer._ipp._tcp PTR x\nsub.\\097bc A 192.0.2.3\n")
	s := &store{zones: map[string]*Zone{z.Origin: z}}
	for _, q := range []struct {
		wire  string // the name as a client packs it
		qtype uint16
	}{{"sp ace.example.com.", dns.TypeA}, {"escape.example.com.", dns.TypeA}, {"ESCAPE.example.com.", dns.TypeA},
		{"my printer._ipp._tcp.example.com.", dns.TypePTR}, {"sub.abc.example.com.", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(strings.ReplaceAll(q.wire, " ", `\ `)), q.qtype)
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var r dns.Msg
		if err := r.Unpack(raw); err != nil {
			t.Fatal(err)
		}
		res, _ := s.resolve(r.Question[0].Name, q.qtype)
		if res.rcode != dns.RcodeSuccess || len(res.answer) != 1 {
			t.Errorf("%q: rcode %s, %d answers", r.Question[0].Name, dns.RcodeToString[res.rcode], len(res.answer))
		}
	}
	// The empty non-terminal abc.example.com. exists: NODATA, not NXDOMAIN.
	if res, _ := s.resolve("abc.example.com.", dns.TypeA); res.rcode != dns.RcodeSuccess {
		t.Errorf("empty non-terminal of an escaped name: %s", dns.RcodeToString[res.rcode])
	}
}

// With parent and child zones both ours, DS at the cut is the parent's
// (RFC 4035 §3.1.4.1); the child's apex has none.
func TestDSFromParent(t *testing.T) {
	parent := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nsub NS ns.sub\nns.sub A 192.0.2.1\n"+
		"sub DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
	child := parseTestZone(t, "$ORIGIN sub.example.com.\n$TTL 60\n@ SOA ns h 7 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n")
	s := &store{zones: map[string]*Zone{parent.Origin: parent, child.Origin: child}}
	res, _ := s.resolve("sub.example.com.", dns.TypeDS)
	if !res.authoritative || len(res.answer) != 1 || res.answer[0].Header().Rrtype != dns.TypeDS {
		t.Fatalf("DS: aa %v answer %v", res.authoritative, answerNames(res.answer))
	}
	nods := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nsub NS ns.sub\nns.sub A 192.0.2.1\n")
	s = &store{zones: map[string]*Zone{nods.Origin: nods, child.Origin: child}}
	res, _ = s.resolve("sub.example.com.", dns.TypeDS)
	if !res.authoritative || len(res.answer) != 0 || len(res.ns) != 1 || res.ns[0].(*dns.SOA).Serial != 1 {
		t.Fatalf("no DS: want the parent's NODATA, got aa %v answer %v ns %v", res.authoritative, answerNames(res.answer), res.ns)
	}
	// Other types at the child's apex stay the child's.
	if res, _ := s.resolve("sub.example.com.", dns.TypeSOA); len(res.answer) != 1 || res.answer[0].(*dns.SOA).Serial != 7 {
		t.Fatalf("SOA of the child: %v", res.answer)
	}
}

// A CNAME whose target is below a delegation of ours carries the referral.
func TestCNAMEIntoDelegation(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nsub NS ns.sub\nns.sub A 192.0.2.1\nalias CNAME www.sub\n")
	s := &store{zones: map[string]*Zone{z.Origin: z}}
	res, _ := s.resolve("alias.example.com.", dns.TypeA)
	if len(res.answer) != 1 || len(res.ns) != 1 || res.ns[0].Header().Rrtype != dns.TypeNS || len(res.extra) != 1 {
		t.Fatalf("answer %v ns %v extra %v", answerNames(res.answer), res.ns, res.extra)
	}
}

func TestANYAdditional(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nmx MX 10 mail\nmail A 192.0.2.25\n")
	res := z.lookup("mx.example.com.", dns.TypeANY)
	if len(res.answer) != 1 || len(res.extra) != 1 {
		t.Fatalf("ANY: answer %v extra %v", answerNames(res.answer), res.extra)
	}
}

func TestMixedTTLWarned(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww 60 A 192.0.2.1\nwww 120 A 192.0.2.2\n")
	w := strings.Join(z.Warnings(), "\n")
	if !strings.Contains(w, "t.zone") || !strings.Contains(w, "www.example.com. A") {
		t.Fatalf("warnings %q, want one naming t.zone and www.example.com. A", w)
	}
}

func TestParseZoneMessages(t *testing.T) {
	head := "$ORIGIN example.com.\n$TTL 60\n"
	soa := "@ SOA ns h 1 2 3 4 5\n"
	tests := []struct{ name, text, want string }{
		{name: "ipv4", text: head + soa + "www A 999.1.1.1\n", want: `z.zone:4:15: bad IPv4 address "999.1.1.1" in A record`},
		{name: "ipv6", text: head + soa + "www AAAA 1.1.1.1\n", want: `bad IPv6 address "1.1.1.1" in AAAA record`},
		{name: "unknown type", text: head + soa + "www AAAAA 1.1.1.1\n", want: `z.zone:4:10: unknown record type "AAAAA"`},
		{name: "missing paren", text: head + "@ SOA ns h ( 1 2 3 4 5\nwww A 192.0.2.1\n", want: `z.zone:3: SOA record: missing ")"`},
		{name: "mx", text: head + soa + "www MX ten mail\n", want: `bad preference "ten" in MX record`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseZone(strings.NewReader(tt.text), "", "z.zone")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A referral's in-domain glue (name servers below the cut) comes first
// and is counted as required; sibling glue and the parent's own names
// follow as optional.
func TestReferralGlue(t *testing.T) {
	z := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n"+
		"sub NS ns.other\nsub NS ns.sib\nsub NS ns.sub\nsub NS ns.deep.sub\nsub NS ns.elsewhere.net.\n"+
		"ns.other A 192.0.2.1\nsib NS ns.sib\nns.sib A 192.0.2.2\nns.sub A 192.0.2.3\nns.sub AAAA 2001:db8::3\nns.deep.sub A 192.0.2.4\n")
	res := z.lookup("www.sub.example.com.", dns.TypeA)
	var names []string
	for _, rr := range res.extra {
		names = append(names, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	want := "ns.sub.example.com. A,ns.sub.example.com. AAAA,ns.deep.sub.example.com. A,ns.other.example.com. A,ns.sib.example.com. A"
	if res.authoritative || len(res.ns) != 5 || strings.Join(names, ",") != want || res.glue != 3 {
		t.Fatalf("referral: aa %v, %d NS, glue %d, additional %s; want 3 required of %s", res.authoritative, len(res.ns), res.glue, strings.Join(names, ","), want)
	}
}

// DS at the apex of a secondary zone without data is the parent's too;
// the child's other names are SERVFAIL.
func TestDSFromParentOfEmptySecondary(t *testing.T) {
	parent := parseTestZone(t, "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\nsub NS ns.sub\nns.sub A 192.0.2.1\n"+
		"sub DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
	s := &store{zones: map[string]*Zone{parent.Origin: parent, "sub.example.com.": nil}}
	if res, _ := s.resolve("Sub.Example.com.", dns.TypeDS); !res.authoritative || len(res.answer) != 1 || res.answer[0].Header().Rrtype != dns.TypeDS {
		t.Fatalf("DS: %s aa %v answer %v", dns.RcodeToString[res.rcode], res.authoritative, answerNames(res.answer))
	}
	if res, _ := s.resolve("sub.example.com.", dns.TypeSOA); res.rcode != dns.RcodeServerFailure {
		t.Fatalf("SOA of the empty child: %s", dns.RcodeToString[res.rcode])
	}
	// Without the parent, nothing else can answer.
	s = &store{zones: map[string]*Zone{"sub.example.com.": nil}}
	if res, _ := s.resolve("sub.example.com.", dns.TypeDS); res.rcode != dns.RcodeServerFailure {
		t.Fatalf("DS of an empty zone without its parent: %s", dns.RcodeToString[res.rcode])
	}
}
