// Package ftp is the ftp plugin, Twisted's `twistd ftp`: an FTP server
// (github.com/fclairamb/ftpserverlib) confined to one directory,
// anonymous and read-only by default, with users from a bcrypt htpasswd
// file who may write where configured, passive and active data
// connections and AUTH TLS. vsftpd is the reference for its defaults.
package ftp

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/twistd-go/twistd/htpasswd"
	"github.com/twistd-go/twistd/plugin"
	"github.com/twistd-go/twistd/service"
)

func init() { plugin.Register(maker{}) }

// Defaults, after vsftpd's.
const (
	// DefaultIdleTimeout is vsftpd's idle_session_timeout.
	DefaultIdleTimeout = 300 * time.Second
	// DefaultDataTimeout bounds opening a data connection (vsftpd's
	// connect_timeout and accept_timeout).
	DefaultDataTimeout = 60 * time.Second
	// DefaultLoginFailureDelay is vsftpd's delay_failed_login.
	DefaultLoginFailureDelay = time.Second
	// DefaultMaxPeerLoginFailures failed logins within
	// DefaultPeerFailureWindow block a peer's further logins.
	DefaultMaxPeerLoginFailures = 10
	DefaultPeerFailureWindow    = 10 * time.Minute
	// DefaultBanner greets clients.
	DefaultBanner = "twistd FTP server ready"
)

// Options are the keys of an ftp entry beyond name, type and listen.
type Options struct {
	// Root is the directory served; nothing outside it is reachable.
	Root plugin.DirPath `yaml:"root,required"`
	// Anonymous allows logins as UserAnonymous (and "ftp") with any
	// password; default true.
	Anonymous bool `yaml:"anonymous"`
	// UserAnonymous is the anonymous user's name (twistd's --userAnonymous).
	UserAnonymous string `yaml:"user_anonymous"`
	// PasswordFile is a bcrypt htpasswd file of users.
	PasswordFile plugin.FilePath `yaml:"password_file"`
	// Writable are the users who may upload, delete, rename and make
	// directories; "*" is every user of the password file. Anonymous
	// sessions write only when the anonymous name is listed.
	Writable []string `yaml:"writable"`
	// Homes are users' own directories below Root: such a user's session
	// sees only that directory, as its root (vsftpd's chroot_local_user
	// with local_root).
	Homes map[string]string `yaml:"homes"`
	// Certificate and PrivKey enable AUTH TLS (explicit FTPS).
	Certificate plugin.FilePath `yaml:"certificate"`
	PrivKey     plugin.FilePath `yaml:"privkey"`
	// RequireTLS is when AUTH TLS is required before USER: never,
	// passwords (logins with a password; the default with a certificate,
	// as vsftpd's force_local_logins_ssl) or always.
	RequireTLS string `yaml:"require_tls"`
	// PassivePorts is the port range of passive data connections,
	// LOW-HIGH; empty: any free port.
	PassivePorts string `yaml:"passive_ports"`
	// PassiveAddress is the IPv4 address PASV announces; empty: the
	// address the client connected to.
	PassiveAddress string `yaml:"passive_address"`
	// Active allows PORT and EPRT (to the client's own address, ports
	// 1024 and up only); default true.
	Active bool `yaml:"active"`
	// IdleTimeout closes a control connection idle this long (no command,
	// no transfer).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// DataTimeout bounds the opening of a data connection.
	DataTimeout time.Duration `yaml:"data_timeout"`
	// LoginFailureDelay is waited before answering a failed login.
	LoginFailureDelay time.Duration `yaml:"login_failure_delay"`
	// MaxPeerLoginFailures refuses a peer's logins after this many failures
	// within PeerFailureWindow, over all its sessions; 0: never.
	MaxPeerLoginFailures int           `yaml:"max_peer_login_failures"`
	PeerFailureWindow    time.Duration `yaml:"peer_failure_window"`
	// Banner is the greeting (220).
	Banner string `yaml:"banner"`
	// Policies apply to control connections (max_connections_per_peer
	// limits a peer's sessions).
	Policies plugin.Policies `yaml:"policies"`
}

// requireTLS values.
const (
	tlsNever     = "never"
	tlsPasswords = "passwords"
	tlsAlways    = "always"
)

// config is an entry checked, as the service uses it.
type config struct {
	root              string
	anonymous         bool
	userAnonymous     string
	passwordFile      string
	writable          map[string]bool
	homes             map[string]string
	certificate, key  string
	requireTLS        string
	portLow, portHigh int
	passiveAddress    string
	active            bool
	idle, dataTimeout time.Duration
	failDelay         time.Duration
	maxPeerFailures   int
	peerWindow        time.Duration
	banner            string
}

type maker struct{}

func (maker) Name() string { return "ftp" }
func (maker) Description() string {
	return "an FTP server: anonymous read-only by default, users from a bcrypt file, passive and active mode, AUTH TLS"
}

func defaults() Options {
	return Options{
		Anonymous: true, UserAnonymous: "anonymous", Active: true,
		IdleTimeout: DefaultIdleTimeout, DataTimeout: DefaultDataTimeout,
		LoginFailureDelay:    DefaultLoginFailureDelay,
		MaxPeerLoginFailures: DefaultMaxPeerLoginFailures, PeerFailureWindow: DefaultPeerFailureWindow,
		Banner: DefaultBanner,
	}
}

func (maker) New(e *plugin.Entry) (service.Service, error) {
	opts := defaults()
	errs := []error{e.Decode(&opts)}
	cfg := &config{
		root: string(opts.Root), anonymous: opts.Anonymous, userAnonymous: opts.UserAnonymous,
		passwordFile: string(opts.PasswordFile), writable: map[string]bool{}, homes: opts.Homes,
		certificate: string(opts.Certificate), key: string(opts.PrivKey),
		requireTLS: opts.RequireTLS, passiveAddress: opts.PassiveAddress, active: opts.Active,
		idle: opts.IdleTimeout, dataTimeout: opts.DataTimeout, failDelay: opts.LoginFailureDelay,
		maxPeerFailures: opts.MaxPeerLoginFailures,
		peerWindow:      opts.PeerFailureWindow, banner: opts.Banner,
	}
	at := e.Value
	if opts.Anonymous && opts.UserAnonymous == "" {
		errs = append(errs, e.Errorf(at("user_anonymous"), "user_anonymous is empty; give a name or set anonymous: false"))
	}
	for _, u := range opts.Writable {
		if u == "" {
			errs = append(errs, e.Errorf(at("writable"), "writable: an empty user name"))
		}
		cfg.writable[u] = true
	}
	if len(opts.Writable) > 0 && opts.PasswordFile == "" && !(opts.Anonymous && cfg.writable[opts.UserAnonymous]) {
		errs = append(errs, e.Errorf(at("writable"), "writable users but no password_file to log them in"))
	}
	if len(opts.Homes) > 0 && opts.Root != "" {
		if r, err := os.OpenRoot(string(opts.Root)); err == nil {
			for _, u := range slices.Sorted(maps.Keys(opts.Homes)) {
				h := filepath.Clean(opts.Homes[u])
				if filepath.IsAbs(h) || h == ".." || strings.HasPrefix(h, "../") {
					errs = append(errs, e.Errorf(at("homes"), "homes: %s: %q: want a path relative to root, below it", u, opts.Homes[u]))
				} else if fi, err := r.Stat(h); err != nil || !fi.IsDir() {
					errs = append(errs, e.Errorf(at("homes"), "homes: %s: %q is not a directory below root %s", u, opts.Homes[u], opts.Root))
				}
			}
			_ = r.Close()
		}
	}
	switch {
	case (opts.Certificate == "") != (opts.PrivKey == ""):
		n := at("certificate")
		if n == nil {
			n = at("privkey")
		}
		errs = append(errs, e.Errorf(n, "AUTH TLS needs both certificate and privkey"))
	case opts.Certificate != "":
		if _, err := loadTLS(cfg.certificate, cfg.key); err != nil {
			errs = append(errs, e.Errorf(at("certificate"), "%v", err))
		}
	}
	switch opts.RequireTLS {
	case "":
		cfg.requireTLS = tlsNever
		if opts.Certificate != "" {
			cfg.requireTLS = tlsPasswords
		}
	case tlsNever, tlsPasswords, tlsAlways:
		if opts.RequireTLS != tlsNever && opts.Certificate == "" {
			errs = append(errs, e.Errorf(at("require_tls"), "require_tls %s needs a certificate and privkey", opts.RequireTLS))
		}
	default:
		errs = append(errs, e.Errorf(at("require_tls"), "require_tls %q: want never, passwords or always", opts.RequireTLS))
	}
	if opts.PassivePorts != "" {
		lo, hi, err := parsePortRange(opts.PassivePorts)
		if err != nil {
			errs = append(errs, e.Errorf(at("passive_ports"), "passive_ports %q: %v", opts.PassivePorts, err))
		}
		cfg.portLow, cfg.portHigh = lo, hi
	}
	if opts.PassiveAddress != "" {
		if ip := net.ParseIP(opts.PassiveAddress); ip == nil || ip.To4() == nil {
			errs = append(errs, e.Errorf(at("passive_address"), "passive_address %q: want an IPv4 address (PASV can announce no other)", opts.PassiveAddress))
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"idle_timeout", opts.IdleTimeout}, {"data_timeout", opts.DataTimeout}, {"peer_failure_window", opts.PeerFailureWindow}} {
		if d.v < time.Second {
			errs = append(errs, e.Errorf(at(d.key), "%s %s: want at least 1s", d.key, d.v))
		}
	}
	if opts.LoginFailureDelay < 0 || opts.LoginFailureDelay > time.Minute {
		errs = append(errs, e.Errorf(at("login_failure_delay"), "login_failure_delay %s: want 0 to 1m", opts.LoginFailureDelay))
	}
	if opts.MaxPeerLoginFailures < 0 {
		errs = append(errs, e.Errorf(at("max_peer_login_failures"), "max_peer_login_failures must not be negative"))
	}
	if strings.ContainsAny(opts.Banner, "\r\n") {
		errs = append(errs, e.Errorf(at("banner"), "banner must be one line"))
	}
	if cfg.passwordFile != "" {
		if _, err := htpasswd.Load(cfg.passwordFile); err != nil {
			errs = append(errs, e.Errorf(at("password_file"), "%v", err))
		}
	}
	if !opts.Anonymous && opts.PasswordFile == "" {
		errs = append(errs, e.Errorf(at("anonymous"), "anonymous: false and no password_file: nobody could log in"))
	}
	for _, ep := range e.Listen {
		if !ep.IsStream() {
			errs = append(errs, e.Errorf(nil, "listen %s: FTP is spoken over streams, not datagrams", ep))
		}
		if ep.Kind == "ssl" {
			errs = append(errs, e.Errorf(nil, "listen %s: implicit FTPS is not supported; listen on tcp: and give certificate and privkey for AUTH TLS", ep))
		}
	}
	if err := plugin.Join(errs...); err != nil {
		return nil, err
	}
	return &server{cfg: cfg, policies: opts.Policies.Config()}, nil
}

// parsePortRange parses LOW-HIGH (or a single port).
func parsePortRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, errors.New("want LOW-HIGH, such as 30000-30100")
	case lo < 1024 || hi > 65535:
		return 0, 0, errors.New("ports must be within 1024-65535")
	case lo > hi:
		return 0, 0, fmt.Errorf("%d is above %d", lo, hi)
	}
	return lo, hi, nil
}

// Flags registers twistd's ftp flags (-p/--port, -r/--root,
// --userAnonymous, --password-file) and ours for TLS and passive mode.
func (maker) Flags(fs *pflag.FlagSet) func() (map[string]any, error) {
	port := fs.StringP("port", "p", "2121", "port or endpoint to listen on: 2121 (tcp:2121) or tcp:2121:interface=127.0.0.1")
	root := fs.StringP("root", "r", "/usr/local/ftp", "directory to serve")
	anon := fs.String("userAnonymous", "anonymous", "name of the anonymous user")
	noAnon := fs.Bool("no-anonymous", false, "refuse anonymous logins")
	pwfile := fs.String("password-file", "", "bcrypt htpasswd file of users")
	writable := fs.StringArray("writable", nil, "user who may write (repeatable; * for every user of the password file)")
	cert := fs.String("certificate", "", "PEM certificate for AUTH TLS")
	key := fs.String("privkey", "", "PEM private key for AUTH TLS")
	requireTLS := fs.String("require-tls", "", "when AUTH TLS is required: never, passwords (default with a certificate), always")
	pasv := fs.String("passive-ports", "", "passive port range, LOW-HIGH")
	pasvAddr := fs.String("passive-address", "", "IPv4 address PASV announces")
	return func() (map[string]any, error) {
		ep, err := plugin.PortEndpoint("port", *port)
		if err != nil {
			return nil, err
		}
		m := map[string]any{"type": "ftp", "listen": []string{ep}, "root": *root,
			"user_anonymous": *anon, "anonymous": !*noAnon}
		set := func(key, v string) {
			if v != "" {
				m[key] = v
			}
		}
		set("password_file", *pwfile)
		set("certificate", *cert)
		set("privkey", *key)
		set("require_tls", *requireTLS)
		set("passive_ports", *pasv)
		set("passive_address", *pasvAddr)
		if len(*writable) > 0 {
			m["writable"] = *writable
		}
		return m, nil
	}
}

// KeyFlags names the flags behind keys not named like them.
func (maker) KeyFlags() map[string][]string {
	return map[string][]string{
		"listen":          {"port"},
		"user_anonymous":  {"userAnonymous"},
		"anonymous":       {"no-anonymous"},
		"require_tls":     {"require-tls"},
		"passive_ports":   {"passive-ports"},
		"passive_address": {"passive-address"},
	}
}

var _ plugin.FlagNamer = maker{}
