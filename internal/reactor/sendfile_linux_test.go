package reactor

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// fileSender sends a file with sendfile, going on each time the socket
// drains (it is its own transport's producer). A short send is followed
// by PauseProducing, delivered before SendFile returns, unless the socket
// drained meanwhile: the transport then delivers neither the pause nor
// the resume, and the sender goes on at once.
type fileSender struct {
	protocol.Base
	head   []byte // written first, with Write
	f      *os.File
	mu     sync.Mutex
	paused atomic.Bool
	off, n int64
	// closeFile: f is this connection's, closed when it is lost.
	closeFile bool
	lost      bool
	// full, if set, runs (with s.mu held) when a send first stops short.
	full     func(t protocol.Transport)
	fullOnce sync.Once
}

func (s *fileSender) ConnectionLost(error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = true
	if s.closeFile {
		s.f.Close()
	}
}

func (s *fileSender) ConnectionMade(t protocol.Transport) {
	s.Transport = t
	t.RegisterProducer(s)
	t.Write(s.head)
	go s.send() // off the callback: full may wait for the test
}

func (s *fileSender) send() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.off < s.n && !s.lost {
		m, err := s.Transport.(protocol.FileSender).SendFile(s.f, s.off, s.n-s.off)
		s.off += m
		if err != nil {
			s.Transport.Abort()
			return
		}
		if s.off < s.n && s.paused.Load() {
			if s.full != nil {
				s.fullOnce.Do(func() { s.full(s.Transport) })
			}
			return // full: ResumeProducing comes when it drains
		}
	}
	s.Transport.LoseConnection()
}

func (s *fileSender) PauseProducing() { s.paused.Store(true) }
func (s *fileSender) ResumeProducing() {
	s.paused.Store(false)
	go s.send()
}

// A file sent with SendFile after bytes queued by Write arrives whole
// and after them, through a reader slower than the socket, under either
// reactor: the goroutine reactor sends with sendfile(2) too, instead of
// copying the file through a buffer per write (its 1 MiB web responses
// ran at a third of the event loop's rate).
func TestSendFile(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		data := make([]byte, 8<<20)
		rand.Read(data)
		head := bytes.Repeat([]byte("head"), 30<<10) // past the high-water mark: queued, not sent at once
		path := filepath.Join(t.TempDir(), "big")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, addr, stats, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			return &fileSender{head: head, f: f, n: int64(len(data))}
		}))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		want := append(head, data...)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d of %d bytes, same: %v (%v)", len(got), len(want), bytes.Equal(got, want), err)
		}
		if n := stats.BytesSent.Load(); n != int64(len(want)) {
			t.Fatalf("counted %d bytes sent, want %d", n, len(want))
		}
	})
}

// A reader that drains the socket in bursts, pausing between them, makes
// the sender find the socket full again and again; each time the writer
// must see it drain, also when it drained before the writer began to
// wait (the poller forgets that: the download stalled for good).
func TestSendFileToABurstyReader(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		data := make([]byte, 4<<20)
		rand.Read(data)
		path := filepath.Join(t.TempDir(), "big")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return nil
			}
			return &fileSender{f: f, n: int64(len(data)), closeFile: true}
		}))
		for round := 0; round < 4; round++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).SetReadBuffer(128 << 10)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			buf := make([]byte, 64<<10)
			for len(got) < len(data) {
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
				if len(got)%(512<<10) < n {
					time.Sleep(2 * time.Millisecond) // the socket fills meanwhile
				}
			}
			c.Close()
			if !bytes.Equal(got, data) {
				t.Fatalf("round %d: got %d of %d bytes", round, len(got), len(data))
			}
		}
	})
}

// holdWhileDrained is a fileSender's full hook: at its first short send
// it holds the connection's lock until the test has read everything the
// socket held, so the writer goroutine begins its wait for the drain
// after the drain happened.
func holdWhileDrained(drain, drained chan struct{}) func(protocol.Transport) {
	return func(t protocol.Transport) {
		c := t.(*conn)
		c.mu.Lock()
		drain <- struct{}{}
		<-drained
		c.mu.Unlock()
	}
}

// The goroutine reactor's writer must see a socket that drained before
// it began to wait for the drain (the poller forgets a readiness from
// before the wait): the download stalled for good under load.
func TestSendFileSocketDrainedBeforeTheWait(t *testing.T) {
	data := make([]byte, 8<<20)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	drain, drained := make(chan struct{}), make(chan struct{})
	t.Run(Goroutines, func(t *testing.T) {
		_, addr, _, _ := serveStream(t, protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return nil
			}
			return &fileSender{f: f, n: int64(len(data)), closeFile: true, full: holdWhileDrained(drain, drained)}
		}))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var got []byte
		buf := make([]byte, 256<<10)
		select {
		case <-drain:
		case <-time.After(5 * time.Second):
			t.Fatal("the socket never filled")
		}
		for { // everything the socket holds, until a read would wait
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		drained <- struct{}{}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(c)
		got = append(got, rest...)
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d of %d bytes (%v)", len(got), len(data), err)
		}
	})
}
