package ftp

import (
	"net"
	"sync"

	"github.com/twistd-go/twistd/protocol"
)

// maxControlBuffered bounds what a control connection holds of its
// client's bytes before the library reads them.
const maxControlBuffered = 16 << 10

// connListener is a net.Listener whose connections are the reactor's:
// its Factory runs on the service's listeners (so the PROXY header,
// allow/deny and the policies apply before the library sees a peer) and
// hands each connection, as a net.Conn, to Accept.
type connListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Factory builds the protocol of each accepted connection.
func (l *connListener) Factory(wrap func(net.Conn) net.Conn) protocol.Factory {
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		return &handoff{Conn: protocol.NewConn(maxControlBuffered), l: l, wrap: wrap}
	})
}

// handoff is a protocol.Conn that gives itself to the listener once made.
type handoff struct {
	*protocol.Conn
	l    *connListener
	wrap func(net.Conn) net.Conn
}

func (h *handoff) ConnectionMade(t protocol.Transport) {
	h.Conn.ConnectionMade(t)
	c := h.wrap(h.NetConn())
	// Never block the reactor: the library's accept loop takes it soon.
	go func() {
		select {
		case h.l.ch <- c:
		case <-h.l.done:
			_ = c.Close()
		}
	}()
}

// Accept implements net.Listener.
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		// The library ends its accept loop quietly on exactly this error.
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close implements net.Listener: Accept returns, connections arriving
// later are closed. It does not close the reactor's sockets.
func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *connListener) Addr() net.Addr { return l.addr }

var _ net.Listener = (*connListener)(nil)
