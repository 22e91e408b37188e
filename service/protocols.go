package service

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
)

// Protocols is a Service that runs a stream protocol on each of its stream
// listeners and a datagram protocol on each of its packet listeners, the
// way Twisted's strports.service runs a factory on a port.
type Protocols struct {
	// Stream builds the protocol for connections; nil if the service has none.
	Stream protocol.Factory
	// Datagram handles datagrams; nil if the service has none.
	Datagram protocol.DatagramProtocol
	// Policies apply to every stream connection (the zero Config when nil).
	Policies *policy.Config

	mu      sync.Mutex
	servers []Server
	policy  *policy.Policy
}

// Start runs a loop per listener through env.Runner.
func (p *Protocols) Start(ctx context.Context, env *Env) error {
	var cfg policy.Config
	if p.Policies != nil {
		cfg = *p.Policies
	}
	pol, err := policy.New(cfg, env.Logger, env.Stats)
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	factory := p.Stream
	if factory != nil {
		factory = pol.WrapFactory(factory)
	}
	var servers []Server
	for _, l := range env.Listeners {
		switch {
		case l.Stream != nil && factory != nil:
			servers = append(servers, env.Runner.ServeStream(l, factory))
		case l.Packet != nil && p.Datagram != nil:
			servers = append(servers, env.Runner.ServePacket(l, p.Datagram))
		default:
			for _, s := range servers {
				_ = s.Shutdown(ctx)
			}
			_ = pol.Close()
			return fmt.Errorf("listen %s: this service does not speak %s", l.Endpoint, l.Endpoint.Kind)
		}
	}
	p.mu.Lock()
	p.servers = servers
	p.policy = pol
	p.mu.Unlock()
	return nil
}

// Stop shuts every loop down concurrently within ctx.
func (p *Protocols) Stop(ctx context.Context) error {
	p.mu.Lock()
	servers, pol := p.servers, p.policy
	p.servers = nil
	p.mu.Unlock()
	errs := make([]error, len(servers)+1)
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	wg.Wait()
	if pol != nil {
		errs[len(servers)] = pol.Close()
	}
	return errors.Join(errs...)
}

// Reopen reopens the traffic log (SIGUSR1).
func (p *Protocols) Reopen() error {
	p.mu.Lock()
	pol := p.policy
	p.mu.Unlock()
	if pol == nil {
		return nil
	}
	return pol.Reopen()
}

var (
	_ Service  = (*Protocols)(nil)
	_ Reopener = (*Protocols)(nil)
)
