package reactor

import (
	"net"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

// guard gives a service's listener its source-address rules (allow:,
// deny:). The stream servers check them at accept (stream.go,
// estream_linux.go); a datagram socket is wrapped, so that a denied
// source's datagrams are dropped before any protocol — or a service's own
// reader, such as dns's — sees them. nil rules leave l as it is.
func guard(l service.Listener, a *policy.Access, log *zap.Logger, stats *service.Stats) service.Listener {
	l.Access = a
	if a != nil && l.Packet != nil {
		l.Packet = &guardedPacketConn{PacketConn: l.Packet, access: a, refused: policy.NewRefusals(log, stats)}
	}
	return l
}

// guardedPacketConn is a datagram socket under source-address rules: its
// ReadFrom returns only admitted sources' datagrams, and counts and logs
// the others. It offers no raw socket (syscall.Conn), so no reader can
// bypass the rules with batch reads of its own: a service under allow: or
// deny: reads one datagram per call.
type guardedPacketConn struct {
	net.PacketConn
	access  *policy.Access
	refused *policy.Refusals
}

// ReadFrom implements net.PacketConn, skipping refused datagrams.
func (c *guardedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, from, err
		}
		if reason := c.access.Check(from); reason != "" {
			c.refused.Refuse(zapcore.DebugLevel, "datagram refused", reason, from)
			continue
		}
		return n, from, nil
	}
}

// Closed reports whether the borrow below was given back (see
// sharedPacketConn.Closed).
func (c *guardedPacketConn) Closed() bool {
	if cl, ok := c.PacketConn.(interface{ Closed() bool }); ok {
		return cl.Closed()
	}
	return false
}

// Unwrap returns the socket handle below, for the pool.
func (c *guardedPacketConn) Unwrap() net.PacketConn { return c.PacketConn }
