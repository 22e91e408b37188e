package test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dialSmall connects with a small receive buffer, so that a client that
// does not read blocks the server soon.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// activeConns is the site service's open connections, from /status.
func activeConns(t *testing.T, admin string) int64 {
	t.Helper()
	for _, s := range getStatus(t, admin).Services {
		if s.Name == "site" {
			return s.ConnectionsActive
		}
	}
	t.Fatal("no service site in /status")
	return 0
}

// A request whose body never comes is cut off after timeouts.read: it
// does not hold its connection (and a max_connections slot) forever.
func TestWebHostileBodyThatNeverComes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "public/a.txt", "a")
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    timeouts: {read: 300ms}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	addr := s.addrs()[0]
	for _, req := range []string{
		"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
		"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsome",
		"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
	} {
		c := sendParts(t, addr, req)
		began := time.Now()
		_, closed := readResponses(t, c)
		if !closed {
			t.Fatalf("%q: the connection is still open after %s", req, time.Since(began))
		}
	}
}

// A client that stops reading a response is dropped after
// timeouts.write, whatever the response: a file, a gzip stream or a
// proxied stream. Its connection's close does not wait for queued bytes
// that never drain.
func TestWebHostileNeverReadingClientsAreDropped(t *testing.T) {
	var finished atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer finished.Add(1)
		buf := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			_, _ = rand.Read(buf)
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}))
	defer upstream.Close()
	dir := t.TempDir()
	writeFile(t, dir, "public/big.bin", strings.Repeat("0123456789abcdef", 2<<20)) // 32 MiB
	// 12 MiB gzip-streamed, some 6.5 MB gzipped: more than the kernel's
	// socket buffers take (4 MiB at most here), so the stream blocks.
	text := make([]byte, 6<<20)
	_, _ = rand.Read(text)
	writeFile(t, dir, "public/big.txt", hex.EncodeToString(text))
	app := writeFile(t, dir, "app.yaml", `
admin: {listen: 'tcp:0:interface=127.0.0.1'}
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    timeouts: {write: 500ms}
    proxy: [{prefix: /stream/, to: "`+upstream.URL+`"}]
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	a := s.addrs()
	admin, addr := "http://"+a[0], a[1]
	const n = 10
	for _, tc := range []struct{ name, req string }{
		{"file", "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"gzip", "GET /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"},
		{"proxy", "GET /stream/x HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < n; i++ {
				c := dialSmall(t, addr)
				if _, err := io.WriteString(c, tc.req); err != nil {
					t.Fatal(err)
				}
				// Read the head only: the response is under way.
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := bufio.NewReaderSize(c, 16).ReadString('\n'); err != nil {
					t.Fatalf("no response: %v", err)
				}
			}
			eventually(t, 10*time.Second, "the never-reading clients to be dropped", func() bool {
				return activeConns(t, admin) == 0
			})
		})
	}
	eventually(t, 5*time.Second, "the upstream to see the proxied requests end", func() bool {
		return finished.Load() == n
	})
}

// Many clients that never read a gzip-streamed response cost little
// memory: the compressors are bounded, and beyond them the file goes out
// as it is (with sendfile, from no buffer).
func TestWebHostileNeverReadingGzipClientsAreCheap(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	text := make([]byte, 2<<20)
	_, _ = rand.Read(text)
	writeFile(t, dir, "big.txt", hex.EncodeToString(text))
	s, base := startWeb(t, dir)
	addr := strings.TrimPrefix(base, "http://")
	pid := s.cmd.Process.Pid
	before := vmRSS(t, pid)
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialSmall(t, addr)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Go(func() {
			if _, err := io.WriteString(c, "GET /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := bufio.NewReaderSize(c, 16).ReadString('\n'); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("no response: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // let the responses fill what they can
	after := vmRSS(t, pid)
	t.Logf("RSS %d KiB, %d KiB with %d never-reading gzip clients (+%.0f KiB each)", before, after, n,
		float64(after-before)/n)
	limit := 64 << 10 // about 90 KiB each when measured, 870 KiB before the bound
	if reactorUnderTest() == "goroutines" {
		// Three goroutines a connection, no sendfile, and a copy of
		// what is queued: about 500 KiB each when measured.
		limit = 160 << 10
	}
	if after-before > limit {
		t.Fatalf("%d never-reading gzip clients added %d KiB RSS, want under %d", n, after-before, limit)
	}
}

// The read and write timeouts bound a stall, not a transfer: a download
// that keeps making progress outlasts timeouts.write many times over.
func TestWebHostileSlowButSteadyDownloadIsNotCutOff(t *testing.T) {
	dir := t.TempDir()
	const size = 32 << 20
	writeFile(t, dir, "public/big.bin", strings.Repeat("x", size))
	app := writeFile(t, dir, "app.yaml", `
services:
  - name: site
    type: web
    listen: tcp:0:interface=127.0.0.1
    path: ./public
    timeouts: {read: 400ms, write: 400ms}
`)
	s := start(t, dir, nil, "-n", "--pidfile=", "-c", app)
	c := dialSmall(t, s.addrs()[0])
	if _, err := io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	began := time.Now()
	var got int64
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(2 * time.Millisecond) // at most 32 MB/s
	}
	took := time.Since(began)
	if got != size {
		t.Fatalf("got %d of %d bytes in %s", got, size, took)
	}
	if took < time.Second {
		t.Fatalf("the download took %s: not longer than the timeouts, so it tells nothing", took)
	}
}
