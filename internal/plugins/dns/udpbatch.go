package dns

import (
	"errors"
	"net"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

const (
	// udpBatch is how many datagrams one recvmmsg reads and one sendmmsg writes.
	udpBatch = 32
	// udpReceiveBuffer is the SO_RCVBUF asked for, so a burst waits in the
	// kernel instead of being dropped; the system may grant less.
	udpReceiveBuffer = 4 << 20
)

// batchConn reads and writes many datagrams per system call.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchConn returns pc's socket as a batchConn, and a function telling
// whether pc's handle was closed; ok is false when pc has no raw socket.
//
// Reads through the raw socket bypass the reactor's handle, whose Close
// stops only its own ReadFrom: the batch reader must watch closed itself.
// The reactor wakes a blocked read by setting a read deadline in the past
// on the shared socket (a timeout), or closes the socket (net.ErrClosed).
func newBatchConn(pc net.PacketConn) (bc batchConn, closed func() bool, ok bool) {
	sc, isRaw := pc.(syscall.Conn)
	if !isRaw {
		return nil, nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, nil, false
	}
	closed = func() bool { return false }
	if c, ok := pc.(interface{ Closed() bool }); ok {
		closed = c.Closed
	}
	raw := rawPacketConn{PacketConn: pc, rc: rc}
	if a, isUDP := pc.LocalAddr().(*net.UDPAddr); isUDP && a.IP.To4() == nil {
		return ipv6.NewPacketConn(raw), closed, true
	}
	return ipv4.NewPacketConn(raw), closed, true
}

// setReceiveBuffer asks for a larger receive buffer on pc's socket, best
// effort: above net.core.rmem_max only a privileged process gets it.
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
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpReceiveBuffer) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
		}
	})
}

// rawPacketConn gives x/net's ipv4 and ipv6 packages the raw socket of a
// borrowed PacketConn: they only use its SyscallConn, but want a net.Conn
// that looks like a *net.UDPConn.
type rawPacketConn struct {
	net.PacketConn
	rc syscall.RawConn
}

func (c rawPacketConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }
func (rawPacketConn) Read([]byte) (int, error)                { return 0, errors.ErrUnsupported }
func (rawPacketConn) Write([]byte) (int, error)               { return 0, errors.ErrUnsupported }
func (rawPacketConn) RemoteAddr() net.Addr                    { return nil }
func (rawPacketConn) ReadMsgUDP(b, oob []byte) (int, int, int, *net.UDPAddr, error) {
	return 0, 0, 0, nil, errors.ErrUnsupported
}

// readUDPBatch is readUDP with recvmmsg and sendmmsg: it reads what has
// arrived (up to udpBatch datagrams), answers each, and sends the replies
// together. It returns when pc's handle is closed.
func (s *Server) readUDPBatch(pc net.PacketConn, bc batchConn, closed func() bool) {
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	bufs := make([][]byte, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxUDPQuery)}
		out[i].Buffers = make([][]byte, 1)
		bufs[i] = make([]byte, 0, 4096)
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			switch {
			case errClosed(err) || closed():
				return
			case isTimeout(err):
				// Another borrower's Close woke us; the deadline clears soon.
				time.Sleep(time.Millisecond)
			default:
				s.log.Debug("udp read failed", zap.Error(err))
				time.Sleep(time.Millisecond)
			}
			continue
		}
		k := 0
		for i := range in[:n] {
			m := &in[i]
			resp := s.answerUDP(pc, m.Buffers[0][:m.N], m.Addr, bufs[k])
			if resp == nil {
				continue
			}
			bufs[k] = resp[:0]
			out[k].Buffers[0], out[k].Addr = resp, m.Addr
			k++
		}
		s.writeBatch(bc, out[:k])
		for i := range out[:k] {
			out[i].Buffers[0], out[i].Addr = nil, nil
		}
		if closed() {
			return
		}
	}
}

// writeBatch sends ms, as many per system call as the kernel takes; a
// message it refuses is dropped.
func (s *Server) writeBatch(bc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := bc.WriteBatch(ms, 0)
		for i := range ms[:n] {
			s.env.Stats.BytesSent.Add(int64(ms[i].N))
		}
		if err != nil {
			if errClosed(err) || n >= len(ms) {
				return
			}
			s.log.Debug("udp write failed", zap.Stringer("client", ms[n].Addr), zap.Error(err))
			n++ // the one refused
		}
		ms = ms[n:]
	}
}
