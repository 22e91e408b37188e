package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/endpoint"
)

// Pool owns the process's bound sockets. Services borrow them: each Acquire
// returns a handle whose Close only gives the borrow back, and the socket is
// closed when its last handle is. A replacement service can therefore take
// over a socket before the old one lets go, and no connection is refused.
type Pool struct {
	mu      sync.Mutex
	sockets map[string]*socket
	systemd *inherited
	// passed are the sockets an upgrading predecessor handed down
	// (see upgrade.go); nil when there are none.
	passed *passedSockets
	// handedOver: a successor serves these sockets now (HandedOver), so
	// closing them must leave their paths in place.
	handedOver bool
}

// NewPool returns an empty pool. Sockets passed by systemd (LISTEN_FDS) are
// taken from the environment the first time a systemd: endpoint needs them.
func NewPool() *Pool {
	return &Pool{sockets: make(map[string]*socket)}
}

// socket is one bound file descriptor shared by its handles.
type socket struct {
	key  string
	refs int
	ln   net.Listener
	pc   net.PacketConn
	lock *os.File // a unix endpoint's lockfile, held while bound
	// owners counts the borrows by owner ("service#index"), so an
	// upgrade can tell the new process which endpoint each socket serves.
	owners map[string]int

	closed bool
	// leaving counts the borrowers that gave the socket back while one
	// of their calls was blocked on it: until each of those calls has
	// returned, the socket's deadline stays in the past (see handover).
	leaving int
}

// socketKey identifies what is bound, regardless of how it is used: an
// ssl endpoint and a tcp endpoint on the same address share the key.
func socketKey(ep endpoint.Endpoint) string {
	switch ep.Kind {
	case endpoint.Systemd:
		return fmt.Sprintf("systemd/%s/%d/%s", ep.SystemdDomain, ep.SystemdIndex, ep.SystemdName)
	case endpoint.Unix:
		return "unix/" + ep.Path
	case endpoint.UDP:
		return "udp/" + ep.Address()
	default:
		return "tcp/" + ep.Address()
	}
}

// Acquire binds ep (or borrows the socket already bound for it) and returns
// a handle: a net.Listener for stream endpoints, a net.PacketConn for udp.
// The handle is the raw socket; TLS and PROXY protocol wrapping are the
// caller's.
func (p *Pool) Acquire(ep endpoint.Endpoint) (net.Listener, net.PacketConn, error) {
	return p.AcquireAs("", ep)
}

// AcquireAs is Acquire for an owner, the endpoint's name in an upgrade's
// hand-over (OwnerName): a socket passed down under that name is adopted
// before any is bound.
func (p *Pool) AcquireAs(owner string, ep endpoint.Endpoint) (net.Listener, net.PacketConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := socketKey(ep)
	s := p.sockets[key]
	if ep.Port == 0 && ep.Kind != endpoint.Unix && ep.Kind != endpoint.Systemd {
		s = nil // every port-0 endpoint is a socket of its own
	}
	if s == nil {
		var err error
		if s, err = p.bind(owner, ep); err != nil {
			return nil, nil, err
		}
		if ep.Port == 0 {
			// Keyed by the port it got, so a replacement asking for that
			// port (reload) takes this very socket over.
			key = socketKey(withPort(ep, s.port()))
		}
		s.key = key
		p.sockets[key] = s
	}
	s.refs++
	if owner != "" {
		if s.owners == nil {
			s.owners = make(map[string]int)
		}
		s.owners[owner]++
	}
	if s.ln != nil {
		return &sharedListener{pool: p, sock: s, owner: owner, Listener: s.ln}, nil, nil
	}
	return nil, &sharedPacketConn{pool: p, sock: s, owner: owner, PacketConn: s.pc}, nil
}

// port is the port the socket is bound to (0 for unix sockets).
func (s *socket) port() int {
	var a net.Addr
	if s.ln != nil {
		a = s.ln.Addr()
	} else if s.pc != nil {
		a = s.pc.LocalAddr()
	}
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

// withPort returns ep asking for a given port.
func withPort(ep endpoint.Endpoint, port int) endpoint.Endpoint {
	ep.Port = port
	return ep
}

// release gives back one borrow of s by owner, closing it after the last.
func (p *Pool) release(s *socket, owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if owner != "" {
		if s.owners[owner]--; s.owners[owner] <= 0 {
			delete(s.owners, owner)
		}
	}
	s.refs--
	if s.refs <= 0 {
		if p.handedOver && s.pc != nil {
			// Answers to datagrams read before the stop still go out on
			// it while the services drain; Close closes it at the end.
			return
		}
		p.closeLocked(s)
	}
}

// Discard closes the socket under a handle Acquire returned, whoever else
// borrows it, for a socket found dead (shut down or closed under the
// process): the next Acquire of its endpoint binds a new one, on the same
// port if asked. Its borrowers' Accept and ReadFrom return net.ErrClosed;
// their Close is harmless. Other handles are ignored.
func (p *Pool) Discard(handle any) {
	if w, ok := handle.(interface{ Unwrap() net.PacketConn }); ok {
		handle = w.Unwrap() // a guarded datagram socket (access.go)
	}
	var s *socket
	switch h := handle.(type) {
	case *sharedListener:
		s = h.sock
	case *sharedPacketConn:
		s = h.sock
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked(s)
}

// closeLocked closes s and forgets it; p.mu is held.
func (p *Pool) closeLocked(s *socket) {
	if s.closed {
		return
	}
	s.closed = true
	if p.sockets[s.key] == s {
		delete(p.sockets, s.key)
	}
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.pc != nil {
		_ = s.pc.Close()
	}
	if s.lock != nil {
		if !p.handedOver {
			_ = os.Remove(s.lock.Name())
		}
		_ = s.lock.Close()
	}
}

func (p *Pool) bind(owner string, ep endpoint.Endpoint) (*socket, error) {
	if p.passed == nil {
		p.passed = inheritPassed()
	}
	if s, ok, err := p.passed.matching(owner, ep); ok {
		return s, err
	}
	if ep.Kind != endpoint.Systemd && (os.Getenv("LISTEN_FDS") != "" || p.systemd != nil) {
		if p.systemd == nil {
			p.systemd = inheritSockets()
		}
		if s, ok, err := p.systemd.matching(ep); ok {
			return s, err
		}
	}
	switch ep.Kind {
	case endpoint.TCP, endpoint.TCP6, endpoint.SSL:
		return bindTCP(ep)
	case endpoint.UDP:
		return bindUDP(ep)
	case endpoint.Unix:
		return bindUnix(ep)
	case endpoint.Systemd:
		if p.systemd == nil {
			p.systemd = inheritSockets()
		}
		return p.systemd.take(ep)
	}
	return nil, fmt.Errorf("cannot bind %s endpoints", ep.Kind)
}

func listenConfig(ep endpoint.Endpoint) net.ListenConfig {
	var lc net.ListenConfig
	if ep.ReusePort {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			return errors.Join(err, serr)
		}
	}
	return lc
}

func bindTCP(ep endpoint.Endpoint) (*socket, error) {
	lc := listenConfig(ep)
	ln, err := lc.Listen(context.Background(), ep.Network(), ep.Address())
	if err != nil {
		return nil, err
	}
	if ep.Backlog > 0 {
		// Go listens with the system's maximum; listen(2) again on a
		// listening socket sets the backlog asked for.
		if err := setBacklog(ln.(*net.TCPListener), ep.Backlog); err != nil {
			ln.Close()
			return nil, fmt.Errorf("set backlog: %w", err)
		}
	}
	return &socket{ln: ln}, nil
}

func setBacklog(ln *net.TCPListener, backlog int) error {
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	return lerr
}

func bindUDP(ep endpoint.Endpoint) (*socket, error) {
	lc := listenConfig(ep)
	pc, err := lc.ListenPacket(context.Background(), ep.Network(), ep.Address())
	if err != nil {
		return nil, err
	}
	return &socket{pc: pc}, nil
}

func bindUnix(ep endpoint.Endpoint) (*socket, error) {
	var lock *os.File
	if ep.Lockfile {
		f, err := os.OpenFile(ep.Path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lockfile: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s is locked by another process: %w", f.Name(), err)
		}
		lock = f
		// We hold the lock, so a socket file left there is stale.
		_ = os.Remove(ep.Path)
	} else if removeStaleUnixSocket(ep.Path) != nil {
		return nil, fmt.Errorf("%s: %w", ep.Path, syscall.EADDRINUSE)
	}
	ln, err := net.Listen("unix", ep.Path)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	if ep.Mode != 0 {
		if err := os.Chmod(ep.Path, ep.Mode); err != nil {
			ln.Close()
			if lock != nil {
				lock.Close()
			}
			return nil, fmt.Errorf("chmod: %w", err)
		}
	}
	return &socket{ln: ln, lock: lock}, nil
}

// removeStaleUnixSocket removes a socket file nobody answers on; it fails
// when a live server is listening there.
func removeStaleUnixSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil // absent, or not a socket: let bind report it
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return syscall.EADDRINUSE
	}
	return os.Remove(path)
}

// sharedListener is one borrow of a stream socket. Close stops this
// borrower's Accept without closing the socket another borrower may use.
type sharedListener struct {
	net.Listener
	pool  *Pool
	sock  *socket
	owner string
	h     handover
	once  sync.Once
}

type deadliner interface{ SetDeadline(time.Time) error }

// handover is one borrow's side of giving a shared socket back while
// other borrowers keep it (a reload replacing a service on its socket).
// A call of the leaving borrower blocked on the socket (Accept, ReadFrom)
// must end, but closing the socket would end everyone's: so the socket's
// deadline is put in the past, which wakes every blocked call, and kept
// there until each leaving borrower's call has returned; the others
// retry meanwhile. Were it cleared sooner, a leaving call not yet
// scheduled would sleep on and take the next connection, served by the
// configuration the reload replaced. Its fields are guarded by the
// pool's mutex.
type handover struct {
	closed atomic.Bool
	// calls counts this borrower's calls in progress on the socket.
	calls int
	// waking: Close found a call in progress and counted this borrower
	// in the socket's leaving.
	waking bool
}

// enter begins a blocking call on s; false means the borrow was given back.
func (h *handover) enter(p *Pool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.closed.Load() {
		return false
	}
	h.calls++
	return true
}

// exit ends a call begun by enter; the last call of a leaving borrower
// lets the socket's other borrowers block again.
func (h *handover) exit(p *Pool, s *socket, set func(time.Time) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.calls--
	if h.calls > 0 || !h.waking {
		return
	}
	h.waking = false
	s.leaving--
	if s.leaving == 0 && !s.closed {
		_ = set(time.Time{})
	}
}

// leave gives the borrow back: calls in progress are woken, and the
// socket is closed after its last borrower.
func (h *handover) leave(p *Pool, s *socket, owner string, set func(time.Time) error) {
	p.mu.Lock()
	h.closed.Store(true)
	if p.handedOver && s.pc != nil && set != nil {
		// A successor reads this datagram socket now: wake every read
		// here for good, and keep the socket open (see release).
		_ = set(time.Now())
	} else if h.calls > 0 && s.refs > 1 && set != nil {
		h.waking = true
		s.leaving++
		_ = set(time.Now())
	}
	p.mu.Unlock()
	p.release(s, owner)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryPause is how long a borrower's call woken by another's leave waits
// before blocking again, while the deadline is still in the past.
const retryPause = time.Millisecond

func (l *sharedListener) Accept() (net.Conn, error) {
	set := l.setDeadline()
	for {
		if !l.h.enter(l.pool) {
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		l.h.exit(l.pool, l.sock, set)
		if err == nil {
			return c, nil
		}
		if l.h.closed.Load() {
			if c != nil {
				c.Close()
			}
			return nil, net.ErrClosed
		}
		if isTimeout(err) {
			// Another borrower is leaving; the deadline clears once it has.
			time.Sleep(retryPause)
			continue
		}
		return nil, err
	}
}

// setDeadline is the listener's SetDeadline, nil if it has none.
func (l *sharedListener) setDeadline() func(time.Time) error {
	if d, ok := l.Listener.(deadliner); ok {
		return d.SetDeadline
	}
	return nil
}

// Close gives the borrow back and wakes this borrower's Accept; the socket
// stays open while another borrower holds it.
func (l *sharedListener) Close() error {
	l.once.Do(func() { l.h.leave(l.pool, l.sock, l.owner, l.setDeadline()) })
	return nil
}

// sharedPacketConn is one borrow of a datagram socket.
type sharedPacketConn struct {
	net.PacketConn
	pool  *Pool
	sock  *socket
	owner string
	h     handover
	once  sync.Once
}

func (c *sharedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		if !c.h.enter(c.pool) {
			return 0, nil, net.ErrClosed
		}
		n, addr, err := c.PacketConn.ReadFrom(b)
		c.h.exit(c.pool, c.sock, c.PacketConn.SetReadDeadline)
		if err == nil {
			return n, addr, nil
		}
		if c.h.closed.Load() {
			return 0, nil, net.ErrClosed
		}
		if isTimeout(err) {
			time.Sleep(retryPause)
			continue
		}
		return n, addr, err
	}
}

// SyscallConn gives the raw socket (for batch reads with recvmmsg and
// socket options); reads through it bypass the hand-over wake-up, so a
// borrower using it must watch its own Close.
func (c *sharedPacketConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.PacketConn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

// Closed reports whether this borrow was given back.
func (c *sharedPacketConn) Closed() bool { return c.h.closed.Load() }

// Close gives the borrow back and wakes this borrower's ReadFrom.
func (c *sharedPacketConn) Close() error {
	c.once.Do(func() { c.h.leave(c.pool, c.sock, c.owner, c.PacketConn.SetReadDeadline) })
	return nil
}

// Close closes every socket still bound, whoever borrowed it.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sockets {
		p.closeLocked(s)
	}
}
