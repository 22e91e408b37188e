package test

import (
	"testing"

	"github.com/miekg/dns"
)

// TestDNSMatchesKnot asks twistd and knotd the same questions about the
// same zone and compares the answers (rcode, AA, TC and every section,
// names compared without case). It is skipped where knotd is not installed.
func TestDNSMatchesKnot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	knot := startKnot(t, dir, map[string]string{"example.com": "example.com.zone"})
	s := startDNS(t, dir, "    zones: [example.com.zone]\n")
	questions := []struct {
		name  string
		qtype uint16
	}{
		{"example.com.", dns.TypeSOA}, {"example.com.", dns.TypeNS}, {"example.com.", dns.TypeMX},
		{"example.com.", dns.TypeANY}, {"example.com.", dns.TypeTXT}, {"example.com.", dns.TypeAAAA},
		{"www.example.com.", dns.TypeA}, {"WWW.EXAMPLE.COM.", dns.TypeA}, {"www.example.com.", dns.TypeCNAME},
		{"www.example.com.", dns.TypeMX}, {"alias.example.com.", dns.TypeA}, {"ext.example.com.", dns.TypeA},
		{"loop1.example.com.", dns.TypeA}, {"dangling.example.com.", dns.TypeA},
		{"mail.example.com.", dns.TypeA}, {"mail.example.com.", dns.TypeAAAA}, {"mail.example.com.", dns.TypeTXT},
		{"nx.example.com.", dns.TypeA}, {"deep.nx.example.com.", dns.TypeA},
		{"x.wild.example.com.", dns.TypeA}, {"x.wild.example.com.", dns.TypeTXT}, {"x.y.wild.example.com.", dns.TypeA},
		{"x.wild.example.com.", dns.TypeMX}, {"wild.example.com.", dns.TypeA},
		{"c.example.com.", dns.TypeA}, {"b.c.example.com.", dns.TypeA}, {"a.b.c.example.com.", dns.TypeA},
		{"sub.example.com.", dns.TypeNS}, {"sub.example.com.", dns.TypeA}, {"www.sub.example.com.", dns.TypeA},
		{"ns.sub.example.com.", dns.TypeA}, {"sub.example.com.", dns.TypeDS},
		{"_sip._tcp.example.com.", dns.TypeSRV}, {"caa.example.com.", dns.TypeCAA}, {"naptr.example.com.", dns.TypeNAPTR},
		{"example.org.", dns.TypeA},
	}
	for _, netw := range []string{"udp", "tcp"} {
		ours := s.udp
		if netw == "tcp" {
			ours = s.tcp
		}
		for _, q := range questions {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.RecursionDesired = false
			m.SetEdns0(1232, false)
			want := dnsSummary(dnsExchange(t, netw, knot, m))
			got := dnsSummary(dnsExchange(t, netw, ours, m))
			if got != want {
				t.Errorf("%s %s %s:\ntwistd:\n%s\nknot:\n%s", netw, q.name, dns.TypeToString[q.qtype], got, want)
			}
		}
	}
}
