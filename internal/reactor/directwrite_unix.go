//go:build unix && !linux

package reactor

import "golang.org/x/sys/unix"

// writeSome writes what the non-blocking socket fd takes of bufs now, a
// write(2) per buffer; unix.EAGAIN when it takes nothing.
func writeSome(fd int, bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := unix.Write(fd, b)
		if n > 0 {
			total += n
		}
		if err != nil {
			if total > 0 && err == unix.EAGAIN {
				err = nil
			}
			return total, err
		}
		if n < len(b) {
			break
		}
	}
	return total, nil
}
