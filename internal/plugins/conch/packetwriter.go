package conch

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"syscall"
)

// maxHeld bounds what a packetWriter holds back: the start of one SFTP
// packet whose rest has not been written yet (pkg/sftp writes a data
// packet's 13-byte header and its payload with two calls).
const maxHeld = 4 << 10

// packetWriter writes a stream of SFTP packets (a uint32 length, then
// that many bytes) to a file, each packet with one system call: a write
// that leaves a packet unfinished is held back, up to maxHeld bytes, and
// goes out with the write that finishes it (writev, no copy). So a data
// packet leaves through the pipe as one piece, and the SSH side sends it
// as one channel packet rather than a 13-byte one and the rest. Nothing
// complete is ever held back: a packet leaves as soon as its last byte is
// written.
type packetWriter struct {
	f      *os.File
	rc     syscall.RawConn
	held   []byte  // the start of the current packet, not yet written
	seen   int     // bytes of the current packet written to us so far
	hdr    [4]byte // the current packet's length, once seen >= 4
	iov    [][]byte
	err    error // the first write's error, then os.ErrClosed
	closed bool
}

func newPacketWriter(f *os.File) (*packetWriter, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &packetWriter{f: f, rc: rc, held: make([]byte, 0, maxHeld)}, nil
}

// Write implements io.Writer.
func (w *packetWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	// p[:complete] ends on a packet boundary.
	complete, pos := 0, 0
	for pos < len(p) {
		if w.seen < 4 {
			c := copy(w.hdr[w.seen:], p[pos:])
			w.seen += c
			pos += c
			if w.seen < 4 {
				break
			}
		}
		size := 4 + int64(binary.BigEndian.Uint32(w.hdr[:]))
		take := int(min(size-int64(w.seen), int64(len(p)-pos)))
		w.seen += take
		pos += take
		if int64(w.seen) == size {
			w.seen = 0
			complete = pos
		}
	}
	if complete > 0 {
		if err := w.writev(w.held, p[:complete]); err != nil {
			return 0, err
		}
		w.held = w.held[:0]
	}
	rest := p[complete:]
	switch {
	case len(rest) == 0:
	case len(w.held)+len(rest) <= maxHeld:
		w.held = append(w.held, rest...)
	default:
		if err := w.writev(w.held, rest); err != nil {
			return 0, err
		}
		w.held = w.held[:0]
	}
	return len(p), nil
}

// writev writes a and b whole, retrying short writes.
func (w *packetWriter) writev(a, b []byte) error {
	w.iov = append(w.iov[:0], a, b)
	if len(a) == 0 {
		w.iov = w.iov[1:]
	}
	var werr error
	err := w.rc.Write(func(fd uintptr) bool {
		for len(w.iov) > 0 {
			n, err := writev(int(fd), w.iov)
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				return false
			}
			if err != nil {
				werr = err
				return true
			}
			for n > 0 && len(w.iov) > 0 {
				if n >= len(w.iov[0]) {
					n -= len(w.iov[0])
					w.iov = w.iov[1:]
				} else {
					w.iov[0] = w.iov[0][n:]
					n = 0
				}
			}
			for len(w.iov) > 0 && len(w.iov[0]) == 0 {
				w.iov = w.iov[1:]
			}
		}
		return true
	})
	if werr != nil {
		err = werr
	}
	if err != nil {
		w.err = &os.PathError{Op: "write", Path: w.f.Name(), Err: err}
		return w.err
	}
	return nil
}

// Close writes what is held back and closes the file; a second Close
// does nothing.
func (w *packetWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var err error
	if len(w.held) > 0 && w.err == nil {
		err = w.writev(w.held, nil)
		w.held = w.held[:0]
	}
	if w.err == nil {
		w.err = os.ErrClosed
	}
	return errors.Join(err, w.f.Close())
}

var _ io.WriteCloser = (*packetWriter)(nil)
