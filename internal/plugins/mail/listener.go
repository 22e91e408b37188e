package mail

import (
	"net"
	"sync"

	"github.com/twistd-go/twistd/protocol"
)

// connBuffer bounds what a connection holds of its peer's bytes before the
// SMTP or POP3 code reads them; past it the transport stops reading.
const connBuffer = 64 << 10

// connListener is a net.Listener fed by the reactor: its Factory builds a
// protocol.Conn for each connection the reactor accepted (after allow/deny,
// the policies, the PROXY header and an ssl: endpoint's handshake) and
// Accept hands its net.Conn to a library that serves net.Listeners
// (go-smtp), or to our own POP3 loop.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn

	mu     sync.Mutex
	closed bool
	done   chan struct{}
	live   map[net.Conn]struct{} // connections handed out and not yet lost
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn, 64), done: make(chan struct{}), live: map[net.Conn]struct{}{}}
}

// Factory is the protocol factory to serve on the reactor's listener.
func (l *connListener) Factory() protocol.Factory {
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		return &handoff{Conn: protocol.NewConn(connBuffer), l: l}
	})
}

// handoff is a protocol.Conn that gives itself to the listener once made.
type handoff struct {
	*protocol.Conn
	l *connListener
}

// ConnectionMade implements protocol.Protocol: the connection is queued for
// Accept, or closed when the listener is closed or its queue is full (an
// Accept loop that cannot keep up; the peer may retry).
func (h *handoff) ConnectionMade(t protocol.Transport) {
	h.Conn.ConnectionMade(t)
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if h.l.closed {
		t.LoseConnection()
		return
	}
	select {
	case h.l.conns <- h.NetConn():
		h.l.live[h.NetConn()] = struct{}{}
	default:
		t.LoseConnection()
	}
}

// ConnectionLost implements protocol.Protocol.
func (h *handoff) ConnectionLost(err error) {
	h.Conn.ConnectionLost(err)
	h.l.mu.Lock()
	delete(h.l.live, h.NetConn())
	h.l.mu.Unlock()
}

// Live returns the connections handed out and still open.
func (l *connListener) Live() []net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]net.Conn, 0, len(l.live))
	for c := range l.live {
		out = append(out, c)
	}
	return out
}

// Accept implements net.Listener.
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener: Accept returns net.ErrClosed, and queued
// connections not yet accepted are closed. The reactor's socket stays open.
func (l *connListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	var queued []net.Conn
	for len(l.conns) > 0 {
		queued = append(queued, <-l.conns)
	}
	l.mu.Unlock()
	// Outside l.mu: a transport may report the loss at once, and
	// ConnectionLost takes l.mu.
	for _, c := range queued {
		_ = c.Close()
	}
	return nil
}

// Addr implements net.Listener.
func (l *connListener) Addr() net.Addr { return l.addr }
