package service

import "sync/atomic"

// Stats counts one service's traffic. Every field is updated atomically on
// the hot path and may be read at any time. The zero value is ready to use.
type Stats struct {
	ConnectionsAccepted atomic.Int64
	ConnectionsActive   atomic.Int64
	BytesReceived       atomic.Int64
	BytesSent           atomic.Int64
	Requests            atomic.Int64
	// Refused counts connections a policy closed at once, by the policy's
	// key (SPEC §6: twistd_connections_refused_total{reason}).
	RefusedMaxConnections atomic.Int64
	RefusedMaxPerPeer     atomic.Int64
	RefusedRatePerPeer    atomic.Int64 // max_connection_rate_per_peer
	// RefusedAllow, RefusedDeny and RefusedTrusted count peers refused by
	// the source-address rules (datagrams one each).
	RefusedAllow, RefusedDeny, RefusedTrusted atomic.Int64
	// RefusedMaxInstances counts connections an exec service refused
	// because max_instances of its programs were running.
	RefusedMaxInstances atomic.Int64
}

// Refused counts a connection a policy refused; reason is the policy's key.
func (s *Stats) Refused(reason string) {
	switch reason {
	case "max_connections":
		s.RefusedMaxConnections.Add(1)
	case "max_connections_per_peer":
		s.RefusedMaxPerPeer.Add(1)
	case "max_connection_rate_per_peer":
		s.RefusedRatePerPeer.Add(1)
	case "allow":
		s.RefusedAllow.Add(1)
	case "deny":
		s.RefusedDeny.Add(1)
	case "trusted":
		s.RefusedTrusted.Add(1)
	case "max_instances":
		s.RefusedMaxInstances.Add(1)
	}
}
