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
	rc := c.raw
	if rc == nil {
		return 0, errors.ErrUnsupported
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
	var sent int64
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		sent, serr = sendfileSome(int(fd), int(f.Fd()), off, n)
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

// sendfileSome sends up to n bytes of the file src from offset off to
// the non-blocking socket dst with sendfile(2), as many as it takes now,
// and returns how many went; unix.EAGAIN when it filled before all did
// (nil when all did, or the file ended early).
func sendfileSome(dst, src int, off, n int64) (int64, error) {
	var sent int64
	for sent < n {
		o := off + sent
		m, err := unix.Sendfile(dst, src, &o, int(min(n-sent, 1<<30)))
		if m > 0 {
			sent += int64(m)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return sent, err
		}
	}
	return sent, nil
}

// rawConnOf is nc's socket for writing to directly, nil when there is
// none: not a TLS connection's (its bytes must be encrypted here), and
// past a PROXY header's reader, which buffers only what it reads.
func rawConnOf(nc net.Conn) syscall.RawConn {
	if pc, ok := nc.(*proxyproto.Conn); ok {
		nc = pc.Conn
	}
	if _, ok := nc.(*tls.Conn); ok {
		return nil
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writeNow writes what the socket takes of bufs at once, without waiting
// (c.mu is held and nothing is queued or in flight); it returns how many
// bytes went, and an error other than a full socket's.
func (c *conn) writeNow(bufs [][]byte) (int, error) {
	var n int
	var err error
	werr := c.raw.Write(func(fd uintptr) bool {
		for {
			n, err = writeSome(int(fd), bufs)
			if err != unix.EINTR {
				return true
			}
		}
	})
	if errors.Is(err, unix.EAGAIN) {
		err = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}

// awaitWritable waits, on the writer goroutine and without c.mu, until
// the socket takes bytes again after a short SendFile. The poller forgets
// a readiness it saw before the wait begins (RawConn.Write resets it),
// so the socket is asked first: it may have drained already.
func (c *conn) awaitWritable() error {
	return c.raw.Write(func(fd uintptr) bool {
		for {
			p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			n, err := unix.Poll(p, 0)
			if err == unix.EINTR {
				continue
			}
			// Writable, failed (the write that follows says how),
			// or not yet: then the poller waits for the next change.
			return err != nil || n > 0
		}
	})
}

var _ protocol.FileSender = (*conn)(nil)
