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
