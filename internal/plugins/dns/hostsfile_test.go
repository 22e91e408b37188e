package dns

import (
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const testHosts = `# comment
127.0.0.1	localhost
192.0.2.10  Alpha.example alpha  beta.example # trailing comment
2001:db8::10 alpha.example
fe80::1%lo0 linklocal.example
not-an-address foo
192.0.2.11
::ffff:192.0.2.12 mapped.example
`

func TestParseHosts(t *testing.T) {
	h, err := ParseHosts(strings.NewReader(testHosts))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		{name: "localhost.", want: []string{"127.0.0.1"}},
		{name: "ALPHA.example.", want: []string{"192.0.2.10", "2001:db8::10"}},
		{name: "alpha.", want: []string{"192.0.2.10"}},
		{name: "beta.example.", want: []string{"192.0.2.10"}},
		{name: "linklocal.example.", want: []string{"fe80::1"}},
		{name: "mapped.example.", want: []string{"192.0.2.12"}},
		{name: "foo.", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range h.Addrs(tt.name) {
				got = append(got, a.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Addrs(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	if h.Skipped != 2 {
		t.Errorf("Skipped = %d, want 2", h.Skipped)
	}
	rev, _ := dns.ReverseAddr("192.0.2.10")
	if got := h.Names(rev); strings.Join(got, " ") != "Alpha.example. alpha. beta.example." {
		t.Errorf("Names(%s) = %v", rev, got)
	}
}

func TestHostsLookup(t *testing.T) {
	h, err := ParseHosts(strings.NewReader(testHosts))
	if err != nil {
		t.Fatal(err)
	}
	s := &store{zones: map[string]*Zone{}, hosts: h, ttl: 60}
	tests := []struct {
		name, qname string
		qtype       uint16
		want        []string
		found       bool
	}{
		{name: "A", qname: "Alpha.Example.", qtype: dns.TypeA, want: []string{"Alpha.Example.\t60\tIN\tA\t192.0.2.10"}, found: true},
		{name: "AAAA", qname: "alpha.example.", qtype: dns.TypeAAAA, want: []string{"alpha.example.\t60\tIN\tAAAA\t2001:db8::10"}, found: true},
		{name: "NODATA", qname: "beta.example.", qtype: dns.TypeAAAA, found: true},
		{name: "MX NODATA", qname: "beta.example.", qtype: dns.TypeMX, found: true},
		{name: "PTR", qname: "10.2.0.192.in-addr.arpa.", qtype: dns.TypePTR, found: true,
			want: []string{"10.2.0.192.in-addr.arpa.\t60\tIN\tPTR\tAlpha.example.", "10.2.0.192.in-addr.arpa.\t60\tIN\tPTR\talpha.", "10.2.0.192.in-addr.arpa.\t60\tIN\tPTR\tbeta.example."}},
		{name: "unknown", qname: "gamma.example.", qtype: dns.TypeA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := s.resolve(tt.qname, tt.qtype)
			if ok != tt.found {
				t.Fatalf("found = %v, want %v", ok, tt.found)
			}
			var got []string
			for _, rr := range res.answer {
				got = append(got, rr.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
			if ok && (!res.authoritative || res.rcode != dns.RcodeSuccess) {
				t.Errorf("aa %v rcode %d", res.authoritative, res.rcode)
			}
		})
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add(testHosts)
	f.Add("::1 localhost ip6-localhost\n")
	f.Add("10.0.0.1 a.b.c..\n")
	f.Add(":: \xf7\xcf00\xd000\xc1\xa30\xa9000\xa2000\xf1\xce\xf0\x8a\x86\x8e\xf0\xa6\xf800\x84") // raw bytes as a name
	f.Fuzz(func(t *testing.T, text string) {
		h, err := ParseHosts(strings.NewReader(text))
		if err != nil {
			return
		}
		for name, addrs := range h.byName {
			if len(addrs) == 0 {
				t.Fatalf("%q has no address", name)
			}
			res := h.lookup(name, dns.TypeANY, 60)
			for _, rr := range res.answer {
				if _, err := dns.NewRR(rr.String()); err != nil {
					t.Fatalf("answer %q does not round-trip: %v", rr, err)
				}
			}
		}
	})
}

// A line that is not an address followed by names is reported with its
// file and line, as dnsmasq does, and the file is not served.
func TestReadHostsReportsBadLines(t *testing.T) {
	path := t.TempDir() + "/hosts"
	if err := os.WriteFile(path, []byte(testHosts+"192.0.2.13 bad@name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readHosts(path)
	if err == nil {
		t.Fatal("bad lines accepted")
	}
	for _, want := range []string{path + `:6: bad address "not-an-address"`, path + `:7: no names after address "192.0.2.11"`, path + `:9: bad host name "bad@name"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want it to say %q", err, want)
		}
	}
}
