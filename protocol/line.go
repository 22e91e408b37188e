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
type LineReceiver struct {
	// Delimiter ends each line; empty means "\r\n".
	Delimiter []byte
	// MaxLength bounds a line, delimiter excluded; 0 means DefaultMaxLineLength.
	MaxLength int

	buf []byte
}

// Feed adds data and calls line for each complete line, delimiter removed.
// line's argument is only valid during the call. Feed stops and returns
// line's error if it fails, or ErrLineTooLong when a line (complete or not)
// exceeds MaxLength; the receiver is then in an undefined state and the
// connection should be closed.
func (r *LineReceiver) Feed(data []byte, line func([]byte) error) error {
	delim := r.Delimiter
	if len(delim) == 0 {
		delim = []byte("\r\n")
	}
	max := r.MaxLength
	if max <= 0 {
		max = DefaultMaxLineLength
	}
	// Work directly on data when nothing is buffered (the common case),
	// so short lines arriving whole are never copied.
	work := data
	if len(r.buf) > 0 {
		r.buf = append(r.buf, data...)
		work = r.buf
	}
	for {
		i := bytes.Index(work, delim)
		if i < 0 {
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

// Buffered returns the bytes of the incomplete line held so far.
func (r *LineReceiver) Buffered() []byte { return r.buf }
