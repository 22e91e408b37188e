package dns

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/service"
)

// maxUDPQuery is the largest datagram read; larger ones are cut and fail to parse.
const maxUDPQuery = 4096

// serveUDP starts one reader per usable CPU on pc. Each reader owns its
// buffers and answers in place: a query whose answer is in the answer
// cache costs a copy, with no allocation but the address the socket API
// hands back, and on Linux the reader takes up to udpBatch queries per
// system call and sends their answers in one more (udpbatch_linux.go).
// Forwarded queries are answered from their own goroutine so a slow
// upstream never stalls the loop.
//
// Where the system has no batch calls (or pc no raw socket) each reader
// takes one datagram per ReadFrom and answers it with one WriteTo.
func (s *Server) serveUDP(pc net.PacketConn) {
	setReceiveBuffer(pc)
	for range max(s.env.CPUs, 1) {
		if read, ok := s.batchReader(pc); ok {
			s.loops.Go(read)
			continue
		}
		s.loops.Go(func() { s.readUDP(pc) })
	}
}

// readUDP reads, answers and replies one datagram at a time until pc's
// handle is closed.
func (s *Server) readUDP(pc net.PacketConn) {
	closed := handleClosed(pc)
	buf := make([]byte, maxUDPQuery)
	out := make([]byte, 0, 64<<10)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			switch {
			case errClosed(err) || closed():
				return
			case service.Permanent(err):
				s.udpFailed(pc, err)
				return
			case isTimeout(err):
				// Another borrower's Close woke us; the deadline clears soon.
			default:
				// ICMP errors surface as read errors on some systems: go on.
				s.log.Debug("udp read failed", zap.Error(err))
			}
			time.Sleep(time.Millisecond)
			continue
		}
		if resp := s.answerUDP(pc, buf[:n], addrPort(addr), out); resp != nil {
			out = resp[:0]
			s.writeUDP(pc, resp, addr)
		}
	}
}

// answerUDP works out the reply to one datagram, packed into out when it
// fits. It returns nil when no reply is due now: the query was dropped, or
// it was forwarded and a goroutine of its own answers it through pc.
func (s *Server) answerUDP(pc net.PacketConn, query []byte, src netip.AddrPort, out []byte) []byte {
	h := s.h
	start := time.Now() // for the query log and twistd_dns_query_duration_seconds
	s.env.Stats.Requests.Add(1)
	s.env.Stats.BytesReceived.Add(int64(len(query)))
	if h.rrl != nil {
		switch h.rrl.check(src.Addr()) {
		case rrlDrop:
			return nil
		case rrlSlip:
			return truncatedReply(query, out)
		}
	}
	if a := h.answers.Load().get(query); a != nil {
		out = a.writeTo(out, query)
		h.count(src, a.qname, a.qtype, a.rcode, false, start)
		return out
	}
	req, rep := h.decide(query, src, false)
	if rep.forward {
		select {
		case s.fwdSlots <- struct{}{}:
		default:
			h.log.Warn("too many forwarded queries in flight; dropping one", zap.Stringer("client", src))
			return nil
		}
		s.bg.Go(func() {
			defer func() { <-s.fwdSlots }()
			// No raw query: its buffer is the reader's again by now.
			if resp := h.respond(s.ctx, req, rep, nil, src, false, nil, start); resp != nil {
				s.writeUDP(pc, resp, net.UDPAddrFromAddrPort(src))
			}
		})
		return nil
	}
	if rep.msg == nil {
		return nil
	}
	return h.respond(s.ctx, req, rep, query, src, false, out, start)
}

func (s *Server) writeUDP(pc net.PacketConn, b []byte, addr net.Addr) {
	n, err := pc.WriteTo(b, addr)
	s.env.Stats.BytesSent.Add(int64(n))
	if err != nil && !errClosed(err) {
		s.log.Debug("udp write failed", zap.Stringer("client", addr), zap.Error(err))
	}
}

// udpFailed reports pc's socket dead (closed or shut down under us, not
// by us): the reactor restarts the service on a new socket, or stops.
func (s *Server) udpFailed(pc net.PacketConn, err error) {
	for _, l := range s.env.Listeners {
		if l.Packet == pc {
			s.env.Fail(&service.SocketError{Endpoint: l.Endpoint, Addr: pc.LocalAddr(), Err: err})
			return
		}
	}
	s.env.Fail(fmt.Errorf("udp %s: %w", pc.LocalAddr(), err))
}

// handleClosed returns a function telling whether pc's handle was given
// back: the reactor's borrowed handles say so, and may wake a blocked read
// with a past deadline rather than close the socket another borrower uses.
func handleClosed(pc net.PacketConn) func() bool {
	if c, ok := pc.(interface{ Closed() bool }); ok {
		return c.Closed
	}
	return func() bool { return false }
}

// addrPort returns a socket address as a value.
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// setReceiveBuffer asks for a larger receive buffer on pc's socket, best
// effort: the system caps it (net.core.rmem_max, kern.ipc.maxsockbuf),
// which on Linux a privileged process may pass.
func setReceiveBuffer(pc net.PacketConn) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if cur, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && cur >= udpReceiveBuffer {
			return
		}
		if forceReceiveBuffer(int(fd), udpReceiveBuffer) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
		}
	})
}
