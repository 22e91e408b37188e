package policy

import (
	"net"
	"net/netip"
	"slices"

	"github.com/twistd-go/twistd/protocol"
)

// The reasons source-address rules refuse a peer, as counted in metrics:
// the key of the rule that refused it.
const (
	// ReasonAllow: the service has allow: rules and none matched.
	ReasonAllow = "allow"
	// ReasonDeny: a deny: rule matched (deny wins over allow).
	ReasonDeny = "deny"
	// ReasonTrusted: a PROXY header came from a peer outside the
	// haproxy: endpoint's trusted= prefixes.
	ReasonTrusted = "trusted"
)

// Access is a service's source-address rules, its allow: and deny: lists
// (xinetd's only_from and no_access, systemd's IPAddressAllow and
// IPAddressDeny): a peer matching a deny prefix is refused; otherwise, if
// there are allow prefixes, only a peer matching one is admitted.
//
// Addresses are compared unmapped and without their zone, so an IPv4
// client on a dual-stack socket (::ffff:192.0.2.7) matches 192.0.2.0/24.
// A peer without an IP address — a unix socket's — is admitted: the
// socket file's permissions (unix:PATH:mode=) guard it.
//
// A nil *Access admits every peer. Its methods are safe for concurrent use.
type Access struct {
	allow, deny []netip.Prefix
}

// NewAccess returns the rules of allow and deny (prefixes as
// endpoint.ParsePrefix returns them), or nil when both are empty.
func NewAccess(allow, deny []netip.Prefix) *Access {
	if len(allow) == 0 && len(deny) == 0 {
		return nil
	}
	return &Access{allow: slices.Clone(allow), deny: slices.Clone(deny)}
}

// Check returns why peer is refused (ReasonDeny or ReasonAllow), or ""
// when it is admitted.
func (a *Access) Check(peer net.Addr) string {
	if a == nil {
		return ""
	}
	ip, ok := IP(peer)
	if !ok {
		return ""
	}
	return a.CheckIP(ip)
}

// CheckIP is Check for an address already in hand.
func (a *Access) CheckIP(ip netip.Addr) string {
	if a == nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	if matches(a.deny, ip) {
		return ReasonDeny
	}
	if len(a.allow) > 0 && !matches(a.allow, ip) {
		return ReasonAllow
	}
	return ""
}

// Trusts reports whether peer may send a PROXY header under trusted, a
// haproxy: endpoint's trusted= prefixes. With none, every peer may (the
// endpoint's old behaviour, which lets a client that reaches the socket
// directly forge its address). A peer without an IP address (a unix
// socket's) is trusted: the socket file's permissions guard it.
func Trusts(trusted []netip.Prefix, peer net.Addr) bool {
	if len(trusted) == 0 {
		return true
	}
	ip, ok := IP(peer)
	if !ok {
		return true
	}
	return matches(trusted, ip.Unmap().WithZone(""))
}

// IP returns a peer's IP address as rules see it (unmapped, no zone);
// ok is false for a peer without one (a unix socket).
func IP(peer net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch a := peer.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	case nil:
		return netip.Addr{}, false
	default:
		ap, err := netip.ParseAddrPort(peer.String())
		if err != nil {
			return netip.Addr{}, false
		}
		return ap.Addr().Unmap().WithZone(""), true
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

func matches(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// WrapFactory refuses, from code, the peers the rules refuse: for a
// factory served outside a service (a service's allow: and deny: are
// checked by the reactor at accept, before anything is read). A nil
// *Access returns f.
func (a *Access) WrapFactory(f protocol.Factory) protocol.Factory {
	if a == nil {
		return f
	}
	return protocol.FactoryFunc(func(peer net.Addr) protocol.Protocol {
		if a.Check(peer) != "" {
			return nil
		}
		return f.BuildProtocol(peer)
	})
}
