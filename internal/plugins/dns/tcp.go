package dns

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// tcpWriteTimeout bounds writing one reply to a TCP client.
const tcpWriteTimeout = 10 * time.Second

// acceptTCP serves each connection of l in its own goroutine until l is closed.
func (s *Server) acceptTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errClosed(err) {
				return
			}
			s.log.Warn("tcp accept failed", zap.Error(err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			_ = c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		s.env.Stats.ConnectionsAccepted.Add(1)
		s.env.Stats.ConnectionsActive.Add(1)
		go s.serveConn(c)
	}
}

// serveConn answers length-prefixed queries on one connection (RFC 7766),
// several in turn, until the client closes it, it idles past the idle
// timeout, or the server stops.
func (s *Server) serveConn(c net.Conn) {
	defer func() {
		_ = c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.env.Stats.ConnectionsActive.Add(-1)
		s.connWG.Done()
	}()
	src := addrPort(c.RemoteAddr())
	r := bufio.NewReader(c)
	var lenBuf [2]byte
	query := make([]byte, 0, 512)
	out := make([]byte, 0, 4096)
	for {
		if s.isStopping() {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.tcpIdle))
		if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
			s.connError("tcp read failed", src, err)
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if cap(query) < n {
			query = make([]byte, n)
		}
		query = query[:n]
		if _, err := io.ReadFull(r, query); err != nil {
			s.connError("tcp read failed", src, err)
			return
		}
		s.env.Stats.Requests.Add(1)
		s.env.Stats.BytesReceived.Add(int64(n + 2))
		_ = c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
		if req := transferRequest(query); req != nil {
			if err := s.transferOut(c, req, src); err != nil {
				s.connError("zone transfer failed", src, err)
				return
			}
			continue
		}
		resp := s.h.exchange(s.ctx, query, src, true, out[:0])
		if resp == nil {
			continue
		}
		out = resp
		if err := s.writeTCP(c, resp); err != nil {
			s.connError("tcp write failed", src, err)
			return
		}
	}
}

// writeTCP writes one length-prefixed message.
func (s *Server) writeTCP(c io.Writer, msg []byte) error {
	if len(msg) > dns.MaxMsgSize {
		return errors.New("message too large for TCP")
	}
	frame := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(frame, uint16(len(msg)))
	copy(frame[2:], msg)
	n, err := c.Write(frame)
	s.env.Stats.BytesSent.Add(int64(n))
	return err
}

// connError logs what ended a connection, unless it is the usual end:
// the client closed it, it idled out, or we are stopping.
func (s *Server) connError(msg string, src any, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || errClosed(err) || s.isStopping() {
		return
	}
	s.log.Debug(msg, zap.Any("client", src), zap.Error(err))
}
