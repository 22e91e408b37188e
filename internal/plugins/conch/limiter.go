package conch

import (
	"net"
	"time"

	"github.com/twistd-go/twistd/policy"
)

// maxPeers bounds the peers the failure limiter remembers.
const maxPeers = 4096

// failures limits failed logins per peer: each peer has a bucket of
// burst failures refilled at n per period; an empty bucket means the peer
// is refused until it refills.
type failures struct{ b *policy.PeerBuckets }

func newFailures(n float64, per time.Duration) *failures {
	return newFailuresAt(n, per, time.Now)
}

func newFailuresAt(n float64, per time.Duration, now func() time.Time) *failures {
	return &failures{policy.NewPeerBuckets(policy.PeerBucketsConfig{
		Rate: policy.Rate{N: n, Per: per}, MaxPeers: maxPeers, Now: now})}
}

// blocked reports whether peer has used up its failures.
func (f *failures) blocked(peer net.Addr) bool { return f.b.Wait(policy.PeerKey(peer)) > 0 }

// fail counts a failed login of peer.
func (f *failures) fail(peer net.Addr) { f.b.Spend(policy.PeerKey(peer)) }
