package httpconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// startFiles serves h through a Server whose transports send files.
func startFiles(t *testing.T, srv *http.Server, unsupported bool) (*fileStats, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(srv)
	st := &fileStats{unsupported: unsupported}
	serveNetWith(t, ln, s.Factory(), func(n *netTransport) protocol.Transport {
		st.last.Store(n)
		return &fileTransport{netTransport: n, fileStats: st}
	})
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return st, ln.Addr().String()
}

func bigFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// fileHandler sends the file the way the web plugin does: headers, then
// the body through ReadFrom with io.LimitReader (io.CopyN's shape); a
// Range request goes through http.ServeContent.
func fileHandler(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		if r.Header.Get("Range") != "" {
			http.ServeContent(w, r, "", time.Time{}, f)
			return
		}
		fi, _ := f.Stat()
		w.Header().Set("Content-Length", fmt.Sprint(fi.Size()))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		if _, err := f.Seek(10, io.SeekStart); err != nil { // a head start copied by Write
			return
		}
		head := make([]byte, 10)
		_, _ = f.ReadAt(head, 0)
		_, _ = w.Write(head)
		_, _ = w.(io.ReaderFrom).ReadFrom(io.LimitReader(f, fi.Size()-10))
	}
}

func TestFilesGoOutWithSendFile(t *testing.T) {
	for _, unsupported := range []bool{false, true} {
		t.Run(fmt.Sprintf("unsupported=%v", unsupported), func(t *testing.T) {
			path, data := bigFile(t, 3<<20+123)
			ft, addr := startFiles(t, &http.Server{Handler: fileHandler(path)}, unsupported)
			c, br := dial(t, addr)
			for i := 0; i < 2; i++ { // keep-alive: a second response after the first
				fmt.Fprintf(c, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				buf := make([]byte, 64<<10)
				for {
					time.Sleep(100 * time.Microsecond) // a slow reader
					n, err := resp.Body.Read(buf)
					got.Write(buf[:n])
					if err != nil {
						break
					}
				}
				if !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("response %d: got %d bytes, want %d (or they differ)", i, got.Len(), len(data))
				}
			}
			switch sent := ft.sent.Load(); {
			case unsupported && (sent != 0 || ft.calls.Load() == 0):
				t.Fatalf("sent %d bytes with %d calls on an unsupported transport", sent, ft.calls.Load())
			case !unsupported && sent != 2*int64(len(data)-10-512):
				// net/http copies the first 512 bytes (for sniffing)
				// before it hands the rest to the connection.
				t.Fatalf("sendfile sent %d bytes, want %d", sent, 2*(len(data)-10-512))
			}
			last := ft.last.Load()
			last.mu.Lock()
			maxQ := last.maxQueued
			last.mu.Unlock()
			if maxQ > 4*testHigh {
				t.Fatalf("queued up to %d bytes: back-pressure ignored", maxQ)
			}
		})
	}
}

func TestRangesStillServed(t *testing.T) {
	path, data := bigFile(t, 1<<20)
	_, addr := startFiles(t, &http.Server{Handler: fileHandler(path)}, false)
	c, br := dial(t, addr)
	fmt.Fprintf(c, "GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-299999\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if resp.StatusCode != http.StatusPartialContent || body != string(data[1000:300000]) {
		t.Fatalf("got %s and %d bytes", resp.Status, len(body))
	}
}

func TestSendFileHonoursWriteDeadline(t *testing.T) {
	path, _ := bigFile(t, 8<<20)
	ft, addr := startFiles(t, &http.Server{Handler: fileHandler(path), WriteTimeout: 300 * time.Millisecond}, false)
	c, _ := dial(t, addr)
	_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
	fmt.Fprintf(c, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
	// Never read: the handler must give up at the deadline, and the
	// connection be closed.
	eventually(t, "the stalled connection to close", func() bool {
		n := ft.last.Load()
		if n == nil {
			return false
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.closed || n.lose
	})
	if s := ft.sent.Load(); s >= 8<<20 {
		t.Fatalf("sent all %d bytes to a reader that reads nothing", s)
	}
}
