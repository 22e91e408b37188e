package config

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/endpoint"
)

// placed is one endpoint of the file and where it is written.
type placed struct {
	ep    endpoint.Endpoint
	at    *yaml.Node
	owner *Service
}

// listenItems returns the endpoints written under a listen: value with
// their nodes, parsed and rebased as Listen.UnmarshalConfig does; items
// that do not parse (already reported) are left out.
func listenItems(d *Decoder, n *yaml.Node) []placed {
	n = resolve(n)
	if n == nil || d.isBad(n) {
		return nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []placed
	for _, at := range items {
		it := resolve(at)
		if it == nil || d.isBad(it) || it.Kind != yaml.ScalarNode || isNull(it) {
			continue
		}
		e, err := endpoint.Parse(it.Value)
		if err != nil {
			continue
		}
		out = append(out, placed{ep: e.Rebase(d.Dir()), at: at})
	}
	return out
}

// conflicts reports every pair of endpoints that cannot both be bound: the
// second one written would fail with "address already in use", or — with
// SO_REUSEPORT on one side only — silently share or steal connections. An
// exact repeat inside one service's list is left to the list's own check.
func (l *loader) conflicts(eps []placed) {
	for j := 1; j < len(eps); j++ {
		for i := 0; i < j; i++ {
			a, b := eps[i], eps[j]
			if a.owner == b.owner && a.owner != nil && a.ep == b.ep {
				continue
			}
			why := clash(a.ep, b.ep)
			if why == "" {
				continue
			}
			msg := fmt.Sprintf("listen %s conflicts with %s at %s (listen %s): %s",
				b.ep, whose(a), l.d.pos(a.at), a.ep, why)
			if b.owner != nil {
				l.d.errs = append(l.d.errs, b.owner.Errorf(b.at, "%s", msg))
			} else {
				l.d.errorf(b.at, "admin: %s", msg)
			}
		}
	}
}

func whose(p placed) string {
	if p.owner == nil {
		return "the admin endpoint"
	}
	return fmt.Sprintf("service %q", p.owner.label())
}

// clash says why endpoints a and b cannot both be bound on Linux, or ""
// when they can: the same unix socket path; or the same transport (TCP or
// UDP) and port with overlapping addresses — equal, or one of them a
// wildcard of the other's family — unless both ask for reuseport=true. Port
// 0 is a fresh port each time and never clashes; systemd sockets are
// inherited, not bound.
func clash(a, b endpoint.Endpoint) string {
	if a.Kind == endpoint.Unix || b.Kind == endpoint.Unix {
		if a.Kind == b.Kind && a.Path == b.Path {
			return "both bind the unix socket " + a.Path
		}
		return ""
	}
	ta, tb := transport(a), transport(b)
	if ta == "" || ta != tb || a.Port == 0 || a.Port != b.Port {
		return ""
	}
	if a.ReusePort && b.ReusePort {
		return ""
	}
	if !overlap(a, b) {
		return ""
	}
	hint := "give one of them another port or interface"
	if a.ReusePort || b.ReusePort {
		hint = "reuseport=true must be on both to share it"
	} else {
		hint += ", or reuseport=true to both to share it"
	}
	return fmt.Sprintf("both bind %s port %d; %s", ta, a.Port, hint)
}

// transport is the socket namespace an endpoint binds in: "TCP", "UDP",
// or "" for endpoints that bind no port.
func transport(e endpoint.Endpoint) string {
	switch e.Kind {
	case endpoint.TCP, endpoint.TCP6, endpoint.SSL:
		return "TCP"
	case endpoint.UDP:
		return "UDP"
	}
	return ""
}

// span is the addresses a bound socket occupies: a wildcard of one or both
// families, or one address.
type span struct {
	any4, any6 bool
	addr       netip.Addr // valid when not a wildcard
	host       string     // an interface that is not an IP address, compared as text
}

func spanOf(e endpoint.Endpoint) span {
	iface := e.Interface
	if iface == "" {
		if e.Kind == endpoint.TCP6 {
			return span{any6: true} // tcp6 binds [::] with IPV6_V6ONLY
		}
		return span{any4: true, any6: true} // a dual-stack wildcard
	}
	a, err := netip.ParseAddr(iface)
	if err != nil {
		return span{host: iface}
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		// Go binds 0.0.0.0 and [::] of network "tcp"/"udp" dual-stack;
		// tcp6 is IPv6 alone.
		if e.Kind == endpoint.TCP6 {
			return span{any6: true}
		}
		return span{any4: true, any6: true}
	}
	return span{addr: a}
}

// overlap reports whether a and b (same transport and port) would occupy
// a common address.
func overlap(a, b endpoint.Endpoint) bool {
	sa, sb := spanOf(a), spanOf(b)
	if sa.host != "" || sb.host != "" {
		return sa.host != "" && sa.host == sb.host
	}
	covers := func(s span, addr netip.Addr) bool {
		return addr.Is4() && s.any4 || addr.Is6() && s.any6
	}
	switch {
	case sa.addr.IsValid() && sb.addr.IsValid():
		return sa.addr == sb.addr
	case sa.addr.IsValid():
		return covers(sb, sa.addr)
	case sb.addr.IsValid():
		return covers(sa, sb.addr)
	}
	return sa.any4 && sb.any4 || sa.any6 && sb.any6
}
