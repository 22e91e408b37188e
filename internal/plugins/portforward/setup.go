package portforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/policy"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// DefaultConnectTimeout bounds the connection to the target when the file
// does not say.
const DefaultConnectTimeout = 10 * time.Second

// Options are the keys of a portforward entry beyond name, type and listen.
type Options struct {
	Connect        string          `yaml:"connect,required"`
	ConnectTimeout time.Duration   `yaml:"connect_timeout"`
	Policies       plugin.Policies `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string        { return "portforward" }
func (maker) Description() string { return "forward TCP connections to another host and port" }

func (maker) New(s *plugin.Entry) (service.Service, error) {
	opts := Options{ConnectTimeout: DefaultConnectTimeout}
	// Decode checks the policies' values too; the rest is checked even
	// when some keys are wrong, so every problem shows at once.
	errs := []error{s.Decode(&opts)}
	if at := s.Value("connect"); at != nil && opts.Connect != "" {
		host, port, err := net.SplitHostPort(opts.Connect)
		if n, perr := strconv.Atoi(port); err != nil || host == "" {
			errs = append(errs, s.Errorf(at, "connect %q: want host:port", opts.Connect))
		} else if perr != nil || n < 1 || n > 65535 {
			errs = append(errs, s.Errorf(at, "connect %q: port %q is not a port number", opts.Connect, port))
		}
	} else if at != nil {
		errs = append(errs, s.Errorf(at, "connect %q: want host:port", opts.Connect))
	}
	if opts.ConnectTimeout <= 0 {
		errs = append(errs, s.Errorf(s.Value("connect_timeout"), "connect_timeout must be positive"))
	}
	for _, ep := range s.Listen {
		if !ep.IsStream() {
			errs = append(errs, s.Errorf(nil, "listen %s: port forwarding relays streams, not datagrams", ep))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &forwarder{target: opts.Connect, timeout: opts.ConnectTimeout, policies: opts.Policies.Config()}, nil
}

// Flags registers twistd's portforward flags: -p/--port, -h/--host,
// -d/--dest_port (help is --help only, as in twistd).
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "", "local port or endpoint to listen on, as twistd: 8022 (tcp:8022) or tcp:8022:interface=127.0.0.1")
	host := fs.StringP("host", "h", "localhost", "host to forward to")
	dest := fs.IntP("dest_port", "d", -1, "port to forward to")
	listen := fs.StringArray("listen", nil, "endpoint to listen on instead of --port (repeatable)")
	timeout := fs.Duration("connect-timeout", DefaultConnectTimeout, "how long to wait for the target")
	return func() (map[string]any, error) {
		eps := append([]string(nil), *listen...)
		if fs.Changed("port") {
			ep, err := plugin.PortEndpoint("port", *port)
			if err != nil {
				return nil, err
			}
			eps = append(eps, ep)
		}
		if len(eps) == 0 {
			return nil, fmt.Errorf("give --port N (or --listen ENDPOINT)")
		}
		if *dest < 1 || *dest > 65535 {
			return nil, fmt.Errorf("give --dest_port N (1-65535)")
		}
		return map[string]any{"type": "portforward", "listen": eps,
			"connect":         net.JoinHostPort(*host, strconv.Itoa(*dest)),
			"connect_timeout": timeout.String()}, nil
	}
}

// forwarder is the portforward service: a relay factory under the policies.
type forwarder struct {
	service.Protocols
	target   string
	timeout  time.Duration
	policies policy.Config
}

// Start builds the relay with the reactor's dialer, then serves it.
func (f *forwarder) Start(ctx context.Context, env *service.Env) error {
	f.Protocols.Stream = factory(f.target, f.timeout, env.Runner.Dial, env.Logger)
	f.Protocols.Policies = &f.policies
	return f.Protocols.Start(ctx, env)
}

var _ service.Service = (*forwarder)(nil)
