// Package tcp is the tcp plugin: the simple wire protocols of RFCs
// 862–868 (package protocol/wire) over TCP and UDP, one per service.
package tcp

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/protocol/wire"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Options are the keys of a tcp service entry beyond name, type and listen.
type Options struct {
	Protocol string          `yaml:"protocol,required"`
	Policies plugin.Policies `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string { return "tcp" }
func (maker) Description() string {
	return "RFC 862-868 wire protocols (echo, discard, chargen, daytime, time) over TCP and UDP"
}

func (maker) New(s *plugin.Entry) (service.Service, error) {
	var opts Options
	// Decode checks the policies' values too; the protocol is checked
	// even when other keys are wrong, so every problem shows at once.
	err := s.Decode(&opts)
	if at := s.Value("protocol"); at != nil && !slices.Contains(wire.Protocols, opts.Protocol) {
		err = errors.Join(err, s.Errorf(at, "protocol %q: want one of %s", opts.Protocol, strings.Join(wire.Protocols, ", ")))
	}
	if err != nil {
		return nil, err
	}
	pc := opts.Policies.Config()
	return New(opts.Protocol, &pc, time.Now), nil
}

// Flags registers `twistd tcp`'s flags: --protocol, --listen ENDPOINT...,
// and --port N (TCP and UDP on the same port).
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	proto := fs.String("protocol", "echo", "protocol to serve: "+strings.Join(wire.Protocols, ", "))
	listen := plugin.ListenFlags(fs)
	return func() (map[string]any, error) {
		eps, err := listen()
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "tcp", "protocol": *proto, "listen": eps}, nil
	}
}

// New returns a service speaking proto over its stream and datagram endpoints.
func New(proto string, policies *policy.Config, now func() time.Time) service.Service {
	return &service.Protocols{
		Stream:   wire.Factory(proto, now),
		Datagram: wire.Datagram(proto, now),
		Policies: policies,
	}
}
