package reactor

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
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

// TestDiscardRebinds: after Discard the endpoint binds a new socket on
// the same port while the old borrow is still out, and that borrow's
// Close is harmless.
func TestDiscardRebinds(t *testing.T) {
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
		t.Fatalf("before Discard the port's socket is shared: %v", err)
	} else {
		again.Close()
	}
	p.Discard(old)
	fresh, _, err := p.Acquire(same)
	if err != nil {
		t.Fatalf("rebinding port %d after Discard: %v", port, err)
	}
	defer fresh.Close()
	if fresh.(*sharedListener).sock == old.(*sharedListener).sock {
		t.Fatal("Acquire after Discard returned the dead socket")
	}
	if _, err := old.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on the discarded socket: %v, want net.ErrClosed", err)
	}
	old.Close()
	c, err := net.DialTimeout("tcp", fresh.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("the new socket does not listen: %v", err)
	}
	c.Close()
}

// failing is a service that hands its Env out, so a test can fail it.
type failing struct{ envs chan *service.Env }

func (f failing) Start(_ context.Context, env *service.Env) error {
	f.envs <- env
	return nil
}
func (failing) Stop(context.Context) error { return nil }

// runUnit runs one service of failing instances on a port-0 TCP endpoint
// until the returned cancel; the Envs of its instances arrive on envs.
func runUnit(t *testing.T, exit bool) (r *Reactor, envs chan *service.Env, done chan error, cancel func()) {
	t.Helper()
	envs = make(chan *service.Env, 8)
	ep, _ := endpoint.Parse("tcp:0:interface=127.0.0.1")
	u := Spec{Name: "svc", Type: "test", Pos: "app.yaml:1:1", Listen: []endpoint.Endpoint{ep},
		Service: failing{envs}, ExitOnFailure: exit,
		New: func() (service.Service, error) { return failing{envs}, nil }}
	r = New(Options{Reactor: Goroutines, ShutdownTimeout: time.Second, Signals: make(chan os.Signal),
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Reset: time.Hour}})
	ctx, stop := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- r.Run(ctx, []Spec{u}) }()
	t.Cleanup(stop)
	return r, envs, done, stop
}

// TestRestartOnFailure: a failure marks the unit failed once (a second
// report of the same instance is ignored), and after the backoff a fresh
// instance runs on the same port.
func TestRestartOnFailure(t *testing.T) {
	r, envs, done, cancel := runUnit(t, false)
	env := <-envs
	addr := env.Listeners[0].Stream.Addr().String()
	env.Fail(&service.SocketError{Endpoint: env.Listeners[0].Endpoint, Err: syscall.EINVAL})
	env.Fail(errors.New("again")) // ignored: the same instance
	// Failed() is true only until the restart, 10 ms later: too short a
	// window to look into on a loaded machine. The failure count and the
	// error after the restart below say the same thing, once.
	var next *service.Env
	select {
	case next = <-envs:
	case <-time.After(5 * time.Second):
		t.Fatal("no restart")
	}
	if got := next.Listeners[0].Stream.Addr().String(); got != addr {
		t.Errorf("restarted on %s, want %s", got, addr)
	}
	waitFor(t, "the restart to be recorded", func() bool { return r.Services()[0].Restarts == 1 })
	info := r.Services()[0]
	if info.Failed || info.Failures != 1 || info.Error == "" || r.Failed() {
		t.Errorf("after the restart: %+v", info)
	}
	// The next failure waits twice as long; then the process stops cleanly.
	next.Fail(errors.New("boom"))
	<-envs
	waitFor(t, "the second restart", func() bool { return r.Services()[0].Restarts == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestExitOnFailure: Run stops everything and returns ErrServiceFailed.
func TestExitOnFailure(t *testing.T) {
	_, envs, done, _ := runUnit(t, true)
	env := <-envs
	env.Fail(errors.New("boom"))
	select {
	case err := <-done:
		if !errors.Is(err, ErrServiceFailed) || !strings.Contains(err.Error(), `app.yaml:1:1: service "svc": boom`) {
			t.Errorf("Run: %v, want ErrServiceFailed naming the unit", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
