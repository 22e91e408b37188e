package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/twistd-go/twistd/service"
)

const (
	// udpBatch is how many datagrams one recvmmsg reads and one sendmmsg writes.
	udpBatch = 32
	// udpReceiveBuffer is the SO_RCVBUF asked for, so a burst waits in the
	// kernel instead of being dropped; the system may grant less.
	udpReceiveBuffer = 4 << 20
)

// mmsghdr is the kernel's struct mmsghdr: one datagram of a batch and,
// after the call, its length.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batchSocket reads and writes many datagrams per system call on a raw
// socket. The calls themselves are raw: the socket is non-blocking, so
// they never block, and the runtime's system-call bookkeeping — waking
// sysmon on every call when the process was idle a moment before — cost
// a context switch per batch. Waiting for datagrams is left to the
// socket's RawConn (Go's poller). Nothing is allocated per datagram: the
// source addresses stay in the batch's own sockaddr buffers, and a reply
// goes back to the very sockaddr its query came from.
type batchSocket struct {
	rc    syscall.RawConn
	in    []mmsghdr
	out   []mmsghdr
	iovIn []unix.Iovec
	iovOu []unix.Iovec
	bufs  [][]byte                       // one query buffer per message
	names [][unix.SizeofSockaddrAny]byte // one source address per message
	to    []int                          // the message each reply answers
}

// batchReader returns a reader that takes up to udpBatch datagrams per
// recvmmsg and sends their replies with one sendmmsg; ok is false when pc
// has no raw socket.
func (s *Server) batchReader(pc net.PacketConn) (read func(), ok bool) {
	b, closed, ok := newBatchSocket(pc)
	if !ok {
		return nil, false
	}
	return func() { s.readUDPBatch(pc, b, closed) }, true
}

// newBatchSocket returns pc's socket for batch reads and writes, and a
// function telling whether pc's handle was closed; ok is false when pc has
// no raw socket.
//
// Reads through the raw socket bypass the reactor's handle, whose Close
// stops only its own ReadFrom: the batch reader must watch closed itself.
// The reactor wakes a blocked read by setting a read deadline in the past
// on the shared socket (a timeout), or closes the socket (net.ErrClosed).
func newBatchSocket(pc net.PacketConn) (b *batchSocket, closed func() bool, ok bool) {
	sc, isRaw := pc.(syscall.Conn)
	if !isRaw {
		return nil, nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, nil, false
	}
	closed = handleClosed(pc)
	b = &batchSocket{rc: rc, in: make([]mmsghdr, udpBatch), out: make([]mmsghdr, udpBatch),
		iovIn: make([]unix.Iovec, udpBatch), iovOu: make([]unix.Iovec, udpBatch),
		bufs: make([][]byte, udpBatch), names: make([][unix.SizeofSockaddrAny]byte, udpBatch), to: make([]int, udpBatch)}
	for i := range b.in {
		b.bufs[i] = make([]byte, maxUDPQuery)
		b.iovIn[i].Base = &b.bufs[i][0]
		b.iovIn[i].SetLen(maxUDPQuery)
		b.in[i].hdr.Iov = &b.iovIn[i]
		b.in[i].hdr.SetIovlen(1)
		b.in[i].hdr.Name = &b.names[i][0]
		b.out[i].hdr.Iov = &b.iovOu[i]
		b.out[i].hdr.SetIovlen(1)
	}
	return b, closed, true
}

// read waits for datagrams and reads up to udpBatch of them.
func (b *batchSocket) read() (int, error) {
	for i := range b.in {
		b.in[i].hdr.Namelen = unix.SizeofSockaddrAny
		b.in[i].hdr.Flags = 0
	}
	var n int
	var errno syscall.Errno
	err := b.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), uintptr(len(b.in)),
			unix.MSG_DONTWAIT, 0, 0)
		n, errno = int(r), e
		return e != unix.EAGAIN && e != unix.EINTR
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// query returns datagram i of the last read and where it came from.
func (b *batchSocket) query(i int) ([]byte, netip.AddrPort) {
	return b.bufs[i][:b.in[i].n], sockaddrPort(b.names[i][:b.in[i].hdr.Namelen])
}

// setReply makes reply k of the next write resp, sent back to the source
// of datagram i.
func (b *batchSocket) setReply(k, i int, resp []byte) {
	b.iovOu[k].Base = unsafe.SliceData(resp)
	b.iovOu[k].SetLen(len(resp))
	b.out[k].hdr.Name = b.in[i].hdr.Name
	b.out[k].hdr.Namelen = b.in[i].hdr.Namelen
	b.to[k] = i
}

// write sends replies from … k-1 prepared by setReply, and returns how
// many the kernel took and the bytes they carried; the caller drops one it
// refused and goes on.
func (b *batchSocket) write(from, k int) (int, int64, error) {
	var n int
	var errno syscall.Errno
	err := b.rc.Write(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[from])), uintptr(k-from),
			unix.MSG_DONTWAIT, 0, 0)
		n, errno = int(r), e
		return e != unix.EAGAIN && e != unix.EINTR
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return 0, 0, err
	}
	var bytes int64
	for i := from; i < from+n; i++ {
		bytes += int64(b.out[i].n)
	}
	return n, bytes, nil
}

// sockaddrPort decodes a sockaddr_in or sockaddr_in6 as the kernel wrote
// it; an IPv4-mapped IPv6 address comes out as IPv4, and a scope ID as the
// address's zone (the interface index, in decimal).
func sockaddrPort(sa []byte) netip.AddrPort {
	if len(sa) < 2 {
		return netip.AddrPort{}
	}
	switch *(*uint16)(unsafe.Pointer(&sa[0])) {
	case unix.AF_INET:
		if len(sa) >= unix.SizeofSockaddrInet4 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), binary.BigEndian.Uint16(sa[2:4]))
		}
	case unix.AF_INET6:
		if len(sa) >= unix.SizeofSockaddrInet6 {
			addr := netip.AddrFrom16([16]byte(sa[8:24])).Unmap()
			if scope := binary.NativeEndian.Uint32(sa[24:28]); scope != 0 && addr.Is6() {
				// A link-local client: its interface, so that a reply
				// sent later (a forwarded query's) finds the way back.
				addr = addr.WithZone(strconv.FormatUint(uint64(scope), 10))
			}
			return netip.AddrPortFrom(addr, binary.BigEndian.Uint16(sa[2:4]))
		}
	}
	return netip.AddrPort{}
}

// readUDPBatch is readUDP with recvmmsg and sendmmsg: it reads what has
// arrived (up to udpBatch datagrams), answers each, and sends the replies
// together. It returns when pc's handle is closed.
func (s *Server) readUDPBatch(pc net.PacketConn, b *batchSocket, closed func() bool) {
	outs := make([][]byte, udpBatch)
	for i := range outs {
		outs[i] = make([]byte, 0, 4096)
	}
	for {
		n, err := b.read()
		if err != nil {
			switch {
			case errClosed(err) || closed():
				return
			case service.Permanent(err):
				s.udpFailed(pc, os.NewSyscallError("recvmmsg", err))
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
		for i := range n {
			query, src := b.query(i)
			resp := s.answerUDP(pc, query, src, outs[k])
			if resp == nil {
				continue
			}
			outs[k] = resp[:0]
			b.setReply(k, i, resp)
			k++
		}
		s.writeBatch(b, k)
		if closed() {
			return
		}
	}
}

// writeBatch sends the k replies set up, as many per system call as the
// kernel takes; a reply it refuses is dropped.
func (s *Server) writeBatch(b *batchSocket, k int) {
	for from := 0; from < k; {
		n, bytes, err := b.write(from, k)
		s.env.Stats.BytesSent.Add(bytes)
		if err != nil {
			if errClosed(err) {
				return
			}
			_, dst := b.query(b.to[from+n])
			s.log.Debug("udp write failed", zap.Stringer("client", dst), zap.Error(err))
			n++ // the one refused
		}
		from += n
	}
}

// forceReceiveBuffer sets fd's receive buffer past net.core.rmem_max,
// which only a privileged process may (SO_RCVBUFFORCE).
func forceReceiveBuffer(fd int, size int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
}
