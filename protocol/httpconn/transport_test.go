package httpconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// The transports below stand in for the reactor's: Write never blocks,
// a full queue pauses the registered producer, and the protocol's
// callbacks never overlap.
const (
	testHigh = 64 << 10
	testLow  = 16 << 10
)

// netTransport drives a protocol on a real connection with two
// goroutines, like the reactor's goroutine driver.
type netTransport struct {
	nc net.Conn
	p  protocol.Protocol

	mu         sync.Mutex
	cond       sync.Cond
	queue      [][]byte
	queued     int
	maxQueued  int
	full       bool
	feeder     protocol.Producer
	readPaused bool
	lose       bool
	halfClose  bool
	closed     bool
	done       chan struct{}
	self       protocol.Transport // what the protocol sees; n when nil
}

// serveNet accepts on ln and runs a protocol from f on each connection.
func serveNet(t *testing.T, ln net.Listener, f protocol.Factory) {
	t.Helper()
	serveNetWith(t, ln, f, nil)
}

// serveNetWith is serveNet with the transport the protocol sees made by
// wrap (nil: the netTransport itself).
func serveNetWith(t *testing.T, ln net.Listener, f protocol.Factory, wrap func(*netTransport) protocol.Transport) {
	t.Helper()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p := f.BuildProtocol(nc.RemoteAddr())
			if p == nil {
				nc.Close()
				continue
			}
			nt := &netTransport{nc: nc, p: p, done: make(chan struct{})}
			nt.cond.L = &nt.mu
			if wrap != nil {
				nt.self = wrap(nt)
			}
			go nt.run()
		}
	}()
}

func (n *netTransport) run() {
	if n.self != nil {
		n.p.ConnectionMade(n.self)
	} else {
		n.p.ConnectionMade(n)
	}
	go n.writer()
	buf := make([]byte, 32<<10)
	for {
		n.mu.Lock()
		for n.readPaused && !n.closed {
			n.cond.Wait()
		}
		closed := n.closed
		n.mu.Unlock()
		if closed {
			break
		}
		k, err := n.nc.Read(buf)
		if k > 0 {
			n.p.DataReceived(buf[:k])
		}
		if err != nil {
			if hc, ok := n.p.(protocol.HalfCloser); ok && errors.Is(err, io.EOF) {
				hc.ReadConnectionLost()
				<-n.done
			} else {
				n.close()
			}
			break
		}
	}
	<-n.done
	n.p.ConnectionLost(nil)
}

func (n *netTransport) writer() {
	for {
		n.mu.Lock()
		for len(n.queue) == 0 && !n.closed && !n.lose && !n.halfClose {
			n.cond.Wait()
		}
		if n.closed {
			n.mu.Unlock()
			return
		}
		if len(n.queue) == 0 {
			if n.lose {
				n.mu.Unlock()
				n.close()
				return
			}
			n.halfClose = false
			n.mu.Unlock()
			if cw, ok := n.nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			continue
		}
		b := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		_, err := n.nc.Write(b)
		n.mu.Lock()
		n.queued -= len(b)
		var resume protocol.Producer
		if n.full && n.queued < testLow {
			n.full = false
			resume = n.feeder
			n.cond.Broadcast()
		}
		n.mu.Unlock()
		if resume != nil {
			resume.ResumeProducing()
		}
		if err != nil {
			n.close()
			return
		}
	}
}

func (n *netTransport) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	n.nc.Close()
	close(n.done)
	n.cond.Broadcast()
}

func (n *netTransport) Write(p []byte) { n.WriteMany(p) }

func (n *netTransport) WriteMany(bufs ...[]byte) {
	n.mu.Lock()
	if n.closed || n.lose {
		n.mu.Unlock()
		return
	}
	for _, b := range bufs {
		if len(b) > 0 {
			n.queue = append(n.queue, append([]byte(nil), b...))
			n.queued += len(b)
		}
	}
	n.maxQueued = max(n.maxQueued, n.queued)
	var pause protocol.Producer
	if n.queued > testHigh && !n.full {
		n.full = true
		pause = n.feeder
	}
	n.cond.Broadcast()
	n.mu.Unlock()
	if pause != nil {
		pause.PauseProducing()
	}
}

func (n *netTransport) LoseConnection() {
	n.mu.Lock()
	n.lose = true
	n.cond.Broadcast()
	n.mu.Unlock()
}

func (n *netTransport) Abort() { n.close() }

func (n *netTransport) CloseWrite() {
	n.mu.Lock()
	n.halfClose = true
	n.cond.Broadcast()
	n.mu.Unlock()
}

func (n *netTransport) PauseReading() {
	n.mu.Lock()
	n.readPaused = true
	n.mu.Unlock()
}

func (n *netTransport) ResumeReading() {
	n.mu.Lock()
	n.readPaused = false
	n.cond.Broadcast()
	n.mu.Unlock()
}

func (n *netTransport) RegisterProducer(p protocol.Producer) {
	n.mu.Lock()
	n.feeder = p
	n.mu.Unlock()
}

func (n *netTransport) PeerAddr() net.Addr { return n.nc.RemoteAddr() }
func (n *netTransport) HostAddr() net.Addr { return n.nc.LocalAddr() }

// fileTransport is a netTransport that can send files the way the
// reactor's does: never blocking, nothing while Write's bytes are queued,
// and a full queue pausing the producer.
type fileTransport struct {
	*netTransport
	*fileStats
}

// fileStats are shared by a test's fileTransports.
type fileStats struct {
	calls, sent atomic.Int64
	unsupported bool
	last        atomic.Pointer[netTransport]
}

func (n *fileTransport) SendFile(f *os.File, off, size int64) (int64, error) {
	n.calls.Add(1)
	if n.unsupported {
		return 0, errors.ErrUnsupported
	}
	n.mu.Lock()
	if n.closed || n.lose {
		n.mu.Unlock()
		return 0, net.ErrClosed
	}
	var sent int64
	if n.queued == 0 {
		b := make([]byte, min(size, 2*testHigh))
		k, err := f.ReadAt(b, off)
		if err != nil && !errors.Is(err, io.EOF) {
			n.mu.Unlock()
			return 0, err
		}
		if k > 0 {
			n.queue = append(n.queue, b[:k])
			n.queued += k
			n.maxQueued = max(n.maxQueued, n.queued)
			n.cond.Broadcast()
		}
		sent = int64(k)
	}
	var pause protocol.Producer
	if sent < size && n.queued > 0 && !n.full {
		n.full = true
		pause = n.feeder
	}
	n.mu.Unlock()
	if pause != nil {
		pause.PauseProducing()
	}
	n.sent.Add(sent)
	return sent, nil
}

var (
	_ protocol.Transport  = (*netTransport)(nil)
	_ protocol.FileSender = (*fileTransport)(nil)
)

// CallLater implements the Transport: the test does not serialise timers.
func (*netTransport) CallLater(d time.Duration, f func()) protocol.Timer { return time.AfterFunc(d, f) }
