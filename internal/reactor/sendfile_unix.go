//go:build unix

package reactor

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/proxyproto"
	"github.com/twistd-go/twistd/protocol"
)

// SendFile implements protocol.FileSender on the goroutine reactor: the
// file's bytes go from the page cache to the socket (sendfile(2)), as on
// the event loops, instead of being copied through a buffer per write.
// It sends what the socket takes now and never waits: when the socket is
// full, or bytes queued by Write must go first, the registered producer
// is paused and the writer goroutine resumes it once the socket drains.
// A TLS connection, or one without a descriptor, reports
// errors.ErrUnsupported and the caller copies.
func (c *conn) SendFile(f *os.File, off, n int64) (int64, error) {
	rc, err := c.rawConn()
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	// c.queued counts the writer's batch in flight too: at zero nothing
	// else is writing, and c.mu keeps it so while the file goes out.
	if c.queued > 0 || c.waitWritable {
		tell := c.pauseFeedLocked()
		c.mu.Unlock()
		if tell {
			c.feed.sync()
		}
		return 0, nil
	}
	src := int(f.Fd())
	var sent int64
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for sent < n {
			o := off + sent
			m, e := unix.Sendfile(int(fd), src, &o, int(min(n-sent, 1<<30)))
			if m > 0 {
				sent += int64(m)
			}
			if e == unix.EINTR {
				continue
			}
			if e != nil || m == 0 {
				serr = e
				break
			}
		}
		return true // never wait here: the writer goroutine does
	})
	if serr == nil {
		serr = werr
	}
	c.s.stats.BytesSent.Add(sent)
	tell := false
	if errors.Is(serr, unix.EAGAIN) {
		serr = nil
		c.waitWritable = true
		tell = c.pauseFeedLocked()
		c.cond.Broadcast()
	}
	if serr != nil && !c.closed {
		c.writeErr = serr
		c.closeLocked()
	}
	c.mu.Unlock()
	if tell {
		c.feed.sync()
	}
	return sent, serr
}

// rawConn is the connection's socket for sendfile: not a TLS one (its
// bytes must be encrypted here), and past a PROXY header's reader only
// for writing, which it does not buffer.
func (c *conn) rawConn() (syscall.RawConn, error) {
	nc := c.nc
	if pc, ok := nc.(*proxyproto.Conn); ok {
		nc = pc.Conn
	}
	if _, ok := nc.(*tls.Conn); ok {
		return nil, errors.ErrUnsupported
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, errors.ErrUnsupported
	}
	return rc, nil
}

// awaitWritable waits, on the writer goroutine and without c.mu, until
// the socket takes bytes again after a short SendFile. It may return
// early once (a readiness left from before): the producer then finds the
// socket full again and pauses anew.
func (c *conn) awaitWritable() error {
	rc, err := c.rawConn()
	if err != nil {
		return err
	}
	first := true
	return rc.Write(func(uintptr) bool {
		if first {
			first = false
			return false // wait for the poller to see the socket writable
		}
		return true
	})
}

var _ protocol.FileSender = (*conn)(nil)
