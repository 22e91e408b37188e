package test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTicks is a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// Out of file descriptors, a flood of connections must neither spin the
// event loop nor stop the service: accepting pauses and resumes, and once
// the flood is gone new clients are served.
func TestConnectionFloodBeyondTheFileLimit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 48 && exec "$0" "$@"`, binary,
		"-n", "--pidfile=", "echo", "--listen", "tcp:0:interface=127.0.0.1")
	cmd.Dir = dir
	s := startCmd(t, cmd)
	s.waitFor(`\bready\b`, 15*time.Second)
	addr := s.addrs()[0]

	var flood []net.Conn
	for i := 0; i < 80; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: fine
		}
		flood = append(flood, c)
	}
	s.waitFor("pausing accepts", 5*time.Second)
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(time.Second) // measuring idle CPU over a fixed second: nothing to poll for
	if used := cpuTicks(t, cmd.Process.Pid) - before; used > 30 {
		t.Fatalf("the server used %d ticks of CPU in one second while out of descriptors (spinning)", used)
	}
	for _, c := range flood {
		c.Close()
	}
	eventually(t, 10*time.Second, "service after the flood", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte("ok"))
		buf := make([]byte, 2)
		n, _ := c.Read(buf)
		return n == 2 && string(buf) == "ok"
	})
	if n := strings.Count(s.output(), "pausing accepts"); n > 20 {
		t.Fatalf("%d warnings: the log is flooded too", n)
	}
}

// Peers that reset mid-write, or vanish half-open, cost only their own
// connection.
func TestResetsAndHalfOpenPeers(t *testing.T) {
	t.Parallel()
	tcpAddr, _ := wireServer(t, "chargen")
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1000)) // the server is writing now
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // RST while the server writes
	}
	// Half-open: connect and go silent without reading.
	var silent []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 74*3)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(chargenPattern(len(got))) {
		t.Fatalf("a well-behaved client is not served after resets and silent peers: %v", err)
	}
}
