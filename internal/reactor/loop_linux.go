package reactor

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/internal/proxyproto"
)

// loop is one epoll event loop. Connections live on one loop for their
// whole life; the loop's goroutine is the only one that reads their
// sockets, closes them and calls their protocols, so the calls for one
// connection never overlap and an idle connection costs no goroutine and
// no buffer: every read lands in the loop's one buffer.
//
// Other goroutines (timers, other loops, a service's own goroutines) act
// on a connection through its transport; what needs the loop (a close, a
// read after a pause) is queued as pending and the loop is woken through
// an eventfd, only when it sleeps.
type loop struct {
	epfd, wakefd int // the epoll set, and the eventfd in it that wakes the loop
	log          *zap.Logger
	buf          []byte
	events       []unix.EpollEvent
	conns        map[int32]*econn         // owned by the loop goroutine
	acceptors    map[int32]*estreamServer // listening sockets this loop accepts on

	mu       sync.Mutex
	pending  []*econn
	adds     []*econn
	ops      []func()
	timers   timerHeap[*etimer] // every connection's pending CallLaters
	timerSeq uint64
	ntimers  atomic.Int32 // len(timers), read without the lock
	sleeping atomic.Bool
	stopping bool
	done     chan struct{}

	// g is the loop goroutine's curg (0 when not running): a Write that
	// finds it is the loop's, and waits on dirty for the end of the turn.
	g     atomic.Uintptr
	dirty []*econn // owned by the loop goroutine
	// current is the connection whose callback runs (loop goroutine only).
	current *econn
}

// loopReadBuffer is the size of each loop's shared read buffer.
const loopReadBuffer = 32 << 10

func newLoop(log *zap.Logger) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	l := &loop{epfd: epfd, wakefd: wakefd, log: log, buf: make([]byte, loopReadBuffer),
		events: make([]unix.EpollEvent, 256), conns: make(map[int32]*econn),
		acceptors: make(map[int32]*estreamServer), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// wake makes the loop run its pending work soon.
func (l *loop) wake() {
	if l.sleeping.Load() {
		var one = [8]byte{1}
		_, _ = rawWrite(l.wakefd, one[:])
	}
}

// add hands a new connection to the loop, which registers it and calls
// ConnectionMade.
func (l *loop) add(c *econn) {
	l.mu.Lock()
	l.adds = append(l.adds, c)
	l.mu.Unlock()
	l.wake()
}

// do runs f on the loop goroutine and waits for it.
func (l *loop) do(f func()) {
	done := make(chan struct{})
	l.mu.Lock()
	l.ops = append(l.ops, func() { f(); close(done) })
	l.mu.Unlock()
	l.sleeping.Store(true) // force the wake-up: the caller is never the loop
	l.wake()
	<-done
}

// schedule asks the loop to look at c's requests (close, read, produce).
func (l *loop) schedule(c *econn) {
	l.mu.Lock()
	l.pending = append(l.pending, c)
	l.mu.Unlock()
	l.wake()
}

// stop ends the loop once it has no connections left.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.sleeping.Store(true)
	l.wake()
	<-l.done
}

// yieldEvery is how often a busy loop yields its P to the scheduler.
const yieldEvery = 2 * time.Millisecond

func (l *loop) run() {
	defer close(l.done)
	defer unix.Close(l.epfd)
	defer unix.Close(l.wakefd)
	l.g.Store(curg())
	defer l.g.Store(0)
	yielded := time.Now()
	for {
		if now := time.Now(); now.Sub(yielded) >= yieldEvery {
			// The loop's polls are raw system calls the scheduler does
			// not see: to it the loop's goroutine runs without a break,
			// and after 10 ms its monitor preempts it, takes the P if a
			// wait is under way, and polls every 20 µs for a while. On
			// a CPU shared with another busy process those wake-ups
			// cost the loop its turn. A yield every 2 ms keeps the
			// monitor from having to: beside bench/web's CPU hog, 4 KiB
			// requests went from 87-91k to 98-102k a second (p99 level
			// at 5.3 ms); alone, level.
			yielded = now
			runtime.Gosched()
		}
		l.sleeping.Store(true)
		l.mu.Lock()
		busy := len(l.pending) > 0 || len(l.adds) > 0 || len(l.ops) > 0 || len(l.dirty) > 0
		stop := l.stopping && len(l.conns) == 0 && len(l.acceptors) == 0 && !busy
		timeout := 0
		if !busy {
			timeout = l.timeoutLocked()
		}
		l.mu.Unlock()
		if stop {
			return
		}
		n, err := l.wait(timeout)
		l.sleeping.Store(false)
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.log.Error("epoll_wait failed; event loop stopped", zap.Error(err))
			return
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			if ev.Fd == int32(l.wakefd) {
				var b [8]byte
				_, _ = rawRead(l.wakefd, b[:])
				continue
			}
			c := l.conns[ev.Fd]
			if c == nil {
				if a := l.acceptors[ev.Fd]; a != nil {
					a.accept(l)
				}
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				l.flush(c)
			}
			switch {
			case ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0:
				l.read(c) // read on to the EOF or error
			case ev.Events&unix.EPOLLIN != 0:
				l.readEvent(c)
			}
		}
		l.runPending()
		l.runTimers()
		l.flushDirty()
	}
}

// wait returns the ready events: at once when timeout is 0 (busy, or a
// timer is due), else when the epoll set has some or timeout milliseconds
// have passed (-1: no timer, no limit).
//
// Under load the loop polls with a raw, non-blocking epoll_wait, keeping
// its thread and its P: no hand-off through the scheduler, one system
// call per turn. When that finds nothing the loop sleeps in a blocking
// epoll_wait the scheduler knows about (unix.Syscall6): the runtime hands
// its P on and stops preempting it, so an idle loop costs no wake-ups
// (holding the P in a raw wait, the runtime's preemption signals woke
// each loop every 10 ms).
func (l *loop) wait(timeout int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
		uintptr(len(l.events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r > 0 || timeout == 0 {
		return int(r), nil
	}
	r, _, e = unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
		uintptr(len(l.events)), uintptr(timeout), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// runPending registers new connections and serves queued requests.
func (l *loop) runPending() {
	l.mu.Lock()
	adds, pending, ops := l.adds, l.pending, l.ops
	l.adds, l.pending, l.ops = nil, nil, nil
	l.mu.Unlock()
	for _, f := range ops {
		f()
	}
	for _, c := range adds {
		l.register(c)
	}
	for _, c := range pending {
		l.serve(c)
	}
}

// listen makes the loop accept on a listening socket (level-triggered:
// a backlog left by one turn announces itself again on the next).
func (l *loop) listen(s *estreamServer) error {
	var err error
	l.do(func() {
		if l.acceptors[int32(s.fd)] != nil {
			// A replacement takes the socket over (reload): it accepts
			// from now on, the old server no longer.
			l.acceptors[int32(s.fd)] = s
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}
		if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err == nil {
			l.acceptors[int32(s.fd)] = s
		}
	})
	return err
}

// pauseAccepting stops watching s's listening socket for d (it runs on
// the loop), then watches it again unless s was unlistened meanwhile.
func (l *loop) pauseAccepting(s *estreamServer, d time.Duration) {
	off := unix.EpollEvent{Events: 0, Fd: int32(s.fd)}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &off)
	time.AfterFunc(d, func() {
		l.mu.Lock()
		stopping := l.stopping
		if !stopping {
			l.ops = append(l.ops, func() {
				if l.acceptors[int32(s.fd)] == nil {
					return
				}
				on := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}
				_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &on)
			})
		}
		l.mu.Unlock()
		if !stopping {
			l.sleeping.Store(true) // force the wake-up: this is not the loop
			l.wake()
		}
	})
}

// drop takes s's dead listening socket out of the epoll set; it runs on
// the loop. Even unwatched, a hung-up socket would be reported on every
// turn (EPOLLHUP and EPOLLERR ignore the event mask), so pausing is no use.
func (l *loop) drop(s *estreamServer) {
	if l.acceptors[int32(s.fd)] != s {
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	delete(l.acceptors, int32(s.fd))
}

// unlisten stops accepting on s's socket; when it returns, the loop no
// longer refers to the descriptor, which may then be closed.
func (l *loop) unlisten(s *estreamServer) {
	l.do(func() {
		if l.acceptors[int32(s.fd)] != s {
			return // handed over to a replacement
		}
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		delete(l.acceptors, int32(s.fd))
	})
}

func (l *loop) register(c *econn) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		l.log.Error("epoll_ctl add failed; connection dropped", zap.Error(err))
		unix.Close(c.fd)
		c.srv.remove(c)
		return
	}
	l.conns[int32(c.fd)] = c
	if c.proto == nil { // PROXY header first
		l.serve(c)
		l.read(c)
		return
	}
	l.made(c)
}

// made tells a new connection's protocol, then serves what is waiting.
func (l *loop) made(c *econn) {
	if !l.call(c, "in ConnectionMade", func() { c.proto.ConnectionMade(c) }) {
		return
	}
	if c.hooks.made != nil && !l.call(c, "in ClientConnectionMade", c.hooks.made) {
		return
	}
	l.serve(c)
	l.read(c)
}

// headerReceived collects a PROXY header; once it is whole the protocol is
// built for the real client and gets what followed the header.
func (l *loop) headerReceived(c *econn, data []byte) {
	c.header = append(c.header, data...)
	addr, n, err := proxyproto.Parse(c.header)
	if errors.Is(err, proxyproto.ErrNeedMore) && len(c.header) < proxyproto.MaxHeader {
		return
	}
	if err != nil {
		c.srv.log.Debug("connection without a valid PROXY header closed", zap.Stringer("peer", c.peer), zap.Error(err))
		l.close(c, err)
		return
	}
	c.headerTimer.Stop()
	peer := c.peer
	if addr != nil {
		peer = addr
	}
	if !admit(c.srv.access, c.srv.refused, peer) {
		l.close(c, nil)
		return
	}
	rest := append([]byte(nil), c.header[n:]...)
	p := c.srv.build(peer)
	if p == nil {
		l.close(c, nil)
		return
	}
	c.setProtocol(p, peer)
	c.mu.Lock()
	c.pastHeader = len(rest)
	c.mu.Unlock()
	if !l.call(c, "in ConnectionMade", func() { c.proto.ConnectionMade(c) }) {
		return
	}
	c.mu.Lock()
	c.pastHeader = 0
	c.mu.Unlock()
	if len(rest) > 0 && !l.call(c, "in DataReceived", func() { c.proto.DataReceived(rest) }) {
		return
	}
	l.serve(c)
}

// serve acts on what other goroutines asked of c.
func (l *loop) serve(c *econn) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	abort, closeNow := c.abort, c.lose && len(c.queue) == 0
	wantRead, wantProduce := c.wantRead, c.wantProduce
	c.wantRead, c.wantProduce, c.scheduled = false, false, false
	c.mu.Unlock()
	switch {
	case abort:
		l.close(c, c.abortErr)
	case closeNow:
		l.close(c, nil)
	default:
		if wantProduce {
			l.produce(c)
		}
		if wantRead {
			l.read(c)
		}
	}
}

// peekHeader reads a PROXY header without reading past it, so the bytes
// after it stay in the socket (for a protocol that hands the socket to a
// program, protocol.Detacher): it peeks, and reads exactly the header once
// the peeked bytes hold it whole (or prove it bad: those are read for
// headerReceived to judge). -2 means the header is not whole yet.
func peekHeader(fd int, buf []byte) (int, error) {
	n, _, err := unix.Recvfrom(fd, buf[:proxyproto.MaxHeader], unix.MSG_PEEK)
	if err != nil || n == 0 {
		return n, err
	}
	_, hlen, perr := proxyproto.Parse(buf[:n])
	switch {
	case perr == nil:
		return rawRead(fd, buf[:hlen])
	case errors.Is(perr, proxyproto.ErrNeedMore) && n < proxyproto.MaxHeader:
		return -2, nil
	}
	return rawRead(fd, buf[:n])
}

// maxReadsPerEvent bounds the reads given to one connection in one turn
// of the loop, so a fast sender cannot starve the others.
const maxReadsPerEvent = 16

// read reads until the socket is drained (EAGAIN), the EOF or an error.
func (l *loop) read(c *econn) { l.readUpTo(c, false) }

// readEvent serves an EPOLLIN: a short read means the socket is drained —
// data arriving later raises a new edge — which saves a read that would
// only say EAGAIN on every request-response exchange.
func (l *loop) readEvent(c *econn) { l.readUpTo(c, true) }

func (l *loop) readUpTo(c *econn, shortIsDrained bool) {
	for i := 0; i < maxReadsPerEvent; i++ {
		c.mu.Lock()
		if c.closed || c.readPaused || c.writeFull && !c.feed.has() || c.eof {
			c.mu.Unlock()
			return
		}
		var n int
		var err error
		if c.proto == nil {
			n, err = peekHeader(c.fd, l.buf)
		} else {
			n, err = rawRead(c.fd, l.buf)
		}
		c.mu.Unlock()
		switch {
		case n == -2:
			return // part of a PROXY header: the next arrival raises a new edge
		case n > 0 && c.proto == nil:
			l.headerReceived(c, l.buf[:n])
			if c.proto == nil {
				continue // more header to come, or closed
			}
		case n > 0:
			c.srv.stats.BytesReceived.Add(int64(n))
			data := l.buf[:n]
			if !l.call(c, "in DataReceived", func() { c.proto.DataReceived(data) }) {
				return
			}
			if shortIsDrained && n < len(l.buf) {
				return
			}
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
		case err == nil: // n == 0: the peer finished sending
			l.eof(c)
			return
		default:
			l.close(c, err)
			return
		}
	}
	// More may be waiting: come back after the others had their turn.
	c.mu.Lock()
	c.wantRead = true
	c.scheduleLocked()
	c.mu.Unlock()
}

func (l *loop) eof(c *econn) {
	if c.proto == nil {
		l.close(c, nil) // gone before its PROXY header
		return
	}
	c.mu.Lock()
	c.eof = true
	c.mu.Unlock()
	if c.halfCloser != nil {
		l.call(c, "in ReadConnectionLost", c.halfCloser.ReadConnectionLost)
		return
	}
	// Flush what the peer is owed, then close (an echo of a request sent
	// with a half-close still arrives whole).
	c.mu.Lock()
	c.lose = true
	empty := len(c.queue) == 0
	c.mu.Unlock()
	if empty {
		l.close(c, nil)
	}
}

// flush writes the queue out after EPOLLOUT.
func (l *loop) flush(c *econn) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	err := c.writeQueuedLocked()
	if err != nil {
		c.mu.Unlock()
		l.close(c, err)
		return
	}
	wasFull := c.writeFull
	tell := c.drainedLocked()
	freed := wasFull && !c.writeFull
	empty := len(c.queue) == 0
	low := c.queued < lowWater
	lose := c.lose && empty
	c.mu.Unlock()
	if tell {
		c.feed.sync()
	}
	if lose {
		l.close(c, nil)
		return
	}
	if low {
		l.produce(c)
	}
	if freed {
		l.read(c) // reading waited for the queue to drain
	}
}

// maxProducePerTurn bounds a pull producer's chunks per turn of the loop.
const maxProducePerTurn = 8

// produce asks a pull producer for more while the queue has room.
func (l *loop) produce(c *econn) {
	if c.producer == nil {
		return
	}
	for i := 0; i < maxProducePerTurn; i++ {
		c.mu.Lock()
		ok := !c.closed && !c.lose && !c.readPaused && c.queued < lowWater
		c.mu.Unlock()
		if !ok {
			return
		}
		if !l.call(c, "in ResumeProducing", c.producer.ResumeProducing) {
			return
		}
	}
	c.mu.Lock()
	c.wantProduce = true
	c.scheduleLocked()
	c.mu.Unlock()
}

// close closes c's socket and tells its protocol, once.
func (l *loop) close(c *econn, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue, c.queued = nil, 0
	fd := c.fd
	c.mu.Unlock()
	delete(l.conns, int32(fd))
	_ = unix.Close(fd) // also removes it from the epoll set
	if c.headerTimer != nil {
		c.headerTimer.Stop()
	}
	l.stopTimers(c)
	if c.proto != nil {
		l.call(c, "in ConnectionLost", func() { c.proto.ConnectionLost(err) })
		if c.hooks.lost != nil {
			l.call(c, "in ClientConnectionLost", func() { c.hooks.lost(err) })
		}
	}
	c.srv.remove(c)
}

// call runs a protocol callback; a panic is logged and closes only c. It
// reports whether c is still open.
func (l *loop) call(c *econn, what string, f func()) (open bool) {
	prev := l.current
	l.current = c
	defer func() {
		l.current = prev
		if r := recover(); r != nil {
			c.srv.log.Error("protocol panicked "+what+"; connection closed",
				zap.String("panic", fmt.Sprint(r)), zap.Stringer("peer", c.peer), zap.ByteString("stack", debug.Stack()))
			if what != "in ConnectionLost" {
				l.close(c, fmt.Errorf("protocol panicked: %v", r))
			}
			open = false
		}
	}()
	f()
	c.mu.Lock()
	open = !c.closed
	c.mu.Unlock()
	return open
}
