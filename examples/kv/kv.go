// Package kv is a twistd plugin serving an in-memory key/value store over a
// length-prefixed protocol (Twisted's Int32StringReceiver): each request and
// each answer is one string with a big-endian 32-bit length in front.
//
// Requests are "GET key", "SET key value" (the value is every byte after
// the second space, binary included) and "DEL key"; answers are "VALUE
// value", "NOTFOUND", "OK" or "ERR reason". The store is shared by every
// connection of a service, under one mutex, and bounded by max_keys and
// max_message; each connection's own state is its framer, which needs no
// lock (the reactor never runs two of its callbacks at once).
package kv

import (
	"bytes"
	"net"
	"sync"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/protocol"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(Maker{}) }

// Options are the keys of a kv service entry beyond name, type and listen.
type Options struct {
	// MaxKeys bounds the store; a SET of a new key beyond it is refused.
	MaxKeys int `yaml:"max_keys"`
	// MaxMessage bounds one request (and so one value).
	MaxMessage plugin.Size     `yaml:"max_message"`
	Policies   plugin.Policies `yaml:"policies"`
}

// Maker is the kv plugin: type: kv, or `twistd kv --port N`.
type Maker struct{}

// Name implements plugin.Maker.
func (Maker) Name() string { return "kv" }

// Description implements plugin.Maker.
func (Maker) Description() string {
	return "an in-memory key/value store over 32-bit length-prefixed strings"
}

// New implements plugin.Maker.
func (Maker) New(e *plugin.Entry) (service.Service, error) {
	opts := Options{MaxKeys: 10000, MaxMessage: 64 << 10}
	if err := e.Decode(&opts); err != nil {
		return nil, err
	}
	var errs []error
	if opts.MaxKeys <= 0 {
		errs = append(errs, e.Errorf(e.Value("max_keys"), "max_keys must be positive"))
	}
	if opts.MaxMessage < 16 || opts.MaxMessage > 16<<20 {
		errs = append(errs, e.Errorf(e.Value("max_message"), "max_message must be between 16 and 16MiB"))
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	pc := opts.Policies.Config()
	return &service.Protocols{Stream: NewStore(opts), Policies: &pc}, nil
}

// Flags implements plugin.Maker: --port N or ENDPOINT (-p, default 7070).
func (Maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "7070", "port number or endpoint string to listen on")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		return map[string]any{"type": "kv", "listen": []string{ep}}, err
	}
}

// Store is the key/value store and the protocol.Factory of its connections.
type Store struct {
	opts Options
	mu   sync.Mutex
	m    map[string][]byte
}

// NewStore returns an empty store.
func NewStore(opts Options) *Store { return &Store{opts: opts, m: map[string][]byte{}} }

// BuildProtocol implements protocol.Factory.
func (s *Store) BuildProtocol(net.Addr) protocol.Protocol {
	p := &protocol.StringProtocol{Framer: &protocol.Int32Receiver{MaxLength: int(s.opts.MaxMessage)}}
	p.OnString = func(msg []byte) error { return p.SendString(s.handle(msg)) }
	return p
}

// handle answers one request.
func (s *Store) handle(msg []byte) []byte {
	cmd, rest, _ := bytes.Cut(msg, []byte(" "))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch string(cmd) {
	case "GET":
		v, ok := s.m[string(rest)]
		if !ok {
			return []byte("NOTFOUND")
		}
		return append([]byte("VALUE "), v...)
	case "SET":
		k, v, ok := bytes.Cut(rest, []byte(" "))
		if !ok || len(k) == 0 {
			return []byte("ERR usage: SET key value")
		}
		if _, exists := s.m[string(k)]; !exists && len(s.m) >= s.opts.MaxKeys {
			return []byte("ERR store full")
		}
		s.m[string(k)] = bytes.Clone(v) // msg is only valid during the call
		return []byte("OK")
	case "DEL":
		if _, ok := s.m[string(rest)]; !ok {
			return []byte("NOTFOUND")
		}
		delete(s.m, string(rest))
		return []byte("OK")
	}
	return []byte("ERR unknown command")
}
