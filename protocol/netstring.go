package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrStringTooLong is returned when a netstring or a length-prefixed
// string is longer than the receiver's MaxLength, or too long for the
// prefix it is to be sent with.
var ErrStringTooLong = errors.New("string too long")

// ErrBadNetstring is returned by NetstringReceiver.Feed for input that is
// not a netstring: a length that is not a decimal number (or has a leading
// zero), or no comma after the data.
var ErrBadNetstring = errors.New("malformed netstring")

// DefaultMaxStringLength is the MaxLength of NetstringReceiver and the
// Int*Receivers when it is zero: 99999 bytes, as Twisted's MAX_LENGTH.
const DefaultMaxStringLength = 99999

// NetstringReceiver splits a byte stream into netstrings, "LEN:DATA,"
// with LEN the decimal length of DATA (djb's netstrings, Twisted's
// NetstringReceiver), however the stream is chunked. The zero value
// accepts strings of up to DefaultMaxStringLength bytes. It is not safe
// for concurrent use.
type NetstringReceiver struct {
	// MaxLength bounds a string's DATA; 0 means DefaultMaxStringLength.
	MaxLength int

	buf []byte
}

// Feed adds data and calls msg with the DATA of each complete netstring;
// msg's argument is only valid during the call. Feed stops and returns
// msg's error if it fails, ErrStringTooLong (wrapped) as soon as a length
// exceeds MaxLength, or ErrBadNetstring (wrapped) on malformed input; the
// receiver is then in an undefined state and the connection should be
// closed.
func (r *NetstringReceiver) Feed(data []byte, msg func([]byte) error) error {
	max := r.MaxLength
	if max <= 0 {
		max = DefaultMaxStringLength
	}
	work := data
	if len(r.buf) > 0 {
		r.buf = append(r.buf, data...)
		work = r.buf
	}
	for len(work) > 0 {
		n, head, err := netstringHead(work, max)
		if err != nil {
			r.buf = r.buf[:0]
			return err
		}
		if head == 0 || len(work) < head+n+1 {
			break // the length or the data is still arriving
		}
		if work[head+n] != ',' {
			r.buf = r.buf[:0]
			return fmt.Errorf("%w: %q after %d bytes of data, want ','", ErrBadNetstring, work[head+n], n)
		}
		if err := msg(work[head : head+n]); err != nil {
			r.buf = r.buf[:0]
			return err
		}
		work = work[head+n+1:]
	}
	r.buf = append(r.buf[:0], work...)
	return nil
}

// netstringHead parses "LEN:" at the start of b: the length, and where the
// data starts (0 while the colon has not arrived).
func netstringHead(b []byte, max int) (n, head int, err error) {
	for i, c := range b {
		switch {
		case c == ':' && i > 0:
			return n, i + 1, nil
		case c < '0' || c > '9':
			return 0, 0, fmt.Errorf("%w: length %q is not a decimal number", ErrBadNetstring, b[:i+1])
		case i == 1 && b[0] == '0':
			return 0, 0, fmt.Errorf("%w: length %q has a leading zero", ErrBadNetstring, b[:i+1])
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, 0, fmt.Errorf("%w: netstring length %s… exceeds the limit of %d bytes", ErrStringTooLong, b[:i+1], max)
		}
	}
	return n, 0, nil
}

// Buffered returns the bytes of the incomplete netstring held so far.
func (r *NetstringReceiver) Buffered() []byte { return r.buf }

// Append appends msg as a netstring to dst. The error is always nil
// (Append has the signature of Framer).
func (r *NetstringReceiver) Append(dst, msg []byte) ([]byte, error) {
	return AppendNetstring(dst, msg), nil
}

// AppendNetstring appends msg as a netstring, "LEN:DATA,", to dst.
func AppendNetstring(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ':')
	dst = append(dst, msg...)
	return append(dst, ',')
}
