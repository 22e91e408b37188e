package test

import (
	"bytes"
	be "encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// chargenPattern builds the RFC 864 stream from its definition.
func chargenPattern(n int) []byte {
	const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	var b []byte
	for line := 0; len(b) < n; line++ {
		for j := 0; j < 72; j++ {
			b = append(b, printable[(line+j)%95])
		}
		b = append(b, '\r', '\n')
	}
	return b[:n]
}

func wireServer(t *testing.T, proto string) (tcp, udp string) {
	t.Helper()
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "tcp", "--protocol", proto,
		"--listen", "tcp:0:interface=127.0.0.1", "--listen", "udp:0:interface=127.0.0.1")
	a := s.addrs()
	return a[0], a[1]
}

func udpAsk(t *testing.T, addr string, msg []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(msg)
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestChargen(t *testing.T) {
	t.Parallel()
	tcpAddr, udpAddr := wireServer(t, "chargen")
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const n = 3 << 20 // several full rotations, across many writes
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if want := chargenPattern(n); !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
		t.Fatalf("chargen differs from RFC 864 at byte %d", i)
	}
	d := udpAsk(t, udpAddr, []byte("x"))
	if len(d) == 0 || len(d) > 512 || !bytes.Equal(d, chargenPattern(len(d))) {
		t.Fatalf("udp chargen: %d bytes %q", len(d), d)
	}
}

func TestTimeProtocol(t *testing.T) {
	tcpAddr, udpAddr := wireServer(t, "time")
	check := func(b []byte) {
		t.Helper()
		if len(b) != 4 {
			t.Fatalf("time reply of %d bytes", len(b))
		}
		got := int64(be.BigEndian.Uint32(b)) - 2208988800
		if d := got - time.Now().Unix(); d < -2 || d > 2 {
			t.Fatalf("time is %d s off", d)
		}
	}
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c) // the server closes after the 4 bytes
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	check(udpAsk(t, udpAddr, nil))
}

func TestDaytime(t *testing.T) {
	tcpAddr, udpAddr := wireServer(t, "daytime")
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	for _, reply := range [][]byte{b, udpAsk(t, udpAddr, []byte("?"))} {
		s := string(reply)
		if !strings.HasSuffix(s, "\r\n") {
			t.Fatalf("daytime %q lacks CRLF", s)
		}
		when, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimSuffix(s, "\r\n"))
		if err != nil {
			t.Fatalf("daytime %q: %v", s, err)
		}
		if d := time.Since(when); d < -2*time.Second || d > 2*time.Second {
			t.Fatalf("daytime is %v off", d)
		}
	}
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	tcpAddr, udpAddr := wireServer(t, "discard")
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("discard sent back %d bytes (%v)", len(b), err)
	}
	u, _ := net.Dial("udp", udpAddr)
	defer u.Close()
	u.Write([]byte("into the void"))
	u.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := u.Read(make([]byte, 10)); err == nil {
		t.Fatalf("udp discard replied %d bytes", n)
	}
}

func TestTCPPluginNeedsAProtocol(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "app.yaml", "services:\n  - {type: tcp, listen: 'tcp:0', protocol: gopher}\n")
	r := twistd(t, dir, nil, "check", "-c", "app.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, `protocol "gopher"`) || !strings.Contains(r.stderr, "app.yaml:2:") {
		t.Fatalf("exit %d: %q", r.code, r.stderr)
	}
}
