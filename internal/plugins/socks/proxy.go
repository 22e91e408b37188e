package socks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// dialFunc is service.Runner.Dial.
type dialFunc func(ctx context.Context, ep endpoint.Client, f protocol.Factory) service.Connector

// lookupFunc resolves a host name (net.Resolver.LookupNetIP's shape).
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// maxEarly bounds what a client may send after its request before the
// reply (optimistic data), held until the target is connected: one
// reactor read is 32 KiB; more than that is a client not waiting.
const maxEarly = 64 << 10

// maxAddrs bounds the addresses of one name tried in turn.
const maxAddrs = 8

// counters count what a SOCKS service does beyond connections and bytes
// (the reactor counts those). Every field may be nil.
type counters struct {
	// request counts an answered request by version (4, 4a, 5) and reply name.
	request func(version, reply string)
	// handshake counts a client dropped before its request: malformed,
	// no_acceptable_method, auth_failed, timeout.
	handshake func(reason string)
	// refused counts a destination refused by the rules, by reason.
	refused func(reason string)
}

// server is what every connection of one socks service shares.
type server struct {
	log              *zap.Logger
	rules            *rules
	users            *htpasswd.File // nil: no authentication
	dial             dialFunc
	lookup           lookupFunc
	handshakeTimeout time.Duration
	connectTimeout   time.Duration
	clog             *connLog
	count            counters
	// refusal logs a refused login or destination at info level, at a
	// bounded rate (reason is added as a field); nil logs nothing.
	refusal func(msg, reason string, peer net.Addr, fields ...zap.Field)
	// localHint tells once that loopback and link-local need an allow.
	localHint sync.Once
}

// factory builds the SOCKS protocol for each accepted connection.
func (s *server) factory() protocol.Factory {
	return protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol {
		return &inbound{c: &conn{s: s, peer: peer}}
	})
}

type phase int

const (
	phaseFirst   phase = iota // waiting for a SOCKS 4 request or a SOCKS 5 greeting
	phaseAuth                 // waiting for RFC 1929 username/password
	phaseCheck                // checking the password (bcrypt, off the callbacks)
	phaseRequest              // waiting for the SOCKS 5 request
	phaseConnect              // resolving and connecting
	phaseRelay                // relaying
	phaseDone                 // answered with a refusal, closing
)

// conn is one client connection: its handshake, then the relay between
// the accepted side (in) and the side we dialled (out). The reactor
// drives each side from its own loop and the handshake continues in
// goroutines (bcrypt, name resolution), so the state is guarded by mu;
// transport calls are made under it only where their order matters
// (handshake replies), never on the relay's path.
type conn struct {
	s     *server
	peer  net.Addr
	began time.Time

	mu      sync.Mutex
	in, out protocol.Transport
	phase   phase
	buf     []byte // handshake bytes not yet parsed; after the request, early data
	timer   *time.Timer
	user    string
	req     request
	dialled netip.AddrPort
	reply   string // outcome, for the log
	reason  string // why a request was refused, for the log

	inEOF, outEOF     bool
	inClosed, outGone bool
	logged            bool

	up, down atomic.Int64 // bytes relayed client → target, target → client
}

// inbound is the protocol on the accepted connection.
type inbound struct{ c *conn }

func (i *inbound) ConnectionMade(t protocol.Transport) {
	c := i.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in, c.began = t, time.Now()
	c.timer = time.AfterFunc(c.s.handshakeTimeout, c.handshakeExpired)
}

// handshakeExpired drops a client that has not finished its handshake.
func (c *conn) handshakeExpired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase >= phaseConnect || c.inClosed {
		return
	}
	c.phase = phaseDone
	c.countHandshake("timeout")
	c.s.log.Debug("socks handshake timed out", zap.Stringer("peer", c.peer), zap.Duration("timeout", c.s.handshakeTimeout))
	c.in.Abort()
}

func (i *inbound) DataReceived(data []byte) {
	c := i.c
	c.mu.Lock()
	if c.phase == phaseRelay {
		out := c.out
		c.mu.Unlock()
		c.up.Add(int64(len(data)))
		out.Write(data)
		return
	}
	defer c.mu.Unlock()
	switch c.phase {
	case phaseDone:
		return
	case phaseCheck, phaseConnect:
		// Reading is paused; a read already under way may still land.
		if len(c.buf)+len(data) > maxEarly {
			c.phase = phaseDone
			c.in.Abort()
			return
		}
		c.buf = append(c.buf, data...)
		return
	}
	c.buf = append(c.buf, data...)
	c.advance()
}

// advance parses what the buffer holds in the current phase; c.mu is held.
func (c *conn) advance() {
	for {
		var err error
		var n int
		switch c.phase {
		case phaseFirst:
			if len(c.buf) == 0 {
				return
			}
			switch c.buf[0] {
			case version4:
				var r request
				r, n, err = parseV4(c.buf)
				if err == nil {
					c.consume(n)
					c.request(r)
					return
				}
			case version5:
				var methods []byte
				methods, n, err = parseGreeting(c.buf)
				if err == nil {
					c.greeted(methods)
					c.consume(n)
				}
			default:
				err = malformed(fmt.Sprintf("unknown version %d", c.buf[0]))
			}
		case phaseAuth:
			var user, pass string
			user, pass, n, err = parseAuth(c.buf)
			if err == nil {
				c.consume(n)
				c.checkPassword(user, pass)
				return
			}
		case phaseRequest:
			var r request
			r, n, err = parseV5Request(c.buf)
			var re *replyError
			if errors.As(err, &re) {
				c.refuse(request{version: version5}, re.rep, "")
				return
			}
			if err == nil {
				c.consume(n)
				c.request(r)
				return
			}
		default:
			return
		}
		switch {
		case errors.Is(err, errShort):
			if len(c.buf) > maxMessage {
				c.malformed(malformed("message too long"))
			}
			return
		case err != nil:
			c.malformed(err)
			return
		}
	}
}

func (c *conn) consume(n int) { c.buf = slices.Clone(c.buf[n:]) }

// malformed drops a client whose message makes no sense, with the
// protocol's error first where it has one: 91 to a SOCKS 4 request, "no
// acceptable methods" to a SOCKS 5 greeting, a general failure to a SOCKS
// 5 request, a failed login to a broken RFC 1929 message. Anything else
// (an unknown version) is only closed.
func (c *conn) malformed(err error) {
	switch {
	case c.phase == phaseFirst && len(c.buf) > 0 && c.buf[0] == version4:
		c.in.Write(reply4(cd4Rejected, netip.AddrPort{}))
	case c.phase == phaseFirst && len(c.buf) > 0 && c.buf[0] == version5:
		c.in.Write([]byte{version5, methodNoneOK})
	case c.phase == phaseAuth:
		c.in.Write([]byte{authVersion, 1})
	case c.phase == phaseRequest:
		c.in.Write(reply5(repGeneralFailure, netip.AddrPort{}))
	}
	c.phase = c.finish(phaseDone)
	c.countHandshake("malformed")
	c.s.log.Debug("malformed socks handshake", zap.Stringer("peer", c.peer), zap.Error(err))
	c.in.LoseConnection()
}

// greeted answers a SOCKS 5 greeting with the method we take: username
// and password when the service has users, else none.
func (c *conn) greeted(methods []byte) {
	want, next := byte(methodNone), phaseRequest
	if c.s.users != nil {
		want, next = methodPassword, phaseAuth
	}
	if !slices.Contains(methods, want) {
		c.in.Write([]byte{version5, methodNoneOK})
		c.phase = c.finish(phaseDone)
		c.countHandshake("no_acceptable_method")
		c.s.log.Debug("socks client offers no acceptable method", zap.Stringer("peer", c.peer),
			zap.Binary("methods", methods))
		c.in.LoseConnection()
		return
	}
	c.in.Write([]byte{version5, want})
	c.phase = next
}

// checkPassword checks RFC 1929 credentials in a goroutine (bcrypt is
// slow on purpose), reading paused meanwhile.
func (c *conn) checkPassword(user, pass string) {
	c.phase = phaseCheck
	c.in.PauseReading()
	go func() {
		ok := c.s.users.Check(user, pass)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.phase != phaseCheck {
			return // timed out or gone meanwhile
		}
		if !ok {
			c.in.Write([]byte{authVersion, 1})
			c.phase = c.finish(phaseDone)
			c.countHandshake("auth_failed")
			c.logRefusal("socks login failed", "auth_failed", zap.String("user", truncate(user)))
			c.in.LoseConnection()
			return
		}
		c.user = user
		c.in.Write([]byte{authVersion, 0})
		c.phase = phaseRequest
		c.advance()
		if c.phase == phaseRequest {
			c.in.ResumeReading()
		}
	}()
}

// finish stops the handshake timer on the way to phase p.
func (c *conn) finish(p phase) phase {
	if c.timer != nil {
		c.timer.Stop()
	}
	return p
}

// request handles a parsed request; c.mu is held.
func (c *conn) request(r request) {
	c.req = r
	if r.version == version4 {
		c.user = r.user
	}
	switch {
	case r.command != cmdConnect:
		c.refuse(r, repCommandUnsupported, "")
		return
	case r.version == version4 && c.s.users != nil:
		// SOCKS 4 has no passwords; a service with users takes SOCKS 5 only.
		c.refuse(r, repNotAllowed, "socks4_needs_password")
		return
	}
	c.phase = c.finish(phaseConnect)
	c.in.PauseReading()
	go c.connect()
}

// refuse answers r with rep (SOCKS 4: 91) and closes; c.mu is held.
func (c *conn) refuse(r request, rep byte, reason string) {
	if c.req.version == 0 {
		c.req = r
	}
	c.reply, c.reason = replyName(rep), reason
	c.phase = c.finish(phaseDone)
	c.countRequest()
	c.writeLog() // before the reply: whoever reads the reply finds the line
	if r.version == version4 {
		c.in.Write(reply4(cd4Rejected, netip.AddrPort{}))
	} else {
		c.in.Write(reply5(rep, netip.AddrPort{}))
	}
	c.in.LoseConnection()
}

// connect resolves the target (when named), checks every address against
// the rules, and dials the allowed ones in turn, within connect_timeout
// for the whole. The address checked is the address dialled, so a name
// cannot resolve to an allowed address for the check and another for the
// connection.
func (c *conn) connect() {
	deadline := time.Now().Add(c.s.connectTimeout)
	r := c.req
	addrs := []netip.Addr{r.addr}
	if r.name != "" {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var err error
		addrs, err = c.s.lookup(ctx, "ip", r.name)
		cancel()
		if err != nil || len(addrs) == 0 {
			c.mu.Lock()
			c.refuse(r, repHostUnreachable, "unresolvable")
			c.mu.Unlock()
			if err != nil {
				c.s.log.Debug("socks target does not resolve", zap.Stringer("peer", c.peer),
					zap.String("target", r.name), zap.Error(err))
			}
			return
		}
	}
	var allowed []netip.Addr
	why := ""
	for _, a := range addrs {
		if reason := c.s.rules.check(a, r.port); reason != "" {
			if why == "" {
				why = reason
			}
			continue
		}
		allowed = append(allowed, a.Unmap())
	}
	if len(allowed) == 0 {
		if c.s.count.refused != nil {
			c.s.count.refused(why)
		}
		c.logRefusal("socks destination refused", why, zap.String("target", c.targetString()),
			zap.Stringer("addr", addrs[0].Unmap()))
		if why == refusedLocal {
			c.s.localHint.Do(func() {
				c.s.log.Info("refused a loopback or link-local destination; such targets need an allow: prefix of their own "+
					"(destinations: {allow: [127.0.0.1/32]}, or --allow-destination 127.0.0.1)",
					zap.Stringer("peer", c.peer), zap.Stringer("target", addrs[0].Unmap()))
			})
		}
		c.mu.Lock()
		c.dialled = netip.AddrPortFrom(addrs[0].Unmap(), r.port)
		c.refuse(r, repNotAllowed, why)
		c.mu.Unlock()
		return
	}
	if len(allowed) > maxAddrs {
		allowed = allowed[:maxAddrs]
	}
	c.try(allowed, deadline)
}

// try dials the first of addrs, the rest on failure, until deadline.
func (c *conn) try(addrs []netip.Addr, deadline time.Time) {
	target := netip.AddrPortFrom(addrs[0], c.req.port)
	c.mu.Lock()
	c.dialled = target
	gone := c.inClosed
	c.mu.Unlock()
	if gone {
		// The client left while we resolved or dialled: log it, answer no one.
		c.mu.Lock()
		c.reply = "client_closed"
		c.writeLog()
		c.mu.Unlock()
		return
	}
	left := time.Until(deadline)
	if left <= 0 {
		c.failed(target, context.DeadlineExceeded)
		return
	}
	ep := endpoint.Client{Kind: endpoint.TCP, Host: target.Addr().String(), Port: int(target.Port()), Timeout: left}
	c.s.dial(context.Background(), ep, outboundFactory{c: c, failed: func(err error) {
		if len(addrs) > 1 && time.Until(deadline) > 0 && !isTimeout(err) {
			c.try(addrs[1:], deadline)
			return
		}
		c.failed(target, err)
	}})
}

// outboundFactory builds the protocol on the connection to a target;
// failed hears that no connection was made (the next address is tried,
// or the client is answered).
type outboundFactory struct {
	c      *conn
	failed func(error)
}

func (f outboundFactory) BuildProtocol(net.Addr) protocol.Protocol { return &outbound{c: f.c} }

func (f outboundFactory) ClientConnectionFailed(err error) { f.failed(err) }

// ClientConnectionLost: the outbound protocol's ConnectionLost did the work.
func (outboundFactory) ClientConnectionLost(error) {}

// failed answers a request whose target could not be reached.
func (c *conn) failed(target netip.AddrPort, err error) {
	rep := replyFor(err)
	c.s.log.Debug("cannot reach socks target", zap.Stringer("peer", c.peer), zap.Stringer("target", target), zap.Error(err))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inClosed {
		c.reply = replyName(rep)
		c.countRequest()
		c.writeLog()
		return
	}
	c.refuse(c.req, rep, "")
}

// replyFor is the SOCKS 5 reply for a failed connection, as Dante maps errno.
func replyFor(err error) byte {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return repConnectionRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return repNetworkUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN):
		return repHostUnreachable
	case isTimeout(err):
		return repTTLExpired
	}
	return repGeneralFailure
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// ReadConnectionLost passes the client's half-close on to the target.
func (i *inbound) ReadConnectionLost() {
	c := i.c
	c.mu.Lock()
	if c.phase < phaseConnect {
		// EOF in the middle of the handshake: nothing more will come.
		c.phase = c.finish(phaseDone)
		c.countHandshake("malformed")
		in := c.in
		c.mu.Unlock()
		in.LoseConnection()
		return
	}
	c.inEOF = true
	in, out, both := c.in, c.out, c.outEOF
	c.mu.Unlock()
	if out != nil {
		out.CloseWrite()
	}
	if both {
		in.LoseConnection()
		out.LoseConnection()
	}
}

func (i *inbound) ConnectionLost(error) {
	c := i.c
	c.mu.Lock()
	c.inClosed = true
	c.finish(c.phase)
	out := c.out
	if c.phase == phaseRelay && c.outGone {
		c.writeLog()
	}
	c.mu.Unlock()
	if out != nil {
		out.LoseConnection()
	}
}

// outbound is the protocol on the connection to the target.
type outbound struct{ c *conn }

func (o *outbound) ConnectionMade(t protocol.Transport) {
	c := o.c
	c.mu.Lock()
	c.out = t
	c.phase = phaseRelay
	c.reply = replyName(repSucceeded)
	c.countRequest()
	if c.inClosed {
		c.mu.Unlock()
		t.Abort()
		return
	}
	in, early, inEOF := c.in, c.buf, c.inEOF
	c.buf = nil
	bound, _ := netip.ParseAddrPort(t.HostAddr().String())
	// The reply goes first, under the lock: nothing else writes to in yet.
	if c.req.version == version4 {
		in.Write(reply4(cd4Granted, bound))
	} else {
		in.Write(reply5(repSucceeded, bound))
	}
	c.mu.Unlock()
	if len(early) > 0 {
		c.up.Add(int64(len(early)))
		t.Write(early)
	}
	// Back-pressure both ways: a full queue on one side pauses reading on
	// the other, so a slow reader never makes memory grow.
	in.RegisterProducer(protocol.ReadingProducer(t))
	t.RegisterProducer(protocol.ReadingProducer(in))
	if inEOF {
		t.CloseWrite()
	}
	in.ResumeReading()
}

func (o *outbound) DataReceived(data []byte) {
	c := o.c
	c.down.Add(int64(len(data)))
	c.mu.Lock()
	in := c.in
	c.mu.Unlock()
	in.Write(data)
}

// ReadConnectionLost passes the target's half-close on to the client.
func (o *outbound) ReadConnectionLost() {
	c := o.c
	c.mu.Lock()
	c.outEOF = true
	in, out, both := c.in, c.out, c.inEOF
	c.mu.Unlock()
	in.CloseWrite()
	if both {
		in.LoseConnection()
		out.LoseConnection()
	}
}

func (o *outbound) ConnectionLost(error) {
	c := o.c
	c.mu.Lock()
	c.outGone = true
	in := c.in
	if c.inClosed {
		c.writeLog()
	}
	c.mu.Unlock()
	in.LoseConnection()
}

func (c *conn) logRefusal(msg, reason string, fields ...zap.Field) {
	if c.s.refusal != nil {
		c.s.refusal(msg, reason, c.peer, fields...)
	}
}

// targetString is the target as the client asked for it; c.req is set.
func (c *conn) targetString() string {
	switch r := c.req; {
	case r.name != "":
		return net.JoinHostPort(truncate(r.name), strconv.Itoa(int(r.port)))
	case r.addr.IsValid():
		return netip.AddrPortFrom(r.addr, r.port).String()
	}
	return "-"
}

func (c *conn) countHandshake(reason string) {
	if c.s.count.handshake != nil {
		c.s.count.handshake(reason)
	}
}

func (c *conn) countRequest() {
	if c.s.count.request != nil {
		c.s.count.request(c.req.versionName(), c.reply)
	}
}

// writeLog writes the request's line to the connection log, once; c.mu is held.
func (c *conn) writeLog() {
	if c.logged || c.s.clog == nil {
		return
	}
	c.logged = true
	now := time.Now()
	user := c.user
	if user == "" {
		user = "-"
	}
	target := c.targetString()
	addr := "-"
	if c.dialled.IsValid() {
		addr = c.dialled.String()
	}
	reply := c.reply
	if c.reason != "" {
		reply += "/" + c.reason
	}
	c.s.clog.write(fmt.Sprintf("%s %v socks%s user=%s target=%s addr=%s reply=%s up=%d down=%d duration=%s\n",
		now.UTC().Format("2006-01-02T15:04:05.000Z"), c.peer, c.req.versionName(), quoteField(truncate(user)),
		quoteField(target), addr, reply, c.up.Load(), c.down.Load(), now.Sub(c.began).Round(time.Millisecond)))
}

// truncate bounds a client-chosen string in the logs.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// quoteField quotes a client-chosen field when it holds spaces, quotes
// or control bytes, so one request is always one line.
func quoteField(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || r == 0x7f || r >= 0x80 {
			return strconv.Quote(s)
		}
	}
	return s
}

var (
	_ protocol.HalfCloser = (*inbound)(nil)
	_ protocol.HalfCloser = (*outbound)(nil)
)
