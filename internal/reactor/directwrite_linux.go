package reactor

// writeSome writes what the non-blocking socket fd takes of bufs now, in
// one writev(2); unix.EAGAIN when it takes nothing.
func writeSome(fd int, bufs [][]byte) (int, error) {
	n, err := rawWritev(fd, bufs)
	return max(n, 0), err
}
