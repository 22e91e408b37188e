package conch

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks for a pipe buffer of n bytes; when refused (over
// /proc/sys/fs/pipe-max-size, or the user's pipe pages), the pipe keeps
// its size.
func growPipe(f *os.File, n int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, n) })
}

// writev writes the buffers with one system call.
func writev(fd int, iov [][]byte) (int, error) { return unix.Writev(fd, iov) }
