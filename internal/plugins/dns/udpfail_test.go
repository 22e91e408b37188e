package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/metrics"
	"github.com/twistd-go/twistd/service"
)

// deadSocket is a datagram socket that was closed under its user: every
// read fails with EBADF. It hides the raw socket, so the plain readers run.
type deadSocket struct{ addr net.Addr }

func (d deadSocket) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", syscall.EBADF)}
}
func (d deadSocket) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (d deadSocket) Close() error                              { return nil }
func (d deadSocket) LocalAddr() net.Addr                       { return d.addr }
func (d deadSocket) SetDeadline(time.Time) error               { return nil }
func (d deadSocket) SetReadDeadline(time.Time) error           { return nil }
func (d deadSocket) SetWriteDeadline(time.Time) error          { return nil }

// TestUDPReportsADeadSocket: a read error that no retry gets past is
// reported through Env.Fail, naming the endpoint, and the readers end.
func TestUDPReportsADeadSocket(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "z.zone")
	if err := os.WriteFile(zone, []byte("$ORIGIN example.com.\n$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newServer(settings{zones: []string{zone}, ttl: 60, answerCache: 100})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := endpoint.Parse("udp:5353:interface=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 64)
	env := &service.Env{Name: "names", Logger: zap.NewNop(), Stats: &service.Stats{}, Metrics: metrics.New(),
		Listeners: []service.Listener{{Endpoint: ep, Packet: deadSocket{addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}}}},
		OnFail:    func(err error) { failed <- err }}
	if err := s.Start(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		var se *service.SocketError
		if !errors.As(err, &se) || se.Endpoint != ep || !errors.Is(err, syscall.EBADF) {
			t.Errorf("reported %v, want a SocketError for %s wrapping EBADF", err, ep)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the dead socket was not reported")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v (the readers did not end)", err)
	}
}
