package conch

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
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
// as one channel packet rather than a 13-byte one and the rest.
//
// While the server is reading requests it already has (see
// replyGatherer), small finished packets are held too, up to maxHeld
// bytes, and leave together when it must wait for more input: an upload
// answers each 32 KiB write with a 28-byte status, and the replies to
// the requests of one read leave in one write and one SSH packet instead
// of one each. Otherwise nothing complete is held back: a packet leaves
// as soon as its last byte is written.
type packetWriter struct {
	f    *os.File
	rc   syscall.RawConn
	mu   sync.Mutex // Write and the reader's waiting calls come from different goroutines
	held []byte     // finished packets (held[:done]), then the start of the current one
	done int
	seen int     // bytes of the current packet written to us so far
	hdr  [4]byte // the current packet's length, once seen >= 4
	iov  [][]byte
	err  error // the first write's error, then os.ErrClosed
	// busy: the server reads requests it already has, so replies may
	// wait for the end of them (waiting(true)).
	busy   bool
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	complete := w.advance(p)
	if w.busy && len(w.held)+len(p) <= maxHeld {
		w.held = append(w.held, p...)
		if complete > 0 {
			w.done = len(w.held) - (len(p) - complete)
		}
		return len(p), nil
	}
	if complete > 0 {
		if err := w.writev(w.held, p[:complete]); err != nil {
			return 0, err
		}
		w.held, w.done = w.held[:0], 0
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
		w.held, w.done = w.held[:0], 0
	}
	return len(p), nil
}

// advance follows the packets through p and returns the length of the
// longest start of p that ends on a packet boundary (0 if none).
func (w *packetWriter) advance(p []byte) int {
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
	return complete
}

// waiting tells w whether the server is about to wait for input (true)
// or has input to read (false). Before it waits, the finished packets
// held for it leave.
func (w *packetWriter) waiting(wait bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy = !wait
	if !wait || w.done == 0 || w.err != nil {
		return
	}
	if w.writev(w.held[:w.done], nil) != nil {
		return // w.err is set: the next Write reports it
	}
	n := copy(w.held, w.held[w.done:])
	w.held, w.done = w.held[:n], 0
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var err error
	if len(w.held) > 0 && w.err == nil {
		err = w.writev(w.held, nil)
		w.held, w.done = w.held[:0], 0
	}
	if w.err == nil {
		w.err = os.ErrClosed
	}
	return errors.Join(err, w.f.Close())
}

// replyGatherer is the server's input, read ahead in big pieces (a
// bufio.Reader over it asks for more only once what it read is used
// up): it tells the packetWriter of the replies when the server is about
// to wait for input, and when it has input again.
type replyGatherer struct {
	r io.Reader
	w *packetWriter
}

// Read implements io.Reader.
func (g replyGatherer) Read(p []byte) (int, error) {
	g.w.waiting(true)
	n, err := g.r.Read(p)
	g.w.waiting(err != nil)
	return n, err
}

var _ io.WriteCloser = (*packetWriter)(nil)
