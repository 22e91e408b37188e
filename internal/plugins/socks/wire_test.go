package socks

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseV4(t *testing.T) {
	long := strings.Repeat("u", maxUserID+1)
	for _, tc := range []struct {
		name string
		in   string
		want request
		n    int
		err  string // "short", "malformed" or ""
	}{
		{"connect by address", "\x04\x01\x00\x50\x0a\x00\x00\x01alice\x00", request{version: 4, command: 1, port: 80, addr: netip.MustParseAddr("10.0.0.1"), user: "alice"}, 14, ""},
		{"empty user", "\x04\x01\x01\xbb\x7f\x00\x00\x01\x00", request{version: 4, command: 1, port: 443, addr: netip.MustParseAddr("127.0.0.1")}, 9, ""},
		{"4a by name", "\x04\x01\x00\x50\x00\x00\x00\x07\x00example.com\x00", request{version: 4, command: 1, port: 80, name: "example.com"}, 21, ""},
		{"bind", "\x04\x02\x00\x50\x0a\x00\x00\x01\x00", request{version: 4, command: 2, port: 80, addr: netip.MustParseAddr("10.0.0.1")}, 9, ""},
		{"trailing data kept", "\x04\x01\x00\x50\x0a\x00\x00\x01\x00GET /", request{version: 4, command: 1, port: 80, addr: netip.MustParseAddr("10.0.0.1")}, 9, ""},
		{"empty", "", request{}, 0, "short"},
		{"header only", "\x04\x01\x00\x50\x0a\x00\x00", request{}, 0, "short"},
		{"no NUL yet", "\x04\x01\x00\x50\x0a\x00\x00\x01ali", request{}, 0, "short"},
		{"4a name unfinished", "\x04\x01\x00\x50\x00\x00\x00\x07\x00exam", request{}, 0, "short"},
		{"4a empty name", "\x04\x01\x00\x50\x00\x00\x00\x07\x00\x00", request{}, 0, "malformed"},
		{"user too long", "\x04\x01\x00\x50\x0a\x00\x00\x01" + long + "\x00", request{}, 0, "malformed"},
		{"user too long, no NUL", "\x04\x01\x00\x50\x0a\x00\x00\x01" + long, request{}, 0, "malformed"},
		{"wrong version", "\x05\x01\x00", request{}, 0, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := parseV4([]byte(tc.in))
			checkErr(t, err, tc.err)
			if tc.err == "" && (got != tc.want || n != tc.n) {
				t.Fatalf("got %+v, %d; want %+v, %d", got, n, tc.want, tc.n)
			}
		})
	}
}

func TestParseGreeting(t *testing.T) {
	for _, tc := range []struct {
		in      string
		methods string
		n       int
		err     string
	}{
		{"\x05\x01\x00", "\x00", 3, ""},
		{"\x05\x02\x00\x02", "\x00\x02", 4, ""},
		{"\x05\x02\x00", "", 0, "short"},
		{"\x05", "", 0, "short"},
		{"\x05\x00", "", 0, "malformed"},
		{"\x04\x01\x00", "", 0, "malformed"},
		{"GET / HTTP/1.1\r\n", "", 0, "malformed"},
	} {
		m, n, err := parseGreeting([]byte(tc.in))
		checkErr(t, err, tc.err)
		if tc.err == "" && (string(m) != tc.methods || n != tc.n) {
			t.Errorf("%q: got %q, %d", tc.in, m, n)
		}
	}
}

func TestParseAuth(t *testing.T) {
	for _, tc := range []struct {
		in, user, pass string
		n              int
		err            string
	}{
		{"\x01\x05alice\x06secret", "alice", "secret", 14, ""},
		{"\x01\x05alice\x00", "alice", "", 8, ""},
		{"\x01\x05alice\x06secr", "", "", 0, "short"},
		{"\x01\x05ali", "", "", 0, "short"},
		{"\x01", "", "", 0, "short"},
		{"\x01\x00\x01x", "", "", 0, "malformed"},
		{"\x05\x05alice\x06secret", "", "", 0, "malformed"},
	} {
		u, p, n, err := parseAuth([]byte(tc.in))
		checkErr(t, err, tc.err)
		if tc.err == "" && (u != tc.user || p != tc.pass || n != tc.n) {
			t.Errorf("%q: got %q %q %d", tc.in, u, p, n)
		}
	}
}

func TestParseV5Request(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want request
		n    int
		err  string // "", "short", "malformed" or "rep8"
	}{
		{"ipv4", "\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50", request{version: 5, command: 1, addr: netip.MustParseAddr("10.0.0.1"), port: 80}, 10, ""},
		{"ipv6", "\x05\x01\x00\x04" + string(netip.MustParseAddr("2001:db8::1").AsSlice()) + "\x01\xbb", request{version: 5, command: 1, addr: netip.MustParseAddr("2001:db8::1"), port: 443}, 22, ""},
		{"domain", "\x05\x01\x00\x03\x0bexample.com\x00\x50", request{version: 5, command: 1, name: "example.com", port: 80}, 18, ""},
		{"udp associate parses", "\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00", request{version: 5, command: 3, addr: netip.MustParseAddr("0.0.0.0")}, 10, ""},
		{"short ipv4", "\x05\x01\x00\x01\x0a\x00", request{}, 0, "short"},
		{"short domain", "\x05\x01\x00\x03\x0bexample", request{}, 0, "short"},
		{"short header", "\x05\x01\x00", request{}, 0, "short"},
		{"empty domain", "\x05\x01\x00\x03\x00\x00\x50", request{}, 0, "malformed"},
		{"bad atyp", "\x05\x01\x00\x09\x00\x00", request{}, 0, "rep8"},
		{"bad version", "\x04\x01\x00\x01", request{}, 0, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := parseV5Request([]byte(tc.in))
			if tc.err == "rep8" {
				var re *replyError
				if !errors.As(err, &re) || re.rep != repAddrTypeUnsupported {
					t.Fatalf("err %v, want reply 8", err)
				}
				return
			}
			checkErr(t, err, tc.err)
			if tc.err == "" && (got != tc.want || n != tc.n) {
				t.Fatalf("got %+v, %d; want %+v, %d", got, n, tc.want, tc.n)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	if got := reply5(repSucceeded, netip.MustParseAddrPort("[::ffff:127.0.0.1]:4242")); !bytes.Equal(got, []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x10, 0x92}) {
		t.Errorf("reply5 v4: % x", got)
	}
	if got := reply5(repNotAllowed, netip.AddrPort{}); !bytes.Equal(got, []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("reply5 refusal: % x", got)
	}
	if got := reply5(0, netip.MustParseAddrPort("[::1]:1")); len(got) != 22 || got[3] != atypIPv6 {
		t.Errorf("reply5 v6: % x", got)
	}
	if got := reply4(cd4Rejected, netip.AddrPort{}); !bytes.Equal(got, []byte{0, 91, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("reply4: % x", got)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	var me *malformedError
	switch want {
	case "":
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
	case "short":
		if !errors.Is(err, errShort) {
			t.Fatalf("err %v, want errShort", err)
		}
	case "malformed":
		if !errors.As(err, &me) {
			t.Fatalf("err %v, want malformed", err)
		}
	}
}

// FuzzParse feeds every parser arbitrary bytes: none may panic, take
// more than it was given, or accept a message and then reject a longer
// buffer starting with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"\x04\x01\x00\x50\x0a\x00\x00\x01alice\x00",
		"\x04\x01\x00\x50\x00\x00\x00\x07\x00example.com\x00",
		"\x05\x02\x00\x02", "\x01\x05alice\x06secret",
		"\x05\x01\x00\x03\x0bexample.com\x00\x50",
		"\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\xbb",
		"\x05\x01\x00\x09",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		more := append(append([]byte(nil), b...), "trailing"...)
		check := func(what string, n int, err, err2 error, n2 int) {
			if err == nil && (n <= 0 || n > len(b)) {
				t.Fatalf("%s took %d of %d bytes", what, n, len(b))
			}
			if err == nil && (err2 != nil || n2 != n) {
				t.Fatalf("%s: a longer buffer parses differently: %d %v / %d %v", what, n, err, n2, err2)
			}
		}
		r, n, err := parseV4(b)
		_, n2, err2 := parseV4(more)
		check("parseV4", n, err, err2, n2)
		if err == nil && (len(r.user) > maxUserID || len(r.name) > maxName) {
			t.Fatalf("parseV4: overlong field %+v", r)
		}
		_, n, err = parseGreeting(b)
		_, n2, err2 = parseGreeting(more)
		check("parseGreeting", n, err, err2, n2)
		_, _, n, err = parseAuth(b)
		_, _, n2, err2 = parseAuth(more)
		check("parseAuth", n, err, err2, n2)
		r, n, err = parseV5Request(b)
		_, n2, err2 = parseV5Request(more)
		check("parseV5Request", n, err, err2, n2)
		if err == nil && r.name == "" && !r.addr.IsValid() {
			t.Fatalf("parseV5Request: neither name nor address: %+v", r)
		}
	})
}
