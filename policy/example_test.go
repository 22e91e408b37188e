package policy_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

// Any factory can be wrapped in the policies of an application file's
// policies: block (Twisted's twisted.protocols.policies), from code.
func ExamplePolicy_WrapFactory() {
	echo := protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &echoProtocol{} })
	p, err := policy.New(policy.Config{
		IdleTimeout:              time.Minute,
		MaxConnectionsPerPeer:    10,
		MaxConnectionRatePerPeer: policy.Rate{N: 5, Per: time.Second},
		WriteLimit:               1 << 20, // bytes per second, for the whole service
	}, zap.NewNop(), &service.Stats{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	wrapped := p.WrapFactory(echo) // serve this one: env.Runner.ServeStream(l, wrapped)
	fmt.Println(wrapped != nil)
	// Output: true
}

// Config.Validate says what is wrong with a hand-made configuration.
func ExampleConfig_Validate() {
	err := policy.Config{MaxConnections: -1}.Validate()
	fmt.Println(err != nil)
	// Output: true
}

// The allow: and deny: rules of a service, checked for a peer.
func ExampleAccess_Check() {
	a := policy.NewAccess(
		[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},  // allow
		[]netip.Prefix{netip.MustParsePrefix("10.6.6.0/24")}, // deny
	)
	for _, peer := range []string{"10.1.2.3:5000", "10.6.6.6:5000", "192.0.2.1:5000"} {
		addr, _ := net.ResolveTCPAddr("tcp", peer)
		fmt.Printf("%s %q\n", peer, a.Check(addr))
	}
	// Output:
	// 10.1.2.3:5000 ""
	// 10.6.6.6:5000 "deny"
	// 192.0.2.1:5000 "allow"
}

type echoProtocol struct{ protocol.Base }

func (e *echoProtocol) DataReceived(data []byte) { e.Transport.Write(data) }

// PeerBuckets limits what each peer may do: here five failed logins a
// minute, refused past that until a token refills; a success gives the
// attempt's token back.
func ExamplePeerBuckets() {
	fails := policy.NewPeerBuckets(policy.PeerBucketsConfig{Rate: policy.Rate{N: 5, Per: time.Minute}})
	peer := policy.PeerKey(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000})
	for range 5 {
		fails.Take(peer) // five wrong passwords
	}
	wait, n := fails.Take(peer)
	fmt.Println(peer, wait > 0, n)
	// Output:
	// 192.0.2.1 true 1
}
