package test

import (
	"crypto/tls"
	be "encoding/binary"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNS over TCP runs on the reactor's stream path like every other stream
// service: ssl: and haproxy: endpoints, policies, pipelining.

const streamZone = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns h 7 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.80\n"

// startDNSOn starts one dns service serving example.test on the given
// endpoints (YAML flow list items) with the extra keys in body.
func startDNSOn(t *testing.T, dir, listen, body string) *server {
	t.Helper()
	writeFile(t, dir, "example.zone", streamZone)
	app := writeFile(t, dir, "app.yaml", "services:\n  - name: names\n    type: dns\n"+
		"    listen: ["+listen+"]\n    zones: [example.zone]\n"+body)
	return start(t, dir, nil, "-n", "--pidfile=", "-c", app)
}

// tcpQuery frames a question for DNS over TCP.
func tcpQuery(t *testing.T, id uint16, name string, qtype uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(be.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// readTCPReply reads one length-prefixed reply.
func readTCPReply(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	b := make([]byte, be.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return r
}

// closedSoon reports whether the server closes c without a reply.
func closedSoon(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
}

func TestDNSOverTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir)
	s := startDNSOn(t, dir, "udp:0:interface=127.0.0.1, \"ssl:0:privateKey=key.pem:certKey=cert.pem:interface=127.0.0.1\"", "")
	addr := s.addrs()[1]

	c := &dns.Client{Net: "tcp-tls", Timeout: 5 * time.Second,
		TLSConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	m := new(dns.Msg)
	m.SetQuestion("example.test.", dns.TypeSOA)
	r, _, err := c.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
		t.Fatalf("SOA over TLS: %v %v", r, err)
	}

	t.Run("plaintext is not answered", func(t *testing.T) {
		pc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		pc.Write(tcpQuery(t, 9, "example.test.", dns.TypeSOA))
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(pc)
		if len(b) >= 2 {
			r := new(dns.Msg)
			if r.Unpack(b[2:]) == nil {
				t.Fatalf("a plaintext query on ssl: got a DNS answer: %v", r)
			}
		}
	})

	t.Run("kdig +tls", func(t *testing.T) {
		kdig, err := exec.LookPath("kdig")
		if err != nil {
			t.Skip("kdig not installed (Debian: knot-dnsutils)")
		}
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(kdig, "+tls", "+short", "+timeout=5", "@"+host, "-p", port, "www.example.test", "A").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "192.0.2.80" {
			t.Fatalf("kdig +tls: %v\n%s", err, out)
		}
	})
}

func TestDNSOverHAProxyEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Only the client the PROXY header names may transfer the zone.
	s := startDNSOn(t, dir, "udp:0:interface=127.0.0.1, \"haproxy:tcp:0:interface=127.0.0.1\"",
		"    axfr_allow: [192.0.2.7]\n    query_log: true\n")
	addr := s.addrs()[1]
	dial := func(header string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(header))
		return c
	}

	c := dial("PROXY TCP4 192.0.2.7 127.0.0.1 40000 53\r\n")
	c.Write(tcpQuery(t, 1, "example.test.", dns.TypeAXFR))
	r := readTCPReply(t, c)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 {
		t.Fatalf("AXFR from the allowed client named by the header: %s, %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	s.waitFor(`"client": "192.0.2.7:40000"|client=192.0.2.7:40000|192\.0\.2\.7:40000`, 5*time.Second)

	other := dial("PROXY TCP4 198.51.100.1 127.0.0.1 40001 53\r\n")
	other.Write(tcpQuery(t, 2, "example.test.", dns.TypeAXFR))
	if r := readTCPReply(t, other); r.Rcode != dns.RcodeRefused {
		t.Fatalf("AXFR from a client the header names but axfr_allow does not: %s", dns.RcodeToString[r.Rcode])
	}

	bare := dial("")
	bare.Write(tcpQuery(t, 3, "www.example.test.", dns.TypeA))
	if !closedSoon(bare) {
		t.Fatal("a connection without a PROXY header was not closed")
	}
}

func TestDNSPoliciesCapTCP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startDNSOn(t, dir, "udp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1",
		"    policies: {max_connections: 2}\n")
	addr := s.addrs()[1]
	open := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	first, second := open(), open()
	for i, c := range []net.Conn{first, second} {
		c.Write(tcpQuery(t, uint16(i), "www.example.test.", dns.TypeA))
		if r := readTCPReply(t, c); len(r.Answer) != 1 {
			t.Fatalf("connection %d: %v", i, r)
		}
	}
	third := open()
	third.Write(tcpQuery(t, 3, "www.example.test.", dns.TypeA))
	if !closedSoon(third) {
		t.Fatal("the connection past max_connections was served")
	}
	first.Close()
	eventually(t, 5*time.Second, "a place frees up once a connection closes", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(tcpQuery(t, 4, "www.example.test.", dns.TypeA))
		var l [2]byte
		_, err = io.ReadFull(c, l[:])
		return err == nil
	})
}

// TestDNSTCPPipelinesPastASlowUpstream: a forwarded question whose
// upstream is slow holds up none of the questions behind it on the same
// connection (RFC 7766 §6.2.1.1); its answer follows when upstream replies.
func TestDNSTCPPipelinesPastASlowUpstream(t *testing.T) {
	t.Parallel()
	up, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	asked := make(chan struct{})
	release := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		n, from, err := up.ReadFrom(buf)
		if err != nil {
			return
		}
		close(asked)
		<-release
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil {
			return
		}
		a := new(dns.Msg)
		a.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 203.0.113.9")
		a.Answer = []dns.RR{rr}
		b, _ := a.Pack()
		up.WriteTo(b, from)
	}()

	dir := t.TempDir()
	s := startDNSOn(t, dir, "udp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1",
		"    forward: [\""+up.LocalAddr().String()+"\"]\n")
	c, err := net.Dial("tcp", s.addrs()[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(append(tcpQuery(t, 1, "elsewhere.example.", dns.TypeA), tcpQuery(t, 2, "www.example.test.", dns.TypeA)...))
	select {
	case <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the question was not forwarded")
	}
	if r := readTCPReply(t, c); r.Id != 2 || len(r.Answer) != 1 {
		t.Fatalf("first reply: id %d %v, want the local answer (id 2) while upstream is slow", r.Id, r.Answer)
	}
	close(release)
	r := readTCPReply(t, c)
	if r.Id != 1 || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "203.0.113.9" {
		t.Fatalf("second reply: id %d %v, want upstream's answer (id 1)", r.Id, r.Answer)
	}
}
