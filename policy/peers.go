package policy

import (
	"net"
	"slices"
	"sync"
	"time"
)

// DefaultMaxPeers is how many peers a PeerBuckets remembers when its
// MaxPeers is zero.
const DefaultMaxPeers = 1 << 16

// PeerBucketsConfig shapes a PeerBuckets.
type PeerBucketsConfig struct {
	// Rate is each peer's allowance: a burst of Rate.N (at least 1),
	// refilling continuously at Rate.N per Rate.Per. The zero Rate is no
	// limit: every Take is admitted and nothing is remembered.
	Rate Rate
	// MaxPeers bounds the peers remembered; zero is DefaultMaxPeers.
	MaxPeers int
	// Now is the clock; nil is time.Now. Tests pass their own.
	Now func() time.Time
}

// PeerBuckets is a token bucket per peer, for limits such as "10
// connections a second" or "5 failed logins a minute" from one address
// (xinetd's cps, fail2ban in the process). A peer's bucket is kept as the
// time it is whole again (GCRA's theoretical arrival time), so waits are
// exact. The peers remembered are bounded: past MaxPeers, those whose
// bucket is whole and who have no refusals pending go first, then the
// least recently seen, down to three quarters of the bound — under a
// flood of new addresses the limit errs on the side of admitting, and a
// peer just limited stays limited. Key peers with PeerKey. Safe for
// concurrent use.
type PeerBuckets struct {
	interval time.Duration // between tokens; zero: no limit
	span     time.Duration // (burst - 1) intervals: how far ahead a whole bucket may run
	now      func() time.Time
	epoch    time.Time
	max      int

	mu    sync.Mutex
	peers map[string]*peerBucket
}

// peerBucket is one peer's record, its times since PeerBuckets.epoch.
type peerBucket struct {
	full    time.Duration // when the bucket is whole again
	seen    time.Duration // the last Take or Spend: eviction order
	refused int           // Takes refused since the last admitted one
}

// NewPeerBuckets returns the buckets c describes.
func NewPeerBuckets(c PeerBucketsConfig) *PeerBuckets {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	b := &PeerBuckets{now: c.Now, epoch: c.Now(), max: c.MaxPeers, peers: make(map[string]*peerBucket)}
	if !c.Rate.IsZero() && c.Rate.N > 0 && c.Rate.Per > 0 {
		b.interval = time.Duration(float64(c.Rate.Per) / c.Rate.N)
		b.span = time.Duration(max(int64(c.Rate.N), 1)-1) * b.interval
	}
	return b
}

// Limited reports whether b limits anything (its Rate is not zero).
func (b *PeerBuckets) Limited() bool { return b.interval > 0 }

// record returns peer's record, making it (and room for it) if needed.
func (b *PeerBuckets) record(peer string, now time.Duration) *peerBucket {
	p := b.peers[peer]
	if p == nil {
		if len(b.peers) >= b.max {
			b.forget(now)
		}
		p = &peerBucket{full: now}
		b.peers[peer] = p
	}
	p.seen = now
	return p
}

// Take spends one of peer's tokens and returns 0, or, when there is none,
// how long until there is one. n counts the peer's refusals: on a refusal
// the refusals in a row, this one included (1: the first since the peer
// was last admitted, the one to log); on an admission the refusals that
// came before it.
func (b *PeerBuckets) Take(peer string) (wait time.Duration, n int) {
	if b.interval == 0 {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now().Sub(b.epoch)
	p := b.record(peer, now)
	if wait := p.full - b.span - now; wait > 0 {
		p.refused++
		return wait, p.refused
	}
	p.full = max(p.full, now) + b.interval
	n, p.refused = p.refused, 0
	return 0, n
}

// Spend takes one of peer's tokens whether or not there is one left (the
// bucket stays empty rather than going into debt): for counting what
// already happened, such as a failed login. It returns how many tokens
// of the burst are now spent.
func (b *PeerBuckets) Spend(peer string) int {
	if b.interval == 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now().Sub(b.epoch)
	p := b.record(peer, now)
	p.full = min(max(p.full, now)+b.interval, now+b.span+b.interval)
	return int((p.full - now + b.interval - 1) / b.interval)
}

// Give returns a token to peer (a successful login refunding the attempt
// Take spent), and forgets a peer whose bucket is whole again.
func (b *PeerBuckets) Give(peer string) {
	if b.interval == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.peers[peer]
	if p == nil {
		return
	}
	now := b.now().Sub(b.epoch)
	p.full -= b.interval
	if idle(p, now) {
		delete(b.peers, peer)
	}
}

// Wait returns how long until peer has a token, without taking one: 0
// when it has one now.
func (b *PeerBuckets) Wait(peer string) time.Duration {
	if b.interval == 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.peers[peer]
	if p == nil {
		return 0
	}
	return max(p.full-b.span-b.now().Sub(b.epoch), 0)
}

// Len returns the number of peers remembered.
func (b *PeerBuckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.peers)
}

// idle reports whether forgetting p loses nothing: its bucket is whole
// and it has no refusals pending.
func idle(p *peerBucket, now time.Duration) bool { return p.full <= now && p.refused == 0 }

// forget makes room in a full map.
func (b *PeerBuckets) forget(now time.Duration) {
	for k, p := range b.peers {
		if idle(p, now) {
			delete(b.peers, k)
		}
	}
	keep := b.max * 3 / 4
	if len(b.peers) <= keep {
		return
	}
	seen := make([]time.Duration, 0, len(b.peers))
	for _, p := range b.peers {
		seen = append(seen, p.seen)
	}
	slices.Sort(seen)
	cutoff := seen[len(seen)-keep-1]
	for k, p := range b.peers {
		if p.seen <= cutoff {
			delete(b.peers, k)
		}
	}
}

// PeerKey is the key a peer's limits are kept by: its IP address, an IPv6
// one's /64 (a host picks addresses from a whole /64), or the whole
// address when it has no IP (a unix socket).
func PeerKey(peer net.Addr) string {
	ip, ok := IP(peer)
	if !ok {
		if peer == nil {
			return ""
		}
		return peer.String()
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
