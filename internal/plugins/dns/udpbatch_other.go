//go:build !linux

package dns

import (
	"errors"
	"net"
)

// udpReceiveBuffer is the SO_RCVBUF asked for, so a burst waits in the
// kernel instead of being dropped; the system may grant less.
const udpReceiveBuffer = 4 << 20

// batchReader: there is no recvmmsg/sendmmsg here, so serveUDP's readers
// take one datagram per call (readUDP).
func (s *Server) batchReader(net.PacketConn) (read func(), ok bool) { return nil, false }

// forceReceiveBuffer: there is no way past the system's cap here
// (kern.ipc.maxsockbuf); setReceiveBuffer falls back to SO_RCVBUF.
func forceReceiveBuffer(int, int) error { return errors.ErrUnsupported }
