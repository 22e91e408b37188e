package test

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestDNSAuthoritative checks the answers of a zone file through the
// real binary, over UDP and TCP alike.
func TestDNSAuthoritative(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	s := startDNS(t, dir, "    zones: [example.com.zone]\n")
	for _, netw := range []string{"udp", "tcp"} {
		addr := s.udp
		if netw == "tcp" {
			addr = s.tcp
		}
		t.Run(netw, func(t *testing.T) {
			r := dnsAsk(t, netw, addr, "WwW.Example.COM.", dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 2 {
				t.Fatalf("www: %v", r)
			}
			if r.Question[0].Name != "WwW.Example.COM." || r.Answer[0].Header().Name != "WwW.Example.COM." {
				t.Errorf("case of the question not preserved: %v", r)
			}
			if a, ok := r.Answer[1].(*dns.A); !ok || !a.A.Equal(net.ParseIP("192.0.2.80")) {
				t.Errorf("CNAME not followed: %v", r.Answer)
			}
			r = dnsAsk(t, netw, addr, "nope.example.com.", dns.TypeA)
			if r.Rcode != dns.RcodeNameError || !r.Authoritative || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 300 {
				t.Errorf("NXDOMAIN: %v", r)
			}
			r = dnsAsk(t, netw, addr, "mail.example.com.", dns.TypeTXT)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("NODATA: %v", r)
			}
			r = dnsAsk(t, netw, addr, "anything.wild.example.com.", dns.TypeTXT)
			if len(r.Answer) != 1 || r.Answer[0].Header().Name != "anything.wild.example.com." {
				t.Errorf("wildcard: %v", r)
			}
			r = dnsAsk(t, netw, addr, "host.sub.example.com.", dns.TypeA)
			if r.Authoritative || len(r.Answer) != 0 || len(r.Ns) != 2 || len(r.Extra) != 1 {
				t.Errorf("referral: %v", r)
			}
			r = dnsAsk(t, netw, addr, "example.com.", dns.TypeANY)
			if len(r.Answer) != 1 {
				t.Errorf("ANY: want one RRset (RFC 8482), got %v", r.Answer)
			}
			r = dnsAsk(t, netw, addr, "example.org.", dns.TypeA)
			if r.Rcode != dns.RcodeRefused || r.Authoritative {
				t.Errorf("outside our zones: %v", r)
			}
		})
	}
}

// TestDNSHostsFile serves A, AAAA and PTR from a hosts file with ttl.
func TestDNSHostsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "hosts", "# test\n192.0.2.7 alpha.test alpha\n2001:db8::7 alpha.test\n192.0.2.8 beta.test\n")
	s := startDNS(t, dir, "    hosts_file: hosts\n    ttl: 120\n")
	r := dnsAsk(t, "udp", s.udp, "ALPHA.test.", dns.TypeA)
	if len(r.Answer) != 1 || !r.Authoritative || r.Answer[0].Header().Ttl != 120 || r.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
		t.Fatalf("A: %v", r)
	}
	r = dnsAsk(t, "udp", s.udp, "alpha.test.", dns.TypeAAAA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::7" {
		t.Fatalf("AAAA: %v", r)
	}
	r = dnsAsk(t, "udp", s.udp, "beta.test.", dns.TypeAAAA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Fatalf("NODATA: %v", r)
	}
	r = dnsAsk(t, "tcp", s.tcp, "7.2.0.192.in-addr.arpa.", dns.TypePTR)
	var names []string
	for _, rr := range r.Answer {
		names = append(names, rr.(*dns.PTR).Ptr)
	}
	if strings.Join(names, " ") != "alpha.test. alpha." {
		t.Fatalf("PTR: %v", r)
	}
	if r := dnsAsk(t, "udp", s.udp, "gamma.test.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Fatalf("unknown name: %v", r)
	}
}

// TestDNSBadZone: a zone that does not parse stops the start with its file and line.
func TestDNSBadZone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "bad.zone", "$ORIGIN bad.test.\n@ 60 SOA ns h 1 2 3 4 5\nwww 60 A 999.1.1.1\n")
	app := writeFile(t, dir, "app.yaml", "services:\n  - name: names\n    type: dns\n    listen: udp:0\n    zones: [bad.zone, missing.zone]\n")
	res := twistd(t, dir, nil, "check", "-c", app)
	if res.code != 2 {
		t.Fatalf("check exited %d, want 2:\n%s%s", res.code, res.stdout, res.stderr)
	}
	out := res.stdout + res.stderr
	if !strings.Contains(out, "app.yaml:5:") || !strings.Contains(out, "missing.zone") {
		t.Errorf("missing zone file not reported at its line:\n%s", out)
	}
	app = writeFile(t, dir, "app.yaml", "services:\n  - name: names\n    type: dns\n    listen: udp:0\n    zones: [bad.zone]\n")
	res = twistd(t, dir, nil, "check", "-c", app)
	out = res.stdout + res.stderr
	if res.code != 2 || !strings.Contains(out, "bad.zone:3:") {
		t.Fatalf("bad zone not reported with file:line (exit %d):\n%s", res.code, out)
	}
}
