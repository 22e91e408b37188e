package service

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twistd-go/twistd/internal/protocol"
)

// Protocols is a Service that runs a stream protocol on each of its stream
// listeners and a datagram protocol on each of its packet listeners, the
// way Twisted's strports.service runs a factory on a port.
type Protocols struct {
	// Stream builds the protocol for connections; nil if the service has none.
	Stream protocol.Factory
	// Datagram handles datagrams; nil if the service has none.
	Datagram protocol.DatagramProtocol

	mu      sync.Mutex
	servers []Server
}

// Start runs a loop per listener through env.Runner.
func (p *Protocols) Start(ctx context.Context, env *Env) error {
	var servers []Server
	for _, l := range env.Listeners {
		switch {
		case l.Stream != nil && p.Stream != nil:
			servers = append(servers, env.Runner.ServeStream(l, p.Stream))
		case l.Packet != nil && p.Datagram != nil:
			servers = append(servers, env.Runner.ServePacket(l, p.Datagram))
		default:
			for _, s := range servers {
				_ = s.Shutdown(ctx)
			}
			return fmt.Errorf("listen %s: this service does not speak %s", l.Endpoint, l.Endpoint.Kind)
		}
	}
	p.mu.Lock()
	p.servers = servers
	p.mu.Unlock()
	return nil
}

// Stop shuts every loop down concurrently within ctx.
func (p *Protocols) Stop(ctx context.Context) error {
	p.mu.Lock()
	servers := p.servers
	p.servers = nil
	p.mu.Unlock()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

var _ Service = (*Protocols)(nil)
