package reactor

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// fileSender sends a file with sendfile, going on each time the socket
// drains (it is its own transport's producer).
type fileSender struct {
	protocol.Base
	head   []byte // written first, with Write
	f      *os.File
	mu     sync.Mutex
	off, n int64
}

func (s *fileSender) ConnectionMade(t protocol.Transport) {
	s.Transport = t
	t.RegisterProducer(s)
	t.Write(s.head)
	s.send()
}

func (s *fileSender) send() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.off < s.n {
		m, err := s.Transport.(protocol.FileSender).SendFile(s.f, s.off, s.n-s.off)
		s.off += m
		if err != nil {
			s.Transport.Abort()
			return
		}
		if m == 0 || s.off < s.n {
			return // full: ResumeProducing comes when it drains
		}
	}
	s.Transport.LoseConnection()
}

func (s *fileSender) PauseProducing()  {}
func (s *fileSender) ResumeProducing() { go s.send() }

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
