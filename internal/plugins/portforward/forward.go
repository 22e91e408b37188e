// Package portforward relays TCP connections to a fixed target (Twisted's
// portforward): bytes flow both ways with back-pressure both ways, and a
// half-close on either side is passed on to the other.
package portforward

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// dialFunc is service.Runner.Dial.
type dialFunc func(ctx context.Context, ep endpoint.Client, f protocol.Factory) service.Connector

// pair is one relayed connection: the accepted side and the side we
// dialed. Each side is driven by its own loop, so the shared state is
// guarded.
type pair struct {
	log *zap.Logger

	mu                sync.Mutex
	in, out           protocol.Transport
	inEOF, outEOF     bool // that side finished sending
	inClosed, outGone bool
	target            endpoint.Client
	dialing           service.Connector // the connection to the target
}

// inbound is the protocol on the accepted connection.
type inbound struct {
	p    *pair
	dial dialFunc
}

func (i *inbound) ConnectionMade(t protocol.Transport) {
	i.p.mu.Lock()
	i.p.in = t
	i.p.mu.Unlock()
	// Nothing to forward to yet: hold the client's bytes in the kernel.
	t.PauseReading()
	c := i.dial(context.Background(), i.p.target, outboundFactory{i.p})
	i.p.mu.Lock()
	i.p.dialing = c
	i.p.mu.Unlock()
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
	out, dialing := i.p.out, i.p.dialing
	i.p.mu.Unlock()
	if out != nil {
		out.LoseConnection()
	} else if dialing != nil {
		dialing.Abort() // the client left while we were still connecting
	}
}

// outboundFactory builds the protocol on the connection to the target,
// and closes the client's connection when the target cannot be reached.
type outboundFactory struct{ p *pair }

func (f outboundFactory) BuildProtocol(net.Addr) protocol.Protocol { return &outbound{p: f.p} }

func (f outboundFactory) ClientConnectionFailed(err error) {
	f.p.mu.Lock()
	in, gone := f.p.in, f.p.inClosed
	f.p.mu.Unlock()
	if gone {
		return
	}
	f.p.log.Warn("cannot reach the forward target; closing the client connection",
		zap.String("target", f.p.target.Address()), zap.Stringer("peer", in.PeerAddr()), zap.Error(err))
	in.Abort()
}

func (outboundFactory) ClientConnectionLost(error) {}

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
// target is host:port, checked when the file was loaded.
func factory(target string, timeout time.Duration, dial dialFunc, log *zap.Logger) protocol.Factory {
	host, port, _ := net.SplitHostPort(target)
	n, _ := strconv.Atoi(port)
	ep := endpoint.Client{Kind: endpoint.TCP, Host: host, Port: n, Timeout: timeout}
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		return &inbound{p: &pair{log: log, target: ep}, dial: dial}
	})
}

var (
	_ protocol.HalfCloser    = (*inbound)(nil)
	_ protocol.HalfCloser    = (*outbound)(nil)
	_ protocol.ClientFactory = outboundFactory{}
)
