// Package conch is twistd's SSH server (Twisted's conch, with OpenSSH's
// sshd as the reference): host keys generated on first start and kept in
// a directory, public-key logins against authorized_keys files, an
// optional bcrypt password file, exec and PTY shell sessions run as the
// logged-in user, the SFTP subsystem, and TCP forwarding when enabled.
//
// The service type is ssh; the one-liner is `twistd conch` (Twisted's
// name), and type: conch is accepted as an alias.
package conch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func init() {
	plugin.Register(maker{name: "ssh"})
	plugin.Register(maker{name: "conch"})
}

// Defaults, as OpenSSH's sshd has them.
const (
	DefaultMaxAuthTries   = 6                 // MaxAuthTries
	DefaultLoginGraceTime = 120 * time.Second // LoginGraceTime
	DefaultMaxSessions    = 10                // MaxSessions
	// DefaultDataDir is where host keys live when data: is not given,
	// relative to the application file's directory (for a one-liner, the
	// directory the command was typed in).
	DefaultDataDir = "ssh"
)

// Options are the keys of an ssh entry beyond name, type and listen.
type Options struct {
	// Data is the host key directory (ssh_host_ed25519_key, ssh_host_rsa_key).
	Data plugin.Path `yaml:"data"`
	// Auth lists how users log in, each as --auth takes it:
	// "authorized_keys" (each user's ~/.ssh/authorized_keys),
	// "authorized_keys:FILE" (FILE may hold %u, %h and %%, as sshd's
	// AuthorizedKeysFile) and "file:PATH" (a bcrypt htpasswd file).
	Auth AuthList `yaml:"auth"`
	// Users, when set, are the only accounts that may log in (AllowUsers).
	Users []string `yaml:"users"`
	// Forwarding enables direct-tcpip (ssh -L) and tcpip-forward (ssh -R)
	// for keys whose authorized_keys line does not forbid it.
	Forwarding bool `yaml:"forwarding"`
	// SFTP offers the sftp subsystem; true when absent.
	SFTP *bool `yaml:"sftp"`
	// AcceptEnv are the names (with * and ? patterns) a client's env
	// requests may set; [LANG, LC_*] when absent, as Debian's sshd.
	AcceptEnv []string `yaml:"accept_env"`
	// MaxAuthTries bounds the failed attempts of one connection.
	MaxAuthTries int `yaml:"max_auth_tries"`
	// LoginGraceTime bounds the handshake and login of a connection.
	LoginGraceTime time.Duration `yaml:"login_grace_time"`
	// MaxSessions bounds the open sessions of one connection.
	MaxSessions int `yaml:"max_sessions"`
	// MaxAuthFailuresPerPeer bounds the failed logins of one peer address
	// across its connections (30/m when absent); past it the peer's new
	// connections are closed before the handshake until it falls back.
	MaxAuthFailuresPerPeer plugin.Rate `yaml:"max_auth_failures_per_peer"`
	// Ciphers are the ciphers offered, in sshd_config's syntax (a
	// comma-separated list, or one that starts with + - or ^ to change
	// the defaults); x/crypto's secure set when absent, less
	// chacha20-poly1305 on amd64 processors with AES instructions
	// (defaultCiphers says why).
	Ciphers string `yaml:"ciphers"`
	// Policies are the stream policies every service has.
	Policies plugin.Policies `yaml:"policies"`
}

// AuthList is the auth: list: strings as --auth takes them, paths
// resolved against the entry's directory. A single string is a list of one.
type AuthList []AuthSpec

// AuthSpec is one way of logging in.
type AuthSpec struct {
	// Kind is "authorized_keys" or "file".
	Kind string
	// Path is the file (a pattern with %u and %h for authorized_keys).
	Path string
}

// String writes the spec as --auth takes it.
func (a AuthSpec) String() string {
	if a.Path == "" {
		return a.Kind
	}
	return a.Kind + ":" + a.Path
}

// UserKeysFile is the authorized_keys pattern of "authorized_keys" alone.
const UserKeysFile = "%h/.ssh/authorized_keys"

// ParseAuth reads one --auth value; relative paths are resolved against dir.
func ParseAuth(s, dir string) (AuthSpec, error) {
	kind, path, _ := strings.Cut(s, ":")
	switch kind {
	case "authorized_keys", "sshkeys":
		if path == "" {
			return AuthSpec{Kind: "authorized_keys", Path: UserKeysFile}, nil
		}
		if !filepath.IsAbs(path) && !strings.HasPrefix(path, "%h") {
			path = filepath.Join(dir, path)
		}
		return AuthSpec{Kind: "authorized_keys", Path: path}, nil
	case "file":
		if path == "" {
			return AuthSpec{}, fmt.Errorf("auth %q: give the password file, file:PATH", s)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		st, err := os.Stat(path)
		if err != nil {
			return AuthSpec{}, fmt.Errorf("auth %q: %w", s, err)
		}
		if !st.Mode().IsRegular() {
			return AuthSpec{}, fmt.Errorf("auth %q: %s is not a regular file", s, path)
		}
		return AuthSpec{Kind: "file", Path: path}, nil
	}
	return AuthSpec{}, fmt.Errorf("auth %q: want authorized_keys, authorized_keys:FILE or file:PATH", s)
}

// UnmarshalConfig decodes the auth: list.
func (l *AuthList) UnmarshalConfig(d *plugin.Decoder, n *yaml.Node) error {
	var items []string
	nodes := []*yaml.Node{n}
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := d.Decode(n, &s); err != nil {
			return err
		}
		items = []string{s}
	} else {
		if err := d.Decode(n, &items); err != nil {
			return err
		}
		nodes = n.Content
	}
	var errs []error
	*l = nil
	for i, s := range items {
		a, err := ParseAuth(s, d.Dir())
		if err != nil {
			at := n
			if i < len(nodes) {
				at = nodes[i]
			}
			errs = append(errs, d.Errorf(at, "%v", err))
			continue
		}
		*l = append(*l, a)
	}
	return errors.Join(errs...)
}

type maker struct{ name string }

func (m maker) Name() string { return m.name }

func (m maker) Description() string {
	if m.name == "conch" {
		return "an SSH server (alias of ssh, as Twisted names it)"
	}
	return "an SSH server: exec, PTY shells and SFTP as the logged-in user"
}

func (maker) New(e *plugin.Entry) (service.Service, error) {
	opts := Options{
		MaxAuthTries:           DefaultMaxAuthTries,
		LoginGraceTime:         DefaultLoginGraceTime,
		MaxSessions:            DefaultMaxSessions,
		AcceptEnv:              []string{"LANG", "LC_*"},
		MaxAuthFailuresPerPeer: plugin.Rate{N: 30, Per: time.Minute},
	}
	errs := []error{e.Decode(&opts)}
	if opts.Data == "" {
		opts.Data = plugin.Path(filepath.Join(e.Dir(), DefaultDataDir))
	}
	if len(opts.Auth) == 0 {
		opts.Auth = AuthList{{Kind: "authorized_keys", Path: UserKeysFile}}
	}
	if opts.MaxAuthTries < 1 {
		errs = append(errs, e.Errorf(e.Value("max_auth_tries"), "max_auth_tries must be at least 1"))
	}
	if opts.LoginGraceTime <= 0 {
		errs = append(errs, e.Errorf(e.Value("login_grace_time"), "login_grace_time must be positive"))
	}
	if opts.MaxSessions < 1 {
		errs = append(errs, e.Errorf(e.Value("max_sessions"), "max_sessions must be at least 1"))
	}
	for _, p := range opts.AcceptEnv {
		if _, err := filepath.Match(p, "X"); err != nil || p == "" {
			errs = append(errs, e.Errorf(e.Value("accept_env"), "accept_env %q: not a name pattern", p))
		}
	}
	ciphers, err := parseCiphers(opts.Ciphers)
	if err != nil {
		errs = append(errs, e.Errorf(e.Value("ciphers"), "%v", err))
	}
	for _, ep := range e.Listen {
		if !ep.IsStream() {
			errs = append(errs, e.Errorf(nil, "listen %s: SSH runs over streams, not datagrams", ep))
			break
		}
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	keys, err := loadHostKeys(string(opts.Data))
	if err != nil {
		return nil, e.Errorf(e.Value("data"), "host keys: %v", err)
	}
	srv, err := newServer(e.Name, opts, keys, ciphers)
	if err != nil {
		return nil, e.Errorf(e.Value("auth"), "%v", err)
	}
	return srv, nil
}

// Flags registers twistd conch's flags: -p/--port ENDPOINT, --data DIR,
// --auth (repeatable), --forwarding and --ciphers.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "tcp:22", "endpoint to listen on, as twistd: tcp:2222 (a bare number is a TCP port)")
	listen := fs.StringArray("listen", nil, "endpoint to listen on instead of --port (repeatable)")
	data := fs.String("data", "", "directory of the host keys, generated there on first start (default ./"+DefaultDataDir+")")
	auth := fs.StringArray("auth", nil, "authorized_keys, authorized_keys:FILE or file:PATH (bcrypt htpasswd); repeatable (default authorized_keys)")
	fwd := fs.Bool("forwarding", false, "allow TCP forwarding (ssh -L and -R)")
	ciphers := fs.String("ciphers", "", "ciphers to offer, as sshd_config's Ciphers: a comma-separated list, or +LIST, -LIST, ^LIST to change the defaults")
	return func() (map[string]any, error) {
		eps := append([]string(nil), *listen...)
		if fs.Changed("port") || len(eps) == 0 {
			ep, err := plugin.PortEndpoint("port", *port)
			if err != nil {
				return nil, err
			}
			eps = append(eps, ep)
		}
		entry := map[string]any{"type": "ssh", "listen": eps}
		if *data != "" {
			entry["data"] = *data
		}
		if len(*auth) > 0 {
			entry["auth"] = *auth
		}
		if *fwd {
			entry["forwarding"] = true
		}
		if *ciphers != "" {
			entry["ciphers"] = *ciphers
		}
		return entry, nil
	}
}

var _ plugin.Maker = maker{}
