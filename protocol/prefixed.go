package protocol

import (
	"encoding/binary"
	"fmt"
)

// Int8Receiver splits a byte stream into strings each prefixed by its
// length in one byte (Twisted's Int8StringReceiver). The zero value
// accepts strings of up to 255 bytes. It is not safe for concurrent use.
type Int8Receiver struct {
	// MaxLength bounds a string; 0 means 255, the most the prefix holds.
	MaxLength int

	buf []byte
}

// Int16Receiver splits a byte stream into strings each prefixed by its
// length as a big-endian 16-bit number (Twisted's Int16StringReceiver).
// The zero value accepts strings of up to 65535 bytes. It is not safe for
// concurrent use.
type Int16Receiver struct {
	// MaxLength bounds a string; 0 means 65535, the most the prefix holds.
	MaxLength int

	buf []byte
}

// Int32Receiver splits a byte stream into strings each prefixed by its
// length as a big-endian 32-bit number (Twisted's Int32StringReceiver).
// The zero value accepts strings of up to DefaultMaxStringLength bytes:
// set MaxLength for larger ones. It is not safe for concurrent use.
type Int32Receiver struct {
	// MaxLength bounds a string; 0 means DefaultMaxStringLength.
	MaxLength int

	buf []byte
}

// Feed adds data and calls msg with each complete string, prefix removed;
// msg's argument is only valid during the call. Feed stops and returns
// msg's error if it fails, or ErrStringTooLong (wrapped) as soon as a
// prefix announces more than MaxLength bytes; the receiver is then in an
// undefined state and the connection should be closed.
func (r *Int8Receiver) Feed(data []byte, msg func([]byte) error) error {
	return feedPrefixed(&r.buf, data, 1, limit(r.MaxLength, 0xff), msg)
}

// Feed adds data and calls msg with each complete string, as
// Int8Receiver.Feed does.
func (r *Int16Receiver) Feed(data []byte, msg func([]byte) error) error {
	return feedPrefixed(&r.buf, data, 2, limit(r.MaxLength, 0xffff), msg)
}

// Feed adds data and calls msg with each complete string, as
// Int8Receiver.Feed does.
func (r *Int32Receiver) Feed(data []byte, msg func([]byte) error) error {
	return feedPrefixed(&r.buf, data, 4, limit(r.MaxLength, DefaultMaxStringLength), msg)
}

// Buffered returns the bytes of the incomplete string held so far.
func (r *Int8Receiver) Buffered() []byte { return r.buf }

// Buffered returns the bytes of the incomplete string held so far.
func (r *Int16Receiver) Buffered() []byte { return r.buf }

// Buffered returns the bytes of the incomplete string held so far.
func (r *Int32Receiver) Buffered() []byte { return r.buf }

// Append appends msg with its one-byte length prefix to dst; a msg longer
// than 255 bytes is ErrStringTooLong.
func (r *Int8Receiver) Append(dst, msg []byte) ([]byte, error) { return appendPrefixed(dst, msg, 1) }

// Append appends msg with its 16-bit length prefix to dst; a msg longer
// than 65535 bytes is ErrStringTooLong.
func (r *Int16Receiver) Append(dst, msg []byte) ([]byte, error) { return appendPrefixed(dst, msg, 2) }

// Append appends msg with its 32-bit length prefix to dst; a msg of 4 GiB
// or more is ErrStringTooLong.
func (r *Int32Receiver) Append(dst, msg []byte) ([]byte, error) { return appendPrefixed(dst, msg, 4) }

func limit(max, def int) int {
	if max <= 0 {
		return def
	}
	return max
}

// feedPrefixed is Feed for a size-byte big-endian prefix.
func feedPrefixed(buf *[]byte, data []byte, size, max int, msg func([]byte) error) error {
	work := data
	if len(*buf) > 0 {
		*buf = append(*buf, data...)
		work = *buf
	}
	for len(work) >= size {
		n := prefixLen(work, size)
		if n > uint64(max) {
			*buf = (*buf)[:0]
			return fmt.Errorf("%w: prefix announces %d bytes, limit %d", ErrStringTooLong, n, max)
		}
		if uint64(len(work)-size) < n {
			break
		}
		if err := msg(work[size : size+int(n)]); err != nil {
			*buf = (*buf)[:0]
			return err
		}
		work = work[size+int(n):]
	}
	*buf = append((*buf)[:0], work...)
	return nil
}

func prefixLen(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	}
	return uint64(binary.BigEndian.Uint32(b))
}

func appendPrefixed(dst, msg []byte, size int) ([]byte, error) {
	if uint64(len(msg)) >= 1<<(8*size) {
		return dst, fmt.Errorf("%w: %d bytes do not fit a %d-bit length prefix", ErrStringTooLong, len(msg), 8*size)
	}
	switch size {
	case 1:
		dst = append(dst, byte(len(msg)))
	case 2:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(msg)))
	}
	return append(dst, msg...), nil
}
