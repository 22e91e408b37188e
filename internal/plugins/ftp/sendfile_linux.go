package ftp

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sendChunk is the most one sendfile(2) call moves: on a nonblocking
// socket it returns once the send buffer is full, so it is short.
const sendChunk = 1 << 20

// sendFile copies src from its offset to the data connection with
// sendfile(2), as vsftpd does, a stallChunk between deadline renewals;
// handled is false when either side is not a plain descriptor. The call
// is raw: Go's scheduler does not treat it as a blocking system call, so
// sysmon does not hand the P to another thread on every call (which cost
// more than the copy); the socket is nonblocking, so no call lasts long.
func (f *countingFile) sendFile(w io.Writer, src *os.File) (total int64, handled bool, err error) {
	tc, ok := w.(*net.TCPConn)
	if !ok {
		return 0, false, nil
	}
	fi, err := src.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false, nil
	}
	wc, err := tc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var infd int
	if err := rc.Control(func(fd uintptr) { infd = int(fd) }); err != nil {
		return 0, false, nil
	}
	for {
		_ = tc.SetWriteDeadline(time.Now().Add(f.idle))
		left := int64(stallChunk)
		var eof bool
		var serr error
		werr := wc.Write(func(fd uintptr) bool {
			for left > 0 {
				n, _, errno := unix.RawSyscall6(unix.SYS_SENDFILE, fd, uintptr(infd), 0, uintptr(min(left, sendChunk)), 0, 0)
				switch {
				case errno == syscall.EINTR:
					continue
				case errno == syscall.EAGAIN:
					return false
				case errno != 0:
					serr = os.NewSyscallError("sendfile", errno)
					return true
				case n == 0:
					eof = true
					return true
				}
				total += int64(n)
				f.n.Add(int64(n))
				left -= int64(n)
			}
			return true
		})
		switch {
		case werr != nil:
			return total, true, werr
		case serr != nil:
			return total, true, serr
		case eof:
			return total, true, nil
		}
	}
}
