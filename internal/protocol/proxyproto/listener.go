package proxyproto

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// HeaderTimeout bounds the wait for a connection's header: a connection
// without one is closed.
const HeaderTimeout = 5 * time.Second

// Listener reads the PROXY header of each accepted connection (in a
// goroutine of its own, so one slow client never holds up the others) and
// hands out connections whose RemoteAddr is the real client. A connection
// without a valid header is closed.
type Listener struct {
	net.Listener
	ready  chan net.Conn
	done   chan struct{}
	once   sync.Once
	errMu  sync.Mutex
	err    error
	OnDrop func(peer net.Addr, err error)
}

// NewListener wraps l.
func NewListener(l net.Listener) *Listener {
	pl := &Listener{Listener: l, ready: make(chan net.Conn), done: make(chan struct{})}
	go pl.acceptLoop()
	return pl
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			l.once.Do(func() { close(l.done) })
			return
		}
		go l.handshake(c)
	}
}

func (l *Listener) handshake(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(HeaderTimeout))
	var buf []byte
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		addr, hlen, perr := Parse(buf)
		if perr == nil {
			_ = c.SetReadDeadline(time.Time{})
			pc := &Conn{Conn: c, rest: buf[hlen:], peer: addr}
			select {
			case l.ready <- pc:
			case <-l.done:
				c.Close()
			}
			return
		}
		if !errors.Is(perr, ErrNeedMore) || err != nil {
			if err != nil && errors.Is(perr, ErrNeedMore) {
				perr = err
			}
			if l.OnDrop != nil {
				l.OnDrop(c.RemoteAddr(), perr)
			}
			c.Close()
			return
		}
	}
}

// Accept returns the next connection whose header has been read.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		return nil, l.err
	}
}

// Conn is a connection whose header was read: RemoteAddr is the client's.
type Conn struct {
	net.Conn
	rest []byte
	peer net.Addr
}

// Read returns what followed the header first.
func (c *Conn) Read(b []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr is the client's address from the header (the balancer's for
// LOCAL headers).
func (c *Conn) RemoteAddr() net.Addr {
	if c.peer != nil {
		return c.peer
	}
	return c.Conn.RemoteAddr()
}

// ReadFrom keeps the kernel's sendfile path of the connection below.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok && len(c.rest) == 0 {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes when the connection below can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("half-close not supported")
}
