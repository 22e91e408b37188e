package httpconn

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/twistd-go/twistd/protocol"

	"github.com/twistd-go/twistd/internal/alarm"
)

// maxBuffered bounds what a connection holds of its peer's bytes before
// net/http reads them: past it, the transport stops reading (a request
// body waits in the kernel until the handler wants it).
const maxBuffered = 64 << 10

// bufioSize is the size of net/http's read buffer (bufio's default). A
// read asking for that much while net/http waits for a next request means
// its buffer is empty: nothing of a next request has arrived, so the
// connection can park.
const bufioSize = 4096

// conn is the protocol of one connection. It calls the transport's
// PauseReading and ResumeReading with c.mu held, so they apply in order;
// the transport never calls back into the protocol from them. Between
// requests a conn is all that the connection costs: a few words and, while
// parked, one timer.
type conn struct {
	s *Server
	t protocol.Transport

	mu      sync.Mutex
	act     *active // net/http's view while a request is served; nil while parked
	in      []byte  // received, not yet read by net/http
	paused  bool    // we paused reading: in is full
	full    bool    // the transport's write queue is full
	resumes uint32  // ResumeProducing calls, to order them against a pause
	eof     bool    // the peer finished sending, or the connection is lost
	lost    bool    // ConnectionLost was called
	closing bool    // we closed it; what arrives is dropped
	served  bool    // a request arrived (a fresh connection has none)
	// graced: parked during a stop, for the rest of its grace, when
	// net/http let go of it lingering after a response.
	graced bool
	timer  *time.Timer
	expiry time.Time // when the parked connection times out; zero: never
	fr     framer    // the framing of what goes to net/http

	// h2 is the HTTP/2 connection this one became; nil: HTTP/1. Set
	// under mu in a callback; the callbacks read it without.
	h2      *protocol.Conn
	sniffed bool // the first data was seen (only the callbacks use it)
}

// gate is the conn's write back-pressure: the transport pauses it when
// its queue is full and resumes it once the queue has drained.
type gate struct{ c *conn }

func (g gate) PauseProducing() {
	g.c.mu.Lock()
	g.c.full = true
	g.c.mu.Unlock()
}

func (g gate) ResumeProducing() {
	c := g.c
	c.mu.Lock()
	c.full = false
	c.resumes++
	if c.act != nil {
		c.act.cond.Broadcast()
	}
	c.mu.Unlock()
}

// ConnectionMade implements protocol.Protocol.
func (c *conn) ConnectionMade(t protocol.Transport) {
	c.t = t
	t.RegisterProducer(gate{c})
	c.mu.Lock()
	c.parkLocked(c.s.firstRequest)
	c.mu.Unlock()
}

// DataReceived implements protocol.Protocol: the bytes go to the request
// being served, are answered on the loop by the fast path, or wake the
// connection up for a new one.
func (c *conn) DataReceived(data []byte) {
	if c.h2 != nil {
		c.h2.DataReceived(data)
		return
	}
	if !c.sniffed {
		c.sniffed = true
		if c.serveH2(data) {
			return
		}
	}
	c.mu.Lock()
	if c.closing || c.lost {
		c.mu.Unlock()
		return
	}
	if (c.act == nil || c.act.waiting) && len(c.in) == 0 && c.fr.idle() && c.s.fast != nil && !c.full && !c.eof && !c.s.stopping.Load() {
		// Parked, or with net/http only lingering for a next request
		// (its response is out, it holds nothing of a next one): the
		// loop answers what the fast path takes, and a lingering
		// net/http lets go of the connection, as when its linger ends.
		// Without this, a connection that once went to net/http would
		// stay there for as long as its client kept it busy.
		if c.serveFastLocked(data) {
			c.mu.Unlock()
			return
		}
		if c.closing || c.lost {
			c.mu.Unlock()
			return
		}
	}
	before := len(c.in)
	c.in, _ = c.fr.feed(c.in, data)
	if len(c.in) == before && c.fr.state == frameRefused {
		c.mu.Unlock() // what follows a refused head is dropped
		return
	}
	if !c.paused && len(c.in) >= maxBuffered {
		// Under c.mu, so that a Read's resume cannot overtake it.
		c.paused = true
		c.t.PauseReading()
	}
	var start *active
	if c.act != nil {
		c.act.cond.Broadcast()
	} else {
		start = c.activateLocked()
	}
	c.mu.Unlock()
	if start != nil {
		c.s.ln.push(start.netConn())
	}
}

// activateLocked makes the net.Conn net/http serves the next request on.
func (c *conn) activateLocked() *active {
	c.served = true
	c.expiry = time.Time{}
	if c.timer != nil {
		c.timer.Stop()
	}
	a := &active{c: c}
	a.cond.L = &c.mu
	a.alarm.Init(&a.cond)
	c.act = a
	return a
}

// parkLocked leaves the connection on its loop until its next request,
// closing it after d without one (d == 0: never).
func (c *conn) parkLocked(d time.Duration) {
	c.act = nil
	c.in = nil
	if d <= 0 {
		return
	}
	c.expiry = time.Now().Add(d)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.expire)
	} else {
		c.timer.Reset(d)
	}
}

// lose closes the connection once what is queued is sent, and aborts it
// if that takes longer than the write timeout: a peer that never reads
// would otherwise hold it, and its queue, forever.
func (c *conn) lose() {
	c.t.LoseConnection()
	if d := c.s.writeIdle; d > 0 {
		time.AfterFunc(d, func() {
			c.mu.Lock()
			lost := c.lost
			c.mu.Unlock()
			if !lost {
				c.t.Abort()
			}
		})
	}
}

// expire closes a connection parked too long.
func (c *conn) expire() {
	c.mu.Lock()
	due := c.act == nil && !c.closing && !c.expiry.IsZero() && !time.Now().Before(c.expiry)
	if due {
		c.closing = true
	}
	c.mu.Unlock()
	if due {
		c.lose()
	}
}

// ReadConnectionLost implements protocol.HalfCloser: a request sent with
// a half-close is still answered; a parked connection closes.
func (c *conn) ReadConnectionLost() {
	if c.h2 != nil {
		c.h2.ReadConnectionLost()
		return
	}
	c.mu.Lock()
	c.eof = true
	c.in = c.fr.flush(c.in)
	idle := c.act == nil && !c.closing
	if idle {
		c.closing = true
	} else if c.act != nil {
		c.act.cond.Broadcast()
	}
	c.mu.Unlock()
	if idle {
		c.lose()
	}
}

// ConnectionLost implements protocol.Protocol.
func (c *conn) ConnectionLost(err error) {
	if c.h2 != nil {
		c.h2.ConnectionLost(err)
	}
	c.mu.Lock()
	c.lost, c.eof, c.closing = true, true, true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.act != nil {
		c.act.cond.Broadcast()
	}
	c.mu.Unlock()
	c.s.remove(c)
}

// isWaiting reports whether c waits for a request: parked, fresh or after
// one, or with net/http lingering for its next one.
func (c *conn) isWaiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.h2 != nil {
		return false
	}
	return c.act == nil || c.act.waiting
}

// stop closes c if it is parked: always after a request, and before its
// first one only when fresh is set. One lingering after a response (its
// client likely sending its next request now) parks for the rest of the
// stop's grace instead. An HTTP/2 connection is left to its server.
func (c *conn) stop(fresh bool) {
	c.mu.Lock()
	if c.h2 != nil {
		c.mu.Unlock()
		return // the HTTP/2 server's GOAWAY closes it
	}
	if c.act != nil {
		c.act.cond.Broadcast()
	}
	idle := c.act == nil && !c.closing && (c.served && !c.graced || fresh)
	if idle {
		c.closing = true
	}
	c.mu.Unlock()
	if idle {
		c.lose()
	}
}

// abort closes c at once, dropping whatever is queued.
func (c *conn) abort() {
	c.mu.Lock()
	c.closing = true
	if c.act != nil {
		c.act.done = true
		c.act.cond.Broadcast()
	}
	c.mu.Unlock()
	c.t.Abort()
}

// active is the net.Conn net/http serves one or more requests on. It
// lives from the first byte of a request until net/http lets go of the
// connection: then the conn parks and a next request gets a new active.
type active struct {
	c    *conn
	cond sync.Cond // on c.mu: data, a deadline, the write queue draining

	done    bool // net/http closed it, or the conn parked
	waiting bool // Read waits for a next request's first bytes, holding none
	// handedBack: done because the loop's fast path took the connection
	// back while Read was waiting.
	handedBack bool
	idle       int // 1 after StateIdle, 2 once net/http set its idle deadline
	// handled: a handler began on the current request, so writes are
	// its answer; a write without is net/http's own refusal.
	handled  bool
	began    time.Time // when the current request's first bytes came
	rdl, wdl time.Time
	// readBy and writeBy end a Read waiting for the peer's bytes and a
	// Write waiting for the peer to take the queued ones (the read and
	// write timeouts); zero: not waiting.
	readBy, writeBy time.Time
	// lingerUntil is when an idle connection parks; zero: not idle yet.
	lingerUntil time.Time
	alarm       alarm.Alarm // wakes waiters at a deadline

	// inRequest: net/http holds a request it has not answered yet, from
	// the Read that handed it bytes (heads go on whole) or its
	// StateActive until its StateIdle or StateClosed. closeLater: a Close
	// came meanwhile, while stopping, and waits for that (see Close).
	inRequest, closeLater bool
	hijacked              bool // a handler took the connection over
	// fileNext: the handler's next write is the response's head, and a
	// file follows it by ReadFrom at once (FileFollows). held: that
	// write went out with MoreWriter and nothing has followed it yet.
	fileNext, held bool
	// peek is the byte net/http's one-byte read took while a handler ran:
	// the next request's first, which net/http holds until it reads that
	// request (peeked: held). Should net/http close the connection
	// instead (stopping), the byte goes back in front of c.in.
	peek   byte
	peeked bool
}

// netConn is a as net/http gets it: on a TLS transport, with the
// ConnectionState net/http sets r.TLS from.
func (a *active) netConn() net.Conn {
	if cs, ok := a.c.t.(protocol.ConnectionStater); ok {
		return tlsActive{a, cs}
	}
	return a
}

// tlsActive is an active over a TLS transport.
type tlsActive struct {
	*active
	cs protocol.ConnectionStater
}

func (t tlsActive) ConnectionState() tls.ConnectionState { return t.cs.ConnectionState() }

// stater is what the ConnState hook finds on an active, with or without TLS.
type stater interface{ state(http.ConnState) }

// state follows net/http's view of the connection: between StateIdle and
// the next request's read deadline, net/http only waits for that
// request's first bytes.
func (a *active) state(st http.ConnState) {
	c := a.c
	c.mu.Lock()
	switch st {
	case http.StateIdle:
		a.idle = 1
		a.handled = false
		a.inRequest = false
	case http.StateActive:
		a.idle = 0
		a.inRequest = true
		a.peeked = false
	case http.StateHijacked:
		// No longer HTTP: what is held and what comes goes as it is,
		// and the handler that took it closes it.
		c.in = c.fr.flush(c.in)
		c.fr.off()
		a.idle = 0
		a.hijacked, a.inRequest, a.closeLater = true, false, false
	case http.StateClosed:
		a.idle = 0
		a.inRequest = false
	default:
		a.idle = 0
	}
	a.lingerUntil = time.Time{}
	if a.closeLater && !a.inRequest && st == http.StateIdle && !a.done && c.s.stopping.Load() {
		// net/http's SetKeepAlivesEnabled(false) closed the connection
		// as idle between marking it so and telling us: the Close came
		// while the request looked unanswered, and is the close between
		// requests that the grace covers, as in Close. Its client may
		// be sending its next request on a response without
		// Connection: close.
		if a.graceLocked() {
			return
		}
	}
	lose := a.closeLater && !a.inRequest && a.closeLocked()
	c.mu.Unlock()
	if lose {
		c.lose()
	}
}

// Read implements net.Conn.
func (a *active) Read(p []byte) (int, error) {
	c := a.c
	c.mu.Lock()
	for {
		switch {
		case a.done && a.handedBack:
			// The loop took the connection back between requests: to
			// net/http, the client closed it.
			c.mu.Unlock()
			return 0, io.EOF
		case a.done:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case len(c.in) > 0:
			// A one-byte read while a handler runs is net/http watching
			// for the peer going away; what it gets is the next
			// request's first byte.
			a.peek, a.peeked = c.in[0], len(p) == 1 && a.handled && a.idle == 0
			n := copy(p, c.in)
			c.in = c.in[n:]
			if len(c.in) == 0 {
				c.in = nil
			}
			if c.paused && len(c.in) < maxBuffered/2 {
				c.paused = false
				c.t.ResumeReading()
			}
			if a.idle > 0 || a.began.IsZero() {
				a.began = time.Now()
			}
			a.inRequest = !a.hijacked
			a.readBy = time.Time{}
			a.lingerUntil = time.Time{}
			c.mu.Unlock()
			return n, nil
		case c.eof:
			c.mu.Unlock()
			return 0, io.EOF
		}
		if a.idle > 0 && len(p) >= bufioSize && len(c.fr.held) == 0 {
			// net/http waits for a next request and holds none of it.
			// Linger a little (a busy client's next request comes
			// soon), then park: net/http sees the end of the
			// connection and lets go of it.
			now := time.Now()
			stopping := c.s.stopping.Load()
			if a.lingerUntil.IsZero() && c.s.linger > 0 && !stopping {
				a.lingerUntil = now.Add(c.s.linger)
				a.armLocked()
			}
			if stopping || !now.Before(a.lingerUntil) {
				// net/http lets go; the connection parks, and while
				// stopping waits the rest of the grace for one more
				// request (answered with Connection: close).
				a.done = true
				a.alarm.StopLocked()
				d, lose := c.s.idle, false
				if stopping {
					d = c.s.graceLeft()
					lose = d <= 0
					c.closing, c.graced = lose, !lose
				}
				c.parkLocked(d)
				c.mu.Unlock()
				if lose {
					c.lose()
				}
				return 0, io.EOF
			}
		}
		if !a.rdl.IsZero() && !time.Now().Before(a.rdl) {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if a.idle == 0 && len(p) > 1 && c.s.readIdle > 0 {
			// A request (head or body) waits for its peer's next
			// bytes. (net/http's one-byte reads watch for the peer
			// going away while a handler runs: not a wait for them.)
			switch now := time.Now(); {
			case a.readBy.IsZero():
				a.readBy = now.Add(c.s.readIdle)
				a.armLocked()
			case !now.Before(a.readBy):
				a.readBy = time.Time{}
				c.mu.Unlock()
				return 0, os.ErrDeadlineExceeded
			}
		}
		a.waiting = a.idle > 0 && len(p) >= bufioSize && len(c.fr.held) == 0
		a.cond.Wait()
		a.waiting = false
	}
}

// Write implements net.Conn: the bytes are queued on the transport (they
// mostly go straight to the socket), then Write waits while the queue is
// over its high water mark.
func (a *active) Write(p []byte) (int, error) {
	// In pieces, each queued once the one before has drained below the
	// transport's high water mark: what a connection holds for a peer
	// that does not read stays bounded by that mark plus one piece,
	// whatever the size of net/http's writes.
	for n := 0; ; {
		m, err := a.write(p[n:min(len(p), n+maxWrite)])
		if n += m; err != nil || n == len(p) {
			return n, err
		}
	}
}

// maxWrite is the most one Write queues on the transport at once.
const maxWrite = 32 << 10

func (a *active) write(p []byte) (int, error) {
	c := a.c
	c.mu.Lock()
	if err := a.writableLocked(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	resumes := c.resumes
	handled, line, began := a.handled, c.fr.request, a.began
	if !handled {
		a.handled = true // one report per refusal
	}
	var mw protocol.MoreWriter
	if a.fileNext {
		mw, _ = c.t.(protocol.MoreWriter)
	}
	a.fileNext, a.held = false, mw != nil
	c.mu.Unlock()
	if mw != nil {
		mw.WriteMore(p)
	} else {
		c.t.Write(p)
	}
	if !handled {
		a.rejected(p, line, began)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full && c.resumes != resumes {
		// The transport pauses its producer after releasing its lock,
		// inside this Write: the loop's resume can overtake that pause.
		// A resume seen during this Write with the pause standing means
		// it did: the queue has drained already.
		c.full = false
	}
	if err := a.drainLocked(); err != nil {
		return len(p), err
	}
	return len(p), nil
}

// drainLocked waits while the transport's queue is full, up to the write
// timeout. A peer that takes nothing that long, or past the write
// deadline, gets its connection aborted: closing it gracefully would wait
// for queued bytes that never drain. c.mu is held on entry and on return;
// it is released to abort.
func (a *active) drainLocked() error {
	c := a.c
	defer func() { a.writeBy = time.Time{} }()
	for c.full {
		err := a.writableLocked()
		if err == nil && c.s.writeIdle > 0 {
			switch now := time.Now(); {
			case a.writeBy.IsZero():
				a.writeBy = now.Add(c.s.writeIdle)
				a.armLocked()
			case !now.Before(a.writeBy):
				err = os.ErrDeadlineExceeded
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.closing = true
			c.mu.Unlock()
			c.t.Abort()
			c.mu.Lock()
		}
		if err != nil {
			return err
		}
		a.cond.Wait()
	}
	return nil
}

func (a *active) writableLocked() error {
	switch {
	case a.done, a.c.lost:
		return net.ErrClosed
	case !a.wdl.IsZero() && !time.Now().Before(a.wdl):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// copyBuffers hold a response body on its way from a reader (a file) to
// the transport, one Write piece at a time: a connection waiting for a
// peer that does not read holds one.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, maxWrite); return &b }}

// ReadFrom implements io.ReaderFrom: net/http hands it a response body
// once the headers are out. A file (alone or under an io.LimitedReader,
// as io.CopyN passes it) goes out with sendfile when the transport can;
// anything else is copied through the transport.
func (a *active) ReadFrom(r io.Reader) (int64, error) {
	defer a.noFileNext()
	if fs, ok := a.c.t.(protocol.FileSender); ok {
		if n, done, err := a.sendFile(fs, r); done {
			return n, err
		}
	}
	return a.copyFrom(r)
}

// noFileNext ends what FileFollows began: a head still held back by
// the transport leaves now.
func (a *active) noFileNext() {
	a.c.mu.Lock()
	held := a.held
	a.fileNext, a.held = false, false
	a.c.mu.Unlock()
	if mw, ok := a.c.t.(protocol.MoreWriter); ok && held {
		mw.Push()
	}
}

// FileFollows tells the connection serving r that its handler is about to
// hand the response body to ResponseWriter.ReadFrom as a file (an
// *os.File, or an io.LimitedReader of one), which net/http does with the
// response's head flushed just before: that head is then written with
// protocol.MoreWriter, so it leaves in the packets of the file's first
// bytes (sent with sendfile) instead of a packet of its own, as nginx's
// tcp_nopush has it. It holds for the next write only, and ends with the
// ReadFrom or the handler; elsewhere (TLS, HTTP/2, a transport without
// MoreWriter) it does nothing.
func FileFollows(r *http.Request) {
	if a, ok := r.Context().Value(connKey{}).(*active); ok && r.ProtoMajor == 1 {
		a.c.mu.Lock()
		a.fileNext = true
		a.c.mu.Unlock()
	}
}

func (a *active) copyFrom(r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{a}, struct{ io.Reader }{r}, *bp)
}

// maxIdleSpins bounds SendFile calls in a row that send nothing and
// pause nothing: past it the file has shrunk under us, and the copy path
// (which sees its end) takes over.
const maxIdleSpins = 8

// sendFile sends r's bytes with fs.SendFile when r is a regular file or a
// limited reader over one, from the file's offset, and moves the offset
// (and the limit) past what was sent. It waits, on the caller's
// goroutine, while the socket is full. done is false when nothing was
// sent and the copy path must do it all; the copy path also finishes
// what sendfile leaves (a file shrinking meanwhile).
func (a *active) sendFile(fs protocol.FileSender, r io.Reader) (sent int64, done bool, err error) {
	var f *os.File
	lr, _ := r.(*io.LimitedReader)
	limit := int64(-1)
	switch {
	case lr != nil:
		f, _ = lr.R.(*os.File)
		limit = lr.N
	default:
		f, _ = r.(*os.File)
	}
	if f == nil {
		return 0, false, nil
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false, nil
	}
	n := max(fi.Size()-off, 0)
	if limit >= 0 {
		n = min(n, limit)
	}
	if n == 0 {
		return 0, false, nil // let the copy path see the end
	}
	defer func() {
		if sent > 0 {
			if _, serr := f.Seek(off+sent, io.SeekStart); serr != nil && err == nil {
				err = serr
			}
			if lr != nil {
				lr.N -= sent
			}
		}
	}()
	c := a.c
	spins := 0
	for sent < n {
		c.mu.Lock()
		if err := a.writableLocked(); err != nil {
			c.mu.Unlock()
			return sent, true, err
		}
		resumes := c.resumes
		c.mu.Unlock()
		m, err := fs.SendFile(f, off+sent, n-sent)
		if m > 0 {
			c.mu.Lock()
			a.held = false // the file's bytes took the head along
			c.mu.Unlock()
		}
		sent += m
		if err != nil {
			if errors.Is(err, errors.ErrUnsupported) && sent == 0 {
				return 0, false, nil
			}
			return sent, true, err
		}
		if sent == n {
			break
		}
		// Short: the socket is full, or bytes queued by Write (the
		// headers) go first. Either way the transport paused the gate
		// and resumes it once drained; the resume may have come already.
		c.mu.Lock()
		waited := c.full
		if c.full && c.resumes != resumes {
			c.full = false // as in Write: a resume overtook the pause
		}
		if err := a.drainLocked(); err != nil {
			c.mu.Unlock()
			return sent, true, err
		}
		if m == 0 && !waited && c.resumes == resumes {
			spins++
		} else {
			spins = 0
		}
		c.mu.Unlock()
		if spins > maxIdleSpins {
			break
		}
		if spins > 0 {
			runtime.Gosched()
		}
	}
	if sent < n {
		// The file ended early: the copy path finds out where.
		if _, err := f.Seek(off+sent, io.SeekStart); err != nil {
			return sent, true, err
		}
		var rest io.Reader = f
		if limit >= 0 {
			rest = io.LimitReader(f, limit-sent)
		}
		m, err := a.copyFrom(rest)
		sent += m // the deferred Seek lands where the copy stopped
		return sent, true, err
	}
	return sent, true, nil
}

// Close implements net.Conn. After a park it does nothing: the
// connection stays open on its loop.
//
// While stopping, a Close that comes while net/http holds a request it
// has not answered closes the connection only once net/http is done with
// that request (its StateIdle or StateClosed). Shutdown's
// SetKeepAlivesEnabled(false) closes the connections net/http saw idle,
// and that view can be stale: the next request may have been read since,
// and its response be under way. Closing then would cut the response off
// (or drop the request); net/http answers it with Connection: close and
// closes the connection itself after it. The shutdown context still
// bounds the wait: Shutdown aborts what is left when it ends.
func (a *active) Close() error {
	c := a.c
	c.mu.Lock()
	if !a.done && a.inRequest && c.s.stopping.Load() {
		a.closeLater = true
		c.mu.Unlock()
		return nil
	}
	if !a.done && !a.hijacked && a.idle > 0 && c.s.stopping.Load() {
		// net/http closes a connection between requests once stopping
		// (SetKeepAlivesEnabled(false) closes the ones it saw idle, and
		// one that finished a request does not wait for the next).
		if a.graceLocked() {
			return nil
		}
	}
	lose := a.closeLocked()
	c.mu.Unlock()
	if lose {
		c.lose()
	}
	return nil
}

// graceLocked hands a connection net/http closes between requests while
// stopping back to the loop, for the rest of the grace, and reports
// whether it did (false: no grace left). A next request already come
// (with the byte net/http may hold of it) is served at once, with
// Connection: close. c.mu is held on entry and released when it reports
// true.
func (a *active) graceLocked() bool {
	c := a.c
	d := c.s.graceLeft()
	if d <= 0 {
		return false
	}
	a.done = true
	a.alarm.StopLocked()
	a.cond.Broadcast()
	if a.peeked {
		c.in = append([]byte{a.peek}, c.in...)
		a.peeked = false
	}
	var start *active
	if len(c.in) > 0 {
		start = c.activateLocked()
	} else {
		c.graced = true
		c.parkLocked(d)
	}
	c.mu.Unlock()
	if start != nil {
		c.s.ln.push(start.netConn())
	}
	return true
}

// closeLocked ends a and reports whether the connection must be lost
// (c.lose, without c.mu); c.mu is held.
func (a *active) closeLocked() bool {
	c := a.c
	if a.done {
		return false
	}
	a.done = true
	c.closing = true
	c.act = nil
	c.in = nil
	a.alarm.StopLocked()
	a.cond.Broadcast()
	return true
}

// CloseWrite half-closes the connection once what is queued is sent
// (net/http does so before it closes a connection with unread input).
func (a *active) CloseWrite() error {
	a.c.t.CloseWrite()
	return nil
}

// LocalAddr implements net.Conn.
func (a *active) LocalAddr() net.Addr {
	if addr := a.c.t.HostAddr(); addr != nil {
		return addr
	}
	return loopAddr{}
}

// RemoteAddr implements net.Conn.
func (a *active) RemoteAddr() net.Addr { return a.c.t.PeerAddr() }

// SetDeadline implements net.Conn.
func (a *active) SetDeadline(t time.Time) error {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	a.rdl, a.wdl = t, t
	a.armLocked()
	return nil
}

// SetReadDeadline implements net.Conn.
func (a *active) SetReadDeadline(t time.Time) error {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	a.rdl = t
	// net/http sets the idle deadline right after StateIdle, then waits
	// for the next request; its next deadline is the request's own.
	switch a.idle {
	case 1:
		a.idle = 2
	case 2:
		a.idle = 0
		a.lingerUntil = time.Time{}
	}
	a.armLocked()
	return nil
}

// SetWriteDeadline implements net.Conn.
func (a *active) SetWriteDeadline(t time.Time) error {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	a.wdl = t
	a.armLocked()
	return nil
}

// armLocked wakes the waiters now, and again at the nearest deadline.
func (a *active) armLocked() {
	a.alarm.SetLocked(a.rdl, a.wdl, a.lingerUntil, a.readBy, a.writeBy)
}

var (
	_ protocol.Protocol   = (*conn)(nil)
	_ protocol.HalfCloser = (*conn)(nil)
	_ protocol.Producer   = gate{}
	_ net.Conn            = (*active)(nil)
	_ io.ReaderFrom       = (*active)(nil)
	_ io.ReaderFrom       = tlsActive{}
	_ stater              = tlsActive{}

	_ protocol.ConnectionStater = tlsActive{}
)
