// Package portforward relays TCP connections to a fixed target (Twisted's
// portforward): bytes flow both ways with back-pressure both ways, and a
// half-close on either side is passed on to the other.
package portforward

import (
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol"
)

// dialFunc is service.Runner.Dial.
type dialFunc func(network, addr string, timeout time.Duration, p protocol.Protocol, failed func(error))

// pair is one relayed connection: the accepted side and the side we
// dialed. Each side is driven by its own loop, so the shared state is
// guarded.
type pair struct {
	log *zap.Logger

	mu                sync.Mutex
	in, out           protocol.Transport
	inEOF, outEOF     bool // that side finished sending
	inClosed, outGone bool
	target            string
}

// inbound is the protocol on the accepted connection.
type inbound struct {
	p       *pair
	dial    dialFunc
	timeout time.Duration
}

func (i *inbound) ConnectionMade(t protocol.Transport) {
	i.p.mu.Lock()
	i.p.in = t
	i.p.mu.Unlock()
	// Nothing to forward to yet: hold the client's bytes in the kernel.
	t.PauseReading()
	i.dial("tcp", i.p.target, i.timeout, &outbound{p: i.p}, func(err error) {
		i.p.log.Warn("cannot reach the forward target; closing the client connection",
			zap.String("target", i.p.target), zap.Stringer("peer", t.PeerAddr()), zap.Error(err))
		t.Abort()
	})
}

func (i *inbound) DataReceived(data []byte) {
	i.p.mu.Lock()
	out := i.p.out
	i.p.mu.Unlock()
	if out != nil {
		out.Write(data)
	}
}

// ReadConnectionLost passes the client's half-close on to the target.
func (i *inbound) ReadConnectionLost() {
	i.p.mu.Lock()
	i.p.inEOF = true
	out, both := i.p.out, i.p.outEOF
	in := i.p.in
	i.p.mu.Unlock()
	if out != nil {
		out.CloseWrite()
	}
	if both {
		in.LoseConnection()
		out.LoseConnection()
	}
}

func (i *inbound) ConnectionLost(error) {
	i.p.mu.Lock()
	i.p.inClosed = true
	out := i.p.out
	i.p.mu.Unlock()
	if out != nil {
		out.LoseConnection()
	}
}

// outbound is the protocol on the connection to the target.
type outbound struct {
	p *pair
}

func (o *outbound) ConnectionMade(t protocol.Transport) {
	o.p.mu.Lock()
	o.p.out = t
	in, gone := o.p.in, o.p.inClosed
	inEOF := o.p.inEOF
	o.p.mu.Unlock()
	if gone {
		t.Abort()
		return
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
	o.p.mu.Lock()
	in := o.p.in
	o.p.mu.Unlock()
	in.Write(data)
}

// ReadConnectionLost passes the target's half-close on to the client.
func (o *outbound) ReadConnectionLost() {
	o.p.mu.Lock()
	o.p.outEOF = true
	in, out, both := o.p.in, o.p.out, o.p.inEOF
	o.p.mu.Unlock()
	in.CloseWrite()
	if both {
		in.LoseConnection()
		out.LoseConnection()
	}
}

func (o *outbound) ConnectionLost(error) {
	o.p.mu.Lock()
	o.p.outGone = true
	in := o.p.in
	o.p.mu.Unlock()
	in.LoseConnection()
}

// factory builds the relay for each accepted connection.
func factory(target string, timeout time.Duration, dial dialFunc, log *zap.Logger) protocol.Factory {
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		return &inbound{p: &pair{log: log, target: target}, dial: dial, timeout: timeout}
	})
}

var (
	_ protocol.HalfCloser = (*inbound)(nil)
	_ protocol.HalfCloser = (*outbound)(nil)
)
