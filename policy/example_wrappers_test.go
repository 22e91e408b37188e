package policy_test

import (
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/protocol/prototest"
)

// Every chunk in and out, hex-dumped at debug level: wrap any factory
// while debugging a protocol.
func ExampleSpew() {
	log := zap.NewExample() // JSON lines on stdout, debug level
	echo := protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echo{} })
	f := policy.Spew(echo, log)

	tr := prototest.NewTransport()
	p := f.BuildProtocol(tr.Peer)
	p.ConnectionMade(tr)
	p.DataReceived([]byte("hi\n"))
	// Output:
	// {"level":"debug","msg":"data received","direction":"in","peer":"192.0.2.1:1234","length":3,"hexdump":"00000000  68 69 0a                                          |hi.|\n"}
	// {"level":"debug","msg":"data written","direction":"out","peer":"192.0.2.1:1234","length":3,"hexdump":"00000000  68 69 0a                                          |hi.|\n"}
}

// Wrappers compose: here at most 100 connections, 4 per peer, each closed
// after a minute of silence; connection 101 is told "busy" and closed.
func ExampleLimitTotalConnections() {
	var f protocol.Factory = protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echo{} })
	f = policy.IdleTimeout(f, time.Minute)
	f = policy.LimitConnectionsPerPeer(f, 4)
	f = policy.LimitTotalConnections(f, 100, policy.BusyFactory("busy\r\n"))

	for i := range 101 {
		tr := prototest.NewTransport()
		tr.Peer = &net.TCPAddr{IP: net.IPv4(192, 0, 2, byte(i)), Port: 1}
		p := f.BuildProtocol(tr.Peer)
		p.ConnectionMade(tr)
		if i == 100 {
			lost, _ := tr.Lost()
			fmt.Printf("connection %d: %q, closed: %v\n", i+1, tr.Value(), lost)
		}
		defer p.ConnectionLost(nil)
	}
	// Output:
	// connection 101: "busy\r\n", closed: true
}
