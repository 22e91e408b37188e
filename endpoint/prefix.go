package endpoint

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefix parses a source-address rule: a CIDR prefix ("10.0.0.0/8",
// "2001:db8::/32") or a bare address, which means that address alone (/32
// for IPv4, /128 for IPv6). An IPv4-mapped IPv6 prefix of /96 or longer
// ("::ffff:10.0.0.0/104") is the IPv4 prefix it maps ("10.0.0.0/8"), so a
// rule matches a client however a dual-stack socket reports it. A prefix
// with bits set past its length ("192.168.1.10/24") is an error rather
// than silently widened; so are zones, which no rule can match.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("%q: a zone cannot be matched; drop it", s)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix (such as 10.0.0.0/8 or 2001:db8::/32)", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set past its /%d: write %s, or %s for the one address",
			s, p.Bits(), p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// Unmapped returns a peer's address as rules see it: an IPv4-mapped IPv6
// address as IPv4, without a zone.
func Unmapped(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// parsePrefixList parses trusted='s comma-separated prefixes and returns
// their canonical list (each prefix as ParsePrefix returns it, in the
// order written, duplicates dropped).
func parsePrefixList(v string) (string, error) {
	var out []string
	seen := map[netip.Prefix]bool{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return "", errors.New("trusted= has an empty item")
		}
		p, err := ParsePrefix(item)
		if err != nil {
			return "", fmt.Errorf("trusted=: %w", err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p.String())
		}
	}
	return strings.Join(out, ","), nil
}

// TrustedPrefixes returns the prefixes of a haproxy endpoint's trusted=
// option; nil when it has none (any peer may send a PROXY header).
func (e Endpoint) TrustedPrefixes() []netip.Prefix {
	if e.Trusted == "" {
		return nil
	}
	var out []netip.Prefix
	for _, item := range strings.Split(e.Trusted, ",") {
		if p, err := ParsePrefix(item); err == nil {
			out = append(out, p)
		}
	}
	return out
}
