package test

import (
	be "encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func proxyV2Header(src net.IP, port int) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12)
	b = append(b, src.To4()...)
	b = append(b, 127, 0, 0, 1)
	b = be.BigEndian.AppendUint16(b, uint16(port))
	return be.BigEndian.AppendUint16(b, 7)
}

// Behind a load balancer, policies and logs see the client named by the
// PROXY header, v1 or v2; a connection without one is closed.
func TestHAProxyEndpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: haproxy:tcp:0:interface=127.0.0.1
    policies: {max_connections_per_peer: 1, traffic_log: traffic.log}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
	addr := s.addrs()[0]
	dial := func(header []byte) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write(header)
		return c
	}
	a := dial([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40000 7\r\n"))
	echoOn(t, a, "from 192.0.2.10")
	b := dial(proxyV2Header(net.ParseIP("198.51.100.20"), 41000))
	echoOn(t, b, "from 198.51.100.20 over v2")

	// The same real client again: refused by max_connections_per_peer,
	// although every connection comes from 127.0.0.1.
	again := dial([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40001 7\r\n"))
	again.SetReadDeadline(time.Now().Add(5 * time.Second))
	again.Write([]byte("x"))
	if _, err := again.Read(make([]byte, 1)); err == nil {
		t.Fatal("a second connection from 192.0.2.10 was served")
	}
	s.waitFor(`connection refused.*max_connections_per_peer.*192\.0\.2\.10`, 5*time.Second)

	// No header: closed at once.
	bare := dial([]byte("GET / HTTP/1.0\r\n\r\n"))
	bare.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := io.ReadAll(bare); len(n) != 0 {
		t.Fatalf("a connection without a PROXY header got %q", n)
	}

	a.Close()
	eventually(t, 5*time.Second, "the traffic log line with the real client", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "traffic.log"))
		return strings.Contains(string(b), "192.0.2.10:40000")
	})
}
