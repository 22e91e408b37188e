package config

import (
	"errors"
	"net/netip"

	"go.yaml.in/yaml/v3"

	"github.com/twistd-go/twistd/endpoint"
)

// Prefixes is a list of source-address rules as the file writes them
// under allow: and deny: — CIDR prefixes or bare addresses (one address:
// /32 or /128), one string or a list — each as endpoint.ParsePrefix
// returns it (IPv4-mapped IPv6 prefixes become IPv4).
type Prefixes []netip.Prefix

// UnmarshalConfig decodes one rule or a list of them, reporting every bad
// one at its item; duplicates are dropped.
func (p *Prefixes) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	return p.decode(d, n, "")
}

// decode is UnmarshalConfig with the key named in messages ("" for none).
func (p *Prefixes) decode(d *Decoder, n *yaml.Node, key string) error {
	if key != "" {
		key += ": "
	}
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		return d.Errorf(n, "%sexpected a CIDR prefix (such as 10.0.0.0/8) or a list of them, got %s", key, describe(n))
	}
	var errs []error
	seen := make(map[netip.Prefix]bool)
	out := make(Prefixes, 0, len(items))
	for _, at := range items {
		it := resolve(at)
		if it == nil || d.isBad(it) {
			continue
		}
		if it.Kind != yaml.ScalarNode || isNull(it) {
			errs = append(errs, d.Errorf(at, "%sexpected a CIDR prefix (such as 10.0.0.0/8), got %s", key, describe(it)))
			continue
		}
		pr, err := endpoint.ParsePrefix(it.Value)
		if err != nil {
			errs = append(errs, d.Errorf(at, "%s%v", key, err))
			continue
		}
		if !seen[pr] {
			seen[pr] = true
			out = append(out, pr)
		}
	}
	*p = out
	return errors.Join(errs...)
}

// accessKeys are the service keys of source-address rules: common to
// every service, decoded by the loader (the reactor enforces them).
var accessKeys = map[string]bool{"allow": true, "deny": true}

// access decodes a service entry's allow: or deny: value into s.
func access(d *Decoder, s *Service, key string, at *yaml.Node) {
	n := resolve(at)
	if n == nil || d.isBad(n) || isNull(n) {
		return
	}
	target := &s.Allow
	if key == "deny" {
		target = &s.Deny
	}
	d.add(at, target.decode(d, n, key))
}

var _ Unmarshaler = (*Prefixes)(nil)
