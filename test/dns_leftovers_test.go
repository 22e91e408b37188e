package test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// countLines returns how many of s's log lines match pattern.
func (s *server) countLines(pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	for _, l := range strings.Split(s.output(), "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// reload sends SIGHUP and waits for the reload to be applied: every line
// a kept service logs while re-reading its files comes before that one.
func (s *server) reload() {
	s.t.Helper()
	n := s.countLines(`reload applied`)
	s.signal(syscall.SIGHUP)
	eventually(s.t, 10*time.Second, "the reload to be applied", func() bool { return s.countLines(`reload applied`) > n })
}

// TestDNSSerialWarningOnce: a zone file whose records change while its
// serial does not is warned about once per reload, also when the zone
// has secondaries to notify; a file rewritten with the same records is
// not warned about at all.
func TestDNSSerialWarningOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A secondary that is never there: the NOTIFYs go unanswered.
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"
	writeFile(t, dir, "z.zone", zone)
	s := startDNS(t, dir, "    zones: [z.zone]\n    also_notify: [\""+sink.LocalAddr().String()+"\"]\n")
	const warning = `changed but its serial( 1)? did not`

	writeFile(t, dir, "z.zone", zone+"new A 192.0.2.3\n")
	s.reload()
	if n := s.countLines(warning); n != 1 {
		t.Errorf("changed records, same serial: warned %d times, want once", n)
	}

	// The same records again, the file newer: nothing to warn about.
	writeFile(t, dir, "z.zone", zone+"new A 192.0.2.3\n")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "z.zone"), later, later); err != nil {
		t.Fatal(err)
	}
	s.reload()
	if n := s.countLines(warning); n != 1 {
		t.Errorf("a file rewritten with the same records: %d warnings in all, want still 1", n)
	}
	if r := dnsAsk(t, "udp", s.udp, "new.example.com.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("the changed zone is not served: %v", r)
	}
}

// TestDNSOneLinerVerbose: twistd dns's -v is --verbose (SPEC §11, as in
// twistd, where it may be repeated): each logs every query; without it
// no query is logged.
func TestDNSOneLinerVerbose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	for _, tt := range []struct {
		name string
		flag []string
		logs bool
	}{
		{name: "short", flag: []string{"-v"}, logs: true},
		{name: "long", flag: []string{"--verbose"}, logs: true},
		{name: "twice", flag: []string{"-vv"}, logs: true},
		{name: "none", logs: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			port := strconv.Itoa(dnsFreePort(t))
			args := append([]string{"-n", "--pidfile=", "dns", "-i", "127.0.0.1", "-p", port, "--bindzone", "example.com.zone"}, tt.flag...)
			s := start(t, dir, nil, args...)
			addr := "127.0.0.1:" + port
			if r := dnsAsk(t, "udp", addr, "www.example.com.", dns.TypeA); len(r.Answer) != 2 {
				t.Fatalf("udp: %v", r)
			}
			if r := dnsAsk(t, "tcp", addr, "mail.example.com.", dns.TypeA); len(r.Answer) != 1 {
				t.Fatalf("tcp: %v", r)
			}
			if tt.logs {
				s.waitFor(`query.*"proto": "udp".*www\.example\.com\.`, 5*time.Second)
				s.waitFor(`query.*"proto": "tcp".*mail\.example\.com\.`, 5*time.Second)
				return
			}
			// A query's line is written before its answer is sent; the
			// reload's lines come after it in the same log.
			s.reload()
			if n := s.countLines(`\bquery\b.*example\.com\.`); n != 0 {
				t.Errorf("without -v, %d query lines logged", n)
			}
		})
	}
}

// TestDNSIXFRWithoutSOAIsFormErr: an IXFR query carries the client's SOA
// in its authority section (RFC 1995 §3), first and owned by the zone;
// one without it is malformed, over UDP and TCP, as Knot answers.
func TestDNSIXFRWithoutSOAIsFormErr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "correct.test.zone")
	knot := startKnot(t, dir, map[string]string{"correct.test": "correct.test.zone"})
	s := startDNS(t, dir, "    zones: [correct.test.zone]\n    axfr_allow: [127.0.0.1]\n")
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ns := rr("correct.test. 60 IN NS ns.correct.test.")
	soa := rr("correct.test. 60 IN SOA ns.correct.test. hostmaster.correct.test. 4 3600 600 86400 60")
	other := rr("other.test. 60 IN SOA ns.other.test. hostmaster.other.test. 4 3600 600 86400 60")
	for _, tt := range []struct {
		name      string
		authority []dns.RR
	}{
		{name: "no authority"},
		{name: "NS instead of SOA", authority: []dns.RR{ns}},
		{name: "NS before the SOA", authority: []dns.RR{ns, soa}},
		{name: "another zone's SOA", authority: []dns.RR{other}},
	} {
		for _, netw := range []string{"udp", "tcp"} {
			m := new(dns.Msg)
			m.SetQuestion("correct.test.", dns.TypeIXFR)
			m.Ns = tt.authority
			want := dnsSummary(dnsExchange(t, netw, knot, m))
			r := dnsExchange(t, netw, s.udpOrTCP(netw), m)
			if got := dnsSummary(r); got != want {
				t.Errorf("IXFR, %s, over %s:\ntwistd:\n%s\nknot:\n%s", tt.name, netw, got, want)
			}
			if r.Rcode != dns.RcodeFormatError {
				t.Errorf("IXFR, %s, over %s: %s, want FORMERR", tt.name, netw, dns.RcodeToString[r.Rcode])
			}
		}
	}
}

// TestDNSGlueTruncation: a referral whose in-domain glue does not all
// fit sets TC (RFC 9471 §3: glue for name servers below the delegation
// is not optional); glue of sibling and parent-side names may be left
// out without TC. Without EDNS (512 bytes) and with a small EDNS buffer,
// as Knot answers.
func TestDNSGlueTruncation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "glue.test.zone")
	knot := startKnot(t, dir, map[string]string{"glue.test": "glue.test.zone"})
	s := startDNS(t, dir, "    zones: [glue.test.zone]\n")
	for _, tt := range []struct {
		name   string
		edns   uint16 // 0: none
		wantTC bool
	}{
		{name: "www.big.glue.test.", wantTC: true},
		{name: "www.big.glue.test.", edns: 600, wantTC: true},
		{name: "www.big.glue.test.", edns: 1232},
		{name: "www.sib.glue.test."},
		{name: "www.auth.glue.test."},
		{name: "www.mix.glue.test.", wantTC: true},
		{name: "www.mix.glue.test.", edns: 1232},
		{name: "www.small.glue.test."},
	} {
		m := new(dns.Msg)
		m.SetQuestion(tt.name, dns.TypeA)
		m.RecursionDesired = false
		if tt.edns != 0 {
			m.SetEdns0(tt.edns, false)
		}
		c := &dns.Client{Timeout: 3 * time.Second, UDPSize: tt.edns}
		kr, _, err := c.Exchange(m, knot)
		if err != nil {
			t.Fatalf("knot %s: %v", tt.name, err)
		}
		r, _, err := c.Exchange(m, s.udp)
		if err != nil {
			t.Fatalf("twistd %s: %v", tt.name, err)
		}
		// Knot compresses the NS targets less (not against the question
		// name), so it may fit a glue record fewer: the additional
		// section is compared as ours ⊇ Knot's, and with TC ours holds
		// only the required, in-domain, glue.
		extra, kextra := r.Extra, kr.Extra
		r.Extra, kr.Extra = nil, nil
		if got, want := dnsSummary(r), dnsSummary(kr); got != want {
			t.Errorf("%s edns=%d:\ntwistd:\n%s\nknot:\n%s", tt.name, tt.edns, got, want)
		}
		got, want := dnsSummary(&dns.Msg{Answer: extra}), dnsSummary(&dns.Msg{Answer: kextra})
		for _, line := range strings.Split(want, "\n")[2:] {
			if strings.TrimSpace(line) != "" && !strings.Contains(got, line) {
				t.Errorf("%s edns=%d: knot's glue %q is missing:\ntwistd:\n%s\nknot:\n%s", tt.name, tt.edns, line, got, want)
			}
		}
		cut := strings.TrimPrefix(tt.name, "www.")
		for _, rr := range extra {
			if r.Truncated && rr.Header().Rrtype != dns.TypeOPT && !dns.IsSubDomain(cut, rr.Header().Name) {
				t.Errorf("%s edns=%d: truncated, yet optional glue %s is sent", tt.name, tt.edns, rr.Header().Name)
			}
		}
		if r.Truncated != tt.wantTC || len(r.Ns) == 0 {
			t.Errorf("%s edns=%d: tc=%v with %d NS, want tc=%v and the NS set", tt.name, tt.edns, r.Truncated, len(r.Ns), tt.wantTC)
		}
	}
}

// TestDNSDSFromParentOfUntransferredSecondary: DS at a delegation point
// is the parent's (RFC 4035 §3.1.4.1), so when we serve the parent it
// answers even while the child, a secondary zone of ours, has no data
// yet: as Knot serving the parent alone answers. The child's own names
// are SERVFAIL meanwhile.
func TestDNSDSFromParentOfUntransferredSecondary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "correct.test.zone")
	knot := startKnot(t, dir, map[string]string{"correct.test": "correct.test.zone"})
	// A primary that is not there: the transfers fail.
	primary := "127.0.0.1:" + strconv.Itoa(dnsFreePort(t))
	s := startDNS(t, dir, "    zones: [correct.test.zone]\n    secondary:\n"+
		"      - {zone: sub.correct.test, primary: \""+primary+"\"}\n"+
		"      - {zone: other.correct.test, primary: \""+primary+"\"}\n")
	for _, name := range []string{"sub.correct.test.", "other.correct.test.", "SUB.Correct.Test."} {
		for _, edns := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeDS)
			m.RecursionDesired = false
			if edns {
				m.SetEdns0(1232, false)
			}
			want := dnsSummary(dnsExchange(t, "udp", knot, m))
			r := dnsExchange(t, "udp", s.udp, m)
			if got := dnsSummary(r); got != want {
				t.Errorf("%s DS edns=%v:\ntwistd:\n%s\nknot:\n%s", name, edns, got, want)
			}
			if !r.Authoritative {
				t.Errorf("%s DS: not authoritative", name)
			}
		}
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"sub.correct.test.", dns.TypeSOA}, {"sub.correct.test.", dns.TypeNS}, {"www.sub.correct.test.", dns.TypeA}} {
		if r := dnsAsk(t, "udp", s.udp, q.name, q.qtype); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s %s of the untransferred child: %s, want SERVFAIL", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode])
		}
	}
}

// TestDNSWildcardDNAMEMatchesKnot asks twistd and knotd about names under
// DNAME records at wildcard owners (*.wd.test. and *.w.wd.test.), where
// RFC 6672 and RFC 4592 leave the answer undefined in places: we answer
// as Knot does.
func TestDNSWildcardDNAMEMatchesKnot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "wildcard-dname.test.zone")
	knot := startKnot(t, dir, map[string]string{"wd.test": "wildcard-dname.test.zone"})
	s := startDNS(t, dir, "    zones: [wildcard-dname.test.zone]\n")
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"a.wd.test.", dns.TypeA}, {"b.a.wd.test.", dns.TypeA}, {"a.wd.test.", dns.TypeDNAME},
		{"a.wd.test.", dns.TypeCNAME}, {"a.wd.test.", dns.TypeANY},
		{"*.wd.test.", dns.TypeDNAME}, {"*.wd.test.", dns.TypeA}, {"x.*.wd.test.", dns.TypeA},
		{"x.*.wd.test.", dns.TypeDNAME}, {"x.*.wd.test.", dns.TypeCNAME}, {"y.x.*.wd.test.", dns.TypeA},
		{"y.w.wd.test.", dns.TypeA}, {"www.y.w.wd.test.", dns.TypeA}, {"www.x.w.wd.test.", dns.TypeA},
		{"x.w.wd.test.", dns.TypeA}, {"y.w.wd.test.", dns.TypeDNAME}, {"*.w.wd.test.", dns.TypeA},
		{"www.*.w.wd.test.", dns.TypeA}, {"w.wd.test.", dns.TypeA}, {"www.t.wd.test.", dns.TypeA},
		{"ns.wd.test.", dns.TypeA}, {"nx.ns.wd.test.", dns.TypeA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.RecursionDesired = false
		m.SetEdns0(1232, false)
		want := dnsSummary(dnsExchange(t, "udp", knot, m))
		if got := dnsSummary(dnsExchange(t, "udp", s.udp, m)); got != want {
			t.Errorf("%s %s:\ntwistd:\n%s\nknot:\n%s", q.name, dns.TypeToString[q.qtype], got, want)
		}
	}
}
