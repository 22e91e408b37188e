//go:build !linux

package dns

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// udpReceiveBuffer is the SO_RCVBUF asked for, so a burst waits in the
// kernel instead of being dropped; the system may grant less.
const udpReceiveBuffer = 4 << 20

// batchReader: there is no recvmmsg/sendmmsg here, so serveUDP's readers
// take one datagram per call (readUDP).
func (s *Server) batchReader(net.PacketConn) (read func(), ok bool) { return nil, false }

// setReceiveBuffer asks for a larger receive buffer on pc's socket, best
// effort: the system caps it (kern.ipc.maxsockbuf).
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
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
	})
}
