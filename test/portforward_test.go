package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// target is a TCP server the forwarder connects to; handle runs per connection.
func target(t *testing.T, handle func(c *net.TCPConn)) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c.(*net.TCPConn))
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func forwarder(t *testing.T, host string, port int) (*server, string) {
	t.Helper()
	s := start(t, t.TempDir(), nil, "-n", "--pidfile=", "portforward",
		"--listen", "tcp:0:interface=127.0.0.1", "-h", host, "-d", strconv.Itoa(port))
	return s, s.addrs()[0]
}

func TestPortforwardRelaysAndHalfCloses(t *testing.T) {
	t.Parallel()
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		got, _ := io.ReadAll(c) // until the client's half-close arrives
		c.Write([]byte("got " + strconv.Itoa(len(got)) + " bytes: " + string(got[:min(len(got), 5)])))
		c.CloseWrite()
	})
	_, addr := forwarder(t, host, port)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello, target"))
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil || string(reply) != "got 13 bytes: hello" {
		t.Fatalf("reply %q, %v", reply, err)
	}
}

func TestPortforwardBigTransferBothWays(t *testing.T) {
	t.Parallel()
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		io.Copy(c, c) // echo
	})
	_, addr := forwarder(t, host, port)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	payload := bytes.Repeat([]byte("twistd portforward "), 1<<20) // 19 MiB
	go func() {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("got %d of %d bytes back (%v)", len(got), len(payload), err)
	}
}

// A client that never reads while the target floods it: the forwarder
// pauses the target instead of buffering, so its memory stays flat.
func TestPortforwardSlowClientKeepsMemoryFlat(t *testing.T) {
	t.Parallel()
	sent := make(chan int64, 1)
	host, port := target(t, func(c *net.TCPConn) {
		defer c.Close()
		buf := make([]byte, 64<<10)
		var n int64
		for n < 512<<20 {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			m, err := c.Write(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		sent <- n
	})
	s, addr := forwarder(t, host, port)
	before := rssKB(t, s.cmd.Process.Pid)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	n := <-sent // the target stalls once every buffer on the way is full
	after := rssKB(t, s.cmd.Process.Pid)
	if n >= 512<<20 {
		t.Fatalf("the target sent %d MiB into a client that never reads", n>>20)
	}
	if grew := after - before; grew > 16<<10 {
		t.Fatalf("forwarder RSS grew by %d KiB for a client that never reads (target sent %d KiB)", grew, n>>10)
	}
}

func TestPortforwardUnreachableTarget(t *testing.T) {
	t.Parallel()
	port := freePort(t) // nobody listens there now
	s, addr := forwarder(t, "127.0.0.1", port)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a forward to nowhere")
	}
	s.waitFor(regexp.QuoteMeta(fmt.Sprintf(`"target": "127.0.0.1:%d"`, port)), 5*time.Second)
}

func TestPortforwardTwistdFlags(t *testing.T) {
	t.Parallel()
	// twistd's own spelling: -p port, -h host (not help), -d dest_port.
	r := twistd(t, t.TempDir(), nil, "-n", "--pidfile=", "portforward", "-p", "70000", "-h", "example.test", "-d", "80")
	if r.code != 2 || !strings.Contains(r.stderr, "70000") {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
	r = twistd(t, t.TempDir(), nil, "portforward", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--dest_port") || !strings.Contains(r.stdout, "-h, --host") {
		t.Fatalf("help: exit %d, %q", r.code, r.stdout)
	}
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no VmRSS")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
