package plugin

import (
	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/policy"
)

// Policies turns a policies: block as decoded from the file into what the
// policy package enforces.
func Policies(p config.Policies) policy.Config {
	return policy.Config{
		IdleTimeout:              p.IdleTimeout,
		MaxConnections:           p.MaxConnections,
		MaxConnectionsPerPeer:    p.MaxConnectionsPerPeer,
		MaxConnectionRatePerPeer: policy.Rate{N: p.MaxConnectionRatePerPeer.N, Per: p.MaxConnectionRatePerPeer.Per},
		ReadLimit:                int64(p.ReadLimit),
		WriteLimit:               int64(p.WriteLimit),
		TrafficLog:               string(p.TrafficLog),
	}
}

// Access turns a service entry's allow: and deny: into the rules the
// reactor checks at accept; nil when the entry has none.
func Access(s *config.Service) *policy.Access {
	return policy.NewAccess(s.Allow, s.Deny)
}
