// Package echo is the echo service of RFC 862: whatever a client sends
// over TCP comes back to it, and every UDP datagram is sent back as is.
package echo

import (
	"net"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/plugins"
	"github.com/twistd-go/twistd/internal/protocol"
	"github.com/twistd-go/twistd/internal/protocol/policy"
	"github.com/twistd-go/twistd/internal/service"
)

func init() { plugins.Register(maker{}) }

// Options are the keys of an echo service entry beyond name, type and listen.
type Options struct {
	Policies policy.Config `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string        { return "echo" }
func (maker) Description() string { return "RFC 862 echo server over TCP and UDP" }

func (maker) New(s *config.Service) (service.Service, error) {
	var opts Options
	if err := s.Decode(&opts); err != nil {
		return nil, err
	}
	if len(s.Listen) == 0 {
		return nil, s.Errorf(nil, "listen: at least one endpoint is required")
	}
	if err := opts.Policies.Validate(); err != nil {
		return nil, s.Errorf(nil, "policies: %v", err)
	}
	return New(&opts.Policies), nil
}

// Flags registers `twistd echo`'s flags: --listen ENDPOINT..., and --port N
// (TCP and UDP on the same port). With neither, it listens on tcp:7 and udp:7.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	listen := plugins.ListenFlags(fs, "tcp:7", "udp:7")
	return func() (map[string]any, error) {
		eps, err := listen()
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "echo", "listen": eps}, nil
	}
}

// New returns an echo service under the given connection policies.
func New(policies *policy.Config) service.Service {
	return &service.Protocols{
		Stream:   protocol.FactoryFunc(func(net.Addr) protocol.Protocol { return &Echo{} }),
		Datagram: protocol.DatagramFunc(echoDatagram),
		Policies: policies,
	}
}

// Echo is the echo protocol: every byte received is written back.
type Echo struct {
	protocol.Base
}

// DataReceived writes data back.
func (e *Echo) DataReceived(data []byte) { e.Transport.Write(data) }

func echoDatagram(data []byte, from net.Addr, w protocol.DatagramWriter) {
	_, _ = w.WriteTo(data, from)
}

var _ protocol.Protocol = (*Echo)(nil)
