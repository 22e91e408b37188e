// Package exec runs a program for each connection, inetd's way: the
// accepted socket itself is the program's stdin and stdout (no copying
// through twistd), its stderr becomes log lines tagged with the service,
// and ucspi-tcp's TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP and TCPLOCALPORT
// are in its environment. `twistd inetd --file inetd.conf` makes these
// services (and the inetd internal ones) from inetd.conf's lines. The
// procmon plugin, which supervises long-running programs, is here too.
package exec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func init() {
	plugin.Register(maker{})
	plugin.Register(inetdMaker{})
}

// DefaultMaxInstances is how many programs one service runs at once when
// max_instances is not given (systemd's MaxConnections= for Accept=yes).
const DefaultMaxInstances = 64

// Options are the keys of an exec entry beyond name, type and listen.
type Options struct {
	Command      []string          `yaml:"command,required"`
	User         string            `yaml:"user"`
	Group        string            `yaml:"group"`
	Env          map[string]string `yaml:"env"`
	Cwd          plugin.DirPath    `yaml:"cwd"`
	MaxInstances int               `yaml:"max_instances"`
	Policies     plugin.Policies   `yaml:"policies"`
}

type maker struct{}

func (maker) Name() string { return "exec" }
func (maker) Description() string {
	return "run a program per connection on the socket itself, as inetd (ucspi-tcp environment)"
}

func (maker) New(s *plugin.Entry) (service.Service, error) {
	opts := Options{MaxInstances: DefaultMaxInstances}
	errs := []error{s.Decode(&opts)}
	prog, err := checkProgram(s, opts)
	errs = append(errs, err)
	if opts.MaxInstances < 1 {
		errs = append(errs, s.Errorf(s.Value("max_instances"), "max_instances must be at least 1"))
	}
	for _, ep := range s.Listen {
		switch {
		case !ep.IsStream():
			errs = append(errs, s.Errorf(s.Value("listen"), "listen %s: exec runs a program per stream connection, not per datagram", ep))
		case ep.Kind == "ssl":
			errs = append(errs, s.Errorf(s.Value("listen"),
				"listen %s: a program cannot be handed a TLS connection (its keys live in twistd); put TLS in front, or use tcp:", ep))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return New(prog, opts.MaxInstances, opts.Policies.Config()), nil
}

// checkProgram resolves the command and the identity, each error at its key.
func checkProgram(s *plugin.Entry, opts Options) (Program, error) {
	var errs []error
	prog := Program{Env: opts.Env, Dir: string(opts.Cwd), As: Identity{User: opts.User, Group: opts.Group}}
	at := s.Value("command")
	switch {
	case at != nil && len(opts.Command) == 0:
		errs = append(errs, s.Errorf(at, "command: give the program and its arguments, e.g. [/usr/bin/rev]"))
	case len(opts.Command) > 0:
		path, err := ResolveProgram(opts.Command[0], s.Dir(), PathOf(opts.Env))
		if err != nil {
			if at != nil && len(at.Content) > 0 {
				at = at.Content[0]
			}
			errs = append(errs, s.Errorf(at, "command: %v", err))
		}
		prog.Path, prog.Args = path, opts.Command
	}
	if _, err := prog.As.Credential(); err != nil {
		key := "user"
		if errors.Is(err, errNoGroup) {
			key = "group"
		}
		errs = append(errs, s.Errorf(s.Value(key), "%v", err))
	}
	for k := range opts.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, s.Errorf(s.Value("env"), "env: %q is not a variable name", k))
		}
	}
	return prog, errors.Join(errs...)
}

// ArgsUsage implements plugin.ArgsTaker: `twistd exec [flags] -- PROG ARGS...`.
func (maker) ArgsUsage() string { return "-- PROGRAM [ARGS...]" }

// Flags registers `twistd exec`'s flags; the program and its arguments
// follow them (after --).
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	listen := fs.StringArray("listen", nil, "endpoint to listen on (repeatable), e.g. tcp:7001")
	port := fs.StringP("port", "p", "", "port or endpoint to listen on (tcp:PORT)")
	usr := fs.String("user", "", "run the program as this user (when twistd is root)")
	grp := fs.String("group", "", "and this group (default: the user's)")
	cwd := fs.String("cwd", "", "the program's working directory")
	maxInst := fs.Int("max-instances", DefaultMaxInstances, "programs running at once; connections beyond are refused")
	env := fs.StringArray("env", nil, "NAME=VALUE in the program's environment (repeatable)")
	fs.SetInterspersed(false)
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
		args := fs.Args()
		if len(args) == 0 {
			return nil, fmt.Errorf("give the program to run: twistd exec --port N -- PROGRAM [ARGS...]")
		}
		e := map[string]any{"type": "exec", "listen": eps, "command": args, "max_instances": *maxInst}
		if *usr != "" {
			e["user"] = *usr
		}
		if *grp != "" {
			e["group"] = *grp
		}
		if *cwd != "" {
			e["cwd"] = *cwd
		}
		if len(*env) > 0 {
			m := map[string]string{}
			for _, kv := range *env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return nil, fmt.Errorf("--env %q: want NAME=VALUE", kv)
				}
				m[k] = v
			}
			e["env"] = m
		}
		return e, nil
	}
}

// KeyFlags names the flags behind the keys not named like them.
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{"command": {"program"}, "max_instances": {"max-instances"}}
}

var (
	_ plugin.FlagNamer = maker{}
	_ plugin.ArgsTaker = maker{}
)
