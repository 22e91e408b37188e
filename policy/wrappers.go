package policy

import (
	"io"
	"math"
	"net"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// The wrappers below are each policy on its own, for code that builds a
// factory (Twisted's wrapping factories of twisted.protocols.policies).
// They compose: wrap a factory in several, and a connection must pass the
// outermost first. A service's YAML policies are New and WrapFactory, all
// at once.

// unlimited is MaxConnections for the single-policy wrappers: no cap but
// the one asked for.
const unlimited = math.MaxInt

// wrap applies cfg to f with no logger and no counters; cfg is valid.
func wrap(f protocol.Factory, cfg Config, overflow protocol.Factory) protocol.Factory {
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = unlimited
	}
	p, err := New(cfg, nil, nil)
	if err != nil {
		panic("policy: " + err.Error()) // the callers pass valid values only
	}
	return p.WrapFactoryOverflow(f, overflow)
}

// IdleTimeout closes a connection of f's that moved no byte, in or out,
// for d (Twisted's TimeoutFactory / TimeoutMixin); d <= 0 means never.
func IdleTimeout(f protocol.Factory, d time.Duration) protocol.Factory {
	return wrap(f, Config{IdleTimeout: max(d, 0)}, nil)
}

// LimitTotalConnections lets f serve at most n connections at once
// (Twisted's LimitTotalConnectionsFactory); n <= 0 means no limit. Past
// the limit, a connection gets a protocol from overflow instead (its
// overflowProtocol: BusyFactory answers "busy" and closes), or, with a
// nil overflow, is closed at once. Overflow connections are bounded too:
// at most n of them at once, the rest are closed.
func LimitTotalConnections(f protocol.Factory, n int, overflow protocol.Factory) protocol.Factory {
	if n <= 0 {
		return f
	}
	return wrap(f, Config{MaxConnections: n}, overflow)
}

// LimitConnectionsPerPeer lets each peer address (the IP; every unix
// socket client is one peer) hold at most n of f's connections at once
// (Twisted's LimitConnectionsByPeer); n <= 0 means no limit.
func LimitConnectionsPerPeer(f protocol.Factory, n int) protocol.Factory {
	if n <= 0 {
		return f
	}
	return wrap(f, Config{MaxConnectionsPerPeer: n}, nil)
}

// LimitConnectionRatePerPeer lets each peer open r.N connections at once
// and then r.N per r.Per (xinetd's cps); the zero Rate means no limit.
func LimitConnectionRatePerPeer(f protocol.Factory, r Rate) protocol.Factory {
	if r.IsZero() || r.N < 0 || r.Per < 0 {
		return f
	}
	return wrap(f, Config{MaxConnectionRatePerPeer: r}, nil)
}

// Throttle bounds the bytes per second all of f's connections read and
// write together (Twisted's ThrottlingFactory): past the limit, reading
// pauses until the allowance has refilled. 0 leaves a direction free.
func Throttle(f protocol.Factory, readLimit, writeLimit int64) protocol.Factory {
	return wrap(f, Config{ReadLimit: max(readLimit, 0), WriteLimit: max(writeLimit, 0)}, nil)
}

// TrafficLog writes a line to w for each of f's connections as it
// closes (Twisted's TrafficLoggingFactory, one line a connection):
//
//	2026-11-22T08:00:00.123Z 127.0.0.1:51234 duration=1.502s in=5120 out=901234
//
// Writes to w are serialised; the caller closes w, after the service
// has stopped.
func TrafficLog(f protocol.Factory, w io.Writer) protocol.Factory {
	p, err := New(Config{MaxConnections: unlimited}, nil, nil)
	if err != nil {
		panic("policy: " + err.Error())
	}
	p.traffic = &trafficLog{w: w}
	return p.WrapFactory(f)
}

// BusyFactory is an overflow protocol for LimitTotalConnections (and
// WrapFactoryOverflow): each connection gets msg, then is closed.
func BusyFactory(msg string) protocol.Factory {
	b := []byte(msg)
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &busy{msg: b} })
}

type busy struct {
	protocol.Base
	msg []byte
}

func (b *busy) ConnectionMade(t protocol.Transport) {
	t.Write(b.msg)
	t.LoseConnection()
}
