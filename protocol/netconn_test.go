package protocol

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeTransport records what a Conn does to its transport; past high
// queued bytes it pauses the registered producer, as the reactor does.
type fakeTransport struct {
	high int

	mu       sync.Mutex
	written  bytes.Buffer
	producer Producer
	paused   bool // reading
	lost     bool
}

func (f *fakeTransport) Write(p []byte) { f.WriteMany(p) }
func (f *fakeTransport) WriteMany(bufs ...[]byte) {
	f.mu.Lock()
	for _, b := range bufs {
		f.written.Write(b)
	}
	full := f.high > 0 && f.written.Len() > f.high
	p := f.producer
	f.mu.Unlock()
	if full && p != nil {
		p.PauseProducing()
	}
}

// drain empties the write queue, as the peer reading it would.
func (f *fakeTransport) drain() []byte {
	f.mu.Lock()
	b := bytes.Clone(f.written.Bytes())
	f.written.Reset()
	p := f.producer
	f.mu.Unlock()
	if p != nil {
		p.ResumeProducing()
	}
	return b
}

func (f *fakeTransport) LoseConnection()             { f.mu.Lock(); f.lost = true; f.mu.Unlock() }
func (f *fakeTransport) Abort()                      { f.LoseConnection() }
func (f *fakeTransport) CloseWrite()                 {}
func (f *fakeTransport) PauseReading()               { f.mu.Lock(); f.paused = true; f.mu.Unlock() }
func (f *fakeTransport) ResumeReading()              { f.mu.Lock(); f.paused = false; f.mu.Unlock() }
func (f *fakeTransport) RegisterProducer(p Producer) { f.mu.Lock(); f.producer = p; f.mu.Unlock() }
func (f *fakeTransport) PeerAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
}
func (f *fakeTransport) HostAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }

func (f *fakeTransport) readingPaused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused
}

type fakeTLSTransport struct{ *fakeTransport }

func (fakeTLSTransport) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{NegotiatedProtocol: "h2", HandshakeComplete: true}
}

func TestConnReadsWhatArrives(t *testing.T) {
	ft := &fakeTransport{}
	c := NewConn(8)
	c.ConnectionMade(ft)
	nc := c.NetConn()
	if _, ok := nc.(ConnectionStater); ok {
		t.Fatal("a plain transport's Conn claims a TLS state")
	}
	c.DataReceived([]byte("hello"))
	c.DataReceived([]byte(" world"))
	if !ft.readingPaused() {
		t.Fatal("11 bytes buffered over a bound of 8, and reading goes on")
	}
	buf := make([]byte, 8)
	n, err := nc.Read(buf)
	if err != nil || string(buf[:n]) != "hello wo" {
		t.Fatalf("Read: %q, %v", buf[:n], err)
	}
	if ft.readingPaused() {
		t.Fatal("3 bytes left of 8, and reading stays paused")
	}
	c.ReadConnectionLost()
	rest, err := io.ReadAll(nc)
	if err != nil || string(rest) != "rld" {
		t.Fatalf("after EOF: %q, %v", rest, err)
	}
	// A half-closed Conn still writes.
	if _, err := nc.Write([]byte("bye")); err != nil || string(ft.drain()) != "bye" {
		t.Fatalf("Write after the peer's EOF: %v", err)
	}
	if err := nc.Close(); err != nil || !ft.lost {
		t.Fatalf("Close: %v, lost %v", err, ft.lost)
	}
	if _, err := nc.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if nc.RemoteAddr().String() != "192.0.2.1:1" || nc.LocalAddr().String() != "127.0.0.1:2" {
		t.Fatalf("addresses: %v %v", nc.RemoteAddr(), nc.LocalAddr())
	}
}

func TestConnReadWaitsAndTimesOut(t *testing.T) {
	c := NewConn(1 << 10)
	c.ConnectionMade(&fakeTransport{})
	nc := c.NetConn()
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.DataReceived([]byte("late"))
	}()
	buf := make([]byte, 8)
	if n, err := nc.Read(buf); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read: %q, %v", buf[:n], err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := nc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	c.ConnectionLost(nil)
	if _, err := nc.Read(buf); err != io.EOF {
		t.Fatalf("Read after ConnectionLost: %v", err)
	}
	if _, err := nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after ConnectionLost: %v", err)
	}
}

func TestConnWriteWaitsForTheQueueToDrain(t *testing.T) {
	ft := &fakeTransport{high: 4}
	c := NewConn(1 << 10)
	c.ConnectionMade(ft)
	nc := c.NetConn()
	done := make(chan error, 1)
	go func() { _, err := nc.Write([]byte("more than four")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Write returned (%v) with the queue full", err)
	case <-time.After(30 * time.Millisecond):
	}
	if got := string(ft.drain()); got != "more than four" {
		t.Fatalf("queued %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// With the queue full, a write deadline ends the wait.
	_ = nc.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := nc.Write([]byte("again, too long")); n != 15 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline: %d, %v", n, err)
	}
	if _, err := nc.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write after the deadline: %v", err)
	}
}

func TestConnPassesTheTLSStateThrough(t *testing.T) {
	c := NewConn(1 << 10)
	c.ConnectionMade(fakeTLSTransport{&fakeTransport{}})
	cs, ok := c.NetConn().(ConnectionStater)
	if !ok || cs.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("no TLS state through the Conn: %v", ok)
	}
}

// CallLater implements the Transport: the test does not serialise timers.
func (*fakeTransport) CallLater(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// A stream read as fast as it arrives (an SFTP upload) takes its input
// buffer from the pool and gives it back burst after burst, allocating
// nothing.
func TestConnInputDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	ft := &fakeTransport{}
	c := NewConn(64 << 10)
	c.ConnectionMade(ft)
	in, out := bytes.Repeat([]byte("x"), 32<<10), make([]byte, 64<<10)
	burst := func() {
		c.DataReceived(in)
		c.DataReceived(in)
		for got := 0; got < 2*len(in); {
			n, err := c.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	burst()
	if n := testing.AllocsPerRun(100, burst); n != 0 {
		t.Errorf("%v allocations per burst, want 0", n)
	}
}
