package policy_test

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

type echo struct{ protocol.Base }

func (e *echo) DataReceived(d []byte) { e.Transport.Write(d) }

// halfEcho is an echo that also wants the peer's EOF.
type halfEcho struct {
	echo
	eof bool
}

func (h *halfEcho) ReadConnectionLost() { h.eof = true }

var echoes = protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echo{} })

func peer(i int) net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, byte(i)), Port: 1000 + i} }

// connect builds a protocol for peer and starts it on a test transport;
// nil when the factory refuses.
func connect(f protocol.Factory, from net.Addr) (protocol.Protocol, *prototest.Transport) {
	p := f.BuildProtocol(from)
	if p == nil {
		return nil, nil
	}
	tr := prototest.NewTransport()
	tr.Peer = from
	p.ConnectionMade(tr)
	return p, tr
}

func TestLimitTotalConnections(t *testing.T) {
	f := policy.LimitTotalConnections(echoes, 2, policy.BusyFactory("busy\r\n"))
	a, _ := connect(f, peer(1))
	b, _ := connect(f, peer(2))
	if a == nil || b == nil {
		t.Fatal("refused under the limit")
	}
	c, tr := connect(f, peer(3))
	if c == nil {
		t.Fatal("over the limit: no overflow protocol")
	}
	if lost, _ := tr.Lost(); tr.Value() != "busy\r\n" || !lost {
		t.Fatalf("overflow wrote %q, lost %v; want busy and a close", tr.Value(), lost)
	}
	// Overflow connections are bounded by the limit as well.
	d, _ := connect(f, peer(4))
	if d == nil {
		t.Fatal("second overflow connection refused")
	}
	if e, _ := connect(f, peer(5)); e != nil {
		t.Fatal("a third overflow connection over a limit of 2 was served")
	}
	c.ConnectionLost(nil)
	a.ConnectionLost(nil)
	p, tr := connect(f, peer(6))
	if p == nil {
		t.Fatal("refused after a place was given back")
	}
	p.DataReceived([]byte("hi"))
	if tr.Value() != "hi" {
		t.Fatalf("the real protocol did not answer: %q", tr.Value())
	}
	// Without an overflow protocol, over the limit is refused.
	g := policy.LimitTotalConnections(echoes, 1, nil)
	if p, _ := connect(g, peer(1)); p == nil {
		t.Fatal("refused under the limit")
	}
	if p, _ := connect(g, peer(2)); p != nil {
		t.Fatal("served over the limit")
	}
}

func TestLimitsPerPeer(t *testing.T) {
	f := policy.LimitConnectionsPerPeer(echoes, 1)
	if p, _ := connect(f, peer(1)); p == nil {
		t.Fatal("first connection refused")
	}
	if p, _ := connect(f, peer(1)); p != nil {
		t.Fatal("second connection of one peer served over a limit of 1")
	}
	if p, _ := connect(f, peer(2)); p == nil {
		t.Fatal("another peer refused")
	}
	r := policy.LimitConnectionRatePerPeer(echoes, policy.Rate{N: 1, Per: time.Hour})
	if p, _ := connect(r, peer(1)); p == nil {
		t.Fatal("first connection refused")
	}
	if p, _ := connect(r, peer(1)); p != nil {
		t.Fatal("second connection within the hour served over 1/h")
	}
	if f := policy.LimitConnectionsPerPeer(echoes, 0); f == nil {
		t.Fatal("no limit gave no factory")
	}
}

func TestIdleTimeoutAndThrottle(t *testing.T) {
	_, tr := connect(policy.IdleTimeout(echoes, 20*time.Millisecond), peer(1))
	deadline := time.Now().Add(5 * time.Second)
	for lost, aborted := tr.Lost(); !lost || !aborted; lost, aborted = tr.Lost() {
		if time.Now().After(deadline) {
			t.Fatal("an idle connection was not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, tr := connect(policy.Throttle(echoes, 1024, 0), peer(1))
	p.DataReceived(make([]byte, 64<<10))
	if !tr.ReadingPaused() {
		t.Fatal("reading 64 KiB at 1 KiB/s did not pause reading")
	}
	p.ConnectionLost(nil)
}

// syncBuffer is a bytes.Buffer safe for the traffic log's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestTrafficLog(t *testing.T) {
	var log syncBuffer
	p, _ := connect(policy.TrafficLog(echoes, &log), peer(7))
	p.DataReceived([]byte("hello"))
	p.ConnectionLost(nil)
	line := log.String()
	if !strings.Contains(line, " 192.0.2.7:1007 duration=") || !strings.HasSuffix(line, " in=5 out=5\n") {
		t.Fatalf("traffic log %q", line)
	}
}

func TestSpew(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	var inner *halfEcho
	f := policy.Spew(protocol.FactoryFunc(func(net.Addr) protocol.Protocol { inner = &halfEcho{}; return inner }), zap.New(core))
	p, tr := connect(f, peer(1))
	p.DataReceived([]byte("hi\x00"))
	if tr.Value() != "hi\x00" {
		t.Fatalf("echo through Spew wrote %q", tr.Value())
	}
	for _, want := range []struct{ msg, dir string }{{"data received", "in"}, {"data written", "out"}} {
		es := logs.FilterMessage(want.msg).All()
		if len(es) != 1 {
			t.Fatalf("%d %q entries, want 1", len(es), want.msg)
		}
		m := es[0].ContextMap()
		if m["direction"] != want.dir || m["peer"] != "192.0.2.1:1001" || m["length"] != int64(3) ||
			!strings.HasPrefix(m["hexdump"].(string), "00000000  68 69 00 ") {
			t.Fatalf("%q entry: %v", want.msg, m)
		}
	}
	// The inner protocol's half-close passes through the wrapper.
	hc, ok := p.(protocol.HalfCloser)
	if !ok {
		t.Fatal("Spew hid the inner protocol's ReadConnectionLost")
	}
	hc.ReadConnectionLost()
	if !inner.eof {
		t.Fatal("ReadConnectionLost did not reach the inner protocol")
	}
	// A timer set through the wrapper is the transport's own.
	ran := false
	inner.Transport.CallLater(time.Second, func() { ran = true })
	tr.Advance(time.Second)
	if !ran {
		t.Fatal("CallLater did not pass through Spew")
	}
	tr.Disconnect(p, nil)
	if logs.FilterMessage("connection lost").Len() != 1 {
		t.Fatal("the loss was not logged")
	}
}

func TestAccessWrapFactory(t *testing.T) {
	a := policy.NewAccess([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32")})
	f := a.WrapFactory(echoes)
	if p, _ := connect(f, peer(1)); p == nil {
		t.Error("an allowed peer was refused")
	}
	if p, _ := connect(f, peer(9)); p != nil {
		t.Error("a denied peer was served")
	}
	if p, _ := connect(f, &net.TCPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 1}); p != nil {
		t.Error("a peer outside allow was served")
	}
	if (*policy.Access)(nil).WrapFactory(echoes) == nil {
		t.Error("no rules gave no factory")
	}
}
