//go:build unix

package proxyproto

import (
	"errors"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// readExact reads the header of a connection with a descriptor without
// reading past it: it peeks (MSG_PEEK) until the header is whole, then
// reads exactly its bytes, so what follows is still in the socket — for a
// protocol that hands the socket itself to a program. ok is false when c
// has no descriptor to peek at.
func readExact(c net.Conn) (pc *Conn, ok bool, err error) {
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return nil, false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false, nil
	}
	buf := make([]byte, MaxHeader)
	var addr net.Addr
	var hlen int
	var perr error
	rerr := rc.Read(func(fd uintptr) bool {
		n, _, e := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return false
		case e != nil:
			perr = e
			return true
		case n == 0:
			perr = io.ErrUnexpectedEOF
			return true
		}
		addr, hlen, perr = Parse(buf[:n])
		// Incomplete: wait for more to arrive (the peeked bytes stay).
		return !errors.Is(perr, ErrNeedMore) || n >= MaxHeader
	})
	if rerr != nil {
		return nil, true, rerr
	}
	if perr != nil {
		return nil, true, perr
	}
	if _, err := io.ReadFull(c, buf[:hlen]); err != nil {
		return nil, true, err
	}
	return &Conn{Conn: c, peer: addr}, true, nil
}
