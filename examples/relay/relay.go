// Package relay is a twistd plugin that keeps one reconnecting connection
// to an upstream server and relays to it every line its own clients send:
// a small log shipper, Twisted's ClientService with a server in front.
//
// # Design
//
// The upstream connection is a client.Service (Twisted's ClientService):
// it connects when the relay starts and, whenever the connection fails or
// is lost, reconnects with exponential backoff and jitter. Its factory is
// told of each connection's start and end (protocol.ConnectNotifier and
// protocol.ClientFactory) and keeps the current upstream transport in an
// atomic pointer; a client's line is written there (Transport.Write is safe
// from any goroutine and never blocks) or, while the upstream is down,
// dropped with a notice to the client and counted in
// relay_lines_dropped_total. A LoopingCall on the upstream connection sends
// a heartbeat line, serialised with that connection's callbacks and stopped
// with it. The one lock is around the set of the relay's own clients, whom
// Stop closes (a relay's client has no request in flight to wait for, so
// closing it once its notice is sent is the graceful drain).
package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/client"
	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(Maker{}) }

// Options are the keys of a relay service entry beyond name, type and listen.
type Options struct {
	// Upstream is the client endpoint string to relay to, such as
	// tcp:host=logs.example.com:port=5140. Required.
	Upstream string `yaml:"upstream,required"`
	// Heartbeat, when positive, sends a "PING" line upstream this often.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// RetryDelay is the first wait before reconnecting (then ×e, up to RetryMax).
	RetryDelay time.Duration `yaml:"retry_delay"`
	RetryMax   time.Duration `yaml:"retry_max"`
	// MaxLineLength bounds a client's line.
	MaxLineLength plugin.Size     `yaml:"max_line_length"`
	Policies      plugin.Policies `yaml:"policies"`
}

// Maker is the relay plugin: type: relay, or `twistd relay --port N --upstream ENDPOINT`.
type Maker struct{}

// Name implements plugin.Maker.
func (Maker) Name() string { return "relay" }

// Description implements plugin.Maker.
func (Maker) Description() string {
	return "relay clients' lines to an upstream over a reconnecting connection"
}

// New implements plugin.Maker.
func (Maker) New(e *plugin.Entry) (service.Service, error) {
	opts := Options{MaxLineLength: 4096, RetryDelay: time.Second, RetryMax: time.Minute}
	if err := e.Decode(&opts); err != nil {
		return nil, err
	}
	ep, err := endpoint.ParseClient(opts.Upstream)
	if err != nil {
		return nil, e.Errorf(e.Value("upstream"), "upstream: %v", err)
	}
	var errs []error
	if opts.Heartbeat < 0 {
		errs = append(errs, e.Errorf(e.Value("heartbeat"), "heartbeat must not be negative"))
	}
	if opts.RetryDelay <= 0 || opts.RetryMax < opts.RetryDelay {
		errs = append(errs, e.Errorf(e.Value("retry_delay"), "retry_delay must be positive and at most retry_max"))
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	return New(ep.Rebase(e.Dir()), opts), nil
}

// Flags implements plugin.Maker: --port N or ENDPOINT (-p, default 5140)
// and --upstream ENDPOINT.
func (Maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "5140", "port number or endpoint string to listen on")
	upstream := fs.String("upstream", "", "client endpoint to relay to (tcp:host=H:port=P)")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		if err != nil {
			return nil, err
		}
		if *upstream == "" {
			return nil, errors.New("--upstream is required")
		}
		return map[string]any{"type": "relay", "listen": []string{ep}, "upstream": *upstream}, nil
	}
}

// Service is a relay: a server for clients and a client of the upstream.
type Service struct {
	opts     Options
	upstream *client.Service
	current  atomic.Pointer[protocol.Transport]
	server   *service.Protocols
	dropped  prometheus.Counter
	multi    service.Multi

	mu      sync.Mutex
	clients map[protocol.Transport]struct{}
	closed  bool
}

// New returns a relay to ep.
func New(ep endpoint.Client, opts Options) *Service {
	s := &Service{opts: opts, clients: map[protocol.Transport]struct{}{}}
	s.upstream = &client.Service{
		Endpoint: ep,
		Factory:  (*upstreamFactory)(s),
		Backoff:  client.Backoff{Initial: opts.RetryDelay, Max: opts.RetryMax},
	}
	pc := opts.Policies.Config()
	s.server = &service.Protocols{Stream: protocol.FactoryFunc(s.buildClient), Policies: &pc}
	return s
}

// Start implements service.Service: the upstream client first, then the
// server, as a service.Multi (Twisted's MultiService) that stops them in
// reverse.
func (s *Service) Start(ctx context.Context, env *service.Env) error {
	s.dropped = env.Metrics.Counter(prometheus.CounterOpts{
		Name: "relay_lines_dropped_total",
		Help: "Lines dropped because the upstream was not connected.",
	}, "service").WithLabelValues(env.Name)
	return s.multi.Start(ctx, []service.Child{
		{Name: env.Name + "/upstream", Service: s.upstream, Env: env},
		{Name: env.Name, Service: s.server, Env: env},
	})
}

// Stop implements service.Service: it closes the relay's clients once
// what was written to them is sent, then stops the server and the
// upstream connection.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for t := range s.clients {
		t.LoseConnection()
	}
	s.mu.Unlock()
	return s.multi.Stop(ctx)
}

// relayClient is one of the relay's own clients.
type relayClient struct {
	protocol.LineProtocol
	s *Service
}

func (c *relayClient) ConnectionMade(t protocol.Transport) {
	c.LineProtocol.ConnectionMade(t)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.closed {
		t.LoseConnection()
		return
	}
	c.s.clients[t] = struct{}{}
}

func (c *relayClient) ConnectionLost(error) {
	c.s.mu.Lock()
	delete(c.s.clients, c.Transport)
	c.s.mu.Unlock()
}

// relayLine sends line upstream; it reports false when the upstream is down.
func (s *Service) relayLine(line []byte) bool {
	t := s.current.Load()
	if t == nil {
		s.dropped.Inc()
		return false
	}
	(*t).WriteMany(line, []byte("\n"))
	return true
}

// buildClient builds the protocol of one of the relay's own clients.
func (s *Service) buildClient(net.Addr) protocol.Protocol {
	p := &relayClient{s: s}
	p.Delimiter = []byte("\n")
	p.MaxLength = int(s.opts.MaxLineLength)
	p.OnLine = func(line []byte) error {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !s.relayLine(line) {
			p.SendLine([]byte("* upstream down, line dropped"))
		}
		return nil
	}
	return p
}

// upstreamFactory is the Service seen as the upstream connection's factory.
type upstreamFactory Service

func (f *upstreamFactory) BuildProtocol(net.Addr) protocol.Protocol {
	return &upstreamProtocol{s: (*Service)(f)}
}

// ClientConnectionMade implements protocol.ConnectNotifier.
func (f *upstreamFactory) ClientConnectionMade(p protocol.Protocol) {
	t := p.(*upstreamProtocol).Transport
	f.current.Store(&t)
}

// ClientConnectionLost implements protocol.ClientFactory.
func (f *upstreamFactory) ClientConnectionLost(error) { f.current.Store(nil) }

// ClientConnectionFailed implements protocol.ClientFactory.
func (f *upstreamFactory) ClientConnectionFailed(error) {}

// upstreamProtocol is the connection to the upstream: it ignores what the
// upstream sends and sends heartbeats.
type upstreamProtocol struct {
	protocol.Base
	s *Service
}

func (p *upstreamProtocol) ConnectionMade(t protocol.Transport) {
	p.Base.ConnectionMade(t)
	if p.s.opts.Heartbeat > 0 {
		// Twisted's LoopingCall: stopped for good when the connection is lost.
		protocol.NewLoopingCall(t, func() { t.Write([]byte("PING\n")) }).Start(p.s.opts.Heartbeat, false)
	}
}
