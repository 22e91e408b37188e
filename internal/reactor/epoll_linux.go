package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// epollState is a Reactor's event loops, started on first use, and the
// server that owns the outgoing connections they drive.
type epollState struct {
	mu    sync.Mutex
	loops []*loop

	dialerOnce sync.Once
	dialer     *estreamServer
	dialNext   atomic.Uint32
}

// eventLoops returns the reactor's event loops, one per CPU the runtime
// uses, starting them on first use.
func (r *Reactor) eventLoops() ([]*loop, error) {
	e := &r.epoll
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loops == nil {
		// One loop per CPU. A busy loop keeps its P through its raw,
		// non-blocking polls: the process gives the runtime a P more per
		// loop (Options.CPUs).
		n := r.opts.CPUs
		for i := 0; i < n; i++ {
			l, err := newLoop(r.log)
			if err != nil {
				for _, l := range e.loops {
					l.stop()
				}
				e.loops = nil
				return nil, err
			}
			e.loops = append(e.loops, l)
		}
	}
	return e.loops, nil
}

// serveEvented serves f on l's socket from the event loops. It returns
// nil and no error when the socket is not one the loops can drive (not
// plain TCP or unix), and an error when the loops are unavailable; either
// way the caller serves the socket with goroutines instead.
func (r *Reactor) serveEvented(l service.Listener, f protocol.Factory, log *zap.Logger, stats *service.Stats, fail func(error)) (eventServer, error) {
	fd, isUnix, ok := rawListener(l.Stream)
	if !ok {
		return nil, nil
	}
	loops, err := r.eventLoops()
	if err != nil {
		return nil, err
	}
	s, err := newEstreamServer(fd, isUnix, l, f, loops, log, stats, fail)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// adopt moves an outgoing connection onto an event loop, running p on it.
func (r *Reactor) adopt(nc net.Conn, p protocol.Protocol, hooks dialHooks) (protocol.Transport, error) {
	loops, err := r.eventLoops()
	if err != nil {
		return nil, err
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("cannot drive a %T", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	peer := nc.RemoteAddr()
	nc.Close() // the duplicate keeps the socket (and its O_NONBLOCK) alive
	e := &r.epoll
	e.dialerOnce.Do(func() {
		e.dialer = &estreamServer{fd: -1, log: r.log, stats: &service.Stats{}, loops: loops,
			conns: newConnSet[*econn]()}
	})
	d := e.dialer
	l := loops[int(e.dialNext.Add(1))%len(loops)]
	c := newEconn(fd, l, d, p, peer)
	c.hooks = hooks
	if !d.conns.add(c) {
		unix.Close(fd)
		return nil, errors.New("stopping")
	}
	d.stats.ConnectionsActive.Add(1)
	l.add(c)
	return c, nil
}

// closeDialedLoops drains the connections adopt put on the loops (see
// closeDialed); adopt takes none after it.
func (r *Reactor) closeDialedLoops(ctx context.Context) {
	e := &r.epoll
	e.dialerOnce.Do(func() {
		e.dialer = &estreamServer{fd: -1, log: r.log, stats: &service.Stats{}, conns: newConnSet[*econn]()}
	})
	_ = e.dialer.conns.drain(ctx, r.log)
}

// Alive reports whether every event loop answers within ctx: the
// watchdog pings systemd only while it does.
func (r *Reactor) Alive(ctx context.Context) bool {
	r.epoll.mu.Lock()
	loops := r.epoll.loops
	r.epoll.mu.Unlock()
	for _, l := range loops {
		done := make(chan struct{})
		go l.do(func() { close(done) })
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// stopLoops ends the event loops once their connections are gone.
func (r *Reactor) stopLoops() {
	r.epoll.mu.Lock()
	loops := r.epoll.loops
	r.epoll.loops = nil
	r.epoll.mu.Unlock()
	for _, l := range loops {
		l.stop()
	}
}
