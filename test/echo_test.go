package test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEchoOneLinerTCPAndUDP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "echo",
		"--listen", "tcp:0:interface=127.0.0.1", "--listen", "udp:0:interface=127.0.0.1")
	addrs := s.addrs()
	if len(addrs) != 2 {
		t.Fatalf("want 2 listening lines, got %v", addrs)
	}
	// Byte-exact over TCP, including every byte value.
	msg := make([]byte, 256*64)
	for i := range msg {
		msg[i] = byte(i)
	}
	echoRoundTrip(t, addrs[0], msg)

	// UDP: each datagram comes back whole.
	c, err := net.Dial("udp", addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range [][]byte{[]byte("hello"), bytes.Repeat([]byte{0, 0xff}, 700)} {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], d) {
			t.Fatalf("udp echo: got %d bytes, want %d", n, len(d))
		}
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	s.waitFor("shutdown complete", time.Second)
}

func TestEchoFromFileListensOnlyWhereTold(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: tcp:0:interface=127.0.0.1
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addrs := s.addrs()
	if len(addrs) != 1 {
		t.Fatalf("tcp:0 alone must bind one socket, got %v", addrs)
	}
	echoRoundTrip(t, addrs[0], []byte("one line\r\n"))
	line := s.waitFor("listening on", time.Second)
	if !strings.Contains(line, "[echo]") {
		t.Fatalf("listening line does not name the service: %q", line)
	}
}

func TestGracefulStopFinishesInFlightTransfer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--shutdown-timeout", "20s", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := s.addrs()[0]

	const size = 10 << 20
	payload := make([]byte, size)
	rand.Read(payload)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	// Send the first MiB, then stop the server while the rest is in flight.
	if _, err := c.Write(payload[:1<<20]); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGTERM)
	s.waitFor("stopping", 5*time.Second)
	if _, err := c.Write(payload[1<<20:]); err != nil {
		t.Fatalf("writing during the drain: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	b := <-got
	if len(b) != size || !bytes.Equal(b, payload) {
		t.Fatalf("got %d bytes back of %d (equal: %v)", len(b), size, bytes.Equal(b, payload))
	}
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	// New connections were refused once the stop began.
	if c2, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c2.Close()
		t.Fatalf("a connection to %s was accepted after stopping", addr)
	}
}

func TestDrainTimeoutForcesIdleConnectionsAndExitsZero(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--shutdown-timeout", "300ms", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoRoundTrip(t, s.addrs()[0], []byte("x"))
	begin := time.Now()
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0 when the drain times out", code)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("stop took %s with a 300ms shutdown timeout", d)
	}
	s.waitFor("drain timed out", time.Second)
}

func TestSecondSignalForcesExitOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--shutdown-timeout", "30s", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoRoundTrip(t, s.addrs()[0], []byte("x"))
	s.signal(syscall.SIGTERM)
	s.waitFor("stopping", 5*time.Second)
	s.signal(syscall.SIGINT)
	if code := s.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code %d after a second signal, want 1", code)
	}
}

func TestShutdownDelayKeepsServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, nil, "-n", "--pidfile=", "--shutdown-delay", "1s", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	addr := s.addrs()[0]
	begin := time.Now()
	s.signal(syscall.SIGTERM)
	s.waitFor("shutdown delay", 5*time.Second)
	echoRoundTrip(t, addr, []byte("still serving"))
	if code := s.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if d := time.Since(begin); d < time.Second {
		t.Fatalf("stopped after %s, before the 1s shutdown delay", d)
	}
}
