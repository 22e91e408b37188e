package policy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// WrapListener applies the policies to every connection accepted from l,
// for services that run their own accept loop (net/http and the like): a
// refused connection is closed before Accept would return it, reads and
// writes are paced to the rate limits, a connection idle for IdleTimeout
// is closed, each closed connection is traffic-logged, and connections and
// bytes are counted. Wrap the raw listener, below any TLS. The wrapped
// connections keep io.ReaderFrom, so sendfile still works when no write
// limit is set.
func (p *Policy) WrapListener(l net.Listener) net.Listener {
	return &listener{Listener: l, p: p}
}

type listener struct {
	net.Listener
	p *Policy
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, refused := l.p.admit(c.RemoteAddr())
		if refused {
			c.Close()
			continue
		}
		return newConn(l.p, c, release), nil
	}
}

// conn is one accepted connection under the policies.
type conn struct {
	net.Conn
	p       *Policy
	release func()
	began   time.Time

	in, out atomic.Int64
	writing atomic.Int32 // writes in progress: a slow write is not idleness
	idle    *idleWatch   // nil without an idle timeout
	once    sync.Once
}

func newConn(p *Policy, c net.Conn, release func()) *conn {
	w := &conn{Conn: c, p: p, release: release, began: time.Now()}
	if p.cnt != nil {
		p.cnt.ConnectionOpened()
	}
	if d := p.cfg.IdleTimeout; d > 0 {
		w.idle = newIdleWatch(d, func() {
			p.log.Debug("idle timeout; closing connection", zap.Stringer("peer", w.RemoteAddr()), zap.Duration("idle_timeout", d))
			w.Close()
		}, func() bool { return w.writing.Load() > 0 })
	}
	return w
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.count(&c.in, n, c.p.read)
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	c.writing.Add(1)
	defer c.writing.Add(-1)
	if c.p.write == nil {
		n, err := c.Conn.Write(b)
		c.count(&c.out, n, nil)
		return n, err
	}
	// Pace in chunks no larger than the bucket's burst.
	written := 0
	for written < len(b) {
		end := min(len(b), written+c.p.write.chunk())
		n, err := c.Conn.Write(b[written:end])
		written += n
		c.count(&c.out, n, c.p.write)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// ReadFrom keeps the kernel's sendfile/splice path when writes are not
// rate limited.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok || c.p.write != nil || !isFile(r) {
		// Relaying from another socket goes through Write, so each chunk
		// counts as activity for the idle timeout.
		return io.Copy(writerOnly{c}, r)
	}
	c.writing.Add(1)
	defer c.writing.Add(-1)
	n, err := rf.ReadFrom(r)
	c.count(&c.out, int(n), nil)
	return n, err
}

// count adds n bytes, marks activity, and sleeps off a rate limit's debt
// (blocking is right here: each connection has its own goroutine).
func (c *conn) count(total *atomic.Int64, n int, b *bucket) {
	if n <= 0 {
		return
	}
	total.Add(int64(n))
	c.idle.touch()
	if c.p.cnt != nil {
		if total == &c.in {
			c.p.cnt.Received(n)
		} else {
			c.p.cnt.Sent(n)
		}
	}
	if b != nil {
		if wait := b.take(n); wait > 0 {
			time.Sleep(wait)
		}
	}
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.idle.stop()
		c.release()
		if c.p.cnt != nil {
			c.p.cnt.ConnectionClosed()
		}
		c.p.closed(c.RemoteAddr(), c.began, c.in.Load(), c.out.Load())
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// CloseWrite half-closes when the underlying connection can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("half-close not supported")
}

// isFile reports whether r is a file (maybe limited to a range): the case
// where the kernel's sendfile pays off, and a long copy is a download in
// progress rather than a wait.
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// writerOnly hides ReadFrom so io.Copy does not loop back into it.
type writerOnly struct{ io.Writer }
