package protocol

// Framer is what the receivers of this package have in common (Twisted's
// twisted.protocols.basic): Feed splits an incoming stream into messages,
// however it is chunked, and Append frames an outgoing message.
// LineReceiver, NetstringReceiver, Int8Receiver, Int16Receiver and
// Int32Receiver implement it.
type Framer interface {
	// Feed adds data and calls msg for each complete message; msg's
	// argument is only valid during the call. An error (msg's, or the
	// framer's on bad input) leaves the framer in an undefined state.
	Feed(data []byte, msg func([]byte) error) error
	// Append appends msg, framed, to dst.
	Append(dst, msg []byte) ([]byte, error)
}

var (
	_ Framer = (*LineReceiver)(nil)
	_ Framer = (*NetstringReceiver)(nil)
	_ Framer = (*Int8Receiver)(nil)
	_ Framer = (*Int16Receiver)(nil)
	_ Framer = (*Int32Receiver)(nil)
)

// StringProtocol is an embeddable Protocol that frames its connection
// with a Framer (Twisted's NetstringReceiver, Int32StringReceiver and
// their kin): set Framer and OnString, then embed it, or use it as is.
// Each complete message is given to OnString; SendString writes one.
// A framing error, or an error from OnString, goes to OnError, which by
// default closes the connection once what was written is sent; input
// after an error is ignored.
//
// Like every protocol's, its callbacks never overlap, so OnString needs
// no lock for the connection's own state.
type StringProtocol struct {
	Base
	// Framer splits and frames the messages, for example
	// &protocol.Int32Receiver{MaxLength: 1 << 20}. Required.
	Framer Framer
	// OnString is called with each message received; its argument is
	// only valid during the call. Required.
	OnString func(msg []byte) error
	// OnError, if set, is called once instead of closing the connection.
	OnError func(err error)

	failed  bool
	scratch []byte
}

// DataReceived implements Protocol: it feeds data to the Framer.
func (p *StringProtocol) DataReceived(data []byte) {
	if p.failed {
		return
	}
	if err := p.Framer.Feed(data, p.OnString); err != nil {
		p.failed = true
		fail(p.Transport, p.OnError, err)
	}
}

// SendString writes msg, framed, on the transport. It fails only when
// msg cannot be framed (ErrStringTooLong: too long for a length prefix),
// and writes nothing then.
func (p *StringProtocol) SendString(msg []byte) error {
	b, err := p.Framer.Append(p.scratch[:0], msg)
	if err != nil {
		return err
	}
	// The transport copies what it is given, so the buffer is reused.
	p.scratch = b
	p.Transport.Write(b)
	p.trim()
	return nil
}

// trim lets go of a scratch buffer grown by one large message.
func (p *StringProtocol) trim() {
	if cap(p.scratch) > 64<<10 {
		p.scratch = nil
	}
}

// LineProtocol is an embeddable Protocol that splits its connection into
// lines (Twisted's LineReceiver as a protocol): set OnLine, then embed
// it. Each line, delimiter removed, is given to OnLine; SendLine writes
// one. The embedded LineReceiver's Delimiter and MaxLength apply, and its
// SetRawMode and SetLineMode switch between lines and raw data (Twisted's
// rawDataReceived is the function given to SetRawMode). A line over
// MaxLength, or an error from OnLine or the raw callback, goes to
// OnError, which by default closes the connection once what was written
// is sent; input after an error is ignored.
type LineProtocol struct {
	Base
	LineReceiver
	// OnLine is called with each line received; its argument is only
	// valid during the call. Required.
	OnLine func(line []byte) error
	// OnError, if set, is called once instead of closing the connection.
	OnError func(err error)

	failed  bool
	scratch []byte
}

// DataReceived implements Protocol: it feeds data to the LineReceiver.
func (p *LineProtocol) DataReceived(data []byte) {
	if p.failed {
		return
	}
	if err := p.Feed(data, p.OnLine); err != nil {
		p.failed = true
		fail(p.Transport, p.OnError, err)
	}
}

// SendLine writes line and the delimiter on the transport; line should
// not contain the delimiter.
func (p *LineProtocol) SendLine(line []byte) {
	p.scratch, _ = p.Append(p.scratch[:0], line)
	p.Transport.Write(p.scratch)
	if cap(p.scratch) > 64<<10 {
		p.scratch = nil
	}
}

func fail(t Transport, onError func(error), err error) {
	if onError != nil {
		onError(err)
		return
	}
	if t != nil {
		t.LoseConnection()
	}
}
