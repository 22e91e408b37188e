package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS is a process's resident set in KiB (from /proc/PID/status).
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// Idle keep-alive connections wait on the event loops, not on a goroutine
// each with its buffers: 1,000 more of them cost a few MB at most (about
// 2.5 KiB each when measured, ~20 KiB on net/http; the bound is generous).
// Under the goroutine reactor each holds a reader goroutine (about 14 KiB
// measured), still below net/http's cost.
func TestWebIdleKeepAliveConnectionsAreCheap(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	const conns = 1000
	limitKB := 10 << 10
	if reactorUnderTest() == "goroutines" {
		limitKB = 18 << 10
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "small.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, base := startWeb(t, root)
	addr := strings.TrimPrefix(base, "http://")
	req := "GET /small.txt HTTP/1.1\r\nHost: idle\r\n\r\n"
	open := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("status %d, close %v: want a kept-alive 200", resp.StatusCode, resp.Close)
		}
		return c
	}
	held := make([]net.Conn, 0, 2*conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// Warm up with a first thousand: the file's cache entry, the loops'
	// tables, and the heap that serving a burst of new connections takes
	// (the Go runtime keeps it a while). The second thousand is measured.
	for i := 0; i < conns; i++ {
		held = append(held, open())
	}
	time.Sleep(500 * time.Millisecond) // past the linger: all parked
	pid := s.cmd.Process.Pid
	before := vmRSS(t, pid)
	for i := 0; i < conns; i++ {
		held = append(held, open())
	}
	time.Sleep(500 * time.Millisecond)
	after := vmRSS(t, pid)
	t.Logf("RSS %d KiB with %d idle connections, %d KiB with %d more (+%.1f KiB each)",
		before, conns, after, conns, float64(after-before)/conns)
	if after-before > limitKB {
		t.Fatalf("%d more idle keep-alive connections added %d KiB RSS, want under %d", conns, after-before, limitKB)
	}
	// They are still alive: one more request on the first.
	c := held[0]
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a parked connection's next request: %v %v", resp, err)
	}
	resp.Body.Close()
}
