package web

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twistd-go/twistd/logfile"
)

// accessLog writes one Combined Log Format line per request, one write
// per line, normally to a logfile.File (standard output for "-"),
// reopened on SIGUSR1 after logrotate moved it.
type accessLog struct {
	w   io.Writer
	mu  sync.Mutex // guards buf
	buf []byte
}

func openAccessLog(path string, open func(string) (*logfile.File, error)) (*accessLog, error) {
	if open == nil {
		open = logfile.Open
	}
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return &accessLog{w: f}, nil
}

// Reopen opens the log's path anew and closes the old file.
func (a *accessLog) Reopen() error {
	if f, ok := a.w.(*logfile.File); ok {
		return f.Reopen()
	}
	return nil
}

// Close closes the file.
func (a *accessLog) Close() error {
	if f, ok := a.w.(*logfile.File); ok {
		return f.Close()
	}
	return nil
}

// log writes the request's line:
// host - user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "referer" "agent"
func (a *accessLog) log(r *http.Request, user string, status int, size int64, when time.Time) error {
	return a.logLine(r.RemoteAddr, user, r.Method, r.RequestURI, r.Proto, r.Header.Get("Referer"),
		r.Header.Get("User-Agent"), status, size, when)
}

// logLine writes a request's line from its parts; remote is host:port.
// A request line that did not parse is given whole as method, with uri
// and proto empty.
func (a *accessLog) logLine(remote, user, method, uri, proto, referer, agent string, status int, size int64, when time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.buf[:0]
	b = appendField(b, hostOnly(remote))
	b = append(b, " - "...)
	b = appendField(b, user)
	b = append(b, " ["...)
	b = when.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, method)
	if uri != "" || proto != "" {
		b = append(b, ' ')
		b = appendEscaped(b, uri)
		b = append(b, ' ')
		b = appendEscaped(b, proto)
	}
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	if size > 0 {
		b = strconv.AppendInt(b, size, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendQuoted(b, referer)
	b = append(b, "\" \""...)
	b = appendQuoted(b, agent)
	b = append(b, "\"\n"...)
	a.buf = b
	_, err := a.w.Write(b)
	return err
}

// appendField appends s, or "-" when it is empty.
func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

// appendQuoted appends a quoted field's content, "-" when empty.
func appendQuoted(b []byte, s string) []byte { return appendField(b, s) }

// appendEscaped appends s with quotes, backslashes, control and non-ASCII
// bytes escaped as \xHH, as nginx does, so a line is always one line.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
