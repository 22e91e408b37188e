//go:build unix

package reactor

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// errDetach is why a transport cannot hand its socket over.
var (
	errDetachTLS    = errors.New("detach: a TLS connection's state lives in this process")
	errDetachRead   = errors.New("detach: bytes past the PROXY header were already read")
	errDetachQueued = errors.New("detach: writes are queued")
	errDetachClosed = errors.New("detach: connection closed")
)

// dupFile returns a blocking, close-on-exec duplicate of fd as a file the
// caller owns. O_NONBLOCK belongs to the open file, which the duplicate
// shares: the caller must stop using fd itself.
func dupFile(fd int, name string) (*os.File, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(nfd, false); err != nil {
		unix.Close(nfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// dupConn is dupFile for a socket Go's poller owns.
func dupConn(sc syscall.Conn, name string) (*os.File, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var f *os.File
	var derr error
	if err := rc.Control(func(fd uintptr) { f, derr = dupFile(int(fd), name) }); err != nil {
		return nil, err
	}
	return f, derr
}
