package socks

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/twistd-go/twistd/endpoint"
)

// The reasons a destination is refused, for the connection log and
// twistd_socks_destinations_refused_total: the rule that refused it.
const (
	refusedDeny  = "deny"  // a deny: rule matched
	refusedAllow = "allow" // allow: rules are set and none matched
	refusedLocal = "local" // loopback, link-local or unspecified, and not allowed explicitly
)

// local are the destinations refused unless an allow: prefix inside them
// names them: this host (loopback, and the unspecified address, which
// reaches it), and link-local networks (cloud metadata services live on
// 169.254.169.254). A proxy open to them lets its clients reach services
// that trust connections from the proxy's own host.
var local = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("fe80::/10"),
}

// denyRule is one deny: entry: a prefix, and a port (0: every port).
type denyRule struct {
	prefix netip.Prefix
	port   uint16
}

// rules are the destination rules: deny wins; if allow is set, only its
// prefixes are reached; local destinations only through an allow prefix
// that lies inside their range (allow: [0.0.0.0/0] does not open
// 127.0.0.1; allow: [127.0.0.1/32] does).
type rules struct {
	allow []netip.Prefix
	deny  []denyRule
}

// check returns why a connection to ip:port is refused, or "".
func (r *rules) check(ip netip.Addr, port uint16) string {
	ip = ip.Unmap().WithZone("")
	for _, d := range r.deny {
		if d.prefix.Contains(ip) && (d.port == 0 || d.port == port) {
			return refusedDeny
		}
	}
	for _, l := range local {
		if !l.Contains(ip) {
			continue
		}
		for _, a := range r.allow {
			if a.Contains(ip) && a.Bits() >= l.Bits() {
				return ""
			}
		}
		return refusedLocal
	}
	if len(r.allow) == 0 {
		return ""
	}
	for _, a := range r.allow {
		if a.Contains(ip) {
			return ""
		}
	}
	return refusedAllow
}

// parseDeny reads a deny: entry: CIDR, CIDR:PORT, an address, IPv4:PORT
// or [IPv6]:PORT (and [IPv6/len]:PORT).
func parseDeny(s string) (denyRule, error) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return denyRule{}, fmt.Errorf("%q: missing ]", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return denyRule{}, fmt.Errorf("%q: want [ADDRESS]:PORT", s)
			}
			port = rest[1:]
		}
	case strings.Contains(s, "/"):
		// CIDR[:PORT]: a port follows the prefix length.
		slash := strings.Index(s, "/")
		if i := strings.LastIndex(s, ":"); i > slash {
			host, port = s[:i], s[i+1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	p, err := endpoint.ParsePrefix(host)
	if err != nil {
		return denyRule{}, err
	}
	r := denyRule{prefix: p}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return denyRule{}, fmt.Errorf("%q: port %q is not a port number (1-65535)", s, port)
		}
		r.port = uint16(n)
	}
	return r, nil
}
