package reactor

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/reactor/endpoint"
	"github.com/twistd-go/twistd/internal/service"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 30 * time.Second, Reset: time.Minute}
	for _, tc := range []struct {
		name     string
		last, up time.Duration
		want     time.Duration
	}{
		{name: "first failure", last: 0, up: time.Second, want: time.Second},
		{name: "doubles", last: time.Second, up: time.Second, want: 2 * time.Second},
		{name: "doubles again", last: 8 * time.Second, up: 0, want: 16 * time.Second},
		{name: "capped", last: 16 * time.Second, up: 0, want: 30 * time.Second},
		{name: "stays capped", last: 30 * time.Second, up: 0, want: 30 * time.Second},
		{name: "reset after staying up", last: 30 * time.Second, up: time.Minute, want: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.next(tc.last, tc.up); got != tc.want {
				t.Errorf("next(%s, %s) = %s, want %s", tc.last, tc.up, got, tc.want)
			}
		})
	}
}

// deadPacketConn fails every read as a socket closed under its user does.
type deadPacketConn struct{ net.PacketConn }

func (deadPacketConn) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", syscall.EBADF)}
}

type nopDatagram struct{}

func (nopDatagram) DatagramReceived([]byte, net.Addr, protocol.DatagramWriter) {}

// TestPacketLoopReportsADeadSocket: the read loop reports a permanent
// error once, naming its endpoint, and ends instead of retrying.
func TestPacketLoopReportsADeadSocket(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ep, _ := endpoint.Parse("udp:0:interface=127.0.0.1")
	failed := make(chan error, 4)
	s := newPacketServer(service.Listener{Endpoint: ep, Packet: deadPacketConn{pc}}, nopDatagram{}, zap.NewNop(), &service.Stats{},
		func(err error) { failed <- err })
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the read loop is still retrying a dead socket")
	}
	if len(failed) != 1 {
		t.Fatalf("%d failures reported, want 1", len(failed))
	}
	var se *service.SocketError
	if err := <-failed; !errors.As(err, &se) || se.Endpoint != ep || !errors.Is(err, syscall.EBADF) {
		t.Errorf("reported %v, want a SocketError for %s wrapping EBADF", err, ep)
	}
	_ = s.Shutdown(context.Background())
}

// TestForgetRebinds: after Forget, the endpoint binds a new socket on the
// port while the old borrow is still out, and the old socket closes with
// its last borrow.
func TestForgetRebinds(t *testing.T) {
	p := NewPool()
	defer p.Close()
	ep, _ := endpoint.Parse("tcp:0:interface=127.0.0.1")
	old, _, err := p.Acquire(ep)
	if err != nil {
		t.Fatal(err)
	}
	port := old.Addr().(*net.TCPAddr).Port
	same := withPort(ep, port)
	if again, _, err := p.Acquire(same); err != nil || again.(*sharedListener).sock != old.(*sharedListener).sock {
		t.Fatalf("before Forget the port's socket is shared: %v", err)
	} else {
		again.Close()
	}
	// Shut the socket down as a dead one would be, then forget it.
	rc, _ := old.(*sharedListener).Listener.(*net.TCPListener).SyscallConn()
	_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	p.Forget(old)
	fresh, _, err := p.Acquire(same)
	if err != nil {
		t.Fatalf("rebinding port %d after Forget: %v", port, err)
	}
	defer fresh.Close()
	if fresh.(*sharedListener).sock == old.(*sharedListener).sock {
		t.Fatal("Acquire after Forget returned the dead socket")
	}
	old.Close()
	if !old.(*sharedListener).sock.closed {
		t.Error("the dead socket is still open after its last borrow")
	}
	c, err := net.DialTimeout("tcp", fresh.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("the new socket does not listen: %v", err)
	}
	c.Close()
}
