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
	for in, want := range map[string]string{
		"PORT 127,0,0,1,4,0\r\n":    "PORT 127,0,0,1,4,0\r\n", // 1024
		"PORT 127,0,0,1,3,255\r\n":  "PORT " + refused + "\r\n",
		"port 127,0,0,1,0,21\r\n":   "port " + refused + "\r\n",
		"EPRT |1|127.0.0.1|80|\r\n": "EPRT " + refused + "\r\n",
		"EPRT |2|::1|1023|\r\n":     "EPRT " + refused + "\r\n",
		"EPRT |2|::1|2000|\r\n":     "EPRT |2|::1|2000|\r\n",
		"EPRT !1!127.0.0.1!22!\r\n": "EPRT " + refused + "\r\n",
		"RETR PORT 1,2,3,4,0,1\r\n": "RETR PORT 1,2,3,4,0,1\r\n",
		"PORT nonsense\r\n":         "PORT nonsense\r\n",
		"EPRT\r\n":                  "EPRT\r\n",
		"PORT 1,2,3,4,5\r\n":        "PORT 1,2,3,4,5\r\n",
		"PORT 127,0,0,1,0,22\n":     "PORT " + refused + "\r\n",
	} {
		if got := string(filterLine([]byte(in))); got != want {
			t.Errorf("filterLine(%q) = %q, want %q", in, got, want)
		}
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
		f := newPortFilter(a, cfg, time.Second)
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
		out := string(filterLine([]byte(s)))
		if out != s && !strings.HasSuffix(out, refused+"\r\n") {
			t.Fatalf("filterLine(%q) = %q", s, out)
		}
	})
}
