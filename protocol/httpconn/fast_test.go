package httpconn

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// fastHello answers GETs of /fast... on the loop and everything else,
// as hello, through net/http.
type fastHello struct{ fast, slow atomic.Int64 }

func (h *fastHello) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.slow.Add(1)
	hello(w, r)
}

func (h *fastHello) ServeFast(r *FastRequest) bool {
	if !strings.HasPrefix(r.Target, "/fast") {
		return false
	}
	h.fast.Add(1)
	body := fmt.Sprintf("%s %s 0", r.Method, r.Target)
	r.Write([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))), []byte(body))
	return true
}

func TestFastPathOnTheLoop(t *testing.T) {
	h := &fastHello{}
	s, addr := start(t, &http.Server{Handler: h})
	c, br := dial(t, addr)
	busy := false // net/http holds a partial request
	for _, step := range []struct {
		send string
		want []string
		fast int64 // h.fast after the step
	}{
		{"GET /fast1 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /fast1 0"}, 1},
		{"GET /fast2 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", []string{"GET /fast2 0"}, 2},
		{"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /slow 0"}, 2},
		// Pipelined: both go to net/http, answered in order.
		{"GET /fast3 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast4 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /fast3 0", "GET /fast4 0"}, 2},
		// Split head: net/http.
		{"GET /fast5 HTTP/1.1\r\nHost: x\r\n", nil, 2},
		{"\r\n", []string{"GET /fast5 0"}, 2},
		{"GET /fast6 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /fast6 0"}, 3},
	} {
		// Wait for the connection to park: only a parked one takes the
		// fast path (one net/http holds keeps it while it lingers).
		if !busy {
			eventually(t, "the connection to park", func() bool { return s.activeCount() == 0 })
		}
		if _, err := io.WriteString(c, step.send); err != nil {
			t.Fatal(err)
		}
		for _, want := range step.want {
			if resp, body := readResponse(t, br, "GET"); body != want || resp.Close {
				t.Fatalf("%q: %q (close %v), want %q", step.send, body, resp.Close, want)
			}
		}
		if busy = step.want == nil; busy {
			// Only once net/http holds it is the rest a separate read.
			eventually(t, "net/http to take the partial head", func() bool { return s.activeCount() == 1 })
			continue
		}
		if got := h.fast.Load(); got != step.fast {
			t.Fatalf("%q: %d fast responses, want %d", step.send, got, step.fast)
		}
	}
	if got := h.slow.Load(); got != 4 {
		t.Errorf("%d responses from net/http, want 4", got)
	}
}

// A connection net/http holds, lingering for a next request, comes back
// to the loop when that request is one the fast path answers; one it
// declines stays with the lingering net/http. (Before, a busy client's
// connection that once went to net/http stayed there for good.)
func TestLingeringConnectionReturnsToTheFastPath(t *testing.T) {
	h := &fastHello{}
	s, addr := startWith(t, &http.Server{Handler: h}, func(s *Server) { s.linger = time.Hour })
	c, br := dial(t, addr)
	for _, step := range []struct {
		send, want string
		fast, slow int64
		held       int // connections net/http holds after the step
	}{
		{"GET /slow1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /slow1 0", 0, 1, 1},
		{"GET /slow2 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /slow2 0", 0, 2, 1},
		{"GET /fast1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /fast1 0", 1, 2, 0},
		{"GET /fast2 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /fast2 0", 2, 2, 0},
		{"GET /slow3 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /slow3 0", 2, 3, 1},
		{"GET /fast3 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /fast3 0", 3, 3, 0},
	} {
		if _, err := io.WriteString(c, step.send); err != nil {
			t.Fatal(err)
		}
		if resp, body := readResponse(t, br, "GET"); body != step.want || resp.Close {
			t.Fatalf("%q: %q (close %v), want %q", step.send, body, resp.Close, step.want)
		}
		if f, sl := h.fast.Load(), h.slow.Load(); f != step.fast || sl != step.slow {
			t.Fatalf("%q: %d fast and %d net/http responses, want %d and %d", step.send, f, sl, step.fast, step.slow)
		}
		eventually(t, fmt.Sprintf("net/http to hold %d connections", step.held), func() bool { return s.activeCount() == step.held })
		if step.held == 1 {
			// Its response is out: net/http lingers for a next request.
			eventually(t, "net/http to wait for a next request", func() bool { return s.waitingCount() == 1 })
		}
	}
}

func TestFastPathNotWhileStopping(t *testing.T) {
	h := &fastHello{}
	s, addr := start(t, &http.Server{Handler: h})
	c, br := dial(t, addr)
	// The connection must be in before stopping begins: the factory
	// refuses those made after.
	eventually(t, "the connection to be made", func() bool { return len(s.snapshot()) == 1 })
	s.stopping.Store(true)
	fmt.Fprint(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if body != "GET /fast 0" || h.fast.Load() != 0 {
		t.Fatalf("%q from the fast path (%d)", body, h.fast.Load())
	}
	if resp.Close {
		t.Log("net/http closes it: keep-alives are on, so this is not expected")
	}
	s.stopping.Store(false)
}

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"HEAD /a/b.txt HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	"GET /x HTTP/1.1\r\nhost: x\r\nX-A:  spaced\t \r\nX-B:\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost : x\r\n\r\n",
	"GET /x?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET //x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /x HTTP/1.0\r\nHost: x\r\n\r\n",
	"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n",
	"GET /x HTTP/1.1\nHost: x\n\n",
	"GET  /x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /x HTTP/1.1 \r\nHost: x\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: [::1]:80\r\nX: \xff\xfe\r\n\r\n",
	"GET /aa!0 HTTP/1.1\r\nHost:0\r\n\r\n", // '!' gives net/url a RawPath
}

// FuzzParseHead: whatever the fast path's parser takes, net/http reads
// the same way — same method, target, path, Host and header values, no
// body, keep-alive — and its server would accept.
func FuzzParseHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := &FastRequest{}
		if len(s) > maxFastHead || !strings.HasSuffix(s, "\r\n\r\n") || !parseHead(s, r) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
		if err != nil {
			t.Fatalf("fast path took %q, net/http: %v", s, err)
		}
		if req.Method != r.Method || req.RequestURI != r.Target || req.URL.Path != r.Target ||
			req.URL.RawPath != "" || req.URL.RawQuery != "" || req.Host != r.Host {
			t.Fatalf("%q: net/http %q %q %q %q host %q; fast %q %q host %q", s, req.Method, req.RequestURI,
				req.URL.Path, req.URL.RawQuery, req.Host, r.Method, r.Target, r.Host)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 || req.Close || !req.ProtoAtLeast(1, 1) ||
			!httpguts.ValidHostHeader(req.Host) {
			t.Fatalf("%q: net/http sees a body, a close or a bad host", s)
		}
		n := 0
		for k, vv := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("%q: bad name %q", s, k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("%q: bad value %q", s, v)
				}
			}
			n += len(vv)
		}
		if n != len(r.Header)-1 { // net/http moves Host out of Header
			t.Fatalf("%q: %d header values in net/http, %d in the fast path", s, n, len(r.Header))
		}
		for _, kv := range r.Header {
			if strings.EqualFold(kv[0], "Host") {
				continue
			}
			if !slices.Contains(req.Header.Values(kv[0]), kv[1]) {
				t.Fatalf("%q: %s: %q not in net/http's %q", s, kv[0], kv[1], req.Header.Values(kv[0]))
			}
		}
	})
}
