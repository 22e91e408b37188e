// Package endpoint parses and prints Twisted's endpoint strings: server
// ones to listen on (tcp:8080:interface=127.0.0.1, unix:/run/app.sock:mode=0660,
// ssl:8443:privateKey=key.pem, ...) and client ones to connect to
// (tcp:host=example.com:port=80, ssl:host=example.com:port=443, unix:path=/run/app.sock).
package endpoint

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Kind is the transport an endpoint names.
type Kind string

// The endpoint kinds of Twisted's grammar that twistd serves.
const (
	TCP     Kind = "tcp"
	TCP6    Kind = "tcp6"
	UDP     Kind = "udp"
	Unix    Kind = "unix"
	SSL     Kind = "ssl"
	Systemd Kind = "systemd"
)

// Endpoint is one parsed server endpoint string. The zero value is not a
// valid endpoint; build one with Parse. Endpoints are comparable values:
// two endpoints that bind the same socket compare equal.
type Endpoint struct {
	Kind Kind

	// Port is the port for tcp, tcp6, udp and ssl; 0 asks for an ephemeral one.
	Port int
	// Interface is the address to bind (tcp, tcp6, udp, ssl); empty means all
	// interfaces ("" for tcp/udp/ssl, "::" for tcp6 unless given).
	Interface string
	// Backlog is the listen backlog (tcp, tcp6, ssl); 0 means the system default.
	Backlog int
	// ReusePort sets SO_REUSEPORT (tcp, tcp6, udp, ssl).
	ReusePort bool

	// Path is the socket path of a unix endpoint.
	Path string
	// Mode is the unix socket's file mode; 0 leaves the umask's default.
	Mode os.FileMode
	// Lockfile asks for a PATH.lock file held while the unix socket is bound.
	Lockfile bool

	// PrivateKey and CertKey name the PEM files of an ssl endpoint. CertKey
	// defaults to PrivateKey (one PEM file holding both), as in Twisted.
	PrivateKey string
	CertKey    string

	// SystemdDomain ("INET", "INET6" or "UNIX") and SystemdIndex pick an
	// inherited socket by position; SystemdName picks it by FileDescriptorName.
	SystemdDomain string
	SystemdIndex  int
	SystemdName   string

	// HAProxy wraps the endpoint: every connection starts with a PROXY
	// protocol v1 or v2 header that gives the real client address.
	HAProxy bool
	// Trusted is a haproxy endpoint's trusted= option: the peers allowed
	// to send a PROXY header, as canonical comma-separated CIDR prefixes
	// (see TrustedPrefixes). Empty means any peer may, which lets a
	// client that reaches the socket directly forge its address.
	Trusted string
}

// String returns the canonical endpoint string, with defaults left out and
// "\", ":" and "=" escaped in values; Parse(e.String()) == e for every e that
// Parse returns. The zero Endpoint prints as "".
func (e Endpoint) String() string {
	var b strings.Builder
	opt := func(key, value string) {
		b.WriteString(":" + key + "=" + escape(value))
	}
	switch e.Kind {
	case TCP, TCP6, UDP, SSL:
		fmt.Fprintf(&b, "%s:%d", e.Kind, e.Port)
		if e.Kind == SSL {
			opt("privateKey", e.PrivateKey)
			if e.CertKey != "" && e.CertKey != e.PrivateKey {
				opt("certKey", e.CertKey)
			}
		}
		if e.Interface != "" {
			opt("interface", e.Interface)
		}
		if e.Backlog != 0 {
			opt("backlog", strconv.Itoa(e.Backlog))
		}
		if e.ReusePort {
			opt("reuseport", "true")
		}
	case Unix:
		b.WriteString("unix:" + escape(e.Path))
		if e.Mode != 0 {
			opt("mode", fmt.Sprintf("%04o", uint32(e.Mode)))
		}
		if e.Lockfile {
			opt("lockfile", "1")
		}
		if e.Backlog != 0 {
			opt("backlog", strconv.Itoa(e.Backlog))
		}
	case Systemd:
		b.WriteString("systemd")
		if e.SystemdName != "" {
			opt("name", e.SystemdName)
		} else {
			opt("domain", e.SystemdDomain)
			opt("index", strconv.Itoa(e.SystemdIndex))
		}
	default:
		return ""
	}
	if e.HAProxy {
		if e.Trusted != "" {
			opt("trusted", e.Trusted)
		}
		return "haproxy:" + b.String()
	}
	return b.String()
}

// escape backslash-escapes the characters that separate fields ("\", ":")
// and keys from values ("=").
func escape(s string) string {
	if !strings.ContainsAny(s, `\:=`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == ':' || c == '=' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Network returns the Go network name to bind: "tcp" (tcp and ssl), "tcp6",
// "udp" or "unix"; "" for systemd endpoints, which are inherited, not bound.
func (e Endpoint) Network() string {
	switch e.Kind {
	case TCP, SSL:
		return "tcp"
	case TCP6:
		return "tcp6"
	case UDP:
		return "udp"
	case Unix:
		return "unix"
	}
	return ""
}

// Address returns the address to bind for net.Listen/net.ListenPacket:
// host:port for tcp, tcp6, udp and ssl (an empty host means all interfaces;
// "[::]:port" for tcp6); the path for unix; "" for systemd.
func (e Endpoint) Address() string {
	switch e.Kind {
	case TCP, UDP, SSL:
		return net.JoinHostPort(e.Interface, strconv.Itoa(e.Port))
	case TCP6:
		host := e.Interface
		if host == "" {
			host = "::"
		}
		return net.JoinHostPort(host, strconv.Itoa(e.Port))
	case Unix:
		return e.Path
	}
	return ""
}

// IsStream reports whether the endpoint carries connections (everything but udp).
func (e Endpoint) IsStream() bool {
	return e.Kind != UDP
}

// Rebase returns e with its relative file paths (unix Path, PrivateKey,
// CertKey) joined to dir. Absolute paths and abstract unix sockets ("@name")
// are left alone.
func (e Endpoint) Rebase(dir string) Endpoint {
	rebase := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if e.Kind == Unix && !strings.HasPrefix(e.Path, "@") {
		e.Path = rebase(e.Path)
	}
	e.PrivateKey = rebase(e.PrivateKey)
	e.CertKey = rebase(e.CertKey)
	return e
}

// Files returns the files the endpoint reads at start (an ssl endpoint's key
// and certificate, once each), for the caller to check they exist; nil for
// other kinds.
func (e Endpoint) Files() []string {
	if e.Kind != SSL {
		return nil
	}
	if e.CertKey == "" || e.CertKey == e.PrivateKey {
		return []string{e.PrivateKey}
	}
	return []string{e.PrivateKey, e.CertKey}
}
