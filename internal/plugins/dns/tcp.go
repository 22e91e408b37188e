package dns

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol"
)

// DNS over TCP (RFC 7766) runs as a protocol on the reactor's stream
// path, like every stream service: the reactor accepts, reads the PROXY
// header and does the TLS handshake (haproxy: and ssl: endpoints), the
// policies admit the connection and time it out when idle, and a session
// below answers the length-prefixed queries it carries.
const (
	// maxInFlight bounds the queries of one connection answered off the
	// loop at once (forwarded ones); beyond it the connection stops being
	// read until one is answered.
	maxInFlight = 32
	// maxPending bounds what a session holds of what it read but has not
	// answered yet: one partial message, or what arrived while it was
	// held back. A client past it is cut off.
	maxPending = 2 + dns.MaxMsgSize + 64<<10
)

// tcpSession is one DNS-over-TCP connection. Queries are taken in the
// order they arrive; those answered from our data are answered at once,
// in order, and forwarded ones from their own goroutine when upstream
// replies, so a slow upstream holds up nothing behind it (RFC 7766 §6.2.1.1:
// answers may come out of order, each carries its query's ID). A zone
// transfer holds the queries after it until it has been sent.
type tcpSession struct {
	s   *Server
	t   protocol.Transport
	src netip.AddrPort
	out []byte // reply scratch, used under takeMu

	// takeMu serialises taking queries out of pending: DataReceived, and
	// the goroutine that ends a transfer or the last query in flight
	// while bytes are held back.
	takeMu  sync.Mutex
	pending []byte

	mu         sync.Mutex
	cond       sync.Cond // full or lost changed: a transfer waits for room
	inFlight   int       // queries answered off the loop
	transfer   bool      // a zone transfer is being sent
	full       bool      // the transport's write queue is over its high water mark
	paused     bool      // we paused the transport's reading
	draining   bool      // the server is stopping: close once nothing is in flight
	lost, lose bool
}

// newSession is the service's stream factory: one session per admitted
// connection, none once the server is stopping.
func (s *Server) newSession(net.Addr) protocol.Protocol {
	if s.isStopping() {
		return nil
	}
	c := &tcpSession{s: s}
	c.cond.L = &c.mu
	return c
}

// ConnectionMade implements protocol.Protocol.
func (c *tcpSession) ConnectionMade(t protocol.Transport) {
	c.t = t
	c.src = addrPort(t.PeerAddr())
	t.RegisterProducer(c)
	if !c.s.addSession(c) {
		t.LoseConnection()
	}
}

// DataReceived implements protocol.Protocol.
func (c *tcpSession) DataReceived(data []byte) {
	c.takeMu.Lock()
	defer c.takeMu.Unlock()
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	c.takeLocked(data)
}

// takeLocked answers the whole messages at the start of buf that may be
// answered now and keeps the rest in pending. Called under takeMu.
func (c *tcpSession) takeLocked(buf []byte) {
	for c.mayTake() {
		msg, rest, ok := nextMessage(buf)
		if !ok {
			break
		}
		buf = rest
		c.query(msg)
	}
	c.pending = append(c.pending[:0], buf...)
	if len(c.pending) == 0 && cap(c.pending) > 64<<10 {
		c.pending = nil
	}
	if len(c.pending) > maxPending {
		c.s.log.Debug("tcp client sent too much without reading answers; closing", zap.Stringer("client", c.src))
		c.t.Abort()
		return
	}
	c.update()
}

// nextMessage splits the first length-prefixed message off buf; ok is
// false while buf does not hold a whole one yet.
func nextMessage(buf []byte) (msg, rest []byte, ok bool) {
	if len(buf) < 2 {
		return nil, buf, false
	}
	n := int(binary.BigEndian.Uint16(buf))
	if len(buf) < 2+n {
		return nil, buf, false
	}
	return buf[2 : 2+n], buf[2+n:], true
}

// mayTake reports whether another query may be started now.
func (c *tcpSession) mayTake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.transfer && !c.draining && !c.lost && c.inFlight < maxInFlight
}

// query answers one message: from our data at once, or off the loop for
// a zone transfer or a forwarded question.
func (c *tcpSession) query(msg []byte) {
	s, h := c.s, c.s.h
	s.env.Stats.Requests.Add(1)
	if req := transferRequest(msg); req != nil {
		c.mu.Lock()
		c.transfer = true
		c.mu.Unlock()
		s.bg.Go(func() {
			if err := s.transferOut(sessionWriter{c}, req, c.src); err != nil {
				s.connError("zone transfer failed", c.src, err)
				c.t.Abort()
			}
			c.mu.Lock()
			c.transfer = false
			c.mu.Unlock()
			c.resume()
		})
		return
	}
	start := time.Now()
	req, rep := h.decide(msg, c.src, true)
	if rep.forward {
		select {
		case s.fwdSlots <- struct{}{}:
		default:
			// As busy as we let forwarding get: say so now rather than
			// keep the client waiting.
			rep.forward, rep.msg = false, serverFailure(req)
		}
	}
	if rep.forward {
		c.mu.Lock()
		c.inFlight++
		c.mu.Unlock()
		s.bg.Go(func() {
			defer func() { <-s.fwdSlots }()
			if resp := h.respond(s.ctx, req, rep, nil, c.src, true, nil, start); resp != nil {
				c.write(resp)
			}
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
			c.resume()
		})
		return
	}
	if rep.msg == nil {
		return
	}
	if resp := h.respond(s.ctx, req, rep, msg, c.src, true, c.out[:0], start); resp != nil {
		c.out = resp
		c.write(resp)
	}
}

// write sends one message with its length prefix.
func (c *tcpSession) write(msg []byte) {
	if len(msg) > dns.MaxMsgSize {
		return
	}
	var prefix [2]byte
	binary.BigEndian.PutUint16(prefix[:], uint16(len(msg)))
	c.t.WriteMany(prefix[:], msg)
}

// resume goes on with what was held back once a transfer or a forwarded
// query is done: the queries already read, then reading.
func (c *tcpSession) resume() {
	c.takeMu.Lock()
	defer c.takeMu.Unlock()
	c.takeLocked(c.pending)
}

// update pauses or resumes reading to match the session's state, and
// closes a draining session once nothing is in flight.
func (c *tcpSession) update() {
	c.mu.Lock()
	hold := c.full || c.transfer || c.inFlight >= maxInFlight
	pause := hold && !c.paused
	resume := !hold && c.paused
	c.paused = hold
	closeNow := c.draining && !c.transfer && c.inFlight == 0 && !c.lose
	if closeNow {
		c.lose = true
	}
	c.mu.Unlock()
	switch {
	case pause:
		c.t.PauseReading()
	case resume:
		c.t.ResumeReading()
	}
	if closeNow {
		c.t.LoseConnection()
	}
}

// drain closes the session once the answers in flight are sent; queries
// not started yet are dropped (the client asks them again, RFC 7766 §6.2.3).
func (c *tcpSession) drain() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.update()
}

// PauseProducing implements protocol.Producer: the transport's write
// queue is full, so stop reading queries (and a transfer stops writing).
func (c *tcpSession) PauseProducing() {
	c.mu.Lock()
	c.full = true
	c.mu.Unlock()
	c.update()
}

// ResumeProducing implements protocol.Producer: the queue has drained.
func (c *tcpSession) ResumeProducing() {
	c.mu.Lock()
	c.full = false
	c.cond.Broadcast()
	c.mu.Unlock()
	c.update()
}

// ConnectionLost implements protocol.Protocol.
func (c *tcpSession) ConnectionLost(error) {
	c.mu.Lock()
	c.lost = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.s.removeSession(c)
}

// sessionWriter is a session's transport as a blocking writer, for zone
// transfers: each Write waits while the write queue is full, so a zone
// is sent at the pace the client reads it, never queued whole.
type sessionWriter struct{ c *tcpSession }

func (w sessionWriter) Write(p []byte) (int, error) {
	c := w.c
	c.t.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.full && !c.lost {
		c.cond.Wait()
	}
	if c.lost {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

// addSession counts c in, or reports false once the server is stopping.
func (s *Server) addSession(c *tcpSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.sessions[c] = struct{}{}
	return true
}

func (s *Server) removeSession(c *tcpSession) {
	s.mu.Lock()
	delete(s.sessions, c)
	s.mu.Unlock()
}

// writeFrame writes one length-prefixed message.
func writeFrame(w io.Writer, msg []byte) error {
	if len(msg) > dns.MaxMsgSize {
		return errors.New("message too large for TCP")
	}
	frame := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(frame, uint16(len(msg)))
	copy(frame[2:], msg)
	_, err := w.Write(frame)
	return err
}

// connError logs what ended a connection, unless it is the usual end:
// the client went away, or we are stopping.
func (s *Server) connError(msg string, src any, err error) {
	if errors.Is(err, io.EOF) || errClosed(err) || s.isStopping() {
		return
	}
	s.log.Debug(msg, zap.Any("client", src), zap.Error(err))
}

var (
	_ protocol.Protocol = (*tcpSession)(nil)
	_ protocol.Producer = (*tcpSession)(nil)
)
