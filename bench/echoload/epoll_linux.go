package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const defaultEngine = "epoll"

// ppConn is one connection's state in an epoll worker.
type ppConn struct {
	fd    int
	wrote int   // bytes of the current message written
	got   int   // bytes of its echo read
	sent  int64 // when it went out, ns since the worker's base
	out   bool  // EPOLLOUT is armed (a partial write is pending)
	done  bool
}

// ppWorker runs ping-pong on its connections from one event loop, so a
// round trip costs the client a read, a write and a share of one
// epoll_wait — no goroutine wake-up — and the client stays faster than
// the servers it measures.
type ppWorker struct {
	conns   []ppConn
	msg     []byte
	scratch []byte
	h       hist
	msgs    uint64
	errs    *errorCounts
	epfd    int
	base    time.Time
}

// pingpongEpoll takes the connections' sockets out of Go's poller and
// spreads them over cfg.Workers event loops.
func pingpongEpoll(conns []net.Conn, cfg config, msg []byte, total *hist, errs *errorCounts) (uint64, time.Duration, error) {
	workers := min(cfg.Workers, len(conns))
	ws := make([]*ppWorker, workers)
	for i := range ws {
		ws[i] = &ppWorker{msg: msg, scratch: make([]byte, len(msg)), errs: errs}
	}
	for i, c := range conns {
		fd, err := dupFD(c)
		if err != nil {
			for _, w := range ws {
				w.closeFDs()
			}
			return 0, 0, err
		}
		w := ws[i%workers]
		w.conns = append(w.conns, ppConn{fd: fd})
	}
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.closeFDs()
			w.run(start, end, end.Add(cfg.Timeout))
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var msgs uint64
	for _, w := range ws {
		msgs += w.msgs
		total.add(&w.h)
	}
	return msgs, elapsed, nil
}

// dupFD returns a duplicate of c's socket; c can then be closed, which
// also takes the socket out of Go's poller. The duplicate shares the
// non-blocking mode and TCP_NODELAY Go set on the socket.
func dupFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup socket: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (w *ppWorker) closeFDs() {
	for i := range w.conns {
		if w.conns[i].fd >= 0 {
			unix.Close(w.conns[i].fd)
			w.conns[i].fd = -1
		}
	}
}

func (w *ppWorker) now() int64 { return int64(time.Since(w.base)) }

// fail counts connection i as failed and stops driving it.
func (w *ppWorker) fail(i int, err error) {
	c := &w.conns[i]
	if !c.done {
		c.done = true
		w.errs.addErr(err)
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
}

// arm sets the events epoll reports for connection i.
func (w *ppWorker) arm(i int, out bool) error {
	c := &w.conns[i]
	if c.out == out {
		return nil
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
	if out {
		ev.Events |= unix.EPOLLOUT
	}
	c.out = out
	return unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// send writes what remains of connection i's message.
func (w *ppWorker) send(i int) {
	c := &w.conns[i]
	for c.wrote < len(w.msg) {
		n, err := rawIO(unix.SYS_WRITE, c.fd, w.msg[c.wrote:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			w.fail(i, err)
			return
		}
		c.wrote += n
	}
	if err := w.arm(i, c.wrote < len(w.msg)); err != nil {
		w.fail(i, err)
	}
}

// start begins a new round trip on connection i.
func (w *ppWorker) start(i int) {
	c := &w.conns[i]
	c.wrote, c.got, c.sent = 0, 0, w.now()
	w.send(i)
}

// receive reads what has arrived of connection i's echo and, once it is
// complete, records the round trip and starts the next one until end.
func (w *ppWorker) receive(i int, end int64) {
	c := &w.conns[i]
	for c.got < len(w.msg) {
		want := len(w.msg) - c.got
		n, err := rawIO(unix.SYS_READ, c.fd, w.scratch[:want])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			w.fail(i, err)
			return
		}
		if n == 0 {
			w.fail(i, fmt.Errorf("read after %d of %d bytes: %w", c.got, len(w.msg), io.ErrUnexpectedEOF))
			return
		}
		if !bytes.Equal(w.scratch[:n], w.msg[c.got:c.got+n]) {
			w.fail(i, errMismatch)
			return
		}
		c.got += n
	}
	t := w.now()
	w.h.record(time.Duration(t - c.sent))
	w.msgs++
	if t >= end {
		c.done = true
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		return
	}
	w.start(i)
}

// run is the event loop; it returns when every connection is done, or at
// deadline, counting those still waiting as timeouts.
func (w *ppWorker) run(start, end, deadline time.Time) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w.base = start
	var err error
	w.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		for i := range w.conns {
			w.fail(i, fmt.Errorf("epoll_create: %w", err))
		}
		return
	}
	defer unix.Close(w.epfd)
	for i := range w.conns {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, w.conns[i].fd, &ev); err != nil {
			w.fail(i, err)
		}
	}
	for i := range w.conns {
		if !w.conns[i].done {
			w.start(i)
		}
	}
	active := 0
	for i := range w.conns {
		if !w.conns[i].done {
			active++
		}
	}
	endNS, deadlineNS := int64(end.Sub(start)), int64(deadline.Sub(start))
	events := make([]unix.EpollEvent, 512)
	for active > 0 {
		if w.now() >= deadlineNS {
			for i := range w.conns {
				w.fail(i, fmt.Errorf("no echo within the deadline: %w", unix.ETIMEDOUT))
			}
			return
		}
		n, err := pollRaw(w.epfd, events)
		if err == nil && n == 0 {
			n, err = unix.EpollWait(w.epfd, events, 20)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			for i := range w.conns {
				w.fail(i, fmt.Errorf("epoll_wait: %w", err))
			}
			return
		}
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			c := &w.conns[i]
			if c.done {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 && c.wrote < len(w.msg) {
				w.send(i)
			}
			if !c.done && ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				w.receive(i, endNS)
			}
			if c.done {
				active--
			}
		}
	}
}

// rawIO reads or writes p on a non-blocking socket without telling the Go
// scheduler (it cannot block), which saves the client a few hundred
// nanoseconds per message beside unix.Read and unix.Write.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// pollRaw is epoll_wait with a zero timeout, as a raw system call: under
// load events are ready, and only an idle loop blocks in unix.EpollWait.
func pollRaw(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
