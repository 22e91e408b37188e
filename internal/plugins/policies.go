package plugins

import (
	"github.com/twistd-go/twistd/internal/config"
	"github.com/twistd-go/twistd/internal/protocol/policy"
)

// Policies turns a policies: block as decoded from the file into what the
// policy package enforces.
func Policies(p config.Policies) policy.Config {
	return policy.Config{
		IdleTimeout:           p.IdleTimeout,
		MaxConnections:        p.MaxConnections,
		MaxConnectionsPerPeer: p.MaxConnectionsPerPeer,
		ReadLimit:             int64(p.ReadLimit),
		WriteLimit:            int64(p.WriteLimit),
		TrafficLog:            string(p.TrafficLog),
	}
}
