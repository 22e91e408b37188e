package httpconn

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// FastHandler is an optional capability of a Server's http.Handler: it
// answers the plainest requests on the event loop itself, with no
// goroutine and no net/http connection state. New finds it by type
// assertion.
type FastHandler interface {
	// ServeFast either answers r with exactly one r.Write of the whole
	// response (status line and headers, then the body, as net/http
	// would send them on a keep-alive HTTP/1.1 connection) and reports
	// true, or
	// writes nothing and reports false: the request then goes to
	// net/http as usual. It runs on the event loop, so it answers from
	// memory only — nothing beyond a stat; what it would have to read
	// it declines, and net/http reads it on its own goroutine — and
	// must not keep r (or its strings' bytes beyond the call): r is
	// reused.
	ServeFast(r *FastRequest) bool
}

// FastRequest is one request head taken on the fast path: a GET or HEAD
// of an origin-form target without '%', '?' or '#', HTTP/1.1, a single
// valid Host, no body and no Connection, Expect or Upgrade header.
type FastRequest struct {
	Method string      // GET or HEAD
	Target string      // the request target, also the URL's path
	Host   string      // the Host header
	Header [][2]string // every header line as sent (Host included), name and trimmed value
	Peer   net.Addr    // the peer's address

	w    writer
	bufs [2][]byte // Write's head and body, so WriteMany's arguments are not a fresh slice
}

// writer is where a FastRequest's response goes: the transport.
type writer interface {
	Write(p []byte)
	WriteMany(bufs ...[]byte)
}

// NewFastRequest parses head, one complete request head, as the event
// loop does, with w taking the response: for tests and tools. ok is false
// when the head would go to net/http.
func NewFastRequest(head []byte, peer net.Addr, w interface {
	Write(p []byte)
	WriteMany(bufs ...[]byte)
}) (r *FastRequest, ok bool) {
	if len(head) > maxFastHead || bytes.Index(head, endOfHead) != len(head)-len(endOfHead) {
		return nil, false
	}
	r = &FastRequest{Peer: peer, w: w}
	if !parseHead(string(head), r) {
		return nil, false
	}
	return r, true
}

// Get returns the value of the first header named name (any case).
func (r *FastRequest) Get(name string) (string, bool) {
	for _, kv := range r.Header {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

// Write queues a response, its head then its body (nil for none), on the
// connection: one write(2) or writev(2) when the socket takes it all.
func (r *FastRequest) Write(head, body []byte) {
	if len(body) == 0 {
		r.w.Write(head)
		return
	}
	r.bufs = [2][]byte{head, body}
	r.w.WriteMany(r.bufs[:]...)
	r.bufs = [2][]byte{}
}

// maxFastHead bounds a request head the fast path parses; longer ones
// (and anything net/http would have to look at twice) go to net/http.
const maxFastHead = 4096

var fastRequests = sync.Pool{New: func() any { return &FastRequest{Header: make([][2]string, 0, 16)} }}

var endOfHead = []byte("\r\n\r\n")

// serveFastLocked answers data on the event loop when it is exactly one
// request head the fast handler takes. c.mu is held on entry and on
// return; it is released while the handler runs (the transport may pause
// or resume the gate from inside Write). It reports whether the request
// was answered; when not, the caller must re-check c.closing.
func (c *conn) serveFastLocked(data []byte) bool {
	if len(data) > maxFastHead || bytes.Index(data, endOfHead) != len(data)-len(endOfHead) {
		return false // partial, pipelined, with a body, or too long
	}
	req := fastRequests.Get().(*FastRequest)
	defer func() {
		clear(req.Header)
		*req = FastRequest{Header: req.Header[:0]}
		fastRequests.Put(req)
	}()
	// The head's string shares data's bytes: FastHandler may not keep r
	// or its strings beyond the call, and data is not touched before it
	// returns. A copy was one allocation per request.
	if !parseHead(unsafe.String(unsafe.SliceData(data), len(data)), req) {
		return false
	}
	req.w, req.Peer = c.t, c.t.PeerAddr()
	c.served = true
	c.expiry = time.Time{}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	ok := c.s.fast.ServeFast(req)
	c.mu.Lock()
	if a := c.act; ok && a != nil {
		// net/http was lingering for a next request (DataReceived
		// checked) and this one is answered: end its hold, as the
		// linger's end would. A declined request stays its to serve.
		a.done, a.handedBack, a.waiting = true, true, false
		a.alarm.StopLocked()
		a.cond.Broadcast()
		c.act = nil
	}
	if ok && !c.closing && !c.lost {
		c.parkLocked(c.s.idle)
	}
	return ok
}

// parseHead parses a complete request head (ending in an empty line) into
// r, reporting false on anything that is not a plain fast-path request or
// that net/http might read differently: such heads go to net/http.
func parseHead(s string, r *FastRequest) bool {
	line, rest, ok := strings.Cut(s, "\r\n")
	if !ok {
		return false
	}
	method, line, ok := strings.Cut(line, " ")
	if !ok || method != "GET" && method != "HEAD" {
		return false
	}
	target, proto, ok := strings.Cut(line, " ")
	if !ok || proto != "HTTP/1.1" || !plainTarget(target) {
		return false
	}
	r.Method, r.Target = method, target
	hosts := 0
	for {
		line, rest, ok = strings.Cut(rest, "\r\n")
		if !ok {
			return false
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validName(name) {
			return false // no colon, obs-fold, a space before the colon
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return false
		}
		switch {
		case strings.EqualFold(name, "Host"):
			if hosts++; hosts > 1 || !plainHost(value) {
				return false
			}
			r.Host = value
		case strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Transfer-Encoding"),
			strings.EqualFold(name, "Connection"), strings.EqualFold(name, "Expect"),
			strings.EqualFold(name, "Upgrade"):
			return false
		}
		r.Header = append(r.Header, [2]string{name, value})
	}
	return hosts == 1 && rest == ""
}

// plainTarget reports whether t is an origin-form target that is its own
// decoded path, in the form net/url would escape it (so URL.RawPath is
// empty): a slash, then letters, digits and -._~$&+,;=:@/ only — no '%',
// '?' or '#', and no "//" start.
func plainTarget(t string) bool {
	if len(t) == 0 || t[0] != '/' || strings.HasPrefix(t, "//") {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~$&+,;=:@/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// plainHost reports whether h is a non-empty host[:port] of letters,
// digits and . - _ : [ ] only.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(".-_:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validName reports whether n is a non-empty token (RFC 9110 §5.6.2).
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether v holds no control character but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
