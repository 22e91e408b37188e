package test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer is a running twistd with one dns service listening on a UDP
// and a TCP address.
type dnsServer struct {
	*server
	udp, tcp string
}

// startDNS writes app.yaml with one dns service whose own keys are body
// (YAML lines indented for the service entry) and starts it on ephemeral
// UDP and TCP ports.
func startDNS(t *testing.T, dir, body string) *dnsServer {
	t.Helper()
	app := writeFile(t, dir, "app.yaml", "services:\n  - name: names\n    type: dns\n"+
		"    listen: [udp:0:interface=127.0.0.1, tcp:0:interface=127.0.0.1]\n"+body)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addrs := s.addrs()
	if len(addrs) < 2 {
		t.Fatalf("want a UDP and a TCP address, got %v", addrs)
	}
	return &dnsServer{server: s, udp: addrs[0], tcp: addrs[1]}
}

// copyTestdata copies test/testdata/dns/name into dir.
func dnsTestdata(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dns", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(b))
}

// ask sends one question over net ("udp" or "tcp") and returns the reply.
func dnsAsk(t *testing.T, netw, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	return dnsExchange(t, netw, addr, m)
}

func dnsExchange(t *testing.T, netw, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second, UDPSize: 4096}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s @%s: %v", netw, m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], addr, err)
	}
	return r
}

// summary renders a reply for comparison: rcode, the AA and TC flags, and
// each section's records sorted, names in lower case, OPT left out.
func dnsSummary(r *dns.Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s aa=%v tc=%v\n", dns.RcodeToString[r.Rcode], r.Authoritative, r.Truncated)
	for i, sec := range [][]dns.RR{r.Answer, r.Ns, r.Extra} {
		var lines []string
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			lines = append(lines, strings.ToLower(rr.String()))
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s:\n  %s\n", []string{"answer", "authority", "additional"}[i], strings.Join(lines, "\n  "))
	}
	return b.String()
}
