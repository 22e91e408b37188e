package test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Loopback sources: every 127/8 address is local on Linux, so a client
// bound to 127.0.0.2 reaches a server on 127.0.0.1 from another source.
var (
	allowedSource = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	deniedSource  = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
)

// dialFrom connects to addr from the given local address.
func dialFrom(t *testing.T, from *net.TCPAddr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: from, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusedSilently checks that c is closed by the server without a byte
// having been sent to it, whatever the client writes.
func refusedSilently(t *testing.T, c net.Conn, write string) {
	t.Helper()
	if write != "" {
		c.Write([]byte(write)) // may fail once the server closed: that is fine
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if len(got) != 0 {
		t.Fatalf("a refused connection got %q", got)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a refused connection was left open")
	}
}

// metricsHas polls the admin endpoint's /metrics until it has want.
func metricsHas(t *testing.T, admin, want string) {
	t.Helper()
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body, _ = httpGet(t, "http://"+admin+"/metrics")
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", want, grepLines(body, "twistd_connections_refused_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// allow: and deny: on a stream service: a denied peer is closed without a
// byte, before the protocol sees it; the others are served as before.
func TestAccessStreamAllowDeny(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: denying
    type: echo
    listen: tcp:0:interface=127.0.0.1
    deny: [127.0.0.2]
  - name: allowing
    type: echo
    listen: tcp:0:interface=127.0.0.1
    allow: [127.0.0.1/32, '::1']
  - name: both
    type: echo
    listen: tcp:0:interface=127.0.0.1
    allow: [127.0.0.0/8]
    deny: [127.0.0.2/32]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	a := s.addrs()
	admin, denying, allowing, both := a[0], a[1], a[2], a[3]

	for _, addr := range []string{denying, allowing, both} {
		echoOn(t, dialFrom(t, allowedSource, addr), "served")
		refusedSilently(t, dialFrom(t, deniedSource, addr), "")
	}
	// A client that writes first gets nothing back either.
	refusedSilently(t, dialFrom(t, deniedSource, denying), "hello\n")

	s.waitFor(`connection refused.*"reason": "deny".*127\.0\.0\.2`, 5*time.Second)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="deny",service="denying"} 2`)
	metricsHas(t, admin, `twistd_connections_refused_total{reason="allow",service="allowing"} 1`)
	// Deny wins over a wider allow.
	metricsHas(t, admin, `twistd_connections_refused_total{reason="deny",service="both"} 1`)
	metricsHas(t, admin, `twistd_connections_accepted_total{service="denying"} 1`)
}

// Refusal happens before the TLS handshake: a denied client's
// ClientHello gets no answer.
func TestAccessBeforeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, cert := selfSigned(t, dir)
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: ssl:0:interface=127.0.0.1:privateKey=`+key+`:certKey=`+cert+`
    deny: [127.0.0.2]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	// Any bytes will do: a TLS server would answer them with an alert.
	refusedSilently(t, dialFrom(t, deniedSource, s.addrs()[0]), "\x16\x03\x01\x00\x05hello")
}

// allow: on a web service: a denied client gets no HTTP answer at all.
func TestAccessWeb(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/index.html", "hello\n")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    allow: [127.0.0.1]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	ok := dialFrom(t, allowedSource, addr)
	ok.SetDeadline(time.Now().Add(5 * time.Second))
	ok.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	got, _ := io.ReadAll(ok)
	if !strings.HasPrefix(string(got), "HTTP/1.0 200") && !strings.HasPrefix(string(got), "HTTP/1.1 200") {
		t.Fatalf("allowed client got %q", got)
	}
	refusedSilently(t, dialFrom(t, deniedSource, addr), "GET / HTTP/1.0\r\n\r\n")
}
