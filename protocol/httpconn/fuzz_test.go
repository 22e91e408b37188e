package httpconn

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// memTransport records what a protocol writes; the test delivers its
// input, honouring PauseReading as the reactor does.
type memTransport struct {
	mu     sync.Mutex
	cond   sync.Cond
	out    bytes.Buffer
	paused bool
	closed bool
}

func newMemTransport() *memTransport {
	m := &memTransport{}
	m.cond.L = &m.mu
	return m
}

func (m *memTransport) Write(p []byte) { m.WriteMany(p) }
func (m *memTransport) WriteMany(bufs ...[]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		for _, b := range bufs {
			m.out.Write(b)
		}
	}
}
func (m *memTransport) LoseConnection() { m.Abort() }
func (m *memTransport) Abort() {
	m.mu.Lock()
	m.closed = true
	m.cond.Broadcast()
	m.mu.Unlock()
}
func (m *memTransport) CloseWrite() {}
func (m *memTransport) PauseReading() {
	m.mu.Lock()
	m.paused = true
	m.mu.Unlock()
}
func (m *memTransport) ResumeReading() {
	m.mu.Lock()
	m.paused = false
	m.cond.Broadcast()
	m.mu.Unlock()
}
func (m *memTransport) RegisterProducer(protocol.Producer) {}
func (m *memTransport) PeerAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}
}
func (m *memTransport) HostAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 80} }

// waitReadable blocks while reading is paused; it reports false once the
// connection is closed.
func (m *memTransport) waitReadable(deadline time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.paused && !m.closed && time.Now().Before(deadline) {
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
	}
	return !m.closed
}

func (m *memTransport) waitClosed(deadline time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for !m.closed && time.Now().Before(deadline) {
		m.mu.Unlock()
		time.Sleep(time.Millisecond)
		m.mu.Lock()
	}
	return m.closed
}

var fuzzSeeds = []struct {
	name  string
	input string
}{
	{"get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"post", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"bad chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
	{"expect", "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
	{"bad expect", "GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n"},
	{"http10", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"},
	{"close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"head", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"garbage", "\x00\xff\r\n\r\n"},
	{"no host", "GET / HTTP/1.1\r\n\r\n"},
	{"bare lf", "GET / HTTP/1.1\nHost: x\n\n"},
	{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
	{"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX: " + string(bytes.Repeat([]byte{'a'}, 3000)) + "\r\n\r\n"},
	{"partial", "GET / HTTP/1.1\r\nHo"},
	{"leading crlf", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
}

// FuzzConn feeds any bytes, cut in two at any point, to one connection:
// it must never panic or hang, and what it writes must parse as a
// sequence of HTTP responses.
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, cut := range []uint16{0, 5, uint16(len(s.input) / 2)} {
			f.Add([]byte(s.input), cut)
		}
	}
	f.Fuzz(func(t *testing.T, input []byte, cut uint16) {
		srv := New(&http.Server{Handler: http.HandlerFunc(hello), MaxHeaderBytes: 2048,
			ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}()
		m := newMemTransport()
		p := srv.Factory().BuildProtocol(m.PeerAddr())
		p.ConnectionMade(m)
		deadline := time.Now().Add(5 * time.Second)
		at := min(int(cut), len(input))
		for _, chunk := range [][]byte{input[:at], input[at:]} {
			if len(chunk) == 0 || !m.waitReadable(deadline) {
				continue
			}
			p.DataReceived(chunk)
		}
		if m.waitReadable(deadline) {
			p.(protocol.HalfCloser).ReadConnectionLost()
		}
		if !m.waitClosed(deadline) {
			t.Fatalf("connection not closed after the peer finished")
		}
		p.ConnectionLost(nil)

		m.mu.Lock()
		out := append([]byte(nil), m.out.Bytes()...)
		m.mu.Unlock()
		// A HEAD response's length is not its body's: after one, the
		// stream cannot be split without knowing the requests.
		head := bytes.Contains(input, []byte("HEAD"))
		br := bufio.NewReader(bytes.NewReader(out))
		for !head {
			if _, err := br.Peek(1); err == io.EOF {
				break
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("output does not parse as responses: %v\n%q", err, out)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("response body: %v\n%q", err, out)
			}
			resp.Body.Close()
		}
		if head && len(out) > 0 {
			if _, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: "HEAD"}); err != nil {
				t.Fatalf("output does not parse as a response: %v\n%q", err, out)
			}
		}
	})
}

// CallLater implements the Transport: the test does not serialise timers.
func (*memTransport) CallLater(d time.Duration, f func()) protocol.Timer { return time.AfterFunc(d, f) }
