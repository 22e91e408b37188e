package ftp

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFilterLine(t *testing.T) {
	v4, v6 := &cmdFilter{site: "S"}, &cmdFilter{ipv6: true, site: "S"}
	peer6 := &cmdFilter{ipv6: true, site: "S", peer: net.ParseIP("::1")}
	for _, c := range []struct {
		f       *cmdFilter
		in, out string
	}{
		{v4, "PORT 127,0,0,1,4,0\r\n", "PORT 127,0,0,1,4,0\r\n"}, // 1024
		{v4, "PORT 127,0,0,1,3,255\r\n", "PORT " + refused + "\r\n"},
		{v4, "port 127,0,0,1,0,21\r\n", "port " + refused + "\r\n"},
		{v4, "EPRT |1|127.0.0.1|80|\r\n", "EPRT " + refused + "\r\n"},
		{v6, "EPRT |2|::1|1023|\r\n", "EPRT " + refused + "\r\n"},
		{v6, "EPRT |2|::1|2000|\r\n", "EPRT |2|::1|2000|\r\n"},
		{v4, "EPRT !1!127.0.0.1!22!\r\n", "EPRT " + refused + "\r\n"},
		{v4, "RETR PORT 1,2,3,4,0,1\r\n", "RETR PORT 1,2,3,4,0,1\r\n"},
		{v4, "PORT nonsense\r\n", "PORT nonsense\r\n"},
		{v4, "EPRT\r\n", "EPRT\r\n"},
		{v4, "PORT 1,2,3,4,5\r\n", "PORT 1,2,3,4,5\r\n"},
		{v4, "PORT 127,0,0,1,0,22\n", "PORT " + refused + "\r\n"},
		// The families of RFC 2428.
		{v4, "PASV\r\n", "PASV\r\n"},
		{v6, "PASV\r\n", "SITE S 522 Network protocol not supported, use (2)\r\n"},
		{v6, "PORT 127,0,0,1,4,0\r\n", "SITE S 522 Network protocol not supported, use (2)\r\n"},
		{v4, "EPRT |2|::1|2000|\r\n", "SITE S 522 Network protocol not supported, use (1)\r\n"},
		{v6, "EPRT |1|127.0.0.1|2000|\r\n", "SITE S 522 Network protocol not supported, use (2)\r\n"},
		{v4, "EPRT |3|x|2000|\r\n", "SITE S 522 Network protocol not supported, use (1)\r\n"},
		{v4, "EPSV\r\n", "EPSV\r\n"},
		{v4, "EPSV 1\r\n", "EPSV\r\n"},
		{v6, "epsv 2\r\n", "epsv\r\n"},
		{v4, "EPSV 2\r\n", "SITE S 522 Network protocol not supported, use (1)\r\n"},
		{v6, "EPSV 1\r\n", "SITE S 522 Network protocol not supported, use (2)\r\n"},
		{v4, "EPSV x\r\n", "SITE S 501 EPSV takes a network protocol number or ALL\r\n"},
		{peer6, "EPRT |2|::|40000|\r\n", "EPRT |2|::1|40000|\r\n"},
		{peer6, "EPRT |2|::|21|\r\n", "EPRT " + refused + "\r\n"},
		{peer6, "EPRT |2|2001:db8::1|40000|\r\n", "EPRT |2|2001:db8::1|40000|\r\n"},
		{v6, "EPRT |2|::|40000|\r\n", "EPRT |2|::|40000|\r\n"},
	} {
		if got := string(c.f.line([]byte(c.in))); got != c.out {
			t.Errorf("ipv6 %v: line(%q) = %q, want %q", c.f.ipv6, c.in, got, c.out)
		}
	}
}

func TestFilterEPSVAll(t *testing.T) {
	f := &cmdFilter{site: "S"}
	for _, c := range []struct{ in, out string }{
		{"PASV\r\n", "PASV\r\n"},
		{"EPSV all\r\n", "SITE S 200 EPSV ALL ok: only EPSV from now on\r\n"},
		{"PASV\r\n", "SITE S 503 PASV after EPSV ALL: use EPSV\r\n"},
		{"port 127,0,0,1,4,0\r\n", "SITE S 503 PORT after EPSV ALL: use EPSV\r\n"},
		{"EPRT |1|127.0.0.1|2000|\r\n", "SITE S 503 EPRT after EPSV ALL: use EPSV\r\n"},
		{"EPSV\r\n", "EPSV\r\n"},
	} {
		if got := string(f.line([]byte(c.in))); got != c.out {
			t.Errorf("line(%q) = %q, want %q", c.in, got, c.out)
		}
	}
}

func TestSiteReply(t *testing.T) {
	for _, c := range []struct {
		param string
		code  int
		msg   string
	}{
		{"S 522 Network protocol not supported, use (2)", 522, "Network protocol not supported, use (2)"},
		{"CHMOD 777 f", 500, "SITE support is disabled"},
		{"S 99 x", 500, "SITE support is disabled"},
		{"S", 500, "SITE support is disabled"},
		{"SX 200 x", 500, "SITE support is disabled"},
	} {
		a := siteReply("S", c.param)
		if a.Code != c.code || a.Message != c.msg {
			t.Errorf("siteReply(%q) = %d %q", c.param, a.Code, a.Message)
		}
	}
	if a := siteReply("", " 200 x"); a.Code != 500 {
		t.Errorf("an empty prefix answered %d", a.Code)
	}
}

// TestPortFilterStream checks lines split across reads, and that an
// AUTH the library refuses leaves the filter on.
func TestPortFilterStream(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		a, b := net.Pipe()
		var cfg func() *tls.Config
		if withTLS {
			cfg = func() *tls.Config { return nil }
		}
		f := newPortFilter(a, cfg, time.Second, "S")
		go func() {
			for _, chunk := range []string{"USER x\r\nPO", "RT 127,0,0,1,0,", "21\r\nAUTH TLS\r\n", "PORT 127,0,0,1,0,21\r\n"} {
				b.Write([]byte(chunk))
				if strings.HasPrefix(chunk, "21") && withTLS {
					// The library's answer to AUTH: refused.
					go io.ReadAll(b)
				}
			}
		}()
		var got []byte
		buf := make([]byte, 100)
		want := "USER x\r\nPORT " + refused + "\r\nAUTH TLS\r\nPORT " + refused + "\r\n"
		for len(got) < len(want) {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if withTLS && strings.HasSuffix(string(got), "AUTH TLS\r\n") {
				f.Write([]byte("504 no TLS here\r\n"))
			}
		}
		if string(got) != want {
			t.Errorf("tls %v: got %q, want %q", withTLS, got, want)
		}
		a.Close()
		b.Close()
	}
}

func FuzzFilterLine(f *testing.F) {
	for _, s := range []string{"PORT 127,0,0,1,0,21\r\n", "EPRT |1|1.2.3.4|80|\r\n", "EPRT |||\r\n", "PORT ,,,,,\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []*cmdFilter{{site: "S"}, {ipv6: true, site: "S", peer: net.ParseIP("::1")}} {
			out := string(c.line([]byte(s)))
			ok := out == s || strings.HasSuffix(out, refused+"\r\n") ||
				strings.HasPrefix(out, "SITE S ") && strings.HasSuffix(out, "\r\n") && strings.Count(out, "\n") == 1
			if !ok && strings.HasPrefix(strings.ToUpper(s), "EPSV") {
				ok = strings.EqualFold(out, "EPSV\r\n")
			}
			if !ok && strings.HasPrefix(strings.ToUpper(s), "EPRT") {
				ok = strings.Contains(out, "|::1|") && strings.HasSuffix(out, "\r\n") && strings.Count(out, "\n") == 1
			}
			if !ok {
				t.Fatalf("ipv6 %v: line(%q) = %q", c.ipv6, s, out)
			}
		}
	})
}
