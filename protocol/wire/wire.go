// Package wire implements the simple wire protocols of RFCs 862–868 over
// streams and datagrams (twisted.protocols.wire): echo, discard, chargen,
// daytime and time — following the RFCs where Twisted deviates from them.
package wire

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// Echo (RFC 862) writes back whatever it receives.
type Echo struct{ protocol.Base }

// DataReceived writes data back.
func (e *Echo) DataReceived(data []byte) { e.Transport.Write(data) }

// Discard (RFC 863) throws away whatever it receives.
type Discard struct{ protocol.Base }

// lineLen is a chargen line's printable characters; every line ends in CRLF.
const lineLen = 72

// printable is the 95 characters chargen rotates through (RFC 864).
const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// chargenCycle is the 95 lines of a full chargen rotation: line i starts
// at printable[i] and runs 72 characters, wrapping, then CRLF. It is made
// when chargen first serves, not at start-up.
var chargenCycle = sync.OnceValue(func() []byte {
	n := len(printable)
	b := make([]byte, 0, n*(lineLen+2))
	for i := 0; i < n; i++ {
		for j := 0; j < lineLen; j++ {
			b = append(b, printable[(i+j)%n])
		}
		b = append(b, '\r', '\n')
	}
	return b
})

// chargenChunk is how much a Chargen writes each time its transport has room.
const chargenChunk = 16 << 10

// Chargen (RFC 864) sends the rotating character pattern for as long as the
// client reads, ignoring what it sends. It is a pull producer: the transport
// asks for more only when its buffer has room, so a client that stops
// reading costs nothing.
type Chargen struct {
	protocol.Base
	off int // position in chargenCycle
}

// ResumeProducing writes the next chunk of the pattern.
func (c *Chargen) ResumeProducing() {
	var bufs [][]byte
	cycle := chargenCycle()
	for n := 0; n < chargenChunk; {
		part := cycle[c.off:]
		if len(part) > chargenChunk-n {
			part = part[:chargenChunk-n]
		}
		bufs = append(bufs, part)
		n += len(part)
		c.off = (c.off + len(part)) % len(cycle)
	}
	c.Transport.WriteMany(bufs...)
}

// daytimeNow is the daytime string (RFC 867 leaves the format free; this
// is asctime in UTC, as Twisted and inetd send).
func daytimeNow(now time.Time) []byte {
	return []byte(now.UTC().Format("Mon Jan _2 15:04:05 2006") + "\r\n")
}

// Daytime (RFC 867) sends the date and time, then closes.
type Daytime struct {
	protocol.Base
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ConnectionMade sends the time and closes.
func (d *Daytime) ConnectionMade(t protocol.Transport) {
	t.Write(daytimeNow(clock(d.Now)()))
	t.LoseConnection()
}

// epoch1900 is the RFC 868 epoch's distance from Unix's: 70 years with 17 leap days.
const epoch1900 = 2208988800

// timeNow is the RFC 868 value: seconds since 1900-01-01 00:00 UTC, as 32
// big-endian bits (it wraps in 2036, as the RFC's own counter does).
func timeNow(now time.Time) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(now.Unix()+epoch1900))
}

// Time (RFC 868) sends the 32-bit time, then closes.
type Time struct {
	protocol.Base
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ConnectionMade sends the time and closes.
func (p *Time) ConnectionMade(t protocol.Transport) {
	t.Write(timeNow(clock(p.Now)()))
	t.LoseConnection()
}

// udpChargenLines is how many lines a chargen datagram carries: 6 × 74 =
// 444 bytes, within the RFC's 512.
const udpChargenLines = 6

// datagram answers one protocol over UDP, as each RFC defines it.
type datagram struct {
	proto string
	now   func() time.Time
	line  atomic.Uint64 // chargen: the rotation continues datagram after datagram
}

// DatagramReceived implements protocol.DatagramProtocol.
func (d *datagram) DatagramReceived(data []byte, from net.Addr, w protocol.DatagramWriter) {
	switch d.proto {
	case "echo":
		_, _ = w.WriteTo(data, from)
	case "discard":
	case "chargen":
		first := int(d.line.Add(udpChargenLines)-udpChargenLines) % len(printable)
		out := make([]byte, 0, udpChargenLines*(lineLen+2))
		cycle := chargenCycle()
		for i := 0; i < udpChargenLines; i++ {
			start := ((first + i) % len(printable)) * (lineLen + 2)
			out = append(out, cycle[start:start+lineLen+2]...)
		}
		_, _ = w.WriteTo(out, from)
	case "daytime":
		_, _ = w.WriteTo(daytimeNow(d.now()), from)
	case "time":
		_, _ = w.WriteTo(timeNow(d.now()), from)
	}
}

// clock returns now, or time.Now when it is nil.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Datagram returns the datagram protocol of a protocol name (one of
// Protocols; any other answers nothing), each RFC's UDP form, with now as
// its clock (time.Now when nil).
func Datagram(proto string, now func() time.Time) protocol.DatagramProtocol {
	return &datagram{proto: proto, now: clock(now)}
}

// Factory returns the stream factory of a protocol name, one of
// Protocols, with now as its clock (time.Now when nil). For any other
// name it returns nil.
func Factory(proto string, now func() time.Time) protocol.Factory {
	if !slices.Contains(Protocols, proto) {
		return nil
	}
	now = clock(now)
	return protocol.FactoryFunc(func(net.Addr) protocol.Protocol {
		switch proto {
		case "echo":
			return &Echo{}
		case "discard":
			return &Discard{}
		case "chargen":
			return &Chargen{}
		case "daytime":
			return &Daytime{Now: now}
		case "time":
			return &Time{Now: now}
		}
		return nil
	})
}

// Protocols are the names `protocol:` accepts.
var Protocols = []string{"echo", "discard", "chargen", "daytime", "time"}

var (
	_ protocol.PullProducer     = (*Chargen)(nil)
	_ protocol.DatagramProtocol = (*datagram)(nil)
)
