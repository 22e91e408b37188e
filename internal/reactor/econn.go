package reactor

import (
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/protocol/proxyproto"
)

// econn is a connection driven by a loop, and the Transport its protocol
// writes through. Writes go straight to the socket when nothing is queued
// (no copy, no wake-up); only what the kernel does not take is copied into
// the queue, which the loop flushes on EPOLLOUT.
type econn struct {
	fd         int
	loop       *loop
	srv        *estreamServer
	proto      protocol.Protocol
	producer   protocol.PullProducer
	halfCloser protocol.HalfCloser
	peer       net.Addr

	mu           sync.Mutex
	queue        [][]byte
	queued       int
	readPaused   bool // by the protocol
	writeFull    bool // by the write queue
	lose         bool // close once flushed
	halfClose    bool // shutdown(SHUT_WR) once flushed
	eof          bool
	closed       bool
	abort        bool
	abortErr     error
	wantRead     bool
	wantProduce  bool
	scheduled    bool
	feeder       protocol.Producer
	feederPaused bool

	// While awaiting is set (haproxy: endpoints) there is no protocol yet:
	// the loop collects the PROXY header in header.
	awaiting    bool
	header      []byte
	headerTimer *time.Timer
}

// awaitHeader puts a new connection in PROXY-header mode: it is closed if
// no valid header arrives within proxyproto.HeaderTimeout.
func (c *econn) awaitHeader() {
	c.awaiting = true
	c.headerTimer = time.AfterFunc(proxyproto.HeaderTimeout, func() {
		c.mu.Lock()
		if c.awaiting {
			c.abort, c.abortErr = true, errors.New("no PROXY header in time")
			c.scheduleLocked()
		}
		c.mu.Unlock()
	})
}

// setProtocol installs the protocol built once the header is read.
func (c *econn) setProtocol(p protocol.Protocol, peer net.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proto, c.peer, c.awaiting, c.header = p, peer, false, nil
	c.producer, _ = p.(protocol.PullProducer)
	c.halfCloser, _ = p.(protocol.HalfCloser)
	c.wantProduce = c.producer != nil
}

func newEconn(fd int, l *loop, srv *estreamServer, p protocol.Protocol, peer net.Addr) *econn {
	c := &econn{fd: fd, loop: l, srv: srv, proto: p, peer: peer}
	if p != nil {
		c.producer, _ = p.(protocol.PullProducer)
		c.halfCloser, _ = p.(protocol.HalfCloser)
		c.wantProduce = c.producer != nil
	}
	return c
}

// scheduleLocked queues c for its loop once; c.mu is held.
func (c *econn) scheduleLocked() {
	if c.scheduled || c.closed {
		return
	}
	c.scheduled = true
	c.loop.schedule(c)
}

// writeQueuedLocked writes as much of the queue as the socket takes.
func (c *econn) writeQueuedLocked() error {
	for len(c.queue) > 0 {
		n, err := writev(c.fd, c.queue)
		if n > 0 {
			c.srv.stats.BytesSent.Add(int64(n))
			c.queued -= n
			c.queue = advance(c.queue, n)
		}
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil && err != unix.EINTR {
			return err
		}
	}
	if c.halfClose && !c.lose {
		c.halfClose = false
		_ = unix.Shutdown(c.fd, unix.SHUT_WR)
	}
	return nil
}

// drainedLocked lifts the write-full pause once the queue is low again and
// returns the registered producer to resume, if it was paused.
func (c *econn) drainedLocked() protocol.Producer {
	if c.queued >= lowWater {
		return nil
	}
	c.writeFull = false
	if c.feeder != nil && c.feederPaused {
		c.feederPaused = false
		return c.feeder
	}
	return nil
}

func writev(fd int, bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return unix.Write(fd, bufs[0])
	}
	if len(bufs) > 1024 { // IOV_MAX
		bufs = bufs[:1024]
	}
	return unix.Writev(fd, bufs)
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs[0] = nil
			bufs = bufs[1:]
			continue
		}
		bufs[0] = bufs[0][n:]
		n = 0
	}
	if len(bufs) == 0 {
		return nil
	}
	return bufs
}

// Write implements protocol.Transport.
func (c *econn) Write(p []byte) {
	if len(p) == 0 {
		return
	}
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return
	}
	if len(c.queue) == 0 {
		n, err := unix.Write(c.fd, p)
		if n > 0 {
			c.srv.stats.BytesSent.Add(int64(n))
			p = p[n:]
		}
		if len(p) == 0 {
			c.mu.Unlock()
			return
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			c.failLocked(err)
			c.mu.Unlock()
			return
		}
	}
	c.enqueueLocked(p)
}

// WriteMany implements protocol.Transport.
func (c *econn) WriteMany(bufs ...[]byte) {
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return
	}
	if len(c.queue) == 0 {
		total := 0
		for _, b := range bufs {
			total += len(b)
		}
		n, err := writev(c.fd, bufs)
		if n > 0 {
			c.srv.stats.BytesSent.Add(int64(n))
		}
		if n == total {
			c.mu.Unlock()
			return
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			c.failLocked(err)
			c.mu.Unlock()
			return
		}
		bufs = advance(append([][]byte(nil), bufs...), max(n, 0))
	}
	for _, b := range bufs[:max(len(bufs)-1, 0)] {
		c.appendLocked(b)
	}
	if len(bufs) > 0 {
		c.enqueueLocked(bufs[len(bufs)-1])
		return
	}
	c.mu.Unlock()
}

// appendLocked copies b into the queue.
func (c *econn) appendLocked(b []byte) {
	if len(b) == 0 {
		return
	}
	c.queue = append(c.queue, append([]byte(nil), b...))
	c.queued += len(b)
}

// enqueueLocked copies p into the queue, pauses the feeder past the high
// water mark, and unlocks c.mu.
func (c *econn) enqueueLocked(p []byte) {
	c.appendLocked(p)
	var pause protocol.Producer
	if c.queued > highWater && !c.writeFull {
		c.writeFull = true
		if c.feeder != nil && !c.feederPaused {
			c.feederPaused, pause = true, c.feeder
		}
	}
	c.mu.Unlock()
	if pause != nil {
		pause.PauseProducing()
	}
}

// failLocked closes c from the loop after a write error.
func (c *econn) failLocked(err error) {
	c.abort, c.abortErr = true, err
	c.scheduleLocked()
}

// LoseConnection implements protocol.Transport.
func (c *econn) LoseConnection() {
	c.mu.Lock()
	c.lose = true
	if len(c.queue) == 0 {
		c.scheduleLocked()
	}
	c.mu.Unlock()
}

// Abort implements protocol.Transport.
func (c *econn) Abort() {
	c.mu.Lock()
	c.abort = true
	c.scheduleLocked()
	c.mu.Unlock()
}

// CloseWrite implements protocol.Transport.
func (c *econn) CloseWrite() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) == 0 {
		_ = unix.Shutdown(c.fd, unix.SHUT_WR)
		return
	}
	c.halfClose = true
}

// PauseReading implements protocol.Transport.
func (c *econn) PauseReading() {
	c.mu.Lock()
	c.readPaused = true
	c.mu.Unlock()
}

// ResumeReading implements protocol.Transport: the loop reads at once
// (edge-triggered epoll will not announce data that arrived meanwhile).
func (c *econn) ResumeReading() {
	c.mu.Lock()
	if c.readPaused {
		c.readPaused = false
		c.wantRead = true
		c.wantProduce = c.producer != nil
		c.scheduleLocked()
	}
	c.mu.Unlock()
}

// RegisterProducer implements protocol.Transport.
func (c *econn) RegisterProducer(p protocol.Producer) {
	c.mu.Lock()
	c.feeder, c.feederPaused = p, false
	c.mu.Unlock()
}

// PeerAddr implements protocol.Transport.
func (c *econn) PeerAddr() net.Addr { return c.peer }

// HostAddr implements protocol.Transport; it asks the kernel only when
// wanted, so connections that never look cost nothing.
func (c *econn) HostAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return nil
	}
	return sockaddrToAddr(sa)
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

var _ protocol.Transport = (*econn)(nil)
