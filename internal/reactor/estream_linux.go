package reactor

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// estreamServer accepts connections on one listener and hands each to an
// event loop: the listening socket sits in one loop's epoll set (Go's own
// Accept is never called on it) and new connections are spread over the
// loops in turn. The service's source-address rules are checked as a
// connection is accepted (or, behind a PROXY header, once the header names
// the client): a refused one is closed before anything is read or written.
type estreamServer struct {
	fd      int
	ln      net.Listener // the borrowed handle, released on Shutdown
	factory protocol.Factory
	log     *zap.Logger
	stats   *service.Stats
	loops   []*loop
	next    int           // only touched by the accepting loop
	backoff time.Duration // after accept errors; only touched by the accepting loop
	unix    bool
	// proxyProtocol: each connection starts with a PROXY header; its
	// protocol is built once the header names the real client.
	proxyProtocol bool
	// ep is the listener's endpoint; fail reports its socket dead.
	ep   endpoint.Endpoint
	fail func(error)
	// access is the service's allow:/deny: (nil admits all); trusted is
	// the endpoint's trusted= (nil trusts every peer with a header).
	access  *policy.Access
	trusted []netip.Prefix
	refused *policy.Refusals

	unlistened sync.Once
	conns      *connSet[*econn]
}

// rawListener returns the descriptor under a borrowed handle, when it is a
// socket the loops can drive (TCP or unix, no TLS or other wrapping).
func rawListener(l net.Listener) (fd int, isUnix bool, ok bool) {
	if s, isShared := l.(*sharedListener); isShared {
		l = s.Listener
	}
	var sc syscall.Conn
	switch t := l.(type) {
	case *net.TCPListener:
		sc = t
	case *net.UnixListener:
		sc, isUnix = t, true
	default:
		return 0, false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, false
	}
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, false, false
	}
	return fd, isUnix, true
}

// newEstreamServer serves l (whose raw socket is fd) on the loops; every
// field is set before the socket joins the epoll set.
func newEstreamServer(fd int, isUnix bool, l service.Listener, f protocol.Factory, loops []*loop, log *zap.Logger, stats *service.Stats,
	fail func(error)) (*estreamServer, error) {
	s := &estreamServer{fd: fd, ln: l.Stream, factory: f, log: log, stats: stats, loops: loops, unix: isUnix,
		proxyProtocol: l.ProxyProtocol, ep: l.Endpoint, fail: fail,
		access: l.Access, trusted: l.Endpoint.TrustedPrefixes(), refused: policy.NewRefusals(log, stats),
		conns: newConnSet[*econn]()}
	if err := loops[0].listen(s); err != nil {
		return nil, err
	}
	return s, nil
}

// maxAcceptsPerEvent bounds the connections taken in one turn of the loop.
const maxAcceptsPerEvent = 64

// accept takes pending connections; it runs on the listening loop.
func (s *estreamServer) accept(l *loop) {
	for i := 0; i < maxAcceptsPerEvent; i++ {
		nfd, sa, err := unix.Accept4(s.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			s.backoff = 0
			s.handle(l, nfd, sa)
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR || err == unix.ECONNABORTED:
		case service.Permanent(err):
			// Shut down or closed under us (epoll says hung up): no retry
			// brings it back, and a dead socket stays "ready", so it
			// leaves the epoll set at once. The reactor decides the rest.
			l.drop(s)
			s.fail(&service.SocketError{Endpoint: s.ep, Addr: s.ln.Addr(), Err: os.NewSyscallError("accept4", err)})
			return
		default:
			// Out of descriptors and the like. The listening socket stays
			// readable, so retrying at once would spin: stop watching it
			// for a while (backing off up to a second), then try again.
			s.backoff = min(max(2*s.backoff, 5*time.Millisecond), time.Second)
			if s.backoff == 5*time.Millisecond || s.backoff == time.Second {
				s.log.Warn("accept failed; pausing accepts", zap.Error(err), zap.Duration("retry_in", s.backoff))
			}
			l.pauseAccepting(s, s.backoff)
			return
		}
	}
	s.backoff = 0
}

func (s *estreamServer) handle(l *loop, fd int, sa unix.Sockaddr) {
	var peer net.Addr
	if s.unix {
		peer = &net.UnixAddr{Net: "unix"}
	} else {
		peer = sockaddrToAddr(sa)
	}
	if s.proxyProtocol && !trusts(s.trusted, s.refused, peer) || !s.proxyProtocol && !admit(s.access, s.refused, peer) {
		unix.Close(fd)
		return
	}
	if !s.unix {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	s.next = (s.next + 1) % len(s.loops)
	target := s.loops[s.next]
	var c *econn
	if s.proxyProtocol {
		c = newEconn(fd, target, s, nil, peer)
		c.awaitHeader()
	} else {
		p := s.build(peer)
		if p == nil {
			unix.Close(fd)
			return
		}
		c = newEconn(fd, target, s, p, peer)
	}
	if !s.conns.add(c) {
		unix.Close(fd)
		return
	}
	s.stats.ConnectionsAccepted.Add(1)
	s.stats.ConnectionsActive.Add(1)
	if target == l {
		l.register(c)
	} else {
		target.add(c)
	}
}

// build asks the factory for a protocol; nil refuses the connection.
func (s *estreamServer) build(peer net.Addr) (p protocol.Protocol) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("protocol factory panicked; connection closed", zap.Any("panic", r))
			p = nil
		}
	}()
	return s.factory.BuildProtocol(peer)
}

func (s *estreamServer) remove(c *econn) {
	s.stats.ConnectionsActive.Add(-1)
	s.conns.remove(c)
}

// Shutdown implements service.Server: stop accepting, let open connections
// finish until ctx ends, then abort them.
func (s *estreamServer) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	return s.conns.drain(ctx, s.log)
}

// stopAccepting takes the socket off the loop and gives the borrow back;
// when it returns no connection is accepted any more.
func (s *estreamServer) stopAccepting() {
	s.unlistened.Do(func() {
		s.loops[0].unlisten(s)
		if sl, ok := s.ln.(*sharedListener); ok {
			sl.release() // no Accept of ours to wake: give the borrow back
		} else {
			_ = s.ln.Close()
		}
	})
}

// release gives the borrow back without waking an Accept: for borrowers
// that never call Accept (the event loops accept on the raw socket).
func (l *sharedListener) release() {
	l.once.Do(func() {
		l.h.closed.Store(true)
		l.pool.release(l.sock, l.owner)
	})
}
