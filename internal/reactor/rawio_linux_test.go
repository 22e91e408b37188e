package reactor

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRawIO(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	buf := make([]byte, 4096)
	if n, err := rawRead(fds[1], buf); n != -1 || err != unix.EAGAIN {
		t.Fatalf("read of an empty socket: %d, %v; want -1, EAGAIN", n, err)
	}
	// 100 buffers, every third empty: one writev takes the first 64
	// non-empty ones, in order.
	var bufs [][]byte
	var want []byte
	taken := 0
	for i := range 100 {
		b := []byte{}
		if i%3 != 0 {
			b = []byte{byte('a' + i%26), byte('A' + i%26)}
			if taken < maxIovecs {
				want = append(want, b...)
				taken++
			}
		}
		bufs = append(bufs, b)
	}
	n, err := rawWritev(fds[0], bufs)
	if err != nil || n != len(want) {
		t.Fatalf("writev: %d, %v; want %d bytes", n, err, len(want))
	}
	if n, err := rawWrite(fds[0], []byte("end")); n != 3 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	n, err = rawRead(fds[1], buf)
	if err != nil || !bytes.Equal(buf[:n], append(want, "end"...)) {
		t.Fatalf("read %q, %v; want %q", buf[:n], err, append(want, "end"...))
	}
	if n, err := rawWritev(fds[0], [][]byte{{}, nil}); n != 0 || err != nil {
		t.Fatalf("writev of nothing: %d, %v", n, err)
	}
}
