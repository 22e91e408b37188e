package test

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// udpFrom opens a UDP socket bound to the given loopback source, connected to addr.
func udpFrom(t *testing.T, from net.IP, addr string) *net.UDPConn {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: from}, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// noAnswer checks nothing came back on c. It is called once the server
// counted the datagram refused, so a short wait is enough.
func noAnswer(t *testing.T, c *net.UDPConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 512)); err == nil {
		t.Fatalf("a denied source got a %d-byte answer", n)
	}
}

// allow:/deny: on datagram services: a denied source's datagram is dropped
// before the protocol sees it, on echo (the reactor's packet loop) and on
// dns (its own readers) alike.
func TestAccessDatagram(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "hosts", "192.0.2.10 printer.home.arpa\n")
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: echoes
    type: echo
    listen: udp:0:interface=127.0.0.1
    deny: [127.0.0.2]
  - name: names
    type: dns
    listen: [udp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1]
    hosts_file: ./hosts
    allow: [127.0.0.1]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	a := s.addrs()
	admin, echoes, dnsUDP, dnsTCP := a[0], a[1], a[2], a[3]

	denied := udpFrom(t, deniedSource.IP, echoes)
	denied.Write([]byte("are you there"))
	metricsHas(t, admin, `twistd_connections_refused_total{reason="deny",service="echoes"} 1`)
	noAnswer(t, denied)
	ok := udpFrom(t, allowedSource.IP, echoes)
	ok.SetDeadline(time.Now().Add(5 * time.Second))
	ok.Write([]byte("ping"))
	buf := make([]byte, 16)
	if n, err := ok.Read(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("allowed source: %q, %v", buf[:n], err)
	}

	q := new(dns.Msg)
	q.SetQuestion("printer.home.arpa.", dns.TypeA)
	wire, _ := q.Pack()
	deniedDNS := udpFrom(t, deniedSource.IP, dnsUDP)
	deniedDNS.Write(wire)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="allow",service="names"} 1`)
	noAnswer(t, deniedDNS)
	if r := dnsAsk(t, "udp", dnsUDP, "printer.home.arpa.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("allowed source over UDP: %v", r)
	}
	// The same rules hold for the service's TCP listener.
	refusedSilently(t, dialFrom(t, deniedSource, dnsTCP), "")
	if r := dnsAsk(t, "tcp", dnsTCP, "printer.home.arpa.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("allowed source over TCP: %v", r)
	}
	s.waitFor(`datagram refused.*127\.0\.0\.2`, 5*time.Second)
}
