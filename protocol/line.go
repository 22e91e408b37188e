package protocol

import (
	"bytes"
	"errors"
)

// ErrLineTooLong is returned by LineReceiver.Feed when a line grows past
// MaxLength without a delimiter.
var ErrLineTooLong = errors.New("line too long")

// DefaultMaxLineLength is LineReceiver's MaxLength when it is zero: 16 KiB,
// as Twisted's LineReceiver.MAX_LENGTH.
const DefaultMaxLineLength = 16384

// LineReceiver splits a byte stream into delimited lines, however the
// stream is chunked (Twisted's LineReceiver). The zero value splits on
// "\r\n" with lines of at most DefaultMaxLineLength bytes.
//
// Like Twisted's, it has a raw mode for protocols that mix lines and raw
// bytes (an HTTP head then a body, an SMTP DATA section): SetRawMode,
// called from the line callback, hands the rest of the current chunk and
// all later data to a raw callback, until SetLineMode switches back, with
// the bytes that follow the raw section to be parsed as lines again.
//
// A LineReceiver is not safe for concurrent use; a protocol's callbacks
// never overlap, so one per connection needs no lock.
type LineReceiver struct {
	// Delimiter ends each line; empty means "\r\n".
	Delimiter []byte
	// MaxLength bounds a line, delimiter excluded; 0 means DefaultMaxLineLength.
	MaxLength int

	buf     []byte
	raw     func([]byte) error // set in raw mode
	feeding bool               // inside Feed
	extra   []byte             // given to SetLineMode inside Feed
	more    bool               // extra is set
}

// Feed adds data and calls line for each complete line, delimiter removed.
// line's argument is only valid during the call. Feed stops and returns
// line's error if it fails, or ErrLineTooLong when a line (complete or not)
// exceeds MaxLength; the receiver is then in an undefined state and the
// connection should be closed.
//
// In raw mode, Feed gives data to the raw callback instead (with any bytes
// buffered before the switch in front), and returns its error.
func (r *LineReceiver) Feed(data []byte, line func([]byte) error) error {
	delim := r.delimiter()
	max := r.MaxLength
	if max <= 0 {
		max = DefaultMaxLineLength
	}
	r.feeding = true
	defer func() { r.feeding = false }()
	// Work directly on data when nothing is buffered (the common case),
	// so short lines arriving whole are never copied.
	work := data
	if len(r.buf) > 0 {
		r.buf = append(r.buf, data...)
		work = r.buf
	}
	for {
		if r.raw != nil {
			// work may be r.buf: the raw callback reads it before
			// anything is written there again.
			r.buf = r.buf[:0]
			if len(work) == 0 {
				return nil
			}
			if err := r.raw(work); err != nil {
				return err
			}
			if !r.more {
				return nil // still raw, or back to lines with nothing after
			}
			work, r.extra, r.more = r.extra, nil, false
			continue
		}
		i := bytes.Index(work, delim)
		if i < 0 {
			if r.more {
				// SetLineMode(extra) in line mode: extra comes after.
				work = append(append([]byte(nil), work...), r.extra...)
				r.extra, r.more = nil, false
				continue
			}
			break
		}
		if i > max {
			r.buf = r.buf[:0]
			return ErrLineTooLong
		}
		if err := line(work[:i]); err != nil {
			r.buf = r.buf[:0]
			return err
		}
		work = work[i+len(delim):]
	}
	// A partial line longer than max can never become valid; the
	// delimiter may still be arriving, so allow for its first bytes.
	if len(work) > max+len(delim)-1 {
		r.buf = r.buf[:0]
		return ErrLineTooLong
	}
	r.buf = append(r.buf[:0], work...)
	return nil
}

// SetRawMode switches to raw mode (Twisted's setRawMode): from now on
// Feed passes the bytes it is given to raw rather than splitting them
// into lines. Called from Feed's line callback, it takes effect at once:
// the rest of the current chunk goes to raw before Feed returns. Called
// between Feeds, any partial line buffered goes to raw ahead of the next
// data. raw's argument is only valid during the call.
func (r *LineReceiver) SetRawMode(raw func(data []byte) error) {
	if raw == nil {
		raw = func([]byte) error { return nil }
	}
	r.raw = raw
}

// SetLineMode switches back to line mode (Twisted's setLineMode), and
// parses extra as lines, ahead of whatever arrives next. From the raw
// callback, extra is typically the part of its argument after the raw
// section (a body's end): Feed goes on splitting it into lines, with the
// same line callback, before it returns, so extra need not be copied.
// Called between Feeds, extra is copied and its lines are delivered by the
// next Feed (Feed(nil, line) delivers them at once).
func (r *LineReceiver) SetLineMode(extra []byte) {
	r.raw = nil
	if len(extra) == 0 {
		return
	}
	if !r.feeding {
		r.buf = append(r.buf, extra...)
		return
	}
	if r.more {
		r.extra = append(append([]byte(nil), r.extra...), extra...)
		return
	}
	r.extra, r.more = extra, true
}

// RawMode reports whether the receiver is in raw mode.
func (r *LineReceiver) RawMode() bool { return r.raw != nil }

// Buffered returns the bytes of the incomplete line held so far.
func (r *LineReceiver) Buffered() []byte { return r.buf }

// Append appends line and the delimiter to dst, the framing Feed undoes.
// line should not contain the delimiter; the error is always nil (Append
// has the signature of Framer).
func (r *LineReceiver) Append(dst, line []byte) ([]byte, error) {
	return append(append(dst, line...), r.delimiter()...), nil
}

var crlf = []byte("\r\n")

func (r *LineReceiver) delimiter() []byte {
	if len(r.Delimiter) == 0 {
		return crlf
	}
	return r.Delimiter
}
