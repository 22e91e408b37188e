package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Policies is a stream service's policies: block as the file writes it
// (SPEC §2); package policy enforces them. The zero value sets
// none.
type Policies struct {
	// IdleTimeout closes a connection idle (nothing read or written) this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections refuses connections beyond this many open; 0 means the default.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerPeer refuses a peer's connections beyond this many; 0 = unlimited.
	MaxConnectionsPerPeer int `yaml:"max_connections_per_peer"`
	// MaxConnectionRatePerPeer refuses a peer's connections beyond this
	// rate (xinetd's cps), such as 10/s; zero = unlimited.
	MaxConnectionRatePerPeer Rate `yaml:"max_connection_rate_per_peer"`
	// ReadLimit and WriteLimit are bytes per second for the whole service; 0 = off.
	ReadLimit  Size `yaml:"read_limit"`
	WriteLimit Size `yaml:"write_limit"`
	// TrafficLog names a file getting one line per closed connection.
	TrafficLog Path `yaml:"traffic_log"`
}

// UnmarshalConfig decodes a policies: block strictly and checks its
// values, each problem reported at its key, so a file's type errors and
// its bad policy values come out in one run.
func (c *Policies) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	type plain Policies
	errs := []error{d.Decode(n, (*plain)(c))}
	bad := func(key, msg string) {
		errs = append(errs, d.Errorf(valueOf(n, key), "policies: %s", msg))
	}
	if c.IdleTimeout < 0 {
		bad("idle_timeout", "idle_timeout must not be negative")
	}
	if c.MaxConnections < 0 {
		bad("max_connections", "max_connections must not be negative")
	}
	if c.MaxConnectionsPerPeer < 0 {
		bad("max_connections_per_peer", "max_connections_per_peer must not be negative")
	}
	if c.ReadLimit < 0 {
		bad("read_limit", "read_limit must not be negative")
	}
	if c.WriteLimit < 0 {
		bad("write_limit", "write_limit must not be negative")
	}
	return errors.Join(errs...)
}

// Rate is a number of events per period, written N/s, N/m or N/h (a bare
// number is per second, 0 is none): 10/s, 100/m, 0.5/s.
type Rate struct {
	N   float64
	Per time.Duration
}

// ParseRate parses a Rate.
func ParseRate(s string) (Rate, error) {
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	per := time.Second
	if hasUnit {
		var ok bool
		if per, ok = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[strings.TrimSpace(unit)]; !ok {
			return Rate{}, fmt.Errorf("bad rate %s: the period must be s, m or h (such as 10/s or 100/m)", quote(s))
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	switch {
	case err != nil || n != n || n > 1e9:
		return Rate{}, fmt.Errorf("bad rate %s: want a number per period, such as 10/s or 100/m", quote(s))
	case n < 0:
		return Rate{}, fmt.Errorf("rate %s is negative", quote(s))
	case n == 0:
		return Rate{}, nil
	}
	return Rate{N: n, Per: per}, nil
}

// UnmarshalConfig decodes a rate with ParseRate.
func (r *Rate) UnmarshalConfig(d *Decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, "expected a rate such as 10/s, got %s", describe(n))
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return d.Errorf(n, "%v", err)
	}
	*r = v
	return nil
}

// valueOf returns the value node of key in mapping n, else n itself.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return n
}

var (
	_ Unmarshaler = (*Policies)(nil)
	_ Unmarshaler = (*Rate)(nil)
)
