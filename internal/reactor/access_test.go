package reactor

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// peers records the peer of every protocol a factory builds.
type peers struct {
	mu   sync.Mutex
	seen []string
}

func (p *peers) factory() protocol.Factory {
	return protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol {
		p.mu.Lock()
		p.seen = append(p.seen, peer.String())
		p.mu.Unlock()
		return &echoProto{}
	})
}

func (p *peers) list() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, " ")
}

// serveGuarded serves f on a fresh 127.0.0.1 listener for ep's kind
// (haproxy: or plain) under the given rules, with the driver t's name says.
func serveGuarded(t *testing.T, ep string, a *policy.Access, f protocol.Factory) (string, *service.Stats) {
	t.Helper()
	e, err := endpoint.Parse(ep)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stats := &service.Stats{}
	l := guard(service.Listener{Endpoint: e, Stream: ln, ProxyProtocol: e.HAProxy}, a, zap.NewNop(), stats)
	var s service.Server
	if strings.HasSuffix(t.Name(), "/"+Goroutines) {
		s = newStreamServer(l, f, zap.NewNop(), stats, func(error) {})
	} else {
		s = epollListener(t, l, f, zap.NewNop(), stats)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String(), stats
}

// dialFrom connects to addr from a loopback source; it skips the test
// where the system has no such source (only Linux routes all of 127/8).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot connect from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedSilently checks c is closed with nothing sent to it.
func closedSilently(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if len(got) != 0 || isTimeout(err) {
		t.Fatalf("refused connection: read %q, %v", got, err)
	}
}

func echoes(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(msg))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

func TestAccessRefusesAtAccept(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		var p peers
		a := policy.NewAccess(nil, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
		addr, stats := serveGuarded(t, "tcp:0", a, p.factory())
		closedSilently(t, dialFrom(t, "127.0.0.2", addr))
		echoes(t, dialFrom(t, "127.0.0.1", addr), "served")
		if got := stats.RefusedDeny.Load(); got != 1 {
			t.Errorf("counted %d refusals, want 1", got)
		}
		if got := p.list(); strings.Contains(got, "127.0.0.2") {
			t.Errorf("the factory saw the refused peer: %s", got)
		}
		if got := stats.ConnectionsAccepted.Load(); got != 1 {
			t.Errorf("accepted %d, want 1", got)
		}
	})
}

func TestAccessBehindPROXYHeaders(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		var p peers
		a := policy.NewAccess(nil, []netip.Prefix{netip.MustParsePrefix("192.0.2.66/32")})
		addr, stats := serveGuarded(t, "haproxy:tcp:0:trusted=127.0.0.1", a, p.factory())

		forged := dialFrom(t, "127.0.0.2", addr)
		forged.Write([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40000 7\r\n"))
		closedSilently(t, forged)
		denied := dialFrom(t, "127.0.0.1", addr)
		denied.Write([]byte("PROXY TCP4 192.0.2.66 10.0.0.1 40000 7\r\n"))
		closedSilently(t, denied)
		ok := dialFrom(t, "127.0.0.1", addr)
		ok.Write([]byte("PROXY TCP4 192.0.2.10 10.0.0.1 40001 7\r\n"))
		echoes(t, ok, "from the admitted client")

		if got := p.list(); got != "192.0.2.10:40001" {
			t.Errorf("the factory saw %q, want only the admitted client", got)
		}
		if stats.RefusedTrusted.Load() != 1 || stats.RefusedDeny.Load() != 1 {
			t.Errorf("counted trusted %d, deny %d; want 1 and 1", stats.RefusedTrusted.Load(), stats.RefusedDeny.Load())
		}
	})
}

func TestGuardedPacketConnDropsRefusedSources(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	stats := &service.Stats{}
	a := policy.NewAccess([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil)
	l := guard(service.Listener{Packet: pc}, a, zap.NewNop(), stats)
	if _, raw := l.Packet.(interface{ SyscallConn() }); raw {
		t.Fatal("the guarded socket offers its raw socket, which would bypass the rules")
	}
	send := func(from string, msg string) {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, pc.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Skipf("cannot send from %s: %v", from, err)
		}
		defer c.Close()
		c.Write([]byte(msg))
	}
	send("127.0.0.2", "refused")
	send("127.0.0.1", "admitted")
	l.Packet.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := l.Packet.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "admitted" || !strings.HasPrefix(from.String(), "127.0.0.1:") {
		t.Fatalf("read %q from %v, %v", buf[:n], from, err)
	}
	if got := stats.RefusedAllow.Load(); got != 1 {
		t.Fatalf("counted %d refusals, want 1", got)
	}
	if guard(service.Listener{Packet: pc}, nil, zap.NewNop(), stats).Packet != pc {
		t.Fatal("no rules, yet the socket was wrapped")
	}
}
