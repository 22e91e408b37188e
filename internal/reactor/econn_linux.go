package reactor

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/proxyproto"
	"github.com/twistd-go/twistd/protocol"
)

// econn is a connection driven by a loop, and the Transport its protocol
// writes through.
//
// A Write made on the connection's own loop from a callback of another of
// its connections (or after such a Write) is queued, and the loop writes
// each queue it filled once, with one writev, when it has served the
// turn's events and before it waits again, as Twisted's reactor flushes a
// transport's buffer when it gets round to it: a callback that writes to
// a thousand connections a line at a time costs a system call per
// connection per turn, not one per Write (deferrableLocked). Any other
// Write goes straight to the socket when nothing is queued (no copy, no
// wake-up); only what the kernel does not take is copied into the queue,
// which the loop flushes on EPOLLOUT.
type econn struct {
	fd         int
	loop       *loop
	srv        *estreamServer
	proto      protocol.Protocol
	producer   protocol.PullProducer
	halfCloser protocol.HalfCloser
	peer       net.Addr
	// hooks, on a connection we dialed, are its factory's calls.
	hooks dialHooks

	mu          sync.Mutex
	queue       [][]byte
	queued      int
	readPaused  bool // by the protocol
	writeFull   bool // by the write queue
	lose        bool // close once flushed
	halfClose   bool // shutdown(SHUT_WR) once flushed
	eof         bool
	closed      bool
	abort       bool
	abortErr    error
	wantRead    bool
	wantProduce bool
	scheduled   bool
	// deferred: the queue holds Writes of the loop's callbacks and c is
	// on loop.dirty, flushed at the end of the turn.
	deferred bool
	feed     feed // the registered producer, paused while the queue is full

	// Under loop.mu: the connection's pending timers, and whether it is
	// lost (no timer runs again).
	timers     map[*etimer]struct{}
	timersDone bool

	// While awaiting is set (haproxy: endpoints) there is no protocol yet:
	// the loop collects the PROXY header in header.
	awaiting bool
	header   []byte
	// pastHeader is how many bytes read with the header followed it.
	pastHeader  int
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

// drainedLocked lifts the write-full pause once the queue is low again; it
// reports whether the feeder must be told (c.feed.sync, without c.mu).
func (c *econn) drainedLocked() bool {
	if c.queued >= lowWater {
		return false
	}
	c.writeFull = false
	return c.feed.wish(false)
}

// fullLocked marks the queue full and wishes the feeder paused; it reports
// whether the feeder must be told.
func (c *econn) fullLocked() bool {
	c.writeFull = true
	return c.feed.wish(true)
}

func writev(fd int, bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return rawWrite(fd, bufs[0])
	}
	return rawWritev(fd, bufs)
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

// maxDeferred bounds the bytes a connection's Writes from its loop wait
// with: at that much the turn's bytes make a full write already, and go
// out at once (so deferring never brings the queue near its high water
// mark).
const maxDeferred = lowWater

// minChunk is the smallest buffer the queue allocates: the small Writes of
// one turn share it (one allocation, one iovec).
const minChunk = 512

// deferrableLocked reports whether a Write of n bytes waits for the end of
// the turn: it is made on c's loop (in a callback of one of its
// connections, or a timer), nothing waits for EPOLLOUT, and the turn's
// bytes stay under maxDeferred. A callback's Write to its own connection
// with nothing queued still goes out at once, as before: an echo's answer
// would gain no system call by waiting, only a copy and the rest of the
// turn in latency (measured: echo ping-pong took more CPU per message).
func (c *econn) deferrableLocked(n int) bool {
	if c.queued+n >= maxDeferred || len(c.queue) > 0 && !c.deferred {
		return false
	}
	if g := c.loop.g.Load(); g == 0 || g != curg() {
		return false
	}
	return c.deferred || c.loop.current != c
}

// deferLocked puts c on its loop's list of queues to flush at the end of
// the turn; it runs on the loop.
func (c *econn) deferLocked() {
	if !c.deferred {
		c.deferred = true
		c.loop.dirty = append(c.loop.dirty, c)
	}
}

// Write implements protocol.Transport.
func (c *econn) Write(p []byte) { c.write(p, false) }

// WriteMore implements protocol.MoreWriter: a direct write of p carries
// MSG_MORE, so the kernel keeps it for the packets of the SendFile or
// Write that follows. Bytes that must queue go out with the queue anyway.
func (c *econn) WriteMore(p []byte) { c.write(p, true) }

// Push implements protocol.MoreWriter: turning TCP_NODELAY on (again)
// sends the frames MSG_MORE held back. Elsewhere (a Unix socket) nothing
// was held.
func (c *econn) Push() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		_ = unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
}

func (c *econn) write(p []byte, more bool) {
	if len(p) == 0 {
		return
	}
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return
	}
	// open: nothing waits for EPOLLOUT; the queue, if any, is the turn's.
	open := len(c.queue) == 0 || c.deferred
	switch {
	case c.deferrableLocked(len(p)):
		c.deferLocked()
	case len(c.queue) == 0:
		var n int
		var err error
		if more {
			n, err = rawSendMore(c.fd, p)
		} else {
			n, err = rawWrite(c.fd, p)
		}
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
	case open:
		// Deferred bytes and p make a full write: out with them now.
		c.appendLocked(p)
		c.writeNowLocked()
		return
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
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	open := len(c.queue) == 0 || c.deferred
	switch {
	case total == 0:
		c.mu.Unlock()
		return
	case c.deferrableLocked(total):
		c.deferLocked()
	case len(c.queue) == 0:
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
	case open:
		for _, b := range bufs {
			c.appendLocked(b)
		}
		c.writeNowLocked()
		return
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

// writeNowLocked writes the queue as far as the socket takes it (the rest
// waits for EPOLLOUT, or the end of the turn), pauses the feeder past the
// high water mark, and unlocks c.mu.
func (c *econn) writeNowLocked() {
	if err := c.writeQueuedLocked(); err != nil {
		c.failLocked(err)
		c.mu.Unlock()
		return
	}
	c.enqueueLocked(nil)
}

// appendLocked copies b into the queue: into the spare room of the last
// buffer when it has some (every buffer in the queue is the queue's own).
func (c *econn) appendLocked(b []byte) {
	if len(b) == 0 {
		return
	}
	if n := len(c.queue); n > 0 && cap(c.queue[n-1])-len(c.queue[n-1]) >= len(b) {
		c.queue[n-1] = append(c.queue[n-1], b...)
	} else {
		c.queue = append(c.queue, append(make([]byte, 0, max(len(b), minChunk)), b...))
	}
	c.queued += len(b)
}

// enqueueLocked copies p into the queue, pauses the feeder past the high
// water mark, and unlocks c.mu.
func (c *econn) enqueueLocked(p []byte) {
	c.appendLocked(p)
	tell := false
	if c.queued > highWater && !c.writeFull {
		tell = c.fullLocked()
	}
	c.mu.Unlock()
	if tell {
		c.feed.sync()
	}
}

// flushDeferredLocked writes what the loop's callbacks queued this turn
// ahead of the end of the turn: for the calls that need what was written
// before them to have left (SendFile, Detach, Abort).
func (c *econn) flushDeferredLocked() error {
	if !c.deferred || len(c.queue) == 0 {
		return nil
	}
	return c.writeQueuedLocked()
}

// flushDirty ends a turn of the loop: it writes out the queues the turn's
// callbacks filled. A queue filled while it runs (a ConnectionLost that
// writes, a producer asked for more) waits for the next turn, which then
// does not sleep.
func (l *loop) flushDirty() {
	n := len(l.dirty)
	for i := 0; i < n; i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.mu.Lock()
		c.deferred = false
		c.mu.Unlock()
		l.flush(c)
	}
	rest := copy(l.dirty, l.dirty[n:])
	clear(l.dirty[rest:])
	l.dirty = l.dirty[:rest]
}

// failLocked closes c from the loop after a write error.
func (c *econn) failLocked(err error) {
	c.abort, c.abortErr = true, err
	c.scheduleLocked()
}

// SendFile implements protocol.FileSender: the file's bytes go from the
// page cache to the socket (sendfile(2)) without a copy through user
// space. It sends what the socket takes now; when it is full, the
// registered producer is paused and resumed once the socket drains.
func (c *econn) SendFile(f *os.File, off, n int64) (int64, error) {
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if err := c.flushDeferredLocked(); err != nil {
		c.failLocked(err)
		c.mu.Unlock()
		return 0, err
	}
	if len(c.queue) > 0 {
		// Queued bytes go first: wait for the drain like any full queue.
		tell := c.fullLocked()
		c.mu.Unlock()
		if tell {
			c.feed.sync()
		}
		return 0, nil
	}
	sent, err := sendfileSome(c.fd, int(f.Fd()), off, n)
	c.srv.stats.BytesSent.Add(sent)
	tell := false
	if err == unix.EAGAIN {
		err = nil
		tell = c.fullLocked() // EPOLLOUT will drain, and resume the feeder
	}
	if err != nil {
		c.failLocked(err)
	}
	c.mu.Unlock()
	if tell {
		c.feed.sync()
	}
	return sent, err
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
	// What the callbacks wrote before still leaves, as far as the socket
	// takes it, as if each Write had gone out at once.
	_ = c.flushDeferredLocked()
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
func (c *econn) RegisterProducer(p protocol.Producer) { c.feed.set(p) }

// Detach implements protocol.Detacher: the socket leaves the epoll set and
// is handed over; the loop then closes its own descriptor (the socket
// stays open through the duplicate) and the protocol sees
// ConnectionLost(nil).
func (c *econn) Detach() (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		_ = c.flushDeferredLocked() // a write error leaves the bytes queued: errDetachQueued
	}
	switch {
	case c.closed || c.lose || c.abort:
		return nil, errDetachClosed
	case c.pastHeader > 0:
		return nil, errDetachRead
	case c.queued > 0:
		return nil, errDetachQueued
	}
	// Out of the set first: the set follows the open file, which the
	// duplicate keeps alive, not our descriptor.
	if err := unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_DEL, c.fd, nil); err != nil {
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	f, err := dupFile(c.fd, "tcp:"+c.peer.String())
	if err != nil {
		return nil, err
	}
	// The shared file is blocking now: the loop must not touch the
	// socket again, only close its descriptor.
	c.readPaused, c.lose, c.abort, c.abortErr = true, true, true, nil
	c.scheduleLocked()
	return f, nil
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

var (
	_ protocol.Transport  = (*econn)(nil)
	_ protocol.FileSender = (*econn)(nil)
	_ protocol.MoreWriter = (*econn)(nil)
	_ protocol.Detacher   = (*econn)(nil)
)
