package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientOver is an HTTP client whose every connection is dialled by dial
// (a PROXY header first, say), then TLS offering protos when tlsOn.
func clientOver(dial func(ctx context.Context) (net.Conn, error), tlsOn bool, protos ...string) *http.Client {
	tr := &http.Transport{
		DisableCompression: true,
		DialContext:        func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true, NextProtos: protos},
	}
	for _, p := range protos {
		tr.ForceAttemptHTTP2 = tr.ForceAttemptHTTP2 || p == "h2"
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: tr}
}

func tcpDial(addr string) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
}

// An ssl: web endpoint speaks HTTP/2 (by ALPN) and HTTP/1.1, on the same
// path as a plain one: the handler sees the request as over TLS (the
// proxy route forwards proto=https) from the real client, and the access
// log records the protocol.
func TestWebSSLEndpointServesHTTP2AndHTTP1(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s xff=%s", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	}))
	defer upstream.Close()
	dir := t.TempDir()
	selfSigned(t, dir)
	writeFile(t, dir, "public/hello.txt", "over tls")
	writeFile(t, dir, "public/big.bin", strings.Repeat("0123456789abcdef", 64<<10)) // 1 MiB: flow control, back-pressure
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem
    path: ./public
    access_log: access.log
    timeouts: {read_header: 2s, idle: 30s}
    proxy:
      - {prefix: /api/, to: "`+upstream.URL+`"}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	for _, tc := range []struct {
		protos []string
		major  int
		proto  string
	}{
		{[]string{"h2", "http/1.1"}, 2, "HTTP/2.0"},
		{[]string{"http/1.1"}, 1, "HTTP/1.1"},
	} {
		c := clientOver(tcpDial(addr), true, tc.protos...)
		resp, body := fetch(t, c, "GET", "https://"+addr+"/hello.txt")
		if resp.StatusCode != 200 || body != "over tls" || resp.ProtoMajor != tc.major {
			t.Fatalf("%v: %d %q %s", tc.protos, resp.StatusCode, body, resp.Proto)
		}
		if resp.TLS == nil || tc.major == 2 && resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("%v: ALPN: %+v", tc.protos, resp.TLS)
		}
		resp, body = fetch(t, c, "GET", "https://"+addr+"/big.bin")
		if resp.StatusCode != 200 || len(body) != 1<<20 || resp.ProtoMajor != tc.major {
			t.Fatalf("%v: big file: %d, %d bytes, %s", tc.protos, resp.StatusCode, len(body), resp.Proto)
		}
		resp, body = fetch(t, c, "GET", "https://"+addr+"/api/x")
		if body != "proto=https xff=127.0.0.1" || resp.ProtoMajor != tc.major {
			t.Fatalf("%v: the handler's view: %q %s", tc.protos, body, resp.Proto)
		}
		c.CloseIdleConnections()
		eventually(t, 5*time.Second, tc.proto+" in the access log", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			return strings.Contains(string(b), `"GET /hello.txt `+tc.proto+`" 200 8`)
		})
	}
}

// Behind a load balancer, web requests are logged with the client named
// by the PROXY header, over TLS as over plain TCP.
func TestWebHAProxyEndpointLogsTheRealClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir)
	writeFile(t, dir, "public/a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: plain
    type: web
    listen: haproxy:tcp:0:interface=127.0.0.1
    path: ./public
    access_log: plain.log
  - name: tls
    type: web
    listen: haproxy:ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem
    path: ./public
    access_log: tls.log
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	for i, tc := range []struct {
		service, scheme, log string
		protos               []string
	}{
		{"plain", "http", "plain.log", nil},
		{"tls", "https", "tls.log", []string{"h2"}},
		{"tls", "https", "tls.log", []string{"http/1.1"}},
	} {
		addr := s.addrOf(tc.service)
		client := fmt.Sprintf("192.0.2.%d", 10+i)
		dial := func(ctx context.Context) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err == nil {
				_, err = fmt.Fprintf(c, "PROXY TCP4 %s 10.0.0.1 40000 443\r\n", client)
			}
			return c, err
		}
		c := clientOver(dial, tc.scheme == "https", tc.protos...)
		resp, body := fetch(t, c, "GET", tc.scheme+"://"+addr+"/a.txt")
		if resp.StatusCode != 200 || body != "a" {
			t.Fatalf("%s %v: %d %q", tc.service, tc.protos, resp.StatusCode, body)
		}
		c.CloseIdleConnections()
		eventually(t, 5*time.Second, client+" in "+tc.log, func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, tc.log))
			return strings.Contains(string(b), client+` - - [`)
		})
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tls.log"))
	if strings.Contains(string(b), "127.0.0.1") {
		t.Fatalf("the balancer's address was logged:\n%s", b)
	}
}

// startTLSSite serves public/a.txt ("a") from a web service on an ssl:
// endpoint with the extra keys given (YAML lines of the entry), logging
// at debug level.
func startTLSSite(t *testing.T, keys string) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	selfSigned(t, dir)
	writeFile(t, dir, "public/a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: ssl:0:interface=127.0.0.1:privateKey=key.pem:certKey=cert.pem
    path: ./public
`+keys)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	return s, s.addrs()[0]
}

// max_connections holds on an ssl: endpoint: with one TLS connection
// open, the next is closed before its handshake, and once the first
// closes a client gets in again.
func TestWebSSLEndpointMaxConnections(t *testing.T) {
	t.Parallel()
	s, addr := startTLSSite(t, "    policies: {max_connections: 1}\n")
	cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	first, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if p := first.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN picked %q", p)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tls.Client(second, cfg).Handshake(); err == nil {
		t.Fatal("a second TLS connection was served beside the first")
	}
	s.waitFor(`connection refused.*max_connections`, 5*time.Second)
	first.Close()
	eventually(t, 5*time.Second, "a client to get in after the first left", func() bool {
		c := clientOver(tcpDial(addr), true, "h2")
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + addr + "/a.txt")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.ProtoMajor == 2 && string(b) == "a"
	})
}

// timeouts hold on an ssl: endpoint: a client that never finishes its
// handshake, or never finishes its request head, is closed after
// read_header.
func TestWebSSLEndpointTimeouts(t *testing.T) {
	_, addr := startTLSSite(t, "    timeouts: {read_header: 300ms}\n")
	closedWithin := func(what string, c net.Conn) {
		t.Helper()
		began := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("%s: not closed: %v", what, err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("%s: closed after %s", what, d)
		}
	}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	closedWithin("no handshake", raw)
	for _, proto := range []string{"http/1.1", "h2"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if proto == "http/1.1" {
			io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n")
		}
		closedWithin("a request head never finished over "+proto, c)
	}
}
