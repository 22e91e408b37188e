package test

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSForward forwards names outside our data to an upstream (a second
// twistd), retries over TCP when the UDP answer is truncated, caches
// positive and negative answers, and gives SERVFAIL within 2 s when no
// upstream answers.
func TestDNSForward(t *testing.T) {
	updir := t.TempDir()
	writeFile(t, updir, "net.zone", "$ORIGIN example.net.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 120\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n")
	writeFile(t, updir, "big.zone", bigTXTZone())
	up := startDNS(t, updir, "    zones: [net.zone, big.zone]\n")

	// A UDP socket that reads nothing: queries to it time out.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	s := startDNS(t, dir, "    zones: [example.com.zone]\n    forward: [\""+up.udp+"\"]\n    cache: {size: 100}\n")
	r := dnsAsk(t, "udp", s.udp, "www.example.net.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Authoritative {
		t.Fatalf("forwarded answer: %v", r)
	}
	if r := dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA); !r.Authoritative {
		t.Fatalf("own zone not answered authoritatively: %v", r)
	}
	r = dnsAsk(t, "udp", s.udp, "nx.example.net.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Fatalf("forwarded NXDOMAIN: %v", r)
	}

	// Stop the upstream: the answers above now come from the cache.
	up.signal(syscall.SIGTERM)
	up.wait(10 * time.Second)
	r = dnsAsk(t, "udp", s.udp, "www.example.net.", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl > 300 {
		t.Fatalf("cached answer: %v", r)
	}
	if r := dnsAsk(t, "udp", s.udp, "nx.example.net.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("cached NXDOMAIN (RFC 2308): %v", r)
	}

	// An upstream that never answers: SERVFAIL within 2 s.
	dir2 := t.TempDir()
	s2 := startDNS(t, dir2, "    forward: [\""+silent.LocalAddr().String()+"\"]\n")
	startAt := time.Now()
	r = dnsAsk(t, "udp", s2.udp, "www.example.net.", dns.TypeA)
	if d := time.Since(startAt); r.Rcode != dns.RcodeServerFailure || d > 2*time.Second {
		t.Fatalf("unreachable upstream: %s after %s, want SERVFAIL within 2s", dns.RcodeToString[r.Rcode], d)
	}
}

// TestDNSForwardTruncated: a truncated UDP answer from upstream is asked
// again over TCP, so a TCP client gets it whole.
func TestDNSForwardTruncated(t *testing.T) {
	t.Parallel()
	updir := t.TempDir()
	writeFile(t, updir, "big.zone", bigTXTZone())
	port := dnsFreePort(t)
	upAddr := "127.0.0.1:" + itoa(port)
	start(t, updir, nil, "-n", "--pidfile=", "dns", "--interface", "127.0.0.1", "-p", itoa(port), "--bindzone", "big.zone")
	dir := t.TempDir()
	s := startDNS(t, dir, "    forward: [\""+upAddr+"\"]\n")
	m := new(dns.Msg)
	m.SetQuestion("txt.big.test.", dns.TypeTXT)
	r := dnsExchange(t, "tcp", s.tcp, m)
	if r.Truncated || len(r.Answer) != 40 {
		t.Fatalf("want all 40 records over TCP, got TC %v and %d", r.Truncated, len(r.Answer))
	}
	if !strings.Contains(r.Answer[0].String(), "padding") {
		t.Fatalf("odd answer %v", r.Answer[0])
	}
}
