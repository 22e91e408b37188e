package endpoint

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "192.0.2.7", want: "192.0.2.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "::1", want: "::1/128"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::/0", want: "::/0"},
		{in: "::ffff:192.0.2.7", want: "192.0.2.7/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:0.0.0.0/96", want: "0.0.0.0/0"},
		{in: "10.0.0.0/33", err: "not a CIDR prefix"},
		{in: "192.168.1.10/24", err: "write 192.168.1.0/24, or 192.168.1.10/32"},
		{in: "example.com", err: "not an IP address"},
		{in: "fe80::1%eth0", err: "zone"},
		{in: "", err: "not an IP address"},
		{in: "10.0.0.0/", err: "not a CIDR prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePrefix(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePrefix(%q) = %v, %v; want error with %q", tt.in, p, err, tt.err)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func TestUnmapped(t *testing.T) {
	p, _ := ParsePrefix("192.0.2.0/24")
	for _, s := range []string{"192.0.2.9", "::ffff:192.0.2.9"} {
		if !p.Contains(Unmapped(netip.MustParseAddr(s))) {
			t.Errorf("%s not in %s", s, p)
		}
	}
	v6, _ := ParsePrefix("fe80::/10")
	if !v6.Contains(Unmapped(netip.MustParseAddr("fe80::1%eth0"))) {
		t.Error("a zoned address does not match its prefix")
	}
}

// FuzzParsePrefix: never panics; a prefix it accepts is canonical (masked,
// unmapped) and parses again to itself from its String.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "::ffff:10.0.0.0/104", "2001:db8::/32", "fe80::1%x", "1.2.3.4/24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if p.Masked() != p || p.Addr().Is4In6() && p.Bits() >= 96 || p.Addr().Zone() != "" {
			t.Fatalf("ParsePrefix(%q) = %v, not canonical", s, p)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %v; again from %q: %v, %v", s, p, p.String(), again, err)
		}
	})
}
