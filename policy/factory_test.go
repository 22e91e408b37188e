package policy

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/twistd-go/twistd/protocol"
)

// countingTransport is a Transport that only counts what is written.
type countingTransport struct {
	protocol.Transport // nil: any other method panics
	bytes              int
}

func (t *countingTransport) Write(p []byte) { t.bytes += len(p) }
func (t *countingTransport) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		t.bytes += len(b)
	}
}

// echoing writes back what it receives, as the echo service does.
type echoing struct {
	protocol.Base
	t protocol.Transport
}

func (e *echoing) ConnectionMade(t protocol.Transport) { e.t = t }
func (e *echoing) DataReceived(p []byte)               { e.t.Write(p) }

// The wrapper sits on every message of every stream service: passing a
// message through it must cost no allocation (the policies here count
// bytes and watch idleness, as a service with no write limit does).
func TestWrappedWriteDoesNotAllocate(t *testing.T) {
	p, err := New(Config{IdleTimeout: 3600e9, MaxConnectionsPerPeer: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	proto := p.WrapFactory(protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoing{} })).BuildProtocol(peer)
	tr := &countingTransport{}
	proto.ConnectionMade(tr)
	defer proto.ConnectionLost(nil)
	msg := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() { proto.DataReceived(msg) }); n != 0 {
		t.Errorf("%.1f allocations per message, want 0", n)
	}
	if tr.bytes != 1001*64 {
		t.Errorf("transport got %d bytes, want %d", tr.bytes, 1001*64)
	}
	// WriteMany passes the caller's buffers on.
	proto.(protocol.Transport).WriteMany(msg, msg[:1])
	if tr.bytes != 1001*64+65 {
		t.Errorf("transport got %d bytes after WriteMany, want %d", tr.bytes, 1001*64+65)
	}
}

type tlsTransport struct{ *countingTransport }

func (tlsTransport) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{NegotiatedProtocol: "h2"}
}

// The transport of a TLS connection keeps its TLS state under the
// policies; a plain one does not gain one.
func TestWrappedPassesTheTLSStateThrough(t *testing.T) {
	p, err := New(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	for _, tr := range []protocol.Transport{&countingTransport{}, tlsTransport{&countingTransport{}}} {
		e := &echoing{}
		proto := p.WrapFactory(protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return e })).BuildProtocol(peer)
		proto.ConnectionMade(tr)
		cs, got := e.t.(protocol.ConnectionStater)
		_, want := tr.(protocol.ConnectionStater)
		if got != want || got && cs.ConnectionState().NegotiatedProtocol != "h2" {
			t.Errorf("%T: the protocol sees a TLS state: %v, want %v", tr, got, want)
		}
		if _, ok := e.t.(protocol.FileSender); !ok {
			t.Errorf("%T: SendFile no longer passes through", tr)
		}
		proto.ConnectionLost(nil)
	}
}
