package test

import (
	"bufio"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenBelowEphemeral listens on a random free port of 127.0.0.1 below
// the kernel's ephemeral range (32768 and up by default): the tests run
// in parallel, and a port closed and listened on again must not go to
// another test's port-0 bind or outgoing connection in between, which
// take their ports from that range only.
func listenBelowEphemeral(t *testing.T) net.Listener {
	t.Helper()
	for range 100 {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+itoa(20000+rand.IntN(12000))); err == nil {
			return ln
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// upstream accepts connections and hands over each line it reads.
func upstream(t *testing.T) (net.Listener, <-chan string, <-chan net.Conn) {
	t.Helper()
	ln := listenBelowEphemeral(t)
	t.Cleanup(func() { ln.Close() })
	lines, conns := make(chan string, 100), make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
		}
	}()
	return ln, lines, conns
}

// Lines reach the upstream; while it is down they are refused with a
// notice; after it comes back (a reconnection with backoff) they flow again.
func TestRelayReconnects(t *testing.T) {
	t.Parallel()
	ln, lines, conns := upstream(t)
	port := ln.Addr().(*net.TCPAddr).Port
	s := start(t, t.TempDir(), "relay", "--port", "tcp:0:interface=127.0.0.1",
		"--upstream", "tcp:host=127.0.0.1:port="+itoa(port))
	first := <-conns
	c := dialChat(t, s.addrs()[0])
	// The upstream has accepted, but the relay may not have seen the
	// connection yet: lines until then are dropped with a notice.
	deadline := time.Now().Add(10 * time.Second)
	for relayed := false; !relayed; {
		c.say("one")
		select {
		case l := <-lines:
			if l != "one" {
				t.Fatalf("upstream got %q", l)
			}
			relayed = true
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no line reached the upstream")
			}
		}
	}

	// Drop the upstream connection and refuse new ones for a moment.
	ln.Close()
	first.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		c.say("lost")
		c.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		l, err := c.br.ReadString('\n')
		if err == nil && strings.Contains(l, "upstream down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay never noticed the upstream went away")
		}
	}

	// The upstream comes back on the same port: the relay reconnects.
	ln2, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("could not listen on %s again: %v", ln.Addr(), err)
	}
	defer ln2.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln2.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			if sc.Text() == "two" {
				got <- "two"
				return
			}
		}
	}()
	deadline = time.Now().Add(15 * time.Second)
	for {
		c.say("two")
		select {
		case <-got:
			s.signal(syscall.SIGTERM)
			if code := s.wait(10 * time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			return
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not reconnect")
		}
	}
}

// A relay without --upstream is a command-line error.
func TestRelayNeedsUpstream(t *testing.T) {
	t.Parallel()
	code, out := run(t, t.TempDir(), "relay", "--port", "0")
	if code != 2 || !strings.Contains(out, "--upstream") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}
