package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// maxDatagram is the largest UDP payload read.
const maxDatagram = 64 << 10

// packetServer reads datagrams from one socket and hands each to a protocol.
type packetServer struct {
	pc    net.PacketConn
	proto protocol.DatagramProtocol
	log   *zap.Logger
	stats *service.Stats
	done  chan struct{}
	// ep is the socket's endpoint; fail reports the socket dead.
	ep   endpoint.Endpoint
	fail func(error)
}

func newPacketServer(l service.Listener, p protocol.DatagramProtocol, log *zap.Logger, stats *service.Stats, fail func(error)) *packetServer {
	s := &packetServer{pc: l.Packet, proto: p, log: log, stats: stats, done: make(chan struct{}), ep: l.Endpoint, fail: fail}
	go s.readLoop()
	return s
}

func (s *packetServer) readLoop() {
	defer close(s.done)
	buf := make([]byte, maxDatagram)
	w := countingWriter{pc: s.pc, stats: s.stats}
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if service.Permanent(err) {
				s.fail(&service.SocketError{Endpoint: s.ep, Addr: s.pc.LocalAddr(), Err: bindError(err)})
				return
			}
			// ICMP errors surface as read errors on some systems: go on.
			s.log.Debug("datagram read failed", zap.Error(err))
			time.Sleep(time.Millisecond)
			continue
		}
		s.stats.BytesReceived.Add(int64(n))
		s.deliver(buf[:n], from, w)
	}
}

func (s *packetServer) deliver(data []byte, from net.Addr, w protocol.DatagramWriter) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("protocol panicked in DatagramReceived; datagram dropped",
				zap.String("panic", fmt.Sprint(r)), zap.Stringer("peer", from), zap.ByteString("stack", debug.Stack()))
		}
	}()
	s.proto.DatagramReceived(data, from, w)
}

// Shutdown implements service.Server. Datagrams have no connections to
// drain: it stops reading and returns once the loop has ended.
func (s *packetServer) Shutdown(ctx context.Context) error {
	_ = s.pc.Close()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type countingWriter struct {
	pc    net.PacketConn
	stats *service.Stats
}

func (w countingWriter) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := w.pc.WriteTo(p, addr)
	w.stats.BytesSent.Add(int64(n))
	return n, err
}
