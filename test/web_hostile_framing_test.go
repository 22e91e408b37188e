package test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// readResponses reads every response on c until the server closes it,
// and reports whether it did close (EOF) within the deadline.
func readResponses(t *testing.T, c net.Conn) (codes []int, closed bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return codes, true
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return codes, false
			}
			// A reset after the 400 is a close too.
			return codes, strings.Contains(err.Error(), "reset")
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
}

// sendParts dials addr and writes each part as its own segment.
func sendParts(t *testing.T, addr string, parts ...string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for i, p := range parts {
		if i > 0 {
			// Separate segments, so the head arrives in pieces (the
			// outcome must not depend on it).
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A request whose framing is ambiguous (Content-Length with
// Transfer-Encoding, a folded Transfer-Encoding, Transfer-Encoding on
// HTTP/1.0) is answered 400 and its connection closed (RFC 9112 §6.1):
// what follows it is never served as a request of its own. Requests
// before it on the same connection are answered as usual.
func TestWebHostileAmbiguousFramingIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a")
	_, base := startWeb(t, dir)
	addr := strings.TrimPrefix(base, "http://")
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name  string
		parts []string
		want  []int
	}{
		{"CL and TE", []string{"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{400}},
		{"TE then CL", []string{"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled}, []int{400}},
		{"head in pieces", []string{"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Le", "ngth: 40\r\nTransfer-Enc", "oding: chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{400}},
		{"folded TE", []string{"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{400}},
		{"TE on HTTP/1.0", []string{"POST /a.txt HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{400}},
		{"after a good one", []string{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nPOST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{200, 400}},
		{"after a chunked body", []string{"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: t\r\n\r\nPOST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled}, []int{405, 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sendParts(t, addr, tc.parts...)
			codes, closed := readResponses(t, c)
			if len(codes) != len(tc.want) || codes[len(codes)-1] != tc.want[len(tc.want)-1] || !closed {
				t.Fatalf("responses %v (closed %v), want %v and the connection closed", codes, closed, tc.want)
			}
			for i := range codes {
				if codes[i] != tc.want[i] {
					t.Fatalf("responses %v, want %v", codes, tc.want)
				}
			}
		})
	}
	// Well-framed requests still work, bodies and keep-alive included.
	c := sendParts(t, addr, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if codes, closed := readResponses(t, c); len(codes) != 3 || codes[0] != 405 || codes[1] != 200 || codes[2] != 200 || !closed {
		t.Fatalf("well-framed pipeline: %v (closed %v)", codes, closed)
	}
}

// A Range header with a unit other than bytes is ignored: the whole
// representation, 200 (RFC 9110 §14.2), not 416.
func TestWebHostileUnknownRangeUnitIsIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "digits.txt", strings.Repeat("0123456789", 10))
	_, base := startWeb(t, dir)
	c := webClient()
	for _, rg := range []string{"items=0-1", "lines=1-2", "bytesx=0-1"} {
		resp, body := fetch(t, c, "GET", base+"/digits.txt", "Range", rg)
		if resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("Range %q: %d with %d bytes, want 200 with all 100", rg, resp.StatusCode, len(body))
		}
	}
	resp, body := fetch(t, c, "GET", base+"/digits.txt", "Range", "Bytes=0-1")
	if resp.StatusCode != 206 || body != "01" {
		t.Fatalf("Range Bytes=0-1 (the unit is case-insensitive): %d %q", resp.StatusCode, body)
	}
}
