package socks

import (
	"net/netip"
	"testing"
)

func TestRules(t *testing.T) {
	mustDeny := func(s string) denyRule {
		r, err := parseDeny(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	open := &rules{}
	lo := &rules{allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	world := &rules{allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	some := &rules{
		allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		deny:  []denyRule{mustDeny("10.1.0.0/16"), mustDeny("10.0.0.0/8:25")},
	}
	for _, tc := range []struct {
		r    *rules
		addr string
		port uint16
		want string
	}{
		{open, "93.184.216.34", 80, ""},
		{open, "2001:db8::1", 80, ""},
		{open, "127.0.0.1", 80, refusedLocal},
		{open, "127.1.2.3", 80, refusedLocal},
		{open, "::1", 80, refusedLocal},
		{open, "::ffff:127.0.0.1", 80, refusedLocal},
		{open, "0.0.0.0", 80, refusedLocal},
		{open, "::", 80, refusedLocal},
		{open, "169.254.169.254", 80, refusedLocal},
		{open, "fe80::1%eth0", 80, refusedLocal},
		{lo, "127.0.0.1", 80, ""},
		{lo, "127.0.0.2", 80, refusedLocal},
		{lo, "93.184.216.34", 80, refusedAllow},
		{world, "127.0.0.1", 80, refusedLocal}, // a wide allow does not open loopback
		{world, "8.8.8.8", 53, ""},
		{some, "10.2.3.4", 80, ""},
		{some, "10.2.3.4", 25, refusedDeny},
		{some, "10.1.3.4", 80, refusedDeny},
		{some, "192.0.2.1", 80, refusedAllow},
	} {
		if got := tc.r.check(netip.MustParseAddr(tc.addr), tc.port); got != tc.want {
			t.Errorf("%+v check %s:%d = %q, want %q", tc.r, tc.addr, tc.port, got, tc.want)
		}
	}
}

func TestParseDeny(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // prefix
		port uint16
		bad  bool
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.0.0.0/8:25", want: "10.0.0.0/8", port: 25},
		{in: "192.0.2.1", want: "192.0.2.1/32"},
		{in: "192.0.2.1:22", want: "192.0.2.1/32", port: 22},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::/32:443", want: "2001:db8::/32", port: 443},
		{in: "[2001:db8::1]:443", want: "2001:db8::1/128", port: 443},
		{in: "[2001:db8::/32]:443", want: "2001:db8::/32", port: 443},
		{in: "::1", want: "::1/128"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "10.0.0.0/8:0", bad: true},
		{in: "10.0.0.0/8:99999", bad: true},
		{in: "10.0.0.0/8:", bad: true},
		{in: "10.0.0.1/8", bad: true},
		{in: "example.com", bad: true},
		{in: "[::1", bad: true},
		{in: "[::1]x", bad: true},
		{in: "", bad: true},
	} {
		r, err := parseDeny(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, r)
			}
			continue
		}
		if err != nil || r.prefix.String() != tc.want || r.port != tc.port {
			t.Errorf("%q: got %v :%d, %v; want %s :%d", tc.in, r.prefix, r.port, err, tc.want, tc.port)
		}
	}
}
