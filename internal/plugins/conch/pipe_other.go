//go:build !linux

package conch

import (
	"os"
	"syscall"
)

// growPipe does nothing: only Linux resizes pipes.
func growPipe(*os.File, int) {}

// writev writes the first non-empty buffer (without a writev here, a
// packet may leave in two writes).
func writev(fd int, iov [][]byte) (int, error) {
	for _, b := range iov {
		if len(b) > 0 {
			return syscall.Write(fd, b)
		}
	}
	return 0, nil
}
