package test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startKnot runs knotd on 127.0.0.1 serving zones (domain → file in
// dir), allowing 127.0.0.1 to transfer them, and returns its address. It
// skips the test where knotd is not installed.
func startKnot(t *testing.T, dir string, zones map[string]string) string {
	t.Helper()
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		t.Skip("knotd not installed")
	}
	port := strconv.Itoa(dnsFreePort(t))
	var zs strings.Builder
	for domain, file := range zones {
		zs.WriteString("  - domain: " + domain + "\n    file: " + file + "\n")
	}
	conf := writeFile(t, dir, "knot.conf", `server:
    listen: 127.0.0.1@`+port+`
    rundir: `+dir+`
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: `+filepath.Join(dir, "db")+`
acl:
  - id: local
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: `+dir+`
    journal-content: none
    acl: local
zone:
`+zs.String()+`log:
  - target: stderr
    any: error
`)
	k := exec.Command(knotd, "-c", conf)
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Process.Kill(); k.Wait() })
	addr := "127.0.0.1:" + port
	eventually(t, 10*time.Second, "knotd to answer", func() bool {
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		for domain := range zones {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(domain), dns.TypeSOA)
			if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess {
				return false
			}
		}
		return true
	})
	return addr
}

// TestDNSCorrectMatchesKnot asks twistd and knotd the questions a
// differential test found answered wrongly — DNAME, escaped owner names,
// DS at a cut whose child is ours, a CNAME into a delegation, ANY with
// additional records, TC without EDNS0, IXFR — and compares the answers.
func TestDNSCorrectMatchesKnot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "correct.test.zone")
	dnsTestdata(t, dir, "sub.correct.test.zone")
	knot := startKnot(t, dir, map[string]string{"correct.test": "correct.test.zone", "sub.correct.test": "sub.correct.test.zone"})
	s := startDNS(t, dir, "    zones: [correct.test.zone, sub.correct.test.zone]\n    axfr_allow: [127.0.0.1]\n")

	long := strings.Repeat("x", 63) + "." + strings.Repeat("y", 63) + ".long.correct.test."
	type question struct {
		name  string
		qtype uint16
		edns  bool
	}
	var questions []question
	for _, q := range []question{
		{name: "www.old.correct.test.", qtype: dns.TypeA}, {name: "nx.old.correct.test.", qtype: dns.TypeA},
		{name: "WWW.Old.correct.test.", qtype: dns.TypeA}, {name: "www.old.correct.test.", qtype: dns.TypeCNAME},
		{name: "old.correct.test.", qtype: dns.TypeDNAME}, {name: "old.correct.test.", qtype: dns.TypeA},
		{name: "www.out.correct.test.", qtype: dns.TypeA}, {name: long, qtype: dns.TypeA},
		{name: `sp\ ace.correct.test.`, qtype: dns.TypeA}, {name: "escape.correct.test.", qtype: dns.TypeA},
		{name: "ESCAPE.correct.test.", qtype: dns.TypeA}, {name: `my\ printer._ipp._tcp.correct.test.`, qtype: dns.TypePTR},
		{name: "sub.correct.test.", qtype: dns.TypeDS}, {name: "sub.correct.test.", qtype: dns.TypeSOA},
		{name: "www.sub.correct.test.", qtype: dns.TypeA},
		{name: "alias.correct.test.", qtype: dns.TypeA}, {name: "mx.correct.test.", qtype: dns.TypeANY},
		{name: "mx.correct.test.", qtype: dns.TypeMX}, {name: "big.correct.test.", qtype: dns.TypeTXT},
	} {
		questions = append(questions, q, question{name: q.name, qtype: q.qtype, edns: true})
	}
	ask := func(netw, addr string, q question) string {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.RecursionDesired = false
		if q.edns {
			m.SetEdns0(1232, false)
		}
		c := &dns.Client{Net: netw, Timeout: 3 * time.Second}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s %s %s @%s: %v", netw, q.name, dns.TypeToString[q.qtype], addr, err)
		}
		return dnsSummary(r)
	}
	for _, netw := range []string{"udp", "tcp"} {
		ours := s.udp
		if netw == "tcp" {
			ours = s.tcp
		}
		for _, q := range questions {
			if want, got := ask(netw, knot, q), ask(netw, ours, q); got != want {
				t.Errorf("%s %s %s edns=%v:\ntwistd:\n%s\nknot:\n%s", netw, q.name, dns.TypeToString[q.qtype], q.edns, got, want)
			}
		}
	}

	// IXFR: over UDP a single SOA whatever the client's serial; over TCP a
	// single SOA when the client has our serial or a newer one.
	for _, tt := range []struct {
		netw   string
		serial uint32
	}{{"udp", 5}, {"udp", 4}, {"udp", 9}, {"tcp", 5}, {"tcp", 9}} {
		m := new(dns.Msg)
		m.SetIxfr("correct.test.", tt.serial, "ns.correct.test.", "hostmaster.correct.test.")
		want := dnsSummary(dnsExchange(t, tt.netw, knot, m))
		got := dnsSummary(dnsExchange(t, tt.netw, s.udpOrTCP(tt.netw), m))
		if got != want {
			t.Errorf("IXFR serial %d over %s:\ntwistd:\n%s\nknot:\n%s", tt.serial, tt.netw, got, want)
		}
	}

	// Two OPT records: FORMERR (RFC 6891 §6.1.1).
	m := new(dns.Msg)
	m.SetQuestion("ns.correct.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.Extra = append(m.Extra, m.Extra[0])
	kr, ours := dnsExchange(t, "udp", knot, m), dnsExchange(t, "udp", s.udp, m)
	if ours.Rcode != dns.RcodeFormatError || ours.Rcode != kr.Rcode {
		t.Errorf("two OPTs: twistd %s, knot %s", dns.RcodeToString[ours.Rcode], dns.RcodeToString[kr.Rcode])
	}
}

func (s *dnsServer) udpOrTCP(netw string) string {
	if netw == "tcp" {
		return s.tcp
	}
	return s.udp
}

// TestDNSDataErrorsAreLoud: bad hosts-file lines and zone-parser errors
// are reported with file:line in words that say what is wrong; suspect
// zone data is warned about at load and reload.
func TestDNSDataErrorsAreLoud(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n"
	for _, tt := range []struct{ name, zone, hosts, want string }{
		{name: "bad address", zone: zone, hosts: "127.0.0.1 localhost\n300.1.1.1 bad.example\n", want: `hosts:2: bad address "300.1.1.1"`},
		{name: "no names", zone: zone, hosts: "192.0.2.1\n", want: `hosts:1: no names after address "192.0.2.1"`},
		{name: "bad ipv4", zone: zone + "www A 999.1.1.1\n", want: `z.zone:4:15: bad IPv4 address "999.1.1.1" in A record`},
		{name: "unknown type", zone: zone + "www AAAAA 192.0.2.1\n", want: `z.zone:4:10: unknown record type "AAAAA"`},
		{name: "missing paren", zone: "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h ( 1 2 3 4 5\nwww A 192.0.2.1\n", want: `z.zone:3: SOA record: missing ")"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, dir, "z.zone", tt.zone)
			body := "    zones: [z.zone]\n"
			if tt.hosts != "" {
				writeFile(t, dir, "hosts", tt.hosts)
				body += "    hosts_file: hosts\n"
			}
			app := writeFile(t, dir, "app.yaml", "services:\n  - name: names\n    type: dns\n    listen: udp:0\n"+body)
			res := twistd(t, dir, nil, "check", "-c", app)
			if out := res.stdout + res.stderr; res.code != 2 || !strings.Contains(out, tt.want) {
				t.Fatalf("check exited %d, want 2 and %q:\n%s", res.code, tt.want, out)
			}
		})
	}

	writeFile(t, dir, "z.zone", zone+"www 60 A 192.0.2.1\nwww 120 A 192.0.2.2\n")
	writeFile(t, dir, "hosts", "192.0.2.5 h.test\n")
	s := startDNS(t, dir, "    zones: [z.zone]\n    hosts_file: hosts\n")
	s.waitFor(`z.zone: www.example.com. A: records of one set have different TTLs`, 5*time.Second)
	// The zone changes, its serial does not.
	writeFile(t, dir, "z.zone", zone+"www 60 A 192.0.2.1\nnew A 192.0.2.3\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`z.zone: zone example.com. changed but its serial 1 did not`, 5*time.Second)
	// A bad line on reload: reported at its line, the old names kept.
	writeFile(t, dir, "hosts", "192.0.2.5 h.test\nnot-an-address x.test\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(`hosts:2: bad address`, 5*time.Second)
	if r := dnsAsk(t, "udp", s.udp, "h.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("a bad hosts file replaced the good one: %v", r)
	}
}
