// Package policy applies twisted.protocols.policies to any stream service:
// idle timeouts, connection limits (total and per peer), a per-peer
// connection rate, service-wide read and write rate limits, and a traffic
// log; and it holds the source-address rules (allow:, deny:, trusted=)
// the reactor checks at accept. It wraps a protocol.Factory
// (Twisted's WrappingFactory), so no service implements a policy itself.
//
// A service's YAML policies are New(cfg, ...).WrapFactory(f), all at
// once. From code, each policy is also a wrapper of its own, for any
// factory: IdleTimeout, LimitTotalConnections (with an overflow protocol,
// such as BusyFactory), LimitConnectionsPerPeer,
// LimitConnectionRatePerPeer, Throttle and TrafficLog; and Spew hex-dumps
// a connection's traffic to the log for debugging. The transports they
// hand the protocol pass every Transport method through, CallLater
// included, so timers stay serialised with the connection's callbacks.
package policy

import (
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultMaxConnections is max_connections when the file does not set it.
const DefaultMaxConnections = 10000

// The reasons a connection is refused, as counted in metrics: the policy's key.
const (
	ReasonMaxConnections        = "max_connections"
	ReasonMaxConnectionsPerPeer = "max_connections_per_peer"
)

// Config is a service's policies (SPEC §2). The zero value means: no
// idle timeout, DefaultMaxConnections, no per-peer limit, no connection
// rate, no rate limits, no traffic log.
type Config struct {
	// IdleTimeout closes a connection idle (nothing read or written) this long.
	IdleTimeout time.Duration
	// MaxConnections refuses connections beyond this many open; 0 means DefaultMaxConnections.
	MaxConnections int
	// MaxConnectionsPerPeer refuses a peer's connections beyond this many; 0 = unlimited.
	MaxConnectionsPerPeer int
	// MaxConnectionRatePerPeer refuses a peer's connections beyond this
	// rate (xinetd's cps): each peer may open N at once, then N per
	// period, the allowance refilling continuously. Zero = unlimited.
	MaxConnectionRatePerPeer Rate
	// ReadLimit and WriteLimit are bytes per second for the whole service; 0 = off.
	ReadLimit, WriteLimit int64
	// TrafficLog names a file getting one line per closed connection.
	TrafficLog string
}

// Validate reports values no policy can enforce.
func (c Config) Validate() error {
	switch {
	case c.IdleTimeout < 0:
		return fmt.Errorf("idle_timeout must not be negative")
	case c.MaxConnections < 0:
		return fmt.Errorf("max_connections must not be negative")
	case c.MaxConnectionsPerPeer < 0:
		return fmt.Errorf("max_connections_per_peer must not be negative")
	case c.ReadLimit < 0 || c.WriteLimit < 0:
		return fmt.Errorf("read_limit and write_limit must not be negative")
	}
	return c.MaxConnectionRatePerPeer.validate()
}

// Counters counts what the policies refuse; *service.Stats implements it.
// Refused gets the reason's constant (ReasonMaxConnections, ReasonDeny,
// ...): the key of the rule that refused. (The reactor counts connections
// and bytes.)
type Counters interface {
	Refused(reason string)
}

// Policy is the running policies of one service. Its methods are safe for
// concurrent use.
type Policy struct {
	cfg     Config
	log     *zap.Logger
	refused *Refusals
	max     int
	rate    *PeerBuckets // nil when unlimited
	read    *bucket      // nil when unlimited
	write   *bucket
	traffic *trafficLog // nil when off

	mu           sync.Mutex
	open         int
	overflowOpen int // connections over max given the overflow protocol
	perPeer      map[string]int
}

// New starts the policies of cfg for one service: it opens the traffic log.
// log is the service's logger; refused connections are logged at debug level.
func New(cfg Config, log *zap.Logger, cnt Counters) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Policy{cfg: cfg, log: log, refused: NewRefusals(log, cnt), max: cfg.MaxConnections, perPeer: make(map[string]int)}
	if p.max == 0 {
		p.max = DefaultMaxConnections
	}
	if r := cfg.MaxConnectionRatePerPeer; !r.IsZero() {
		p.rate = NewPeerBuckets(PeerBucketsConfig{Rate: r})
	}
	if cfg.ReadLimit > 0 {
		p.read = newBucket(cfg.ReadLimit, time.Now)
	}
	if cfg.WriteLimit > 0 {
		p.write = newBucket(cfg.WriteLimit, time.Now)
	}
	if cfg.TrafficLog != "" {
		t, err := openTrafficLog(cfg.TrafficLog)
		if err != nil {
			return nil, err
		}
		p.traffic = t
	}
	return p, nil
}

// admit counts a new connection from peer in, or says why it is refused
// (the reason, for the caller to log and count). release gives the place back when the
// connection closes.
func (p *Policy) admit(peer net.Addr) (release func(), reason string) {
	host := peerHost(peer)
	p.mu.Lock()
	switch {
	case p.open >= p.max:
		reason = ReasonMaxConnections
	case p.cfg.MaxConnectionsPerPeer > 0 && p.perPeer[host] >= p.cfg.MaxConnectionsPerPeer:
		reason = ReasonMaxConnectionsPerPeer
	case p.rate != nil && !taken(p.rate, host):
		// Only a connection the limits above admit spends an allowance.
		reason = ReasonMaxConnectionRatePerPeer
	default:
		p.open++
		if p.cfg.MaxConnectionsPerPeer > 0 {
			p.perPeer[host]++
		}
	}
	p.mu.Unlock()
	if reason != "" {
		return nil, reason
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.open--
			if p.cfg.MaxConnectionsPerPeer > 0 {
				if p.perPeer[host]--; p.perPeer[host] <= 0 {
					delete(p.perPeer, host)
				}
			}
			p.mu.Unlock()
		})
	}, ""
}

// admitOverflow counts a connection in over the total limit, to be given
// the overflow protocol; at most the limit's worth at once.
func (p *Policy) admitOverflow() (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.overflowOpen >= p.max {
		return nil, false
	}
	p.overflowOpen++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.overflowOpen--
			p.mu.Unlock()
		})
	}, true
}

// peerHost is the part of an address connections are limited by: the IP
// for IP peers, the whole address otherwise (unix sockets: all one peer).
func peerHost(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// closed records one finished connection in the traffic log.
func (p *Policy) closed(peer net.Addr, began time.Time, in, out int64) {
	if p.traffic != nil {
		p.traffic.record(peer, began, in, out)
	}
}

// Reopen reopens the traffic log (SIGUSR1).
func (p *Policy) Reopen() error {
	if p.traffic == nil {
		return nil
	}
	return p.traffic.reopen()
}

// Close closes the traffic log.
func (p *Policy) Close() error {
	if p.traffic == nil {
		return nil
	}
	return p.traffic.close()
}

// taken spends one of peer's tokens, reporting whether there was one.
func taken(b *PeerBuckets, peer string) bool {
	wait, _ := b.Take(peer)
	return wait == 0
}
