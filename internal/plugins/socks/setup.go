// Package socks is a SOCKS 4, 4a and 5 proxy (RFC 1928, with RFC 1929
// username/password): CONNECT to a target by address or by name, the name
// resolved here and every address checked against destination rules
// before it is dialled, then a relay with back-pressure both ways
// (Twisted's twistd socks; references: Dante, OpenSSH's -D).
//
// This file is the package's contact with the rest of twistd (the
// registry, the entry's decoding, the service lifecycle, metrics); the
// protocol itself (wire.go, proxy.go, rules.go) needs only the protocol
// package's interfaces.
package socks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Defaults for the timeouts the file does not set.
const (
	// DefaultHandshakeTimeout bounds the handshake: greeting,
	// authentication and request, from accept to the request's last byte.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultConnectTimeout bounds resolving the target's name and
	// connecting to it.
	DefaultConnectTimeout = 10 * time.Second
)

// Options are the keys of a socks entry beyond name, type and listen.
type Options struct {
	// Users is a bcrypt htpasswd file: with it, clients must log in
	// (SOCKS 5 with RFC 1929); without it, anyone who reaches the port
	// may use the proxy.
	Users plugin.FilePath `yaml:"users"`
	// Destinations are the targets clients may reach.
	Destinations Destinations `yaml:"destinations"`
	// HandshakeTimeout and ConnectTimeout bound the two waits.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`
	// Log is the connection log (twistd socks --log): a line per request.
	Log      plugin.Path     `yaml:"log"`
	Policies plugin.Policies `yaml:"policies"`
}

// Destinations are the destination rules: a target in deny (a CIDR
// prefix or an address, optionally with :PORT) is refused; if allow is
// set, only targets in it are reached; loopback, link-local and the
// unspecified address are refused unless an allow prefix inside them
// names them.
type Destinations struct {
	Allow plugin.Prefixes `yaml:"allow"`
	Deny  []string        `yaml:"deny"`
}

type maker struct{}

func (maker) Name() string { return "socks" }
func (maker) Description() string {
	return "a SOCKS 4, 4a and 5 proxy (CONNECT), with users and destination rules"
}

func (maker) New(s *plugin.Entry) (service.Service, error) {
	opts := Options{HandshakeTimeout: DefaultHandshakeTimeout, ConnectTimeout: DefaultConnectTimeout}
	errs := []error{s.Decode(&opts)}
	if opts.HandshakeTimeout <= 0 {
		errs = append(errs, s.Errorf(s.Value("handshake_timeout"), "handshake_timeout must be positive"))
	}
	if opts.ConnectTimeout <= 0 {
		errs = append(errs, s.Errorf(s.Value("connect_timeout"), "connect_timeout must be positive"))
	}
	r := &rules{allow: opts.Destinations.Allow}
	denyNodes := listItems(s.Value("destinations"), "deny")
	for i, d := range opts.Destinations.Deny {
		rule, err := parseDeny(d)
		if err != nil {
			var at *yaml.Node
			if i < len(denyNodes) {
				at = denyNodes[i]
			}
			errs = append(errs, s.Errorf(at, "destinations: deny: %v", err))
			continue
		}
		r.deny = append(r.deny, rule)
	}
	for _, ep := range s.Listen {
		if !ep.IsStream() {
			errs = append(errs, s.Errorf(nil, "listen %s: SOCKS runs over streams, not datagrams", ep))
			break
		}
	}
	var u *htpasswd.File
	if opts.Users != "" && errors.Join(errs...) == nil {
		var err error
		if u, err = newUsers(string(opts.Users)); err != nil {
			errs = append(errs, s.Errorf(s.Value("users"), "%v", err))
		}
	}
	var clog *connLog
	if opts.Log != "" && errors.Join(errs...) == nil {
		// Opened here, before twistd drops privileges, through the
		// entry so that SIGUSR1 reopens it with the root opener.
		f, err := s.OpenLogMode(string(opts.Log), connLogMode)
		if err != nil {
			errs = append(errs, s.Errorf(s.Value("log"), "log: %v", err))
		} else {
			clog = &connLog{f: f}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &proxy{opts: opts, rules: r, users: u, policies: opts.Policies.Config(), clog: clog}, nil
}

// listItems returns the item nodes of key's list in mapping m, for
// pointing errors at them.
func listItems(m *yaml.Node, key string) []*yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

// Flags registers twistd's socks flags — -p/--port (1080), -i/--interface
// (127.0.0.1, as twistd: an open proxy is not offered to the network by
// default), -l/--log — and ours for users and destinations.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "1080", "port to listen on, or an endpoint (tcp:1080:interface=::1)")
	iface := fs.StringP("interface", "i", "127.0.0.1", "address to listen on")
	logf := fs.StringP("log", "l", "", "file to log each request to (peer, target, bytes each way, outcome); - for standard output")
	usersf := fs.String("users", "", "bcrypt htpasswd file: clients log in with SOCKS 5 username/password")
	allow := fs.StringArray("allow-destination", nil, "CIDR clients may connect to (repeatable; default: any but loopback and link-local)")
	deny := fs.StringArray("deny-destination", nil, "CIDR or CIDR:PORT clients may not connect to (repeatable)")
	connect := fs.Duration("connect-timeout", DefaultConnectTimeout, "how long to resolve and connect to a target")
	handshake := fs.Duration("handshake-timeout", DefaultHandshakeTimeout, "how long a client may take to send its request")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		if err != nil {
			return nil, err
		}
		if ep == "tcp:"+*port {
			if *iface != "" {
				ep += ":interface=" + strings.ReplaceAll(*iface, ":", `\:`)
			}
		} else if fs.Changed("interface") {
			return nil, fmt.Errorf("--interface: with an endpoint for --port, give the interface in it (%s:interface=%s)", *port, *iface)
		}
		entry := map[string]any{"type": "socks", "listen": []string{ep},
			"connect_timeout": connect.String(), "handshake_timeout": handshake.String()}
		if *logf != "" {
			entry["log"] = *logf
		}
		if *usersf != "" {
			entry["users"] = *usersf
		}
		dest := map[string]any{}
		if len(*allow) > 0 {
			dest["allow"] = *allow
		}
		if len(*deny) > 0 {
			dest["deny"] = *deny
		}
		if len(dest) > 0 {
			entry["destinations"] = dest
		}
		return entry, nil
	}
}

// KeyFlags names the flags behind the entry keys not named like them.
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"listen":            {"port", "interface"},
		"destinations":      {"allow-destination", "deny-destination"},
		"connect_timeout":   {"connect-timeout"},
		"handshake_timeout": {"handshake-timeout"},
	}
}

// proxy is the socks service: the SOCKS factory under the policies, and
// its connection log.
type proxy struct {
	service.Protocols
	opts     Options
	rules    *rules
	users    *htpasswd.File
	policies policy.Config
	clog     *connLog
}

// Start builds the SOCKS factory with the reactor's dialer and the
// service's counters, then serves it.
func (p *proxy) Start(ctx context.Context, env *service.Env) error {
	m, name := env.Metrics, env.Name
	requests := m.Counter(prometheus.CounterOpts{Name: "twistd_socks_requests_total",
		Help: "SOCKS requests answered, by service, SOCKS version (4, 4a, 5) and reply (succeeded, not_allowed, host_unreachable, connection_refused, ...)."},
		"service", "version", "reply")
	handshakes := m.Counter(prometheus.CounterOpts{Name: "twistd_socks_handshake_failures_total",
		Help: "SOCKS clients dropped before their request, by service and reason (malformed, no_acceptable_method, auth_failed, timeout)."},
		"service", "reason")
	refused := m.Counter(prometheus.CounterOpts{Name: "twistd_socks_destinations_refused_total",
		Help: "SOCKS requests refused by the destination rules, by service and the rule that refused (deny, allow, local)."},
		"service", "reason")
	refusals := policy.NewRefusals(env.Logger, nil)
	srv := &server{
		log: env.Logger, rules: p.rules, users: p.users, dial: env.Runner.Dial,
		lookup:           net.DefaultResolver.LookupNetIP,
		handshakeTimeout: p.opts.HandshakeTimeout, connectTimeout: p.opts.ConnectTimeout,
		clog: p.clog,
		refusal: func(msg, reason string, peer net.Addr, fields ...zap.Field) {
			refusals.Refuse(zapcore.InfoLevel, msg, reason, peer, fields...)
		},
		count: counters{
			request: func(version, reply string) {
				env.Stats.Requests.Add(1)
				requests.WithLabelValues(name, version, reply).Inc()
			},
			handshake: func(reason string) { handshakes.WithLabelValues(name, reason).Inc() },
			refused:   func(reason string) { refused.WithLabelValues(name, reason).Inc() },
		},
	}
	p.Protocols.Stream = srv.factory()
	p.Protocols.Policies = &p.policies
	if err := p.Protocols.Start(ctx, env); err != nil {
		_ = p.clog.Close()
		return err
	}
	return nil
}

// Stop drains the relays, then closes the connection log.
func (p *proxy) Stop(ctx context.Context) error {
	err := p.Protocols.Stop(ctx)
	return errors.Join(err, p.clog.Close())
}

// Reload re-reads the users file in place; on error the old users stay.
func (p *proxy) Reload(context.Context) error {
	if p.users == nil {
		return nil
	}
	if err := p.users.Reload(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}

// Reopen reopens the traffic log and the connection log (SIGUSR1).
func (p *proxy) Reopen() error {
	return errors.Join(p.Protocols.Reopen(), p.clog.Reopen())
}

var (
	_ plugin.Maker     = maker{}
	_ plugin.FlagNamer = maker{}
	_ service.Service  = (*proxy)(nil)
	_ service.Reloader = (*proxy)(nil)
	_ service.Reopener = (*proxy)(nil)
)
