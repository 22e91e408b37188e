package test

import (
	be "encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// bigTXTZone is a zone whose txt.big.test. answer is ~3 KB.
func bigTXTZone() string {
	var b strings.Builder
	b.WriteString("$ORIGIN big.test.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n")
	for i := range 40 {
		fmt.Fprintf(&b, "txt TXT \"record %d with some padding to make the answer large enough\"\n", i)
	}
	return b.String()
}

// TestDNSTransport: EDNS0 sizes, BADVERS, TC over UDP, several queries on
// one TCP connection, and the TCP idle timeout.
func TestDNSTransport(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "big.zone", bigTXTZone())
	s := startDNS(t, dir, "    zones: [big.zone]\n    policies: {idle_timeout: 500ms}\n")

	t.Run("udp without edns truncates at 512", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("txt.big.test.", dns.TypeTXT)
		c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
		r, _, err := c.Exchange(m, s.udp)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Truncated || r.IsEdns0() != nil {
			t.Fatalf("want TC and no OPT: %v", r.MsgHdr)
		}
	})
	t.Run("edns 1232", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("txt.big.test.", dns.TypeTXT)
		m.SetEdns0(4096, false)
		r := dnsExchange(t, "udp", s.udp, m)
		r.Compress = true // as sent
		if !r.Truncated || r.IsEdns0() == nil || r.IsEdns0().UDPSize() != 1232 || r.Len() > 1232 {
			t.Fatalf("want TC, OPT 1232, at most 1232 bytes: %v (%d bytes)", r.MsgHdr, r.Len())
		}
		r = dnsExchange(t, "tcp", s.tcp, m)
		if r.Truncated || len(r.Answer) != 40 {
			t.Fatalf("TCP: TC %v, %d records", r.Truncated, len(r.Answer))
		}
	})
	t.Run("badvers", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("ns.big.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		r := dnsExchange(t, "udp", s.udp, m)
		if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil {
			t.Fatalf("rcode %s, want BADVERS with OPT", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("tcp pipelining and idle timeout", func(t *testing.T) {
		c, err := net.Dial("tcp", s.tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var frames []byte
		for i := range 3 {
			m := new(dns.Msg)
			m.SetQuestion("ns.big.test.", dns.TypeA)
			m.Id = uint16(100 + i)
			b, _ := m.Pack()
			frames = be.BigEndian.AppendUint16(frames, uint16(len(b)))
			frames = append(frames, b...)
		}
		if _, err := c.Write(frames); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			b := make([]byte, be.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(c, b); err != nil {
				t.Fatal(err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil || r.Id != uint16(100+i) || len(r.Answer) != 1 {
				t.Fatalf("reply %d: %v %v", i, r, err)
			}
		}
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection: read %v, want EOF", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("idle connection closed after %s", d)
		}
	})
}

// TestDNSOneLiner runs `twistd dns -p N --interface 127.0.0.1 ...`: the
// port serves UDP and TCP, and -v logs each query.
func TestDNSOneLiner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	writeFile(t, dir, "hosts", "192.0.2.9 host.test\n")
	port := strconv.Itoa(dnsFreePort(t))
	s := start(t, dir, nil, "-n", "--pidfile=", "dns", "--interface", "127.0.0.1", "-p", port,
		"--bindzone", "example.com.zone", "--hosts-file", "hosts", "-v")
	addr := "127.0.0.1:" + port
	if got := s.addrs(); len(got) != 2 || got[0] != addr || got[1] != addr {
		t.Fatalf("listening on %v, want %s twice (udp and tcp)", got, addr)
	}
	if r := dnsAsk(t, "udp", addr, "host.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("udp: %v", r)
	}
	if r := dnsAsk(t, "tcp", addr, "www.example.com.", dns.TypeA); len(r.Answer) != 2 {
		t.Fatalf("tcp: %v", r)
	}
	line := s.waitFor(`query.*www\.example\.com\.`, 5*time.Second)
	for _, want := range []string{`"client"`, `"type": "A"`, `"rcode": "NOERROR"`, `"us"`} {
		if !strings.Contains(line, want) {
			t.Errorf("query log line lacks %s: %s", want, line)
		}
	}
	res := twistd(t, dir, nil, "dns", "--secondary", "nozone")
	if res.code != 2 {
		t.Errorf("bad --secondary: exit %d, want 2", res.code)
	}
}

// TestDNSOneLinerShortFlagsAndEndpoint: twistd dns's short flags (-i, -p,
// -v) and a --port given as an endpoint string, which binds just that.
func TestDNSOneLinerShortFlagsAndEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	port := strconv.Itoa(dnsFreePort(t))
	s := start(t, dir, nil, "-n", "--pidfile=", "dns", "-i", "127.0.0.1", "-p", port, "--bindzone", "example.com.zone", "-v")
	if got := s.addrs(); len(got) != 2 || got[0] != "127.0.0.1:"+port {
		t.Fatalf("-i 127.0.0.1 -p %s: listening on %v", port, got)
	}
	s.waitFor("ready", 5*time.Second)
	one := start(t, dir, nil, "-n", "--pidfile=", "dns", "-p", "tcp:0:interface=127.0.0.1", "--bindzone", "example.com.zone")
	got := one.addrs()
	if len(got) != 1 {
		t.Fatalf("-p tcp:0:interface=127.0.0.1: listening on %v, want one TCP endpoint", got)
	}
	if r := dnsAsk(t, "tcp", got[0], "www.example.com.", dns.TypeA); len(r.Answer) != 2 {
		t.Fatalf("tcp: %v", r)
	}
	if r := twistd(t, dir, nil, "dns", "-i", "127.0.0.1", "-p", "tcp:0"); r.code != 2 || !strings.Contains(r.stderr, "--interface") {
		t.Fatalf("-i beside an endpoint --port: exit %d, %s", r.code, r.stderr)
	}
}

// TestDNSUDPHandOver: a changed dns service takes its UDP socket over on
// reload while queries keep coming, three times. None is lost although
// the readers take many datagrams per system call, and each generation
// ends up answering alone. (That a reader stops when its handle closes is
// TestUDPStopsWithItsHandle's: here the old one might just lose the race.)
func TestDNSUDPHandOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := func(gen int) string {
		return "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h " + strconv.Itoa(gen) + " 3600 600 86400 60\nwww A 192.0.2." + strconv.Itoa(gen) + "\n"
	}
	body := func(gen int) string { return "    zones: [example.com.zone]\n    ttl: " + strconv.Itoa(gen) + "\n" }
	writeFile(t, dir, "example.com.zone", zone(1))
	s := startDNS(t, dir, body(1))
	app := filepath.Join(dir, "app.yaml")

	ask := func(c *dns.Client) (string, error) {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		r, _, err := c.Exchange(m, s.udp)
		if err != nil {
			return "", err
		}
		if len(r.Answer) != 1 {
			return "", fmt.Errorf("answer %v", r.Answer)
		}
		return r.Answer[0].(*dns.A).A.String(), nil
	}
	stop := make(chan struct{})
	var (
		mu     sync.Mutex
		failed []error
		sent   int
	)
	var load sync.WaitGroup
	for range 4 {
		load.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := ask(c)
				mu.Lock()
				sent++
				if err != nil {
					failed = append(failed, err)
				}
				mu.Unlock()
			}
		})
	}
	for gen := 2; gen <= 4; gen++ {
		writeFile(t, dir, "example.com.zone", zone(gen))
		reloadTo(t, s.server, app, "services:\n  - name: names\n    type: dns\n"+
			"    listen: [udp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1]\n"+body(gen), gen-1)
		want := "192.0.2." + strconv.Itoa(gen)
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		eventually(t, 5*time.Second, "only generation "+strconv.Itoa(gen)+" to answer", func() bool {
			for range 50 {
				if got, err := ask(c); err != nil || got != want {
					return false
				}
			}
			return true
		})
	}
	close(stop)
	load.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d queries failed during hand-overs, first: %v", len(failed), sent, failed[0])
	}
	t.Logf("%d queries over 3 hand-overs, none lost", sent)
}
