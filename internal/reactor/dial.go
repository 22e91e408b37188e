package reactor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// errRefusedByFactory is the failure of a Dial whose factory built no
// protocol.
var errRefusedByFactory = errors.New("the factory built no protocol for the connection")

// Dial implements service.Runner: the connection (and for ssl the TLS
// handshake) is made in a goroutine, then the reactor drives it like an
// accepted one — on an event loop under the epoll reactor, with a
// goroutine pair otherwise and for TLS.
func (r runner) Dial(ctx context.Context, ep endpoint.Client, f protocol.Factory) service.Connector {
	ctx, cancel := context.WithTimeout(ctx, ep.ConnectTimeout())
	c := &connector{cancel: cancel}
	cf, _ := f.(protocol.ClientFactory)
	failed := func(err error) {
		err = fmt.Errorf("connect %s: %w", ep, err)
		if cf == nil {
			r.log.Warn("connection failed", zap.Stringer("endpoint", ep), zap.Error(err))
			return
		}
		r.safely("in ClientConnectionFailed", func() { cf.ClientConnectionFailed(err) })
	}
	var hooks dialHooks
	if cf != nil {
		hooks.lost = cf.ClientConnectionLost
	}
	cn, _ := f.(protocol.ConnectNotifier)
	go func() {
		defer cancel()
		nc, err := dial(ctx, ep)
		if err != nil {
			failed(err)
			return
		}
		var p protocol.Protocol
		if !r.safely("building a protocol", func() { p = f.BuildProtocol(nc.RemoteAddr()) }) || p == nil {
			nc.Close()
			failed(errRefusedByFactory)
			return
		}
		if cn != nil {
			hooks.made = func() { cn.ClientConnectionMade(p) }
		}
		// Hand the connection over under c.mu, so that a Disconnect
		// either comes first (and it is never driven) or finds it.
		c.mu.Lock()
		if c.gone {
			err = context.Canceled
		} else if r.r.stopped.Load() {
			err = errors.New("the reactor has stopped")
		} else if _, isTLS := nc.(*tls.Conn); isTLS || r.r.reactor != Epoll {
			c.t, err = r.r.drive(nc, p, hooks)
		} else {
			c.t, err = r.r.adopt(nc, p, hooks)
		}
		c.mu.Unlock()
		if err != nil {
			nc.Close()
			failed(err)
		}
	}()
	return c
}

// safely runs a callback of a factory, turning a panic into a logged
// error; it reports whether f returned normally.
func (r runner) safely(what string, f func()) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("factory panicked "+what,
				zap.String("panic", fmt.Sprint(p)), zap.ByteString("stack", debug.Stack()))
			ok = false
		}
	}()
	f()
	return true
}

// dial makes ep's connection within ctx: TCP from ep's bind address, unix,
// or TLS over TCP verified for ep.Host.
func dial(ctx context.Context, ep endpoint.Client) (net.Conn, error) {
	d := &net.Dialer{}
	if ep.BindAddress != "" {
		a, err := netip.ParseAddr(ep.BindAddress)
		if err != nil {
			return nil, fmt.Errorf("bindAddress %q is not an IP address", ep.BindAddress)
		}
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone()}
	}
	switch ep.Kind {
	case endpoint.TCP, endpoint.Unix:
		return d.DialContext(ctx, ep.Network(), ep.Address())
	case endpoint.SSL:
		cfg, err := ep.TLSConfig()
		if err != nil {
			return nil, err
		}
		return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", ep.Address())
	}
	return nil, fmt.Errorf("cannot connect to a %q endpoint", ep.Kind)
}

// connector is the service.Connector of one Dial.
type connector struct {
	cancel context.CancelFunc

	mu   sync.Mutex
	gone bool               // Disconnect or Abort was called
	t    protocol.Transport // once connected
}

func (c *connector) Disconnect() { c.end(protocol.Transport.LoseConnection) }

func (c *connector) Abort() { c.end(protocol.Transport.Abort) }

func (c *connector) end(close func(protocol.Transport)) {
	c.cancel()
	c.mu.Lock()
	c.gone = true
	t := c.t
	c.mu.Unlock()
	if t != nil {
		close(t)
	}
}

// dialHooks are the factory's calls on a connection it dialed, each nil
// when the factory does not want it: made after the protocol's
// ConnectionMade, lost after its ConnectionLost.
type dialHooks struct {
	made func()
	lost func(error)
}

// drive runs p on an outgoing connection with a goroutine pair.
func (r *Reactor) drive(nc net.Conn, p protocol.Protocol, hooks dialHooks) (protocol.Transport, error) {
	r.dialerOnce.Do(func() {
		r.goDialer = &streamServer{log: r.log, stats: &service.Stats{}, conns: newConnSet[*conn]()}
	})
	c := newConn(r.goDialer, nc, p)
	c.hooks = hooks
	if !r.goDialer.conns.add(c) {
		return nil, errors.New("stopping")
	}
	r.goDialer.stats.ConnectionsActive.Add(1)
	go c.run()
	return c, nil
}

// closeDialed ends the connections the reactor dialed that their owners
// left open when every service has stopped: they get until ctx ends to
// close (portforward's may still be flushing what a client sent last),
// then they are aborted. From then on Dial fails. Without it a forgotten
// connection would keep the event loops, and so the process, running.
func (r *Reactor) closeDialed(ctx context.Context) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
	}
	r.stopped.Store(true)
	r.dialerOnce.Do(func() {
		r.goDialer = &streamServer{log: r.log, stats: &service.Stats{}, conns: newConnSet[*conn]()}
	})
	_ = r.goDialer.conns.drain(ctx, r.log)
	r.closeDialedLoops(ctx)
}

var _ service.Connector = (*connector)(nil)
