package proxyproto

import (
	"errors"
	"io"
	"net"
	"time"
)

// HeaderTimeout bounds the wait for a connection's header: a connection
// without one is closed.
const HeaderTimeout = 5 * time.Second

// ReadHeader reads the PROXY header at the start of c, waiting at most
// HeaderTimeout, and returns a connection whose RemoteAddr is the real
// client and whose first reads return what followed the header. On error
// the caller closes c.
//
// On a socket it reads no byte past the header (it peeks first), so the
// socket can be handed whole to another process after it.
func ReadHeader(c net.Conn) (*Conn, error) {
	_ = c.SetReadDeadline(time.Now().Add(HeaderTimeout))
	if pc, ok, err := readExact(c); ok {
		if err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Time{})
		return pc, nil
	}
	var buf []byte
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		addr, hlen, perr := Parse(buf)
		if perr == nil {
			_ = c.SetReadDeadline(time.Time{})
			return &Conn{Conn: c, rest: buf[hlen:], peer: addr}, nil
		}
		if !errors.Is(perr, ErrNeedMore) {
			return nil, perr
		}
		if err != nil {
			return nil, err
		}
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

// Buffered is how many bytes that followed the header were read with it
// and are not yet returned by Read.
func (c *Conn) Buffered() int { return len(c.rest) }
