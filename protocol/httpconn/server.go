// Package httpconn serves HTTP/1.1 with net/http, and HTTP/2 over TLS, on
// connections driven by the reactor (its event loops, or a goroutine per
// TLS connection), so that a keep-alive connection between two
// requests is only a protocol object on its loop: no goroutine, no buffer.
//
// When a request's first bytes arrive, the connection is handed to
// net/http as a net.Conn whose reads are fed from DataReceived and whose
// writes go through the protocol.Transport (the writing goroutine waits
// while the transport's queue is full). net/http parses the request, runs
// the handler and writes the response exactly as on a *net.TCPConn:
// timeouts, 431, 100-continue, chunking, HEAD, pipelining, HTTP/1.0 and
// Connection: close all keep net/http's behaviour. When net/http goes back
// to waiting for the next request and nothing more has arrived, the
// net.Conn reads as ended: net/http lets go of it (its goroutine and
// buffers go away) and the connection parks on the loop again until its
// next request, or until the idle timeout closes it.
//
// On a TLS transport (protocol.ConnectionStater) the net.Conn has its
// ConnectionState, so handlers see r.TLS; a connection whose ALPN picked
// h2 goes to x/net's HTTP/2 server instead, on a protocol.Conn for its
// whole life: ServeConn with the http.Server's handler, timeouts and
// header limit, and a graceful GOAWAY on Shutdown.
//
// A handler that is also a FastHandler answers the plainest requests on
// the loop itself: when a parked connection receives exactly one complete
// GET or HEAD head that the fast path parses (see FastRequest), the
// handler may answer it with one write and the connection stays parked —
// no goroutine, no net/http state. Whatever it declines goes to net/http
// as above. A connection net/http holds while it lingers after a
// response comes back to the loop with the first next request the fast
// path answers; one it declines stays with net/http.
package httpconn

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// defaultLinger is how long a connection stays with net/http after a response,
// waiting for the next request, before it parks. Parking and waking cost
// a goroutine start and net/http's per-connection setup; a client that
// keeps the connection busy never pays them, and an idle one is parked
// this soon.
const defaultLinger = 50 * time.Millisecond

// stopGrace is how long Shutdown waits for a connection to send its next
// request, answered with Connection: close: one accepted before the stop
// that has not sent its first (its client, unlike one on a reused
// connection, would not retry a request the close cut off), and one
// lingering after a response, whose client is likely sending its next
// request now (many, load tools and scripts among them, do not retry one
// a close cut off either). A connection idle for longer is closed at once.
const stopGrace = time.Second

// Server runs an http.Server on reactor-driven connections. Build it with
// New, give Factory to the reactor, and stop it with Shutdown.
type Server struct {
	srv *http.Server
	ln  *listener
	// idle and firstRequest close a parked connection: idle after a
	// response, firstRequest before the first request's first byte.
	idle, firstRequest time.Duration
	// linger is how long net/http keeps a connection after a response
	// before it parks: a busy client's next request finds it ready.
	linger time.Duration
	// readIdle and writeIdle are Options' ReadIdle and WriteIdle.
	readIdle, writeIdle time.Duration
	fast                FastHandler // srv.Handler's fast path; nil: none
	// reject learns of the requests net/http refuses; nil: none.
	reject RejectHandler
	// headLimit is the longest request head net/http reads before it
	// answers 431.
	headLimit int
	stopping  atomic.Bool
	// graceEnd is when Shutdown stops waiting for next requests (unix
	// nanoseconds); set before stopping.
	graceEnd atomic.Int64
	h2       h2Server // the TLS connections that chose HTTP/2

	mu     sync.Mutex
	conns  map[*conn]struct{}
	gone   chan struct{} // closed when stopping and conns is empty
	served chan struct{} // closed when srv.Serve returned
}

// New serves srv's handler on the connections of Factory. srv must not
// be used otherwise; New takes over its ConnState hook (calling the one
// set after its own). Its IdleTimeout
// (or ReadTimeout) closes parked connections, and its ReadHeaderTimeout
// (or ReadTimeout) closes a new connection that sends nothing (or does
// not finish its TLS handshake). HTTP/2 connections get its ReadTimeout
// and WriteTimeout per stream, IdleTimeout, MaxHeaderBytes and ErrorLog.
func New(srv *http.Server) *Server { return NewServer(srv, Options{}) }

// Options are a Server's settings beyond its http.Server's. net/http's
// ReadTimeout and WriteTimeout bound a whole request and a whole response,
// which a large upload or download on a slow link outlasts; these bound
// the time a peer makes no progress, as nginx's client_body_timeout and
// send_timeout do.
type Options struct {
	// ReadIdle ends a request whose peer sends none of its head or body
	// for this long (net/http then closes the connection); 0: never.
	ReadIdle time.Duration
	// WriteIdle aborts a connection whose peer takes none of a response
	// for this long (the transport's queue stays full), and one closed
	// with bytes still queued after this long; 0: never.
	WriteIdle time.Duration
}

// NewServer is New with opts.
func NewServer(srv *http.Server, opts Options) *Server {
	s := &Server{srv: srv, ln: newListener(), conns: make(map[*conn]struct{}), linger: defaultLinger,
		readIdle: opts.ReadIdle, writeIdle: opts.WriteIdle,
		gone: make(chan struct{}), served: make(chan struct{})}
	s.idle, s.firstRequest = srv.IdleTimeout, srv.ReadHeaderTimeout
	if s.idle == 0 {
		s.idle = srv.ReadTimeout
	}
	if s.firstRequest == 0 {
		s.firstRequest = srv.ReadTimeout
	}
	s.fast, _ = srv.Handler.(FastHandler)
	s.reject, _ = srv.Handler.(RejectHandler)
	srv.Handler = markHandled(srv.Handler)
	userCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		ctx = connContext(ctx, nc)
		if userCtx != nil {
			ctx = userCtx(ctx, nc)
		}
		return ctx
	}
	s.headLimit = srv.MaxHeaderBytes
	if s.headLimit <= 0 {
		s.headLimit = http.DefaultMaxHeaderBytes
	}
	s.headLimit += 4096 // net/http's slack for its bufio.Reader
	s.h2 = newH2(srv)
	user := srv.ConnState
	srv.ConnState = func(nc net.Conn, st http.ConnState) {
		if a, ok := nc.(stater); ok {
			a.state(st)
		}
		if user != nil {
			user(nc, st)
		}
	}
	go func() {
		defer close(s.served)
		_ = srv.Serve(s.ln)
	}()
	return s
}

// Factory builds the protocol of each connection; it refuses connections
// once Shutdown began.
func (s *Server) Factory() protocol.Factory {
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping.Load() {
			return nil
		}
		c := &conn{s: s}
		c.fr.limit = s.headLimit
		s.conns[c] = struct{}{}
		return c
	})
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.stopping.Load() && len(s.conns) == 0 {
		closeOnce(s.gone)
	}
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// Shutdown refuses new connections, closes the ones parked after a
// request at once, sends a GOAWAY on HTTP/2 connections (they close once
// their streams end), gives connections that have not sent their first
// request yet, or that linger after a response, up to a second for one
// more request, answered with Connection: close, lets requests in flight
// (downloads included) finish with Connection: close, and waits for
// every connection to be closed until ctx ends; then it aborts the rest
// and returns ctx.Err(). The reactor's own server for the listener should
// be shut down alongside (it stops accepting); Shutdown does not touch
// the listening socket.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	end := time.Now().Add(stopGrace)
	s.graceEnd.Store(end.UnixNano())
	s.stopping.Store(true)
	if len(s.conns) == 0 {
		closeOnce(s.gone)
	}
	s.mu.Unlock()
	s.srv.SetKeepAlivesEnabled(false)
	s.h2.shutdown(ctx)
	for _, c := range s.snapshot() {
		c.stop(false)
	}
	for time.Now().Before(end) && ctx.Err() == nil {
		waiting := 0
		for _, c := range s.snapshot() {
			if c.isWaiting() {
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range s.snapshot() {
		c.stop(true)
	}
	var err error
	select {
	case <-s.gone:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range s.snapshot() {
			c.abort()
		}
	}
	s.ln.Close()
	<-s.served
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

// graceLeft is how long a waiting connection is still given for its next
// request once Shutdown began.
func (s *Server) graceLeft() time.Duration {
	return time.Until(time.Unix(0, s.graceEnd.Load()))
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// listener hands net/http the connections that became active.
type listener struct {
	mu     sync.Mutex
	queue  []net.Conn
	closed bool
	ready  chan struct{} // a token while queue may be non-empty or closed
}

func newListener() *listener { return &listener{ready: make(chan struct{}, 1)} }

func (l *listener) push(c net.Conn) {
	l.mu.Lock()
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if len(l.queue) == 0 {
				l.queue = nil
			}
			l.mu.Unlock()
			return c, nil
		}
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		<-l.ready
	}
}

// Close implements net.Listener.
func (l *listener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
	return nil
}

// Addr implements net.Listener.
func (l *listener) Addr() net.Addr { return loopAddr{} }

type loopAddr struct{}

func (loopAddr) Network() string { return "tcp" }
func (loopAddr) String() string  { return "event-loop" }
