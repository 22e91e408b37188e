package test

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSAXFR transfers a zone over TCP to an allowed client and refuses
// others.
func TestDNSAXFR(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dnsTestdata(t, dir, "example.com.zone")
	open := startDNS(t, dir, "    zones: [example.com.zone]\n    axfr_allow: [127.0.0.0/8]\n")
	// A second process: two services with the same port-0 endpoint would share one socket.
	cdir := t.TempDir()
	dnsTestdata(t, cdir, "example.com.zone")
	closed := startDNS(t, cdir, "    zones: [example.com.zone]\n    axfr_allow: [10.0.0.0/8]\n")
	rrs := axfr(t, open.tcp, "example.com.")
	if len(rrs) != 27 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("AXFR gave %d records (want 26 and the closing SOA)", len(rrs))
	}
	m := new(dns.Msg)
	m.SetAxfr("example.com.")
	if r := dnsExchange(t, "tcp", closed.tcp, m); r.Rcode != dns.RcodeRefused {
		t.Fatalf("AXFR from a network not allowed: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if r := dnsExchange(t, "udp", open.udp, m); r.Rcode == dns.RcodeSuccess {
		t.Fatalf("AXFR over UDP answered: %v", r)
	}
}

func axfr(t *testing.T, addr, zone string) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(zone)
	tr := &dns.Transfer{}
	envs, err := tr.In(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []dns.RR
	for e := range envs {
		if e.Error != nil {
			t.Fatal(e.Error)
		}
		rrs = append(rrs, e.RR...)
	}
	return rrs
}

func secondaryZone(serial int, extra string) string {
	return "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h " + strconv.Itoa(serial) + " 3600 1 4 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.80\n" + extra
}

// TestDNSSecondary keeps a secondary zone from a primary twistd: SERVFAIL
// before the first transfer, the zone after it, a NOTIFY bringing a new
// serial at once, and SERVFAIL again once the SOA's expire passes
// without the primary.
func TestDNSSecondary(t *testing.T) {
	t.Parallel()
	pdir := t.TempDir()
	port := strconv.Itoa(dnsFreePort(t))
	primary := "127.0.0.1:" + port
	papp := writeFile(t, pdir, "app.yaml", "services:\n  - name: primary\n    type: dns\n"+
		"    listen: [udp:"+port+":interface=127.0.0.1, tcp:"+port+":interface=127.0.0.1]\n"+
		"    zones: [example.com.zone]\n    axfr_allow: [127.0.0.1]\n")
	writeFile(t, pdir, "example.com.zone", secondaryZone(1, ""))

	sdir := t.TempDir()
	s := startDNS(t, sdir, "    secondary: [{zone: example.com, primary: \""+primary+"\"}]\n")
	if r := dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first transfer: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	notify := func() {
		m := new(dns.Msg)
		m.SetNotify("example.com.")
		if r := dnsExchange(t, "udp", s.udp, m); r.Rcode != dns.RcodeSuccess || r.Opcode != dns.OpcodeNotify {
			t.Fatalf("NOTIFY: %v", r)
		}
	}
	p := start(t, pdir, nil, "-n", "--pidfile=", "-c", papp)
	notify()
	eventually(t, 10*time.Second, "the first transfer", func() bool {
		r := dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA)
		return r.Rcode == dns.RcodeSuccess && r.Authoritative && len(r.Answer) == 1
	})

	// A new serial on the primary, announced by NOTIFY.
	p.signal(syscall.SIGTERM)
	p.wait(10 * time.Second)
	writeFile(t, pdir, "example.com.zone", secondaryZone(2, "new A 192.0.2.81\n"))
	start(t, pdir, nil, "-n", "--pidfile=", "-c", papp)
	notify()
	eventually(t, 5*time.Second, "the NOTIFYed serial", func() bool {
		return len(dnsAsk(t, "udp", s.udp, "new.example.com.", dns.TypeA).Answer) == 1
	})
	s.waitFor(`zone transferred.*"serial": 2`, 5*time.Second)

	// A NOTIFY for a zone we are not secondary for is refused.
	m := new(dns.Msg)
	m.SetNotify("example.org.")
	if r := dnsExchange(t, "udp", s.udp, m); r.Rcode != dns.RcodeRefused {
		t.Fatalf("foreign NOTIFY: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestDNSSecondaryExpires: with the primary gone, the zone expires after
// the SOA's expire interval and answers SERVFAIL.
func TestDNSSecondaryExpires(t *testing.T) {
	t.Parallel()
	// The secondary refreshes over UDP and transfers over TCP from one
	// address, so the primary listens on one port for both.
	port := strconv.Itoa(dnsFreePort(t))
	pdir2 := t.TempDir()
	writeFile(t, pdir2, "example.com.zone", secondaryZone(1, ""))
	papp := writeFile(t, pdir2, "app.yaml", "services:\n  - name: primary\n    type: dns\n"+
		"    listen: [udp:"+port+":interface=127.0.0.1, tcp:"+port+":interface=127.0.0.1]\n"+
		"    zones: [example.com.zone]\n    axfr_allow: [127.0.0.1]\n")
	primary := start(t, pdir2, nil, "-n", "--pidfile=", "-c", papp)
	s := startDNS(t, t.TempDir(), "    secondary: [{zone: example.com, primary: \"127.0.0.1:"+port+"\"}]\n")
	eventually(t, 10*time.Second, "the first transfer", func() bool {
		return dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA).Rcode == dns.RcodeSuccess
	})
	primary.signal(syscall.SIGTERM)
	primary.wait(10 * time.Second)
	eventually(t, 15*time.Second, "the zone to expire", func() bool {
		return dnsAsk(t, "udp", s.udp, "www.example.com.", dns.TypeA).Rcode == dns.RcodeServerFailure
	})
	s.waitFor(`zone expired`, time.Second)
}

// TestDNSAlsoNotify: a primary twistd NOTIFYs the secondaries of
// also_notify when it starts and when a reload brings a zone a new
// serial, so a secondary twistd serves the new data at once rather than
// at its next refresh (an hour away here).
func TestDNSAlsoNotify(t *testing.T) {
	t.Parallel()
	zone := func(serial int, extra string) string {
		return "$ORIGIN example.com.\n$TTL 60\n@ SOA ns h " + strconv.Itoa(serial) +
			" 3600 3600 86400 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.80\n" + extra
	}
	port := strconv.Itoa(dnsFreePort(t))
	// The secondary first: its transfer fails until the primary is up.
	b := startDNS(t, t.TempDir(), "    secondary: [{zone: example.com, primary: \"127.0.0.1:"+port+"\"}]\n")

	adir := t.TempDir()
	writeFile(t, adir, "example.com.zone", zone(1, ""))
	aapp := writeFile(t, adir, "app.yaml", "services:\n  - name: primary\n    type: dns\n"+
		"    listen: [udp:"+port+":interface=127.0.0.1, tcp:"+port+":interface=127.0.0.1]\n"+
		"    zones: [example.com.zone]\n    axfr_allow: [127.0.0.1]\n"+
		"    also_notify: [\""+b.udp+"\"]\n")
	a := start(t, adir, nil, "-n", "--pidfile=", "-c", aapp)
	a.waitFor(`notify answered.*"serial": 1`, 10*time.Second)
	eventually(t, 10*time.Second, "the first transfer", func() bool {
		return dnsAsk(t, "udp", b.udp, "www.example.com.", dns.TypeA).Rcode == dns.RcodeSuccess
	})

	writeFile(t, adir, "example.com.zone", zone(2, "new A 192.0.2.81\n"))
	a.signal(syscall.SIGHUP)
	eventually(t, 2*time.Second, "the new serial on the secondary", func() bool {
		return len(dnsAsk(t, "udp", b.udp, "new.example.com.", dns.TypeA).Answer) == 1
	})
	a.waitFor(`notify answered.*"serial": 2`, 5*time.Second)
	b.waitFor(`notify received`, time.Second)

	// A changed file with the same serial is not announced: secondaries
	// would not transfer it anyway.
	writeFile(t, adir, "example.com.zone", zone(2, "new A 192.0.2.81\nnewer A 192.0.2.82\n"))
	a.signal(syscall.SIGHUP)
	a.waitFor(`example.com.zone: zone example.com. changed but its serial 2 did not`, 5*time.Second)
}
