package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/proxyproto"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// Write buffer marks: past highWater a connection stops reading (and its
// producer is not called) until the queue drains below lowWater.
const (
	highWater  = 64 << 10
	lowWater   = 16 << 10
	readBuffer = 32 << 10
)

// streamServer accepts connections on one listener and runs one protocol on
// each, with a reader and a writer goroutine per connection: the
// goroutine reactor, and the driver of TLS connections under any reactor.
// A connection's own goroutine reads its PROXY header (haproxy: endpoints)
// before the factory sees it, so one slow client never holds up the
// accept loop; TLS (ssl: endpoints) is put over the connection then.
//
// The service's source-address rules are checked first of all: a refused
// peer is closed before a byte is read or written — before the PROXY
// header, the TLS handshake and the factory. On a haproxy: endpoint the
// socket's peer must be trusted to send the header, and the rules judge
// the client the header names.
type streamServer struct {
	l       net.Listener
	factory protocol.Factory
	log     *zap.Logger
	stats   *service.Stats
	// proxyProtocol: every connection starts with a PROXY header.
	proxyProtocol bool
	// tls, when set, is the server configuration of an ssl: endpoint.
	tls *tls.Config
	// ep is the listener's endpoint; fail reports its socket dead.
	ep   endpoint.Endpoint
	fail func(error)
	// access is the service's allow:/deny: (nil admits all); trusted is
	// the endpoint's trusted= (nil trusts every peer with a header).
	access  *policy.Access
	trusted []netip.Prefix
	refused *policy.Refusals

	acceptDone chan struct{}
	starting   sync.WaitGroup // connections still reading their PROXY header
	conns      *connSet[*conn]
}

func newStreamServer(l service.Listener, f protocol.Factory, log *zap.Logger, stats *service.Stats, fail func(error)) *streamServer {
	s := &streamServer{
		l: l.Stream, factory: f, log: log, stats: stats,
		proxyProtocol: l.ProxyProtocol, tls: l.TLS, ep: l.Endpoint, fail: fail,
		access: l.Access, trusted: l.Endpoint.TrustedPrefixes(), refused: policy.NewRefusals(log, stats),
		acceptDone: make(chan struct{}),
		conns:      newConnSet[*conn](),
	}
	go s.acceptLoop()
	return s
}

func (s *streamServer) acceptLoop() {
	defer close(s.acceptDone)
	var backoff time.Duration
	for {
		c, err := s.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if service.Permanent(err) {
				// The socket was shut down or closed under us: no retry
				// brings it back. The reactor decides what happens next.
				s.fail(&service.SocketError{Endpoint: s.ep, Addr: s.l.Addr(), Err: bindError(err)})
				return
			}
			// Out of file descriptors and similar: back off and retry,
			// as net/http does, rather than spin or give up; logged as the
			// event loops log it, at the first failure and at the cap.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if backoff == 5*time.Millisecond || backoff == time.Second {
				s.log.Warn("accept failed; pausing accepts", zap.Error(err), zap.Duration("retry_in", backoff))
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.handle(c)
	}
}

func (s *streamServer) handle(nc net.Conn) {
	if !s.proxyProtocol {
		if !s.admit(nc.RemoteAddr()) {
			nc.Close()
			return
		}
		s.start(s.secure(nc))
		return
	}
	if !s.trusts(nc.RemoteAddr()) {
		nc.Close()
		return
	}
	s.starting.Add(1)
	go func() {
		defer s.starting.Done()
		pc, err := proxyproto.ReadHeader(nc)
		if err != nil {
			s.log.Debug("connection without a valid PROXY header closed", zap.Stringer("peer", nc.RemoteAddr()), zap.Error(err))
			nc.Close()
			return
		}
		if !s.admit(pc.RemoteAddr()) {
			nc.Close()
			return
		}
		s.start(s.secure(pc))
	}()
}

// admit checks the service's allow:/deny: for peer, counting and logging
// a refusal.
func (s *streamServer) admit(peer net.Addr) bool {
	return admit(s.access, s.refused, peer)
}

// trusts checks that peer may send a PROXY header (trusted=).
func (s *streamServer) trusts(peer net.Addr) bool {
	return trusts(s.trusted, s.refused, peer)
}

// admit is the accept-time check of both drivers: whether the service's
// source-address rules admit peer. A refusal is counted under its rule's
// key and logged at debug level (a few lines a second at most).
func admit(a *policy.Access, refused *policy.Refusals, peer net.Addr) bool {
	reason := a.Check(peer)
	if reason == "" {
		return true
	}
	refused.Refuse(zapcore.DebugLevel, "connection refused", reason, peer)
	return false
}

// trusts is the haproxy: endpoint's check of both drivers: whether peer
// may send a PROXY header. A refusal is logged at info level, since it is
// either a misconfigured balancer or a client forging its address.
func trusts(trusted []netip.Prefix, refused *policy.Refusals, peer net.Addr) bool {
	if policy.Trusts(trusted, peer) {
		return true
	}
	refused.Refuse(zapcore.InfoLevel, "PROXY header from an untrusted peer; connection closed", policy.ReasonTrusted, peer)
	return false
}

// secure puts TLS over nc on an ssl: endpoint. The handshake runs with
// the connection's first read, after the factory admitted it (a refused
// peer costs no handshake), bounded like any first read by the protocol's
// timeouts; the protocol sees its outcome from its first DataReceived on.
func (s *streamServer) secure(nc net.Conn) net.Conn {
	if s.tls == nil {
		return nc
	}
	return tls.Server(nc, s.tls)
}

// start builds the connection's protocol and runs it.
func (s *streamServer) start(nc net.Conn) {
	var p protocol.Protocol
	if !s.safely(nil, "building a protocol", func() { p = s.factory.BuildProtocol(nc.RemoteAddr()) }) || p == nil {
		nc.Close()
		return
	}
	c := newConn(s, nc, p)
	if !s.conns.add(c) {
		nc.Close()
		return
	}
	s.stats.ConnectionsAccepted.Add(1)
	s.stats.ConnectionsActive.Add(1)
	go c.run()
}

func (s *streamServer) remove(c *conn) {
	s.stats.ConnectionsActive.Add(-1)
	s.conns.remove(c)
}

// Shutdown implements service.Server.
func (s *streamServer) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	s.starting.Wait() // bounded by proxyproto.HeaderTimeout
	return s.conns.drain(ctx, s.log)
}

// stopAccepting closes the borrowed listener and waits for the accept
// loop to end; when it returns no connection is accepted any more.
func (s *streamServer) stopAccepting() {
	_ = s.l.Close()
	<-s.acceptDone
}

// safely runs f, turning a panic into a logged error; it reports whether f
// returned normally. A panicking protocol loses its connection, never the process.
func (s *streamServer) safely(c *conn, what string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			fields := []zap.Field{zap.String("panic", fmt.Sprint(r)), zap.ByteString("stack", debug.Stack())}
			if c != nil {
				fields = append(fields, zap.Stringer("peer", c.nc.RemoteAddr()))
			}
			s.log.Error("protocol panicked "+what+"; connection closed", fields...)
			if c != nil {
				c.Abort()
			}
			ok = false
		}
	}()
	f()
	return true
}

// conn is one connection: its Transport, and the goroutines that drive its Protocol.
type conn struct {
	s        *streamServer
	nc       net.Conn
	raw      syscall.RawConn // nc's socket, written directly while nothing is queued; nil for TLS
	proto    protocol.Protocol
	producer protocol.PullProducer
	// hooks, on a connection we dialed, are its factory's calls.
	hooks dialHooks

	callMu sync.Mutex // serialises protocol callbacks, timers' included

	timerMu    sync.Mutex // after callMu, when both are held
	timers     timerHeap[*gtimer]
	timerSeq   uint64
	timerWake  *time.Timer // armed for the earliest of timers
	timersDone bool        // the connection is lost: no timer runs again

	mu          sync.Mutex
	cond        *sync.Cond // signals state changes to both goroutines
	queue       [][]byte
	queued      int
	readPaused  bool // by the protocol
	writeFull   bool // by the write queue
	lose        bool // close once the queue is flushed
	halfClose   bool // CloseWrite once the queue is flushed
	closed      bool
	writerDone  chan struct{}
	writeErr    error
	produceWant bool
	// waitWritable: a SendFile found the socket full; the writer waits
	// for it to drain, then resumes the producer.
	waitWritable bool
	feed         feed // the registered producer, paused while the queue is full
}

func newConn(s *streamServer, nc net.Conn, p protocol.Protocol) *conn {
	c := &conn{s: s, nc: nc, raw: rawConnOf(nc), proto: p, writerDone: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	c.producer, _ = p.(protocol.PullProducer)
	return c
}

func (c *conn) run() {
	defer c.s.remove(c)
	go c.writeLoop()
	var t protocol.Transport = c
	if tc, ok := c.nc.(*tls.Conn); ok {
		t = tlsTransport{c, tc}
	}
	c.call("in ConnectionMade", func() { c.proto.ConnectionMade(t) })
	if c.hooks.made != nil {
		c.call("in ClientConnectionMade", c.hooks.made)
	}
	if c.producer != nil {
		c.call("in ResumeProducing", c.producer.ResumeProducing)
	}
	halfClosed, err := c.readLoop()
	c.mu.Lock()
	if !c.closed && !halfClosed {
		// The peer finished sending: flush what we owe it, then close.
		c.lose = true
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	<-c.writerDone
	c.mu.Lock()
	if err == nil {
		err = c.writeErr
	}
	c.mu.Unlock()
	c.call("in ConnectionLost", func() {
		c.stopTimers()
		c.proto.ConnectionLost(err)
	})
	if c.hooks.lost != nil {
		c.call("in ClientConnectionLost", func() { c.hooks.lost(err) })
	}
}

// call runs one protocol callback, serialised with the others.
func (c *conn) call(what string, f func()) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	c.s.safely(c, what, f)
}

// readLoop reads until EOF or an error; it returns nil for a clean end,
// and whether the protocol took the peer's EOF as a half-close.
func (c *conn) readLoop() (halfClosed bool, err error) {
	buf := make([]byte, readBuffer)
	for {
		c.mu.Lock()
		for (c.readPaused || c.writeFull && !c.feed.has()) && !c.closed {
			c.cond.Wait()
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return false, nil
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.s.stats.BytesReceived.Add(int64(n))
			c.call("in DataReceived", func() { c.proto.DataReceived(buf[:n]) })
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			if hc, ok := c.proto.(protocol.HalfCloser); ok {
				c.call("in ReadConnectionLost", hc.ReadConnectionLost)
				return true, nil
			}
			return false, nil
		}
		c.mu.Lock()
		closed = c.closed
		c.mu.Unlock()
		if closed || errors.Is(err, net.ErrClosed) {
			return false, nil
		}
		return false, err
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.queue) == 0 && !c.lose && !c.halfClose && !c.closed && !c.produceWant && !c.waitWritable {
			c.cond.Wait()
		}
		if c.closed {
			return
		}
		if c.waitWritable && len(c.queue) == 0 {
			c.mu.Unlock()
			err := c.awaitWritable()
			c.mu.Lock()
			c.waitWritable = false
			if err != nil {
				if !c.closed {
					c.writeErr = err
				}
				c.closeLocked()
				return
			}
			c.resumeFeedLocked()
			continue
		}
		if c.produceWant && len(c.queue) == 0 {
			c.produceWant = false
			c.mu.Unlock()
			c.call("in ResumeProducing", c.producer.ResumeProducing)
			c.mu.Lock()
			continue
		}
		if len(c.queue) == 0 {
			if c.lose {
				c.closeLocked()
				return
			}
			if c.halfClose {
				c.halfClose = false
				if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
			}
			continue
		}
		// The batch in flight still counts in c.queued, so the bound on
		// what one connection holds is highWater plus one read.
		bufs := net.Buffers(c.queue)
		n := 0
		for _, b := range c.queue {
			n += len(b)
		}
		c.queue = nil
		c.mu.Unlock()
		_, err := bufs.WriteTo(c.nc)
		c.s.stats.BytesSent.Add(int64(n))
		c.mu.Lock()
		c.queued -= n
		if err != nil {
			if !c.closed {
				c.writeErr = err
			}
			c.closeLocked()
			return
		}
		if c.queued < lowWater {
			c.waitWritable = false // the write waited for the socket, if it had to
			c.resumeFeedLocked()
			if c.producer != nil && !c.lose && !c.readPaused {
				c.produceWant = true
			}
		}
	}
}

// pauseFeedLocked marks the connection full and asks for its producer to
// be paused; it reports whether c.feed.sync must be called, without c.mu.
func (c *conn) pauseFeedLocked() bool {
	c.writeFull = true
	return c.feed.wish(true)
}

// resumeFeedLocked ends a full state and resumes the producer; it drops
// c.mu to deliver that.
func (c *conn) resumeFeedLocked() {
	if c.writeFull {
		c.writeFull = false
		c.cond.Broadcast()
	}
	if c.feed.wish(false) {
		c.mu.Unlock()
		c.feed.sync()
		c.mu.Lock()
	}
}

// closeLocked closes the socket; c.mu is held.
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.queue, c.queued = nil, 0
	_ = c.nc.Close()
	c.cond.Broadcast()
}

// Write implements protocol.Transport.
func (c *conn) Write(p []byte) { c.WriteMany(p) }

// WriteMany implements protocol.Transport.
func (c *conn) WriteMany(bufs ...[]byte) {
	c.mu.Lock()
	if c.closed || c.lose {
		c.mu.Unlock()
		return
	}
	skip := 0 // bytes of bufs already sent
	if c.raw != nil && c.queued == 0 && !c.waitWritable {
		// Nothing queued or in flight: straight to the socket from the
		// caller's goroutine, as the event loop writes, with no copy and
		// no hand-off to the writer; only what the socket does not take
		// now is queued.
		n, err := c.writeNow(bufs)
		c.s.stats.BytesSent.Add(int64(n))
		if err != nil {
			c.writeErr = err
			c.closeLocked()
			c.mu.Unlock()
			return
		}
		skip = n
	}
	for _, b := range bufs {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		b, skip = b[skip:], 0
		c.queue = append(c.queue, append([]byte(nil), b...))
		c.queued += len(b)
	}
	if c.queued == 0 {
		if c.producer != nil && !c.readPaused {
			// All sent: a pull producer is asked for more, as after
			// the writer drains the queue.
			c.produceWant = true
			c.cond.Broadcast()
		}
		c.mu.Unlock()
		return
	}
	tell := false
	if c.queued > highWater {
		tell = c.pauseFeedLocked()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if tell {
		// Without c.mu: the feeder may be a transport whose own writes
		// take its lock and then ours.
		c.feed.sync()
	}
}

// RegisterProducer implements protocol.Transport.
func (c *conn) RegisterProducer(p protocol.Producer) { c.feed.set(p) }

// LoseConnection implements protocol.Transport.
func (c *conn) LoseConnection() {
	c.mu.Lock()
	c.lose = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Abort implements protocol.Transport.
func (c *conn) Abort() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

// CloseWrite implements protocol.Transport.
func (c *conn) CloseWrite() {
	c.mu.Lock()
	c.halfClose = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// PauseReading implements protocol.Transport.
func (c *conn) PauseReading() {
	c.mu.Lock()
	c.readPaused = true
	c.mu.Unlock()
}

// ResumeReading implements protocol.Transport. A pull producer paused
// with the reading is asked for more at once if the queue has room.
func (c *conn) ResumeReading() {
	c.mu.Lock()
	c.readPaused = false
	if c.producer != nil && !c.lose && c.queued < lowWater {
		c.produceWant = true
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Detach implements protocol.Detacher: the socket is handed over and the
// connection ends here (ConnectionLost(nil) follows ConnectionMade).
func (c *conn) Detach() (*os.File, error) {
	nc := c.nc
	if pc, ok := nc.(*proxyproto.Conn); ok {
		if pc.Buffered() > 0 {
			return nil, errDetachRead
		}
		nc = pc.Conn
	}
	if _, ok := nc.(*tls.Conn); ok {
		return nil, errDetachTLS
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("detach: %T has no descriptor", nc)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.lose {
		return nil, errDetachClosed
	}
	if c.queued > 0 {
		return nil, errDetachQueued
	}
	f, err := dupConn(sc, "tcp:"+c.nc.RemoteAddr().String())
	if err != nil {
		return nil, err
	}
	// Closing ours leaves the socket open: the duplicate holds it.
	c.closeLocked()
	return f, nil
}

// PeerAddr implements protocol.Transport.
func (c *conn) PeerAddr() net.Addr { return c.nc.RemoteAddr() }

// HostAddr implements protocol.Transport.
func (c *conn) HostAddr() net.Addr { return c.nc.LocalAddr() }

// tlsTransport is the transport of a TLS connection (an ssl: endpoint):
// the handshake is done by the first DataReceived, so the protocol can see
// its outcome (ALPN's h2, client certificates) from then on.
type tlsTransport struct {
	*conn
	tc *tls.Conn
}

// ConnectionState implements protocol.ConnectionStater.
func (t tlsTransport) ConnectionState() tls.ConnectionState { return t.tc.ConnectionState() }

var (
	_ protocol.Transport        = (*conn)(nil)
	_ protocol.Detacher         = (*conn)(nil)
	_ protocol.ConnectionStater = tlsTransport{}
)
