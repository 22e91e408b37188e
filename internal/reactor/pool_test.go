package reactor

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twistd-go/twistd/endpoint"
)

func mustParse(t *testing.T, s string) endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// Two borrowers of one socket: when the first lets go, the second keeps
// accepting on the very same socket — the reload hand-over.
func TestPoolHandOver(t *testing.T) {
	p := NewPool()
	defer p.Close()
	ep := mustParse(t, "tcp:0:interface=127.0.0.1")
	old, _, err := p.Acquire(ep)
	if err != nil {
		t.Fatal(err)
	}
	addr := old.Addr().String()
	// A port-0 socket is known by the port it got: asking for that port
	// borrows the very same socket (the reload hand-over).
	real := mustParse(t, "tcp:"+portOf(t, addr)+":interface=127.0.0.1")
	next, _, err := p.Acquire(real)
	if err != nil {
		t.Fatal(err)
	}
	if next.Addr().String() != addr {
		t.Fatalf("second borrow bound %s, want the shared %s", next.Addr(), addr)
	}
	accepted := make(chan error, 1)
	go func() {
		_, err := old.Accept()
		accepted <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Accept block
	old.Close()
	if err := <-accepted; err != net.ErrClosed {
		t.Fatalf("old borrower's Accept: %v, want net.ErrClosed", err)
	}
	go func() {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
	}()
	next.(*sharedListener).Listener.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := next.Accept()
	if err != nil {
		t.Fatalf("new borrower cannot accept after the old one closed: %v", err)
	}
	c.Close()
	next.Close()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("socket still open after its last borrower closed")
	}
}

func TestPortZeroEndpointsAreDistinct(t *testing.T) {
	p := NewPool()
	defer p.Close()
	ep := mustParse(t, "tcp:0:interface=127.0.0.1")
	a, _, err := p.Acquire(ep)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := p.Acquire(ep)
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr().String() == b.Addr().String() {
		t.Fatalf("two tcp:0 endpoints share %s", a.Addr())
	}
}

func portOf(t *testing.T, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestUnixSocketModeAndLockfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	p := NewPool()
	defer p.Close()
	l, _, err := p.Acquire(mustParse(t, "unix:"+path+":mode=0600:lockfile=1"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	// A second process (here: a second pool) cannot take the locked path.
	p2 := NewPool()
	defer p2.Close()
	if _, _, err := p2.Acquire(mustParse(t, "unix:"+path+":lockfile=1")); err == nil {
		t.Fatal("second bind of a locked unix socket succeeded")
	}
	l.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after close: %v", err)
	}
}

func TestUnixStaleSocketIsReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	// Leave a socket file nobody listens on.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	p := NewPool()
	defer p.Close()
	if _, _, err := p.Acquire(mustParse(t, "unix:"+path)); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	// A live one is not.
	if _, _, err := NewPool().Acquire(mustParse(t, "unix:"+path)); err == nil {
		t.Fatal("bound over a live unix socket")
	}
}

func TestSystemdEndpointWithoutLISTENFDS(t *testing.T) {
	os.Unsetenv("LISTEN_FDS")
	p := NewPool()
	if _, _, err := p.Acquire(mustParse(t, "systemd:domain=INET:index=0")); err == nil {
		t.Fatal("systemd endpoint bound without inherited sockets")
	}
}

// The hand-over when the leaving borrower's Accept is slow to run (a
// loaded machine): woken by the leave, it is not scheduled until long
// after. It must still find the socket's deadline in the past and take no
// connection — one that arrives meanwhile is the remaining borrower's,
// served by the new configuration — and the deadline clears once it has
// returned.
func TestPoolHandOverToASlowLeaver(t *testing.T) {
	p := NewPool()
	defer p.Close()
	oldL, _, err := p.Acquire(mustParse(t, "tcp:0:interface=127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	addr := oldL.Addr().String()
	nextL, _, err := p.Acquire(mustParse(t, "tcp:"+portOf(t, addr)+":interface=127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	old, next := oldL.(*sharedListener), nextL.(*sharedListener)
	// The old borrower's Accept has begun (entered) but is not running.
	if !old.h.enter(p) {
		t.Fatal("enter on an open borrow failed")
	}
	old.Close()
	c, err := net.Dial("tcp", addr) // queued in the kernel
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(250 * time.Millisecond) // far longer than any fixed wake-up window
	// Now the old Accept runs: it must not take the queued connection.
	if got, err := old.Listener.Accept(); err == nil {
		got.Close()
		t.Fatal("the leaving borrower accepted a connection after it was given back")
	} else if !isTimeout(err) {
		t.Fatalf("the leaving borrower's Accept: %v, want a timeout", err)
	}
	old.h.exit(p, old.sock, old.setDeadline())
	done := make(chan error, 1)
	go func() {
		got, err := next.Accept()
		if err == nil {
			got.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the remaining borrower: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the remaining borrower never got the queued connection: the deadline stayed in the past")
	}
	next.Close()
}

// A datagram borrower leaving while its ReadFrom is blocked: the read
// ends, and the remaining borrower reads the next datagram.
func TestPoolPacketHandOver(t *testing.T) {
	p := NewPool()
	defer p.Close()
	_, oldPC, err := p.Acquire(mustParse(t, "udp:0:interface=127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	addr := oldPC.LocalAddr().String()
	_, nextPC, err := p.Acquire(mustParse(t, "udp:"+portOf(t, addr)+":interface=127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, _, err := oldPC.ReadFrom(make([]byte, 64))
		read <- err
	}()
	time.Sleep(20 * time.Millisecond) // let ReadFrom block
	oldPC.Close()
	if err := <-read; err != net.ErrClosed {
		t.Fatalf("old borrower's ReadFrom: %v, want net.ErrClosed", err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	nextPC.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _, err := nextPC.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("remaining borrower read %q, %v", buf[:n], err)
	}
	nextPC.Close()
}
