package policy

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/twistd-go/twistd/protocol"
)

// maxSpew bounds the bytes of one chunk Spew dumps; the rest is counted.
const maxSpew = 64 << 10

// Spew logs every chunk each of f's connections reads and writes as a hex
// dump, at debug level (Twisted's SpewingFactory, and the hex dumps of
// its TrafficLoggingFactory): the message "data received" or "data
// written", the direction ("in" or "out"), the peer, the length, and
// "hexdump" (at most 64 KiB of it; "truncated" says when a chunk was
// longer). Bytes sent by sendfile(2) are logged by length only. With
// debug disabled on log, the dumps cost nothing but the level check. For
// debugging: it logs everything, secrets included.
func Spew(f protocol.Factory, log *zap.Logger) protocol.Factory {
	if log == nil {
		log = zap.NewNop()
	}
	return protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol {
		inner := f.BuildProtocol(peer)
		if inner == nil {
			return nil
		}
		s := &spewing{log: log, inner: inner, peer: peer}
		return withExtras(s, inner)
	})
}

// spewing is one connection under Spew: the Protocol the reactor drives
// and the Transport the inner protocol writes through.
type spewing struct {
	log   *zap.Logger
	inner protocol.Protocol
	peer  net.Addr
	t     protocol.Transport
}

func (s *spewing) dump(msg, dir string, data []byte) {
	ce := s.log.Check(zapcore.DebugLevel, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("direction", dir), zap.Stringer("peer", s.peer), zap.Int("length", len(data))}
	if len(data) > maxSpew {
		data = data[:maxSpew]
		fields = append(fields, zap.Bool("truncated", true))
	}
	ce.Write(append(fields, zap.String("hexdump", hex.Dump(data)))...)
}

// ConnectionMade implements protocol.Protocol.
func (s *spewing) ConnectionMade(t protocol.Transport) {
	s.t = t
	if cs, ok := t.(protocol.ConnectionStater); ok {
		s.inner.ConnectionMade(tlsSpewing{s, cs})
		return
	}
	s.inner.ConnectionMade(s)
}

// DataReceived implements protocol.Protocol.
func (s *spewing) DataReceived(data []byte) {
	s.dump("data received", "in", data)
	s.inner.DataReceived(data)
}

// ConnectionLost implements protocol.Protocol.
func (s *spewing) ConnectionLost(err error) {
	if ce := s.log.Check(zapcore.DebugLevel, "connection lost"); ce != nil {
		ce.Write(zap.Stringer("peer", s.peer), zap.Error(err))
	}
	s.inner.ConnectionLost(err)
}

// Write implements protocol.Transport.
func (s *spewing) Write(p []byte) {
	s.dump("data written", "out", p)
	s.t.Write(p)
}

// WriteMany implements protocol.Transport.
func (s *spewing) WriteMany(bufs ...[]byte) {
	for _, b := range bufs {
		s.dump("data written", "out", b)
	}
	s.t.WriteMany(bufs...)
}

func (s *spewing) LoseConnection()                      { s.t.LoseConnection() }
func (s *spewing) Abort()                               { s.t.Abort() }
func (s *spewing) CloseWrite()                          { s.t.CloseWrite() }
func (s *spewing) PauseReading()                        { s.t.PauseReading() }
func (s *spewing) ResumeReading()                       { s.t.ResumeReading() }
func (s *spewing) RegisterProducer(p protocol.Producer) { s.t.RegisterProducer(p) }
func (s *spewing) PeerAddr() net.Addr                   { return s.t.PeerAddr() }
func (s *spewing) HostAddr() net.Addr                   { return s.t.HostAddr() }

// CallLater implements protocol.Transport: the transport below runs it.
func (s *spewing) CallLater(d time.Duration, f func()) protocol.Timer { return s.t.CallLater(d, f) }

// SendFile passes sendfile(2) through when the transport below offers it.
func (s *spewing) SendFile(f *os.File, off, n int64) (int64, error) {
	fs, ok := s.t.(protocol.FileSender)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	sent, err := fs.SendFile(f, off, n)
	if ce := s.log.Check(zapcore.DebugLevel, "file sent"); ce != nil {
		ce.Write(zap.String("direction", "out"), zap.Stringer("peer", s.peer), zap.Int64("length", sent))
	}
	return sent, err
}

// tlsSpewing passes a TLS connection's state through Spew.
type tlsSpewing struct {
	*spewing
	cs protocol.ConnectionStater
}

func (t tlsSpewing) ConnectionState() tls.ConnectionState { return t.cs.ConnectionState() }

// withExtras gives the wrapper w of inner the optional callbacks inner
// has (PullProducer, HalfCloser), forwarded to inner.
func withExtras(w, inner protocol.Protocol) protocol.Protocol {
	pp, isProducer := inner.(protocol.PullProducer)
	hc, isHalfCloser := inner.(protocol.HalfCloser)
	switch {
	case isProducer && isHalfCloser:
		return struct {
			protocol.Protocol
			protocol.PullProducer
			protocol.HalfCloser
		}{w, pp, hc}
	case isProducer:
		return struct {
			protocol.Protocol
			protocol.PullProducer
		}{w, pp}
	case isHalfCloser:
		return struct {
			protocol.Protocol
			protocol.HalfCloser
		}{w, hc}
	}
	return w
}

var (
	_ protocol.Protocol         = (*spewing)(nil)
	_ protocol.Transport        = (*spewing)(nil)
	_ protocol.FileSender       = (*spewing)(nil)
	_ protocol.ConnectionStater = tlsSpewing{}
)
