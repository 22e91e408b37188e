package httpconn

import (
	"bytes"
	"strconv"
	"strings"
)

// framer follows the framing of the requests a connection hands to
// net/http, as net/http will read them (lines end in LF with an optional
// CR; a Content-Length or chunked body), and refuses what net/http would
// read one way and a proxy in front of us another: a head with both
// Content-Length and Transfer-Encoding, a folded header line (obs-fold),
// or Transfer-Encoding on HTTP/1.0 (RFC 9112 §5.2, §6.1). net/http itself
// serves the first as chunked and folds the second, so the bytes after
// such a head could be served as a request nobody in front of us saw.
//
// A head is held back until it is complete, so a refused one never
// reaches net/http: in its place net/http gets a request line it answers
// 400 and closes the connection on, after answering the requests before
// it; nothing after it is handed on. What net/http refuses on its own (a
// bad Content-Length, an unknown transfer coding, a head over its limit)
// and a hijacked connection are not followed further: net/http closes
// the first, and the second is no longer HTTP.
type framer struct {
	state  frameState
	held   []byte // an incomplete head, not handed on yet
	scan   int    // where held's last, incomplete line begins
	line   []byte // an incomplete chunk-size or trailer line (handed on)
	remain int64  // body or chunk bytes (chunk CRLF included) still to pass
	limit  int    // the longest head followed (net/http's read limit)
	// request is the request line of the latest head, for the log.
	request string
}

type frameState uint8

const (
	frameHead      frameState = iota // at or in a request head
	frameBody                        // in a Content-Length body
	frameChunkLine                   // in a chunk-size line
	frameChunkData                   // in a chunk's data and its CRLF
	frameTrailer                     // in the trailer section
	frameOff                         // not followed: bytes pass as they are
	frameRefused                     // a head was refused: bytes are dropped
)

// refusedHead is what net/http gets in place of a refused head: a request
// line it answers with 400 Bad Request and Connection: close.
var refusedHead = []byte("ambiguous framing\r\n\r\n")

// maxChunkLine bounds a chunk-size or trailer line followed (net/http's
// own bound is 4096).
const maxChunkLine = 4096

// maxLoggedLine bounds the request line kept for the log.
const maxLoggedLine = 1024

// idle reports whether the framer is between requests, holding nothing.
func (f *framer) idle() bool { return f.state == frameHead && len(f.held) == 0 }

// off stops following the framing: what comes is handed on as it is.
func (f *framer) off() {
	f.state = frameOff
	f.held, f.line, f.scan = nil, nil, 0
}

// flush hands on what is held (the peer finished sending).
func (f *framer) flush(dst []byte) []byte {
	dst = append(dst, f.held...)
	f.held, f.scan = nil, 0
	return dst
}

// feed appends to dst what of data may go to net/http now, and reports
// whether a head was refused (dst then ends with refusedHead).
func (f *framer) feed(dst, data []byte) ([]byte, bool) {
	for len(data) > 0 {
		switch f.state {
		case frameOff:
			return append(dst, data...), false
		case frameRefused:
			return dst, false
		case frameBody, frameChunkData:
			n := int(min(int64(len(data)), f.remain))
			dst = append(dst, data[:n]...)
			data = data[n:]
			if f.remain -= int64(n); f.remain == 0 {
				if f.state == frameBody {
					f.state = frameHead
				} else {
					f.state = frameChunkLine
				}
			}
		case frameChunkLine, frameTrailer:
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if len(f.line)+len(data) > maxChunkLine {
					f.off()
				} else {
					f.line = append(f.line, data...)
				}
				return append(dst, data...), false
			}
			line := data[:i]
			if len(f.line) > 0 {
				line = append(f.line, line...)
			}
			dst = append(dst, data[:i+1]...)
			data = data[i+1:]
			f.line = f.line[:0]
			f.endLine(line)
		case frameHead:
			buf := data
			if len(f.held) > 0 {
				buf = append(f.held, data...)
			}
			end, scan := headEnd(buf, f.scan)
			f.scan = scan
			if end < 0 {
				if len(buf) > f.limit {
					// net/http answers 431 and closes.
					f.request = firstLine(buf)
					f.off()
					return append(dst, buf...), false
				}
				if len(f.held) == 0 {
					buf = bytes.Clone(data)
				}
				f.held = buf
				return dst, false
			}
			f.held, f.scan = nil, 0
			switch f.endHead(buf[:end]) {
			case headRefused:
				f.state = frameRefused
				return append(dst, refusedHead...), true
			case headUnknown:
				f.off()
			}
			dst = append(dst, buf[:end]...)
			data = buf[end:]
		}
	}
	return dst, false
}

// endLine takes a complete chunk-size or trailer line.
func (f *framer) endLine(line []byte) {
	if f.state == frameTrailer {
		if len(bytes.TrimRight(line, "\r")) == 0 {
			f.state = frameHead
		}
		return
	}
	s := strings.TrimRight(string(line), " \t\r")
	s, _, _ = strings.Cut(s, ";")
	n, err := strconv.ParseUint(s, 16, 62)
	switch {
	case err != nil:
		f.off() // net/http fails the body and does not read on
	case n == 0:
		f.state = frameTrailer
	default:
		f.state, f.remain = frameChunkData, int64(n)+2
	}
}

// headVerdict is what endHead made of a head.
type headVerdict uint8

const (
	headFollowed headVerdict = iota // its body is followed
	headRefused                     // ambiguous: refused here
	headUnknown                     // net/http refuses it, or reads on unfollowed
)

// endHead decides on a complete head (its final empty line included)
// and sets the state for its body.
func (f *framer) endHead(head []byte) headVerdict {
	s := string(head)
	reqLine, rest, _ := strings.Cut(s, "\n")
	reqLine = strings.TrimSuffix(reqLine, "\r")
	f.request = reqLine
	if len(f.request) > maxLoggedLine {
		f.request = f.request[:maxLoggedLine]
	}
	_, rl, ok1 := strings.Cut(reqLine, " ")
	_, proto, ok2 := strings.Cut(rl, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" && proto != "HTTP/1.0" {
		return headUnknown
	}
	var te, cl []string
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return headRefused // obs-fold
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return headUnknown
		}
		switch {
		case strings.EqualFold(name, "Transfer-Encoding"):
			te = append(te, strings.Trim(value, " \t"))
		case strings.EqualFold(name, "Content-Length"):
			cl = append(cl, strings.Trim(value, " \t"))
		}
	}
	switch {
	case len(te) > 0 && (len(cl) > 0 || proto == "HTTP/1.0"):
		return headRefused
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return headUnknown // 501
		}
		f.state = frameChunkLine
		return headFollowed
	case len(cl) > 0:
		for _, v := range cl[1:] {
			if v != cl[0] {
				return headUnknown // 400
			}
		}
		n, err := strconv.ParseUint(cl[0], 10, 63)
		if err != nil || cl[0] == "" || cl[0][0] < '0' || cl[0][0] > '9' {
			return headUnknown
		}
		if n > 0 {
			f.state, f.remain = frameBody, int64(n)
		}
	}
	return headFollowed
}

// headEnd returns the length of the head b begins with, up to and with
// its empty line, or -1 when it is not complete; the search starts at
// from, a line start, and next is where the last incomplete line starts.
func headEnd(b []byte, from int) (end, next int) {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1, i
		}
		line := b[i : i+j]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			if i == 0 {
				// An empty first line: net/http refuses it as a
				// request line; let it.
				return j + 1, 0
			}
			return i + j + 1, 0
		}
		i += j + 1
	}
	return -1, len(b)
}

// firstLine is b's first line, bounded, for the log.
func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > maxLoggedLine {
		b = b[:maxLoggedLine]
	}
	return strings.TrimSuffix(string(b), "\r")
}
