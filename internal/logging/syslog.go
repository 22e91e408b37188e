package logging

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// syslogSockets are where a local syslog daemon listens, tried in this
// order (as log/syslog does).
var syslogSockets = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

// facilityDaemon is syslog's "daemon" facility (RFC 5424 §6.2.1: 3 << 3).
const facilityDaemon = 3 << 3

// Syslog severities (RFC 5424 §6.2.1).
const (
	sevCrit    = 2
	sevErr     = 3
	sevWarning = 4
	sevInfo    = 6
	sevDebug   = 7
)

// severity maps a zap level to a syslog severity: debug, info, warning,
// err, and crit for dpanic, panic and fatal.
func severity(l zapcore.Level) int {
	switch {
	case l <= zapcore.DebugLevel:
		return sevDebug
	case l == zapcore.InfoLevel:
		return sevInfo
	case l == zapcore.WarnLevel:
		return sevWarning
	case l == zapcore.ErrorLevel:
		return sevErr
	}
	return sevCrit
}

// syslogOutput sends each entry to the local syslog daemon as one message
// of facility daemon, with the severity of its level, in the local format
// log/syslog uses: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG". log/syslog itself
// cannot vary the severity per write through an io.Writer, nor say which
// socket it failed to reach.
type syslogOutput struct {
	tag  string
	pid  int
	path string // the socket

	mu      sync.Mutex
	network string // "unixgram" or "unix" (stream: messages end in a newline)
	conn    net.Conn
	buf     []byte
}

// dialSyslog connects to the first of sockets that answers, datagram
// first, then stream.
func dialSyslog(sockets []string, tag string) (*syslogOutput, error) {
	var errs []string
	for _, path := range sockets {
		for _, network := range []string{"unixgram", "unix"} {
			c, err := net.Dial(network, path)
			if err == nil {
				return &syslogOutput{tag: tag, pid: os.Getpid(), path: path, network: network, conn: c}, nil
			}
			if network == "unixgram" {
				errs = append(errs, err.Error())
			}
		}
	}
	return nil, fmt.Errorf("syslog: no syslog daemon listening on %s (%s)", strings.Join(sockets, ", "), strings.Join(errs, "; "))
}

// Write sends p at info severity.
func (s *syslogOutput) Write(p []byte) (int, error) {
	if err := s.WriteLevel(zapcore.InfoLevel, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteLevel sends one encoded entry with its level's severity; after a
// failure (the daemon restarted) it reconnects and tries once more.
func (s *syslogOutput) WriteLevel(l zapcore.Level, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facilityDaemon|severity(l)), 10)
	b = append(b, '>')
	b = time.Now().AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, s.tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, "]: "...)
	b = append(b, bytes.TrimRight(p, "\n")...)
	if s.network == "unix" {
		b = append(b, '\n')
	}
	s.buf = b
	if s.conn != nil {
		if _, err := s.conn.Write(b); err == nil {
			return nil
		}
		s.conn.Close()
		s.conn = nil
	}
	c, err := net.Dial(s.network, s.path)
	if err != nil {
		return fmt.Errorf("syslog %s: %w", s.path, err)
	}
	s.conn = c
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("syslog %s: %w", s.path, err)
	}
	return nil
}

func (s *syslogOutput) Sync() error   { return nil }
func (s *syslogOutput) Reopen() error { return nil }

func (s *syslogOutput) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
