package policy

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twistd-go/twistd/protocol"
)

// WrapFactory applies the policies to every connection a factory serves
// (Twisted's WrappingFactory): a refused connection gets no protocol, so
// the reactor closes it at once.
func (p *Policy) WrapFactory(f protocol.Factory) protocol.Factory {
	return p.WrapFactoryOverflow(f, nil)
}

// WrapFactoryOverflow is WrapFactory with an overflow protocol (Twisted's
// LimitTotalConnectionsFactory.overflowProtocol): a connection over
// MaxConnections gets a protocol from overflow, under the same idle
// timeout and rate limits, instead of being closed at once; BusyFactory
// is one. At most MaxConnections overflow connections are open at once,
// the rest are closed; the other limits refuse as ever. A nil overflow
// is WrapFactory.
func (p *Policy) WrapFactoryOverflow(f, overflow protocol.Factory) protocol.Factory {
	return protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol {
		release, reason := p.admit(peer)
		build := f
		if reason == ReasonMaxConnections && overflow != nil {
			var ok bool
			if release, ok = p.admitOverflow(); ok {
				reason, build = "", overflow
				p.refused.Refuse(zapcore.DebugLevel, "connection over the limit; overflow protocol", ReasonMaxConnections, peer)
			}
		}
		if reason != "" {
			p.refused.Refuse(zapcore.DebugLevel, "connection refused", reason, peer)
			return nil
		}
		inner := build.BuildProtocol(peer)
		if inner == nil {
			release()
			return nil
		}
		// Without a write limit, sendfile may pass through.
		w := &wrapped{p: p, inner: inner, release: release, peer: peer, began: time.Now(), sendFile: p.write == nil}
		_, isProducer := inner.(protocol.PullProducer)
		_, isHalfCloser := inner.(protocol.HalfCloser)
		switch {
		case isProducer && isHalfCloser:
			return struct {
				*wrapped
				producing
				halfClosing
			}{w, producing{w}, halfClosing{w}}
		case isProducer:
			return struct {
				*wrapped
				producing
			}{w, producing{w}}
		case isHalfCloser:
			return struct {
				*wrapped
				halfClosing
			}{w, halfClosing{w}}
		}
		return w
	})
}

// wrapped is one connection under the policies: the Protocol the reactor
// drives and the Transport the inner protocol writes through.
type wrapped struct {
	p       *Policy
	inner   protocol.Protocol
	release func()
	peer    net.Addr
	began   time.Time
	t       protocol.Transport

	in, out atomic.Int64
	idle    *idleWatch // nil without an idle timeout

	sendFile bool // SendFile may pass through (no write limit)

	mu         sync.Mutex
	userPaused bool // the inner protocol paused reading
	throttled  bool // a rate limit paused reading
	unthrottle *time.Timer
	lost       bool
}

func (w *wrapped) ConnectionMade(t protocol.Transport) {
	w.t = t
	if d := w.p.cfg.IdleTimeout; d > 0 {
		w.idle = newIdleWatch(d, func() {
			w.p.log.Debug("idle timeout; closing connection", zap.Stringer("peer", w.peer), zap.Duration("idle_timeout", d))
			w.t.Abort()
		}, nil)
	}
	if cs, ok := t.(protocol.ConnectionStater); ok {
		w.inner.ConnectionMade(tlsWrapped{w, cs})
		return
	}
	w.inner.ConnectionMade(w)
}

func (w *wrapped) DataReceived(data []byte) {
	w.in.Add(int64(len(data)))
	w.idle.touch()
	if w.p.read != nil {
		if wait := w.p.read.take(len(data)); wait > 0 {
			w.throttle(wait)
		}
	}
	w.inner.DataReceived(data)
}

func (w *wrapped) ConnectionLost(err error) {
	w.mu.Lock()
	w.lost = true
	if w.unthrottle != nil {
		w.unthrottle.Stop()
	}
	w.mu.Unlock()
	w.idle.stop()
	w.release()
	w.p.closed(w.peer, w.began, w.in.Load(), w.out.Load())
	w.inner.ConnectionLost(err)
}

// throttle pauses reading for wait: the service is over a rate limit.
func (w *wrapped) throttle(wait time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lost || w.throttled {
		return
	}
	w.throttled = true
	w.t.PauseReading()
	w.unthrottle = time.AfterFunc(wait, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.throttled = false
		if !w.userPaused && !w.lost {
			w.t.ResumeReading()
		}
	})
}

// Write implements protocol.Transport, counting and pacing.
func (w *wrapped) Write(p []byte) {
	w.sending(len(p))
	w.t.Write(p) // not WriteMany(p): its one-element slice would be allocated per write
	w.sent(len(p))
}

// WriteMore passes protocol.MoreWriter through where SendFile passes
// (no write limit); otherwise it writes p as Write does.
func (w *wrapped) WriteMore(p []byte) {
	mw, ok := w.t.(protocol.MoreWriter)
	if !ok || !w.sendFile {
		w.Write(p)
		return
	}
	w.sending(len(p))
	mw.WriteMore(p)
	w.sent(len(p))
}

// Push passes protocol.MoreWriter through.
func (w *wrapped) Push() {
	if mw, ok := w.t.(protocol.MoreWriter); ok {
		mw.Push()
	}
}

// WriteMany implements protocol.Transport.
func (w *wrapped) WriteMany(bufs ...[]byte) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	w.sending(n)
	w.t.WriteMany(bufs...)
	w.sent(n)
}

// sending counts n bytes about to be written.
func (w *wrapped) sending(n int) {
	w.out.Add(int64(n))
	w.idle.touch()
}

// sent paces the service's writing once n bytes were queued: writes never
// block, so what stops is this connection's reading and producing, until
// the service has paid the bytes off.
func (w *wrapped) sent(n int) {
	if w.p.write != nil && n > 0 {
		if wait := w.p.write.take(n); wait > 0 {
			w.throttle(wait)
		}
	}
}

// PauseReading implements protocol.Transport.
func (w *wrapped) PauseReading() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.userPaused = true
	w.t.PauseReading()
}

// ResumeReading implements protocol.Transport.
func (w *wrapped) ResumeReading() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.userPaused = false
	if !w.throttled {
		w.t.ResumeReading()
	}
}

func (w *wrapped) LoseConnection()                      { w.t.LoseConnection() }
func (w *wrapped) RegisterProducer(p protocol.Producer) { w.t.RegisterProducer(p) }
func (w *wrapped) Abort()                               { w.t.Abort() }
func (w *wrapped) CloseWrite()                          { w.t.CloseWrite() }
func (w *wrapped) PeerAddr() net.Addr                   { return w.t.PeerAddr() }
func (w *wrapped) HostAddr() net.Addr                   { return w.t.HostAddr() }

// CallLater implements protocol.Transport: the transport below runs the
// call, serialised with the connection's callbacks, which pass through here.
func (w *wrapped) CallLater(d time.Duration, f func()) protocol.Timer { return w.t.CallLater(d, f) }

// SendFile passes sendfile(2) through when the transport below offers it
// and no write limit applies; otherwise it reports the operation
// unsupported and the caller copies.
func (w *wrapped) SendFile(f *os.File, off, n int64) (int64, error) {
	fs, ok := w.t.(protocol.FileSender)
	if !ok || !w.sendFile {
		return 0, errors.ErrUnsupported
	}
	sent, err := fs.SendFile(f, off, n)
	w.out.Add(sent)
	w.idle.touch()
	return sent, err
}

// Detach passes protocol.Detacher through: the connection leaves the
// policies with its socket (it is counted closed once the reactor lets it
// go, and no idle timeout applies to it any more).
func (w *wrapped) Detach() (*os.File, error) {
	d, ok := w.t.(protocol.Detacher)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	f, err := d.Detach()
	if err == nil {
		w.idle.stop()
	}
	return f, err
}

// tlsWrapped is the transport of a TLS connection under the policies: the
// handshake's outcome passes through.
type tlsWrapped struct {
	*wrapped
	cs protocol.ConnectionStater
}

func (t tlsWrapped) ConnectionState() tls.ConnectionState { return t.cs.ConnectionState() }

// producing passes the reactor's production calls to a PullProducer.
type producing struct{ w *wrapped }

func (p producing) ResumeProducing() { p.w.inner.(protocol.PullProducer).ResumeProducing() }

// halfClosing passes the peer's EOF to a HalfCloser.
type halfClosing struct{ w *wrapped }

func (h halfClosing) ReadConnectionLost() { h.w.inner.(protocol.HalfCloser).ReadConnectionLost() }

var (
	_ protocol.Protocol   = (*wrapped)(nil)
	_ protocol.Transport  = (*wrapped)(nil)
	_ protocol.FileSender = (*wrapped)(nil)
	_ protocol.MoreWriter = (*wrapped)(nil)
	_ protocol.Detacher   = (*wrapped)(nil)

	_ protocol.ConnectionStater = tlsWrapped{}
	_ protocol.FileSender       = tlsWrapped{}
)
