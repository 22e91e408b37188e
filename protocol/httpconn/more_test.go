package httpconn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/twistd-go/twistd/protocol"
)

// moreTransport is a fileTransport that records WriteMore and Push.
type moreTransport struct {
	*fileTransport
	*moreStats
}

type moreStats struct {
	mu     sync.Mutex
	more   []string // what each WriteMore wrote
	pushes int
}

func (m *moreTransport) WriteMore(p []byte) {
	m.mu.Lock()
	m.more = append(m.more, string(p))
	m.mu.Unlock()
	m.Write(p)
}

func (m *moreTransport) Push() {
	m.mu.Lock()
	m.pushes++
	m.mu.Unlock()
}

func (m *moreStats) counts() (more []string, pushes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.more...), m.pushes
}

var _ protocol.MoreWriter = (*moreTransport)(nil)

// A handler that declares a file body gets its response head written with
// WriteMore, once, followed by the file; a head that nothing followed (a
// file shorter than its Content-Length) is pushed; without
// FileFollows every write is a plain one, and a handler that declares a
// file and then copies by Write has only its first write held, which the
// next one sends.
func TestFileFollowsHoldsTheHeadForTheFile(t *testing.T) {
	path, data := bigFile(t, 256<<10)
	// shrunk ends where net/http's sniffing copy (512 bytes) does: the
	// head is flushed, and no file byte is left to follow it.
	shrunk := path + ".shrunk"
	if err := os.WriteFile(shrunk, data[:512], 0o644); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path
		if r.URL.Path == "/shrunk" {
			name = shrunk
		}
		f, err := os.Open(name)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		size := fi.Size()
		if r.URL.Path == "/shrunk" {
			size = 1000 // the size the handler believed
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		if r.URL.Path != "/plain" {
			FileFollows(r)
		}
		if r.URL.Path == "/nofile" {
			_, _ = io.Copy(struct{ io.Writer }{w}, f) // declared, then copied after all
			return
		}
		_, _ = w.(io.ReaderFrom).ReadFrom(io.LimitReader(f, size))
	})
	for _, tc := range []struct {
		path       string
		body       []byte
		more, push int
	}{
		{"/file", data, 1, 0},
		{"/plain", data, 0, 0},
		{"/nofile", data, 1, 0},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			ms, c, br := serveMore(t, handler)
			for i := 0; i < 2; i++ { // the second response on the same connection too
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.path)
				resp, body := readResponse(t, br, "GET")
				if resp.StatusCode != 200 || !bytes.Equal([]byte(body), tc.body) {
					t.Fatalf("response %d: %s, %d bytes, want %d", i, resp.Status, len(body), len(tc.body))
				}
			}
			more, pushes := ms.counts()
			checkMore(t, more, pushes, 2*tc.more, 2*tc.push)
		})
	}
	t.Run("shrunk", func(t *testing.T) {
		ms, c, br := serveMore(t, handler)
		fmt.Fprintf(c, "GET /shrunk HTTP/1.1\r\nHost: x\r\n\r\n")
		got, _ := io.ReadAll(br) // the head, then the end of a connection whose body fell short
		if !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") {
			t.Fatalf("got %q", got)
		}
		more, pushes := ms.counts()
		checkMore(t, more, pushes, 1, 1)
	})
}

// serveMore serves h over moreTransports and dials it.
func serveMore(t *testing.T, h http.Handler) (*moreStats, net.Conn, *bufio.Reader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ms := &moreStats{}
	st := &fileStats{}
	serveNetWith(t, ln, New(&http.Server{Handler: h}).Factory(), func(n *netTransport) protocol.Transport {
		return &moreTransport{&fileTransport{netTransport: n, fileStats: st}, ms}
	})
	c, br := dial(t, ln.Addr().String())
	return ms, c, br
}

func checkMore(t *testing.T, more []string, pushes, wantMore, wantPush int) {
	t.Helper()
	if len(more) != wantMore || pushes != wantPush {
		t.Fatalf("WriteMore %d times, Push %d times; want %d and %d", len(more), pushes, wantMore, wantPush)
	}
	for _, m := range more {
		if !strings.HasPrefix(m, "HTTP/1.1 200 OK\r\n") || len(m) > 4096 {
			t.Fatalf("WriteMore wrote %q, not the response head", m)
		}
	}
}
