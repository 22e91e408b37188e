package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// ErrStopped is returned by WhenConnected once the Service is stopping.
var ErrStopped = errors.New("client service stopped")

// Service is a service.Service that keeps one connection to Endpoint,
// Twisted's ClientService: it connects when it starts, and whenever the
// attempt fails or the connection is lost it waits (Backoff) and connects
// again, the wait growing with each failure in a row and starting over
// once a connection is made. Stop gives up a pending attempt or wait and
// closes the connection. Its connections run through the reactor like
// accepted ones (service.Runner.Dial).
//
// Factory builds the protocol of each connection; if it is also a
// protocol.ClientFactory or protocol.ConnectNotifier it hears of each
// connection's end and start, as if it had dialed itself. Set the fields
// before Start and leave them alone after. A Service runs once: make a
// new one to start again.
type Service struct {
	Endpoint endpoint.Client
	Factory  protocol.Factory
	// Backoff paces the attempts; the zero value is DefaultBackoff.
	Backoff Backoff
	// MaxRetries, when positive, is how many attempts in a row may fail
	// before the service gives up and reports itself failed (Env.Fail),
	// for the reactor to restart or stop it; 0 retries for ever.
	MaxRetries int

	mu        sync.Mutex
	env       *service.Env
	log       *zap.Logger
	started   bool
	stopping  bool
	cur       *attempt          // the attempt or connection under way
	proto     protocol.Protocol // the live connection's protocol
	connected chan struct{}     // closed, and replaced, at each connection and at Stop
	retry     *time.Timer       // the pending wait
	waits     int               // waits since the last connection
	failures  int               // attempts in a row that failed
	gaveUp    error             // why it stopped trying (MaxRetries)
}

// attempt is one Runner.Dial, and the ClientFactory the reactor calls
// back; done is closed once it failed or its connection was lost.
type attempt struct {
	s    *Service
	conn service.Connector
	done chan struct{}
}

// Start makes the first attempt; it does not wait for the connection
// (use WhenConnected).
func (s *Service) Start(ctx context.Context, env *service.Env) error {
	switch {
	case s.Factory == nil:
		return errors.New("client service: no Factory")
	case s.Endpoint.Network() == "":
		return errors.New("client service: no Endpoint")
	case env == nil || env.Runner == nil:
		return errors.New("client service: no Runner to dial with (start it with the Env the reactor gave)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("client service: started twice")
	}
	s.started, s.env, s.log = true, env, env.Logger
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.With(zap.Stringer("endpoint", s.Endpoint))
	s.connectLocked()
	return nil
}

// connectLocked dials a new attempt; s.mu is held.
func (s *Service) connectLocked() {
	if s.stopping {
		return
	}
	a := &attempt{s: s, done: make(chan struct{})}
	s.cur, s.retry = a, nil
	// Dial may call back before it returns, from another goroutine; the
	// callbacks take s.mu, held here, so a.conn is set before they look.
	a.conn = s.env.Runner.Dial(context.Background(), s.Endpoint, a)
}

// waitLocked schedules the next attempt after the backoff; s.mu is held.
func (s *Service) waitLocked(why string, err error) {
	s.waits++
	d := s.Backoff.Delay(s.waits)
	s.log.Info(why+"; reconnecting", zap.Duration("retry_in", d), zap.Error(err))
	s.retry = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cur == nil {
			s.connectLocked()
		}
	})
}

// BuildProtocol implements protocol.Factory for the attempt.
func (a *attempt) BuildProtocol(peer net.Addr) protocol.Protocol {
	return a.s.Factory.BuildProtocol(peer)
}

// ClientConnectionMade resets the backoff and hands the connection to
// whoever waits for it.
func (a *attempt) ClientConnectionMade(p protocol.Protocol) {
	s := a.s
	s.mu.Lock()
	if s.cur == a && !s.stopping {
		s.proto, s.waits, s.failures = p, 0, 0
		close(s.connectedLocked())
		s.connected = nil
		s.log.Info("connected")
	}
	s.mu.Unlock()
	if n, ok := s.Factory.(protocol.ConnectNotifier); ok {
		n.ClientConnectionMade(p)
	}
}

// ClientConnectionFailed waits, then tries again, unless MaxRetries
// attempts have failed in a row.
func (a *attempt) ClientConnectionFailed(err error) {
	s := a.s
	if cf, ok := s.Factory.(protocol.ClientFactory); ok {
		cf.ClientConnectionFailed(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(a.done)
	if s.cur != a || s.stopping {
		return
	}
	s.cur = nil
	s.failures++
	if s.MaxRetries > 0 && s.failures > s.MaxRetries {
		s.gaveUp = fmt.Errorf("connect %s: gave up after %d attempts: %w", s.Endpoint, s.failures, err)
		close(s.connectedLocked()) // WhenConnected returns it
		s.connected = nil
		s.env.Fail(s.gaveUp)
		return
	}
	s.waitLocked("connection failed", err)
}

// ClientConnectionLost waits, then connects again.
func (a *attempt) ClientConnectionLost(err error) {
	s := a.s
	if cf, ok := s.Factory.(protocol.ClientFactory); ok {
		cf.ClientConnectionLost(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(a.done)
	if s.cur != a || s.stopping {
		return
	}
	s.cur, s.proto = nil, nil
	s.waitLocked("connection lost", err)
}

// connectedLocked returns the channel closed at the next connection.
func (s *Service) connectedLocked() chan struct{} {
	if s.connected == nil {
		s.connected = make(chan struct{})
	}
	return s.connected
}

// WhenConnected returns the protocol of the current connection, waiting
// for the next one if there is none, until ctx is done (ctx.Err()), the
// service stops (ErrStopped) or gives up (MaxRetries: the error it
// reported). The protocol is what Factory built; its
// ConnectionMade has run. Use its Transport from any goroutine; call its
// own methods only as its callbacks allow (it may be in one right now).
func (s *Service) WhenConnected(ctx context.Context) (protocol.Protocol, error) {
	for {
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return nil, ErrStopped
		}
		if s.gaveUp != nil {
			err := s.gaveUp
			s.mu.Unlock()
			return nil, err
		}
		if s.proto != nil {
			p := s.proto
			s.mu.Unlock()
			return p, nil
		}
		ch := s.connectedLocked()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Stop gives up a pending wait or attempt, closes the connection once
// what it queued is sent, and waits for it to end until ctx is done; then
// it aborts it and returns ctx.Err().
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopping || !s.started {
		s.mu.Unlock()
		return nil
	}
	s.stopping = true
	if s.retry != nil {
		s.retry.Stop()
	}
	close(s.connectedLocked()) // WhenConnected returns ErrStopped
	a := s.cur
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	a.conn.Disconnect()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		a.conn.Abort()
		return ctx.Err()
	}
}

var (
	_ service.Service          = (*Service)(nil)
	_ protocol.ClientFactory   = (*attempt)(nil)
	_ protocol.ConnectNotifier = (*attempt)(nil)
)
