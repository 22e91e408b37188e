package test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSMalformed: malformed packets are dropped or answered FORMERR and
// the server goes on answering.
func TestDNSMalformed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	s := startDNS(t, dir, "    zones: [example.com.zone]\n")
	c, err := net.Dial("udp", s.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := make([]byte, 4000)
	big[5] = 1
	for _, p := range [][]byte{
		{1},
		{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w'},                     // truncated question
		{0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},            // compression loop
		{0x12, 0x34, 0x01, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 1}, // absurd counts
		big,
	} {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// Whatever came back is an error, never authoritative.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if (r.Rcode != dns.RcodeFormatError && r.Rcode != dns.RcodeRefused) || r.Authoritative {
			t.Fatalf("reply to a malformed query: %v", r.MsgHdr)
		}
	}
	if r := dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA); len(r.Answer) != 2 {
		t.Fatalf("server no longer answers: %v", r)
	}
	// The same over TCP: an absurd length prefix then a close.
	tc, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte{0xff, 0xff, 1, 2, 3})
	tc.Close()
	if r := dnsAsk(t, "tcp", s.tcp, "www.example.com.", dns.TypeA); len(r.Answer) != 2 {
		t.Fatalf("server no longer answers over TCP: %v", r)
	}
}

// TestDNSRRL: beyond responses_per_second, answers to one client network
// are dropped or sent truncated.
func TestDNSRRL(t *testing.T) {
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	s := startDNS(t, dir, "    zones: [example.com.zone]\n    rrl: {responses_per_second: 5}\n")
	c, err := net.Dial("udp", s.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	const sent = 60
	for i := range sent {
		m.Id = uint16(i)
		b, _ := m.Pack()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	full, truncated := 0, 0
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if r.Truncated {
			truncated++
		} else {
			full++
		}
	}
	if full > 15 || truncated == 0 || full+truncated >= sent {
		t.Fatalf("%d full and %d truncated answers to %d queries at 5/s", full, truncated, sent)
	}
}

// TestDNSReload: SIGHUP re-reads a changed zone file and hosts file; a
// zone that no longer parses keeps its old contents.
func TestDNSReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\nwww A 192.0.2.1\n"
	writeFile(t, dir, "example.com.zone", zone)
	writeFile(t, dir, "hosts", "192.0.2.5 h.test\n")
	s := startDNS(t, dir, "    zones: [example.com.zone]\n    hosts_file: hosts\n")
	writeFile(t, dir, "example.com.zone", zone+"new A 192.0.2.2\n")
	writeFile(t, dir, "hosts", "192.0.2.5 h.test\n192.0.2.6 h2.test\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`reloaded zones and hosts file`, 5*time.Second)
	eventually(t, 5*time.Second, "the new record", func() bool {
		return len(dnsAsk(t, "udp", s.udp, "new.example.com.", dns.TypeA).Answer) == 1
	})
	if r := dnsAsk(t, "udp", s.udp, "h2.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("hosts file not re-read: %v", r)
	}
	// The reload is refused as a whole (SPEC §4: an invalid reload keeps
	// everything running as before), naming the file and line.
	writeFile(t, dir, "example.com.zone", zone+"broken A not-an-address\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`reload failed.*example.com.zone:5`, 5*time.Second)
	if r := dnsAsk(t, "udp", s.udp, "new.example.com.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("a broken zone replaced the good one: %v", r)
	}
}
