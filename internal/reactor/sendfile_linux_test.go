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
	f      *os.File
	mu     sync.Mutex
	off, n int64
}

func (s *fileSender) ConnectionMade(t protocol.Transport) {
	s.Transport = t
	t.RegisterProducer(s)
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

func TestSendFileThroughTheLoop(t *testing.T) {
	t.Run("epoll", func(t *testing.T) {
		data := make([]byte, 8<<20)
		rand.Read(data)
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
			return &fileSender{f: f, n: int64(len(data))}
		}))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("got %d of %d bytes (%v)", len(got), len(data), err)
		}
		if n := stats.BytesSent.Load(); n != int64(len(data)) {
			t.Fatalf("counted %d bytes sent", n)
		}
	})
}
