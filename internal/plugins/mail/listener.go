package mail

import (
	"net"

	"github.com/twistd-go/twistd/protocol"
)

// connBuffer bounds what a connection holds of its peer's bytes before the
// SMTP or POP3 code reads them; past it the transport stops reading.
const connBuffer = 64 << 10

// newConnListener returns the net.Listener that go-smtp, or our own POP3
// loop, accepts from: its Factory runs on the reactor's listener, so
// allow/deny, the policies, the PROXY header and an ssl: endpoint's
// handshake come first.
func newConnListener(addr net.Addr) *protocol.Listener {
	return protocol.NewListener(addr, protocol.ListenerOptions{MaxBuffered: connBuffer})
}
