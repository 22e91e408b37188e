package protocol

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twistd-go/twistd/internal/alarm"
)

// Conn is a Protocol that offers its connection as a blocking net.Conn,
// for code written against one (net/http's HTTP/2 server), on the same
// transport and under the same policies as any other protocol.
// DataReceived fills a buffer that Read drains; past maxBuffered bytes
// the transport stops reading until Read has taken half of them. Write
// queues the bytes on the transport, then waits while its write queue is
// over the high water mark. Close is LoseConnection. Deadlines are
// honoured, with os.ErrDeadlineExceeded. After the peer's EOF or
// ConnectionLost, Read returns io.EOF once the buffer is drained.
//
// The zero value is not usable: build a Conn with NewConn, give it to
// the reactor (or forward a protocol's callbacks to it), and after
// ConnectionMade use NetConn in another goroutine.
type Conn struct {
	max int
	t   Transport
	nc  net.Conn

	mu       sync.Mutex
	cond     sync.Cond // data, EOF, a deadline, the write queue draining, Close
	in       []byte    // unread input is in[off:]; from inPool while in use
	inBox    *[]byte   // the pool's box in came in, to put it back in
	off      int
	paused   bool   // we paused reading: in is full
	full     bool   // the transport's write queue is full
	resumes  uint32 // ResumeProducing calls, to order them against a pause
	eof      bool   // the peer finished sending, or the connection is lost
	lost     bool
	closed   bool // Close was called
	rdl, wdl time.Time
	alarm    alarm.Alarm // wakes the waiters at rdl or wdl
}

// NewConn returns a Conn holding up to maxBuffered unread bytes.
func NewConn(maxBuffered int) *Conn {
	c := &Conn{max: maxBuffered}
	c.cond.L = &c.mu
	c.alarm.Init(&c.cond)
	return c
}

// NetConn is c as a net.Conn; it has a ConnectionState method (see
// ConnectionStater) when c's transport has one. nil before ConnectionMade.
func (c *Conn) NetConn() net.Conn { return c.nc }

// tlsConn is a Conn over a TLS transport.
type tlsConn struct {
	*Conn
	cs ConnectionStater
}

func (c tlsConn) ConnectionState() tls.ConnectionState { return c.cs.ConnectionState() }

// connGate is a Conn's write back-pressure: the transport pauses it when
// its queue is full and resumes it once the queue has drained.
type connGate struct{ c *Conn }

func (g connGate) PauseProducing() {
	g.c.mu.Lock()
	g.c.full = true
	g.c.mu.Unlock()
}

func (g connGate) ResumeProducing() {
	g.c.mu.Lock()
	g.c.full = false
	g.c.resumes++
	g.c.cond.Broadcast()
	g.c.mu.Unlock()
}

// ConnectionMade implements Protocol.
func (c *Conn) ConnectionMade(t Transport) {
	c.t = t
	c.nc = c
	if cs, ok := t.(ConnectionStater); ok {
		c.nc = tlsConn{c, cs}
	}
	t.RegisterProducer(connGate{c})
}

// DataReceived implements Protocol.
func (c *Conn) DataReceived(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	switch {
	case c.in == nil:
		c.inBox = inPool.Get().(*[]byte)
		c.in = (*c.inBox)[:0]
	case c.off > 0 && len(c.in)+len(data) > cap(c.in):
		// Slide what is unread to the front before growing.
		n := copy(c.in, c.in[c.off:])
		c.in, c.off = c.in[:n], 0
	}
	c.in = append(c.in, data...)
	if !c.paused && len(c.in)-c.off >= c.max {
		// Under c.mu, so that a Read's resume cannot overtake it.
		c.paused = true
		c.t.PauseReading()
	}
	c.cond.Broadcast()
}

// ReadConnectionLost implements HalfCloser: Read ends, Write goes on.
func (c *Conn) ReadConnectionLost() {
	c.mu.Lock()
	c.eof = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// ConnectionLost implements Protocol.
func (c *Conn) ConnectionLost(error) {
	c.mu.Lock()
	c.eof, c.lost = true, true
	c.alarm.StopLocked()
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, net.ErrClosed
		case len(c.in) > c.off:
			n := copy(p, c.in[c.off:])
			c.off += n
			if c.off == len(c.in) {
				c.releaseInLocked()
			}
			if c.paused && len(c.in)-c.off < c.max/2 {
				c.paused = false
				c.t.ResumeReading()
			}
			return n, nil
		case c.eof:
			return 0, io.EOF
		case !c.rdl.IsZero() && !time.Now().Before(c.rdl):
			return 0, os.ErrDeadlineExceeded
		}
		c.cond.Wait()
	}
}

// Write implements net.Conn: the transport copies p at once, so a
// deadline or a close while waiting for the queue to drain still
// reports every byte written.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if err := c.writableLocked(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	resumes := c.resumes
	c.mu.Unlock()
	c.t.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full && c.resumes != resumes {
		// The transport pauses its producer after releasing its lock,
		// inside this Write, so the resume can overtake the pause: a
		// resume seen during this Write means the queue drained already.
		c.full = false
	}
	for c.full {
		if err := c.writableLocked(); err != nil {
			return len(p), err
		}
		c.cond.Wait()
	}
	return len(p), nil
}

func (c *Conn) writableLocked() error {
	switch {
	case c.closed, c.lost:
		return net.ErrClosed
	case !c.wdl.IsZero() && !time.Now().Before(c.wdl):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Close implements net.Conn: what was written is still sent, then the
// connection closes. Unread input is dropped.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.releaseInLocked()
	c.alarm.StopLocked()
	c.cond.Broadcast()
	c.mu.Unlock()
	c.t.LoseConnection()
	return nil
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.t.HostAddr() }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.t.PeerAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl, c.wdl = t, t
	c.armLocked()
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	c.armLocked()
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	c.armLocked()
	return nil
}

// armLocked wakes the waiters now (a deadline may have moved into the
// past), and again at the nearest deadline.
func (c *Conn) armLocked() {
	if c.lost || c.closed {
		c.alarm.StopLocked()
		c.cond.Broadcast()
		return
	}
	c.alarm.SetLocked(c.rdl, c.wdl)
}

var (
	_ Protocol         = (*Conn)(nil)
	_ HalfCloser       = (*Conn)(nil)
	_ net.Conn         = (*Conn)(nil)
	_ net.Conn         = tlsConn{}
	_ ConnectionStater = tlsConn{}
	_ Producer         = connGate{}
)

// inPool holds input buffers between bursts: a stream read as fast as it
// arrives (an SFTP upload, a busy HTTP/2 connection) would otherwise
// allocate one for every DataReceived, and an idle connection holds none.
var inPool = sync.Pool{New: func() any {
	b := make([]byte, 0, inPoolSize)
	return &b
}}

// inPoolSize is the capacity of a pooled input buffer: one read of the
// event loop fits. A buffer that grew past twice that is left to the
// collector, so the pool never pins a burst's worth of memory.
const inPoolSize = 64 << 10

// releaseInLocked gives c's drained input buffer back to the pool, in
// the box it came in: a new box for each would be an allocation per
// burst of input.
func (c *Conn) releaseInLocked() {
	if c.in != nil && cap(c.in) <= 2*inPoolSize {
		*c.inBox = c.in[:0]
		inPool.Put(c.inBox)
	}
	c.in, c.inBox, c.off = nil, nil, 0
}
