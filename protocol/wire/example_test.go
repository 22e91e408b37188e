package wire_test

import (
	"fmt"
	"net"
	"time"

	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/wire"
)

// The datagram forms answer each datagram as their RFC says.
func ExampleDatagram() {
	at := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	for _, name := range []string{"echo", "daytime", "time"} {
		d := wire.Datagram(name, func() time.Time { return at })
		d.DatagramReceived([]byte("ping"), &net.UDPAddr{Port: 9}, printWriter(name))
	}
	// Output:
	// echo "ping"
	// daytime "Thu Dec  3 14:00:00 2026\r\n"
	// time "\xee\xbb\xf4`"
}

// A stream factory for a service: a plugin puts it in service.Protocols.
func ExampleFactory() {
	f := wire.Factory("chargen", nil) // nil: time.Now
	fmt.Printf("%T\n", f.BuildProtocol(nil))
	fmt.Println(wire.Factory("gopher", nil) == nil)
	// Output:
	// *wire.Chargen
	// true
}

type printWriter string

func (w printWriter) WriteTo(p []byte, _ net.Addr) (int, error) {
	fmt.Printf("%s %q\n", string(w), p)
	return len(p), nil
}

var _ protocol.DatagramWriter = printWriter("")
