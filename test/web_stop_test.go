package test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWebGracefulStopFinishesDownloads stops the server in the middle of a
// large download: the download completes, new connections are refused,
// and the process exits 0.
func TestWebGracefulStopFinishesDownloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const size = 64 << 20
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: quick to make, real to send
		t.Fatal(err)
	}
	f.Close()
	s, base := startWeb(t, dir)
	addr := s.addrs()[0]

	resp, err := webClient().Get(base + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGTERM)
	s.waitFor(`stopping`, 5*time.Second)
	eventually(t, 10*time.Second, "new connections to be refused", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	rest, err := io.Copy(io.Discard, resp.Body)
	if err != nil || int64(len(first))+rest != size {
		t.Fatalf("download cut short: %d of %d bytes, %v", int64(len(first))+rest, size, err)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after a graceful stop", code)
	}
}

// TestWebPolicies applies the stream policies to the web service's
// connections: beyond max_connections_per_peer a connection is closed at once.
func TestWebPolicies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
services:
  - type: web
    listen: tcp:0:interface=127.0.0.1
    path: .
    policies: {max_connections_per_peer: 2, idle_timeout: 500ms}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// The third connection from the same peer is closed without an answer.
	eventually(t, 5*time.Second, "a third connection to be refused", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		defer c.Close()
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		return len(b) == 0
	})
	// Idle connections are closed by idle_timeout, after which a client gets in again.
	eventually(t, 5*time.Second, "the idle connections to be closed", func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/a.txt")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.TrimSpace(string(b)) == "a"
	})
}
