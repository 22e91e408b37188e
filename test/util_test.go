package test

import (
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func itoa(n int) string { return strconv.Itoa(n) }

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// probePort returns a port of 127.0.0.1 for which free holds now, picked
// at random below the kernel's ephemeral range. The tests run in
// parallel: a port probed here and handed to a program a moment later
// must not meanwhile go to another test's port-0 bind or outgoing
// connection, and those take their ports from the ephemeral range only.
// Where that range leaves no room below it, the port is one a port-0
// bind was given (free is then not consulted).
func probePort(t *testing.T, free func(port int) bool) int {
	t.Helper()
	hi := 32768 // Linux's default start of ip_local_port_range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	lo := max(hi-12000, 10000)
	if hi-lo < 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	for range 100 {
		if p := lo + rand.IntN(hi-lo); free(p) {
			return p
		}
	}
	t.Fatalf("no free port in %d-%d", lo, hi-1)
	return 0
}

// freePort finds a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	return probePort(t, func(port int) bool {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
}

// dnsFreePort returns a port free for both UDP and TCP on 127.0.0.1.
func dnsFreePort(t *testing.T) int {
	t.Helper()
	return probePort(t, func(port int) bool {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		defer l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		u.Close()
		return true
	})
}
