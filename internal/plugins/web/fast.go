package web

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/protocol/httpconn"
)

// fastMaxBody bounds the files answered on the event loop: what the
// socket does not take at once is copied into the transport's queue there.
const fastMaxBody = 64 << 10

// fastResponse is the rendered head of a 200 response (the body is the
// entry's bytes), valid during one second for one handler.
type fastResponse struct {
	h    *handler
	sec  int64
	vary bool
	head []byte
}

// ServeFast implements httpconn.FastHandler: a GET or HEAD of a small
// cached file on the default site, without Range, conditionals,
// Authorization or Accept-Encoding (when compression applies), answered
// with the bytes net/http would send. Anything else goes to ServeHTTP, and
// so does a file not cached yet: the loop answers from memory only (its
// one system call is the stat that checks the entry is current).
func (h *handler) ServeFast(r *httpconn.FastRequest) bool {
	if !h.fastable() {
		return false
	}
	start := time.Now()
	for _, kv := range r.Header {
		k := kv[0]
		if len(k) > 3 && strings.EqualFold(k[:3], "If-") || strings.EqualFold(k, "Range") ||
			strings.EqualFold(k, "Authorization") {
			return false
		}
	}
	name, dirSlash, err := cleanPath(r.Target, "")
	if err != nil || dirSlash || name == "." || hidden(name, h.opts.Hidden) {
		return false
	}
	// Only what is in memory already: reading the file here would hold
	// up every connection on the loop. net/http serves a miss, on its
	// own goroutine, and its read warms the entry for the next request.
	e := h.site.cache.fresh(name)
	if e == nil || e.data == nil || e.size > fastMaxBody {
		return false
	}
	vary := h.opts.Compress && compressible(e.ctype)
	if _, ok := r.Get("Accept-Encoding"); ok && vary {
		return false
	}
	resp := e.fast.Load()
	if sec := start.Unix(); resp == nil || resp.h != h || resp.sec != sec || resp.vary != vary {
		resp = h.renderFast(e, sec, vary)
		e.fast.Store(resp)
	}
	var size int64
	if r.Method == http.MethodHead {
		r.Write(resp.head, nil)
	} else {
		r.Write(resp.head, e.data)
		size = e.size
	}
	h.count(http.StatusOK, start)
	if a := h.access.Load(); a != nil {
		ref, _ := r.Get("Referer")
		agent, _ := r.Get("User-Agent")
		var peer string
		if r.Peer != nil {
			peer = r.Peer.String()
		}
		if err := a.logLine(peer, "", r.Method, r.Target, "HTTP/1.1", ref, agent, http.StatusOK, size, start); err != nil {
			h.log.Warn("writing the access log", zap.Error(err))
		}
	}
	return true
}

// fastable reports whether this handler's requests may take the fast
// path at all: no basic auth, proxy or virtual host routes, and no
// add_headers net/http would act on.
func (h *handler) fastable() bool {
	if h.auth != nil || len(h.proxies) > 0 || len(h.vhosts) > 0 {
		return false
	}
	for _, kv := range h.headers {
		switch kv[0] {
		case "Connection", "Transfer-Encoding", "Date", "Content-Length", "Trailer", "Keep-Alive", "Upgrade":
			return false
		}
	}
	return true
}

// renderFast renders the head of e's 200 response for second sec with the headers
// route and sendEntry set and the Date net/http adds.
func (h *handler) renderFast(e *entry, sec int64, vary bool) *fastResponse {
	hdr := make(http.Header, len(h.headers)+7)
	for _, kv := range h.headers {
		hdr[kv[0]] = []string{kv[1]}
	}
	if vary {
		hdr["Vary"] = hdrVaryEncoding
	}
	hdr["Content-Type"] = e.hdrCType
	hdr["Etag"] = e.hdrETag
	hdr["Last-Modified"] = e.hdrLastMod
	hdr["Accept-Ranges"] = hdrBytes
	hdr["Content-Length"] = e.hdrLength
	hdr["Date"] = []string{time.Unix(sec, 0).UTC().Format(http.TimeFormat)}
	var b bytes.Buffer
	b.Grow(512)
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	return &fastResponse{h: h, sec: sec, vary: vary, head: b.Bytes()}
}

// hostOnly is the host of a host:port address.
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// ServeRejected implements httpconn.RejectHandler: a request net/http
// refused before the handler is counted and logged as any other, with
// the request line as it came ("-" when none did).
func (h *handler) ServeRejected(r *httpconn.RejectedRequest) {
	start := r.Start
	if start.IsZero() {
		start = time.Now()
	}
	h.count(r.Status, start)
	a := h.access.Load()
	if a == nil {
		return
	}
	var peer string
	if r.Peer != nil {
		peer = r.Peer.String()
	}
	line := r.RequestLine
	if line == "" {
		line = "-"
	}
	if err := a.logLine(peer, "", line, "", "", "", "", r.Status, r.Size, start); err != nil {
		h.log.Warn("writing the access log", zap.Error(err))
	}
}

var (
	_ httpconn.FastHandler   = (*handler)(nil)
	_ httpconn.RejectHandler = (*handler)(nil)
)

// fastSlot is the rendered response an entry keeps for the fast path.
type fastSlot = atomic.Pointer[fastResponse]
