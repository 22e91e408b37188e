// Package echo is the echo service of RFC 862: whatever a client sends
// over TCP comes back to it, and every UDP datagram is sent back as is.
package echo

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol/wire"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Options are the keys of an echo service entry beyond name, type and listen.
type Options struct {
	Policies plugin.Policies `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string        { return "echo" }
func (maker) Description() string { return "RFC 862 echo server over TCP and UDP" }

func (maker) New(s *plugin.Entry) (service.Service, error) {
	var opts Options
	// Decode checks the policies' values too, each at its key.
	if err := s.Decode(&opts); err != nil {
		return nil, err
	}
	pc := opts.Policies.Config()
	return New(&pc), nil
}

// Flags registers `twistd echo`'s flags: --listen ENDPOINT..., and --port N
// (TCP and UDP on the same port). With neither, it listens on tcp:7 and udp:7.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	listen := plugin.ListenFlags(fs, "tcp:7", "udp:7")
	return func() (map[string]any, error) {
		eps, err := listen()
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "echo", "listen": eps}, nil
	}
}

// New returns an echo service under the given connection policies: RFC
// 862's echo (the tcp plugin's protocol: echo), under its own type name
// as twistd has it.
func New(policies *policy.Config) service.Service {
	return &service.Protocols{
		Stream:   wire.Factory("echo", time.Now),
		Datagram: wire.Datagram("echo", time.Now),
		Policies: policies,
	}
}
