package conch

import (
	"net"
	"sync"
	"time"
)

// maxPeers bounds the peers the failure limiter remembers; past it the
// oldest-touched half is forgotten, so a spoofing flood cannot grow it.
const maxPeers = 4096

// failures limits failed logins per peer address: each peer has a bucket
// of burst failures refilled at rate per second; an empty bucket means the
// peer is refused until it refills.
type failures struct {
	rate  float64 // failures per second
	burst float64
	now   func() time.Time

	mu    sync.Mutex
	peers map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFailures(n float64, per time.Duration) *failures {
	f := &failures{now: time.Now, peers: map[string]*bucket{}}
	if n > 0 && per > 0 {
		f.rate = n / per.Seconds()
		f.burst = max(n, 1)
	}
	return f
}

func peerKey(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	s := a.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

// refill brings b up to date; f.mu held.
func (f *failures) refill(b *bucket, now time.Time) {
	b.tokens = min(f.burst, b.tokens+now.Sub(b.last).Seconds()*f.rate)
	b.last = now
}

// blocked reports whether peer has used up its failures.
func (f *failures) blocked(peer net.Addr) bool {
	if f.rate == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.peers[peerKey(peer)]
	if !ok {
		return false
	}
	f.refill(b, f.now())
	return b.tokens < 1
}

// fail counts a failed login of peer.
func (f *failures) fail(peer net.Addr) {
	if f.rate == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	k := peerKey(peer)
	b, ok := f.peers[k]
	if !ok {
		if len(f.peers) >= maxPeers {
			f.forgetLocked(now)
		}
		b = &bucket{tokens: f.burst, last: now}
		f.peers[k] = b
	}
	f.refill(b, now)
	b.tokens = max(b.tokens-1, 0)
}

// forgetLocked drops the peers whose buckets have refilled, then, if
// that is not enough, any others until half the room is free.
func (f *failures) forgetLocked(now time.Time) {
	for k, b := range f.peers {
		f.refill(b, now)
		if b.tokens >= f.burst {
			delete(f.peers, k)
		}
	}
	for k := range f.peers {
		if len(f.peers) < maxPeers/2 {
			break
		}
		delete(f.peers, k)
	}
}
