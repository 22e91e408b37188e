package test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func policyApp(t *testing.T, dir, policies string) *server {
	t.Helper()
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: echo
    listen: tcp:0:interface=127.0.0.1
    policies: `+policies+`
`)
	return start(t, dir, nil, "-n", "--pidfile=", "--log-level", "debug", "-c", app)
}

func TestPolicyMaxConnections(t *testing.T) {
	t.Parallel()
	s := policyApp(t, t.TempDir(), "{max_connections: 2}")
	addr := s.addrs()[0]
	var open []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
		echoOn(t, c, "first ones")
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("the third connection was served")
	}
	s.waitFor(`connection refused.*max_connections`, 5*time.Second)
	for _, c := range open {
		echoOn(t, c, "still served")
	}
}

func TestPolicyIdleTimeout(t *testing.T) {
	s := policyApp(t, t.TempDir(), "{idle_timeout: 300ms}")
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOn(t, c, "hi")
	begin := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection not closed")
	}
	if d := time.Since(begin); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed after %v with idle_timeout 300ms", d)
	}
}

func TestPolicyWriteLimit(t *testing.T) {
	s := policyApp(t, t.TempDir(), "{write_limit: 256KiB}")
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	begin := time.Now()
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(c)
	d := time.Since(begin)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if d < 3500*time.Millisecond || d > 4500*time.Millisecond {
		t.Fatalf("1 MiB at write_limit 256KiB took %v, want 3.5–4.5 s", d)
	}
}

func TestPolicyTrafficLogReopens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := policyApp(t, dir, "{traffic_log: traffic.log}")
	traffic := filepath.Join(dir, "traffic.log")
	c, err := net.Dial("tcp", s.addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, c, "12345")
	c.Close()
	eventually(t, 5*time.Second, "a traffic line", func() bool {
		b, _ := os.ReadFile(traffic)
		return strings.Contains(string(b), "127.0.0.1:") && strings.Contains(string(b), "in=5 out=5")
	})
	os.Rename(traffic, traffic+".1")
	s.signal(syscall.SIGUSR1)
	s.waitFor("logs reopened", 5*time.Second)
	eventually(t, 5*time.Second, "the traffic log reopened", func() bool {
		_, err := os.Stat(traffic)
		return err == nil
	})
	c, _ = net.Dial("tcp", s.addrs()[0])
	echoOn(t, c, "abc")
	c.Close()
	eventually(t, 5*time.Second, "a line in the new traffic log", func() bool {
		b, _ := os.ReadFile(traffic)
		return strings.Contains(string(b), "in=3 out=3")
	})
}

func echoOn(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	c.SetDeadline(time.Time{})
}
