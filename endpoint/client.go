package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultConnectTimeout is how long a client endpoint waits for its
// connection (and TLS handshake) when it names no timeout: 30 seconds,
// as in Twisted.
const DefaultConnectTimeout = 30 * time.Second

// maxConnectTimeout bounds the timeout= of a client endpoint.
const maxConnectTimeout = 24 * time.Hour

// Client is one parsed client endpoint string: where to connect to. The
// zero value is not a valid endpoint; build one with ParseClient or by
// hand. Clients are comparable values.
type Client struct {
	// Kind is TCP, SSL or Unix.
	Kind Kind

	// Host and Port are the peer of tcp and ssl: an IP address or a host
	// name, and a port from 1 to 65535.
	Host string
	Port int
	// BindAddress is the local IP address to connect from (tcp, ssl);
	// empty lets the system choose.
	BindAddress string

	// Path is the socket path of a unix endpoint ("@name" for an abstract
	// socket on Linux).
	Path string

	// Timeout bounds the connection attempt, the TLS handshake included;
	// 0 means DefaultConnectTimeout.
	Timeout time.Duration

	// CACertsDir (ssl) is a directory whose *.pem files are the only
	// certificate authorities trusted to sign the server's certificate;
	// empty trusts the system's roots. Either way the certificate must be
	// valid for Host.
	CACertsDir string
	// CertKey and PrivateKey (ssl) name the PEM files of a client
	// certificate to present; either defaults to the other (one PEM file
	// holding both), and both empty present none.
	CertKey    string
	PrivateKey string
}

// ParseClient parses a client endpoint string, Twisted's grammar of
// clientFromString:
//
//	tcp:host=HOST:port=PORT[:timeout=SECONDS][:bindAddress=IP]
//	ssl:host=HOST:port=PORT[:timeout=SECONDS][:bindAddress=IP][:caCertsDir=DIR][:certKey=PEM][:privateKey=PEM]   (alias tls:)
//	unix:path=PATH[:timeout=SECONDS]
//
// As in Twisted, host and port (in that order) and the unix path may be
// given bare ("tcp:example.com:80", "unix:/run/app.sock"). Escaping is the
// server grammar's: "\:" for a colon (host=\:\:1), "\\" for a backslash.
// Timeouts are seconds, with at most three decimals. Errors name the
// string and the option that is wrong.
func ParseClient(s string) (Client, error) {
	c, err := parseClient(s)
	if err != nil {
		return Client{}, fmt.Errorf("client endpoint %q: %w", s, err)
	}
	return c, nil
}

func parseClient(s string) (Client, error) {
	switch {
	case s == "":
		return Client{}, errors.New("empty")
	case strings.IndexByte(s, 0) >= 0:
		return Client{}, errors.New("contains a NUL byte")
	case !utf8.ValidString(s):
		return Client{}, errors.New("not valid UTF-8")
	}
	typ, rest, hasRest, err := cut(s)
	if err != nil {
		return Client{}, err
	}
	var fields []field
	if hasRest {
		if fields, err = split(rest); err != nil {
			return Client{}, err
		}
	}
	switch typ {
	case "tcp":
		return parseClientInet(TCP, typ, fields)
	case "ssl", "tls":
		return parseClientInet(SSL, typ, fields)
	case "unix":
		return parseClientUnix(fields)
	case "tcp6", "udp", "systemd", "haproxy":
		return Client{}, fmt.Errorf("%s is a server endpoint type; a client connects with tcp, ssl or unix", typ)
	}
	return Client{}, fmt.Errorf("unknown type %q (want tcp, ssl or unix)", typ)
}

func parseClientInet(kind Kind, typ string, fields []field) (Client, error) {
	keys := []string{"host", "port", "timeout", "bindAddress"}
	if kind == SSL {
		keys = append(keys, "caCertsDir", "certKey", "privateKey")
	}
	o, err := bindClient(typ, fields, []string{"host", "port"}, keys)
	if err != nil {
		return Client{}, err
	}
	switch {
	case !o.has("host"):
		return Client{}, fmt.Errorf("%s needs host=", typ)
	case !o.has("port"):
		return Client{}, fmt.Errorf("%s needs port=", typ)
	}
	c := Client{Kind: kind}
	if c.Host, err = parseHost("host", o.vals["host"]); err != nil {
		return Client{}, err
	}
	if c.Port, err = parsePort(o.vals["port"]); err != nil {
		return Client{}, err
	}
	if c.Port == 0 {
		return Client{}, errors.New("port 0 cannot be connected to (want 1-65535)")
	}
	if c.Timeout, err = clientTimeout(o); err != nil {
		return Client{}, err
	}
	if v, ok := o.vals["bindAddress"]; ok {
		a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"))
		if err != nil {
			return Client{}, fmt.Errorf("bindAddress %q is not an IP address", v)
		}
		c.BindAddress = a.String()
	}
	c.CACertsDir = o.vals["caCertsDir"]
	c.CertKey, c.PrivateKey = o.vals["certKey"], o.vals["privateKey"]
	if c.CertKey == "" {
		c.CertKey = c.PrivateKey
	}
	if c.PrivateKey == "" {
		c.PrivateKey = c.CertKey
	}
	return c, nil
}

func parseClientUnix(fields []field) (Client, error) {
	o, err := bindClient("unix", fields, []string{"path"}, []string{"path", "timeout"})
	if err != nil {
		return Client{}, err
	}
	c := Client{Kind: Unix, Path: o.vals["path"]}
	switch {
	case c.Path == "":
		return Client{}, errors.New("unix needs path=")
	case c.Path == "@":
		return Client{}, errors.New("unix abstract socket name is empty")
	}
	if c.Timeout, err = clientTimeout(o); err != nil {
		return Client{}, err
	}
	return c, nil
}

// bindClient maps fields to option names: key=value fields to keys (each
// once, not empty), then bare fields, in order, to the positional names
// no keyword gave.
func bindClient(typ string, fields []field, positional, keys []string) (*options, error) {
	o := &options{vals: map[string]string{}}
	var bare []string
	for _, f := range fields {
		if !f.keyed {
			if f.value == "" {
				return nil, errors.New("empty argument")
			}
			bare = append(bare, f.value)
			continue
		}
		switch {
		case f.key == "":
			return nil, fmt.Errorf("option =%s has no name", f.value)
		case !slices.Contains(keys, f.key):
			return nil, fmt.Errorf("unknown option %q for a %s client (want %s)", f.key, typ, strings.Join(keys, ", "))
		case f.value == "":
			return nil, fmt.Errorf("empty value for %s", f.key)
		case o.has(f.key):
			return nil, fmt.Errorf("%s given twice", f.key)
		}
		o.vals[f.key] = f.value
	}
	for _, v := range bare {
		i := slices.IndexFunc(positional, func(name string) bool { return !o.has(name) })
		if i < 0 {
			return nil, fmt.Errorf("unexpected argument %q for a %s client (want KEY=VALUE)", v, typ)
		}
		o.vals[positional[i]] = v
	}
	return o, nil
}

// parseHost checks a host to connect to: an IP address (IPv6 optionally
// in brackets) or a host name, returned in canonical form.
func parseHost(key, v string) (string, error) {
	host := v
	bracketed := len(v) >= 2 && v[0] == '[' && v[len(v)-1] == ']'
	if bracketed {
		host = v[1 : len(v)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if bracketed && !a.Is6() {
			return "", fmt.Errorf("%s %q: only IPv6 addresses go in brackets", key, v)
		}
		return a.String(), nil
	}
	if bracketed || !isHostname(host) {
		return "", fmt.Errorf("%s %q is not an IP address or host name", key, v)
	}
	return strings.ToLower(host), nil
}

// clientTimeout parses timeout=: seconds, more than 0, at most a day,
// with up to three decimals.
func clientTimeout(o *options) (time.Duration, error) {
	v, ok := o.vals["timeout"]
	if !ok {
		return 0, nil
	}
	whole, frac, dotted := strings.Cut(v, ".")
	if !isDigits(whole) || (dotted && (!isDigits(frac) || len(frac) > 3)) {
		return 0, fmt.Errorf("timeout %q is not a number of seconds (e.g. 10 or 2.5, at most three decimals)", v)
	}
	secs, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || secs > int64(maxConnectTimeout/time.Second) {
		return 0, fmt.Errorf("timeout %q is more than %d seconds", v, int64(maxConnectTimeout/time.Second))
	}
	ms, _ := strconv.Atoi((frac + "000")[:3])
	d := time.Duration(secs)*time.Second + time.Duration(ms)*time.Millisecond
	switch {
	case d == 0:
		return 0, fmt.Errorf("timeout %q must be more than 0", v)
	case d > maxConnectTimeout:
		return 0, fmt.Errorf("timeout %q is more than %d seconds", v, int64(maxConnectTimeout/time.Second))
	}
	return d, nil
}

// String returns the canonical client endpoint string, every option as
// KEY=VALUE and defaults left out; ParseClient(c.String()) == c for every
// c that ParseClient returns. The zero Client prints as "".
func (c Client) String() string {
	var b strings.Builder
	opt := func(key, value string) {
		b.WriteString(":" + key + "=" + escape(value))
	}
	switch c.Kind {
	case TCP, SSL:
		b.WriteString(string(c.Kind))
		opt("host", c.Host)
		opt("port", strconv.Itoa(c.Port))
	case Unix:
		b.WriteString("unix")
		opt("path", c.Path)
	default:
		return ""
	}
	if c.Timeout != 0 {
		opt("timeout", strconv.FormatFloat(c.Timeout.Seconds(), 'f', -1, 64))
	}
	if c.Kind == Unix {
		return b.String()
	}
	if c.BindAddress != "" {
		opt("bindAddress", c.BindAddress)
	}
	if c.Kind == SSL {
		if c.CACertsDir != "" {
			opt("caCertsDir", c.CACertsDir)
		}
		if c.CertKey != "" {
			opt("certKey", c.CertKey)
		}
		if c.PrivateKey != "" && c.PrivateKey != c.CertKey {
			opt("privateKey", c.PrivateKey)
		}
	}
	return b.String()
}

// Network returns the Go network name to dial: "tcp" (tcp and ssl) or
// "unix"; "" for the zero Client.
func (c Client) Network() string {
	switch c.Kind {
	case TCP, SSL:
		return "tcp"
	case Unix:
		return "unix"
	}
	return ""
}

// Address returns the address to dial: host:port for tcp and ssl, the
// path for unix.
func (c Client) Address() string {
	switch c.Kind {
	case TCP, SSL:
		return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	case Unix:
		return c.Path
	}
	return ""
}

// ConnectTimeout returns c.Timeout, or DefaultConnectTimeout when it is 0.
func (c Client) ConnectTimeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultConnectTimeout
	}
	return c.Timeout
}

// Rebase returns c with its relative file paths (unix Path, CACertsDir,
// CertKey, PrivateKey) joined to dir. Absolute paths and abstract unix
// sockets ("@name") are left alone.
func (c Client) Rebase(dir string) Client {
	rebase := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if c.Kind == Unix && !strings.HasPrefix(c.Path, "@") {
		c.Path = rebase(c.Path)
	}
	c.CACertsDir = rebase(c.CACertsDir)
	c.CertKey = rebase(c.CertKey)
	c.PrivateKey = rebase(c.PrivateKey)
	return c
}
