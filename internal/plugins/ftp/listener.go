package ftp

import (
	"net"

	"github.com/twistd-go/twistd/protocol"
)

// maxControlBuffered bounds what a control connection holds of its
// client's bytes before the library reads them.
const maxControlBuffered = 16 << 10

// newConnListener returns the net.Listener ftpserverlib accepts from:
// its Factory runs on the service's listeners (so the PROXY header,
// allow/deny and the policies apply before the library sees a peer), and
// wrap is applied to each connection as the library accepts it.
func newConnListener(addr net.Addr, wrap func(net.Conn) net.Conn) *protocol.Listener {
	return protocol.NewListener(addr, protocol.ListenerOptions{MaxBuffered: maxControlBuffered, Wrap: wrap})
}
