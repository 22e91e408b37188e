package protocol

import (
	"net"
	"sync"
)

// Listener defaults.
const (
	// DefaultListenerBuffer is a Listener connection's unread input bound
	// when ListenerOptions.MaxBuffered is zero.
	DefaultListenerBuffer = 64 << 10
	// DefaultListenerBacklog is how many connections a Listener holds for
	// Accept when ListenerOptions.Backlog is zero.
	DefaultListenerBacklog = 64
)

// ListenerOptions shape a Listener. The zero value is usable.
type ListenerOptions struct {
	// MaxBuffered bounds each connection's unread input (see NewConn);
	// zero is DefaultListenerBuffer.
	MaxBuffered int
	// Backlog bounds the connections made and not yet accepted; one
	// arriving past it is closed (an Accept loop that cannot keep up; the
	// peer may retry). Zero is DefaultListenerBacklog.
	Backlog int
	// Wrap, when set, is applied to each connection as Accept returns it
	// (in Accept's goroutine, never on the event loop).
	Wrap func(net.Conn) net.Conn
}

// Listener is a net.Listener fed by the reactor, for a library that
// serves a net.Listener (an SMTP or FTP server, net/http): serve Factory
// with service.Runner.ServeStream, or with service.Protocols, and hand
// the Listener to the library. Each connection reaches Accept as a Conn
// only after the reactor has done its part — allow/deny, the policies,
// the PROXY header and an ssl: endpoint's handshake — so the library
// gets all of that for free. Close ends Accept and closes the
// connections not yet accepted; the reactor's socket stays open (it is
// the reactor's to close).
type Listener struct {
	addr  net.Addr
	opts  ListenerOptions
	conns chan net.Conn
	done  chan struct{}

	mu     sync.Mutex
	closed bool
	live   map[net.Conn]struct{} // handed to the queue and not yet lost
}

// NewListener returns a Listener whose Addr is addr (the reactor's
// socket's: l.Stream.Addr() of a service.Listener).
func NewListener(addr net.Addr, opts ListenerOptions) *Listener {
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = DefaultListenerBuffer
	}
	if opts.Backlog <= 0 {
		opts.Backlog = DefaultListenerBacklog
	}
	return &Listener{addr: addr, opts: opts, conns: make(chan net.Conn, opts.Backlog),
		done: make(chan struct{}), live: map[net.Conn]struct{}{}}
}

// Factory is the protocol factory to serve on the reactor's listeners:
// each protocol it builds queues its connection for Accept.
func (l *Listener) Factory() Factory {
	return FactoryFunc(func(net.Addr) Protocol {
		return &handoff{Conn: NewConn(l.opts.MaxBuffered), l: l}
	})
}

// handoff is a Conn that gives itself to its Listener once made.
type handoff struct {
	*Conn
	l *Listener
}

// ConnectionMade implements Protocol: the connection is queued for
// Accept, or closed when the listener is closed or its backlog is full.
func (h *handoff) ConnectionMade(t Transport) {
	h.Conn.ConnectionMade(t)
	l := h.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		t.LoseConnection()
		return
	}
	select {
	case l.conns <- h.NetConn():
		l.live[h.NetConn()] = struct{}{}
	default:
		t.LoseConnection()
	}
}

// ConnectionLost implements Protocol.
func (h *handoff) ConnectionLost(err error) {
	h.Conn.ConnectionLost(err)
	h.l.mu.Lock()
	delete(h.l.live, h.NetConn())
	h.l.mu.Unlock()
}

// Live returns the connections queued or accepted and still open, as
// they were before Wrap: for a drain that closes idle sessions.
func (l *Listener) Live() []net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]net.Conn, 0, len(l.live))
	for c := range l.live {
		out = append(out, c)
	}
	return out
}

// Accept implements net.Listener. After Close it returns a *net.OpError
// wrapping net.ErrClosed, which libraries take as the end of their
// accept loop (errors.Is(err, net.ErrClosed)).
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		if l.opts.Wrap != nil {
			c = l.opts.Wrap(c)
		}
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.addr.Network(), Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close implements net.Listener: Accept returns net.ErrClosed, and
// queued connections not yet accepted are closed. The reactor's socket
// stays open. Close is idempotent.
func (l *Listener) Close() error {
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
func (l *Listener) Addr() net.Addr { return l.addr }

var (
	_ net.Listener = (*Listener)(nil)
	_ Protocol     = (*handoff)(nil)
)
