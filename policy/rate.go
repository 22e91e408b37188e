package policy

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// ReasonMaxConnectionRatePerPeer is the reason a connection over its
// peer's rate is refused.
const ReasonMaxConnectionRatePerPeer = "max_connection_rate_per_peer"

// Rate is a number of events per period: 10/s, 100/m. The zero value is
// no limit.
type Rate struct {
	N   float64
	Per time.Duration
}

// IsZero reports whether r sets no limit.
func (r Rate) IsZero() bool { return r.N == 0 || r.Per == 0 }

// String formats r as the file writes it: "10/s", "3/m", "1/h"; "0" for none.
func (r Rate) String() string {
	if r.IsZero() {
		return "0"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return strconv.FormatFloat(r.N, 'f', -1, 64) + "/" + unit
}

func (r Rate) validate() error {
	if r.N < 0 || r.Per < 0 {
		return fmt.Errorf("max_connection_rate_per_peer must not be negative")
	}
	return nil
}

// maxRatePeers bounds the peers a rate limiter remembers. Past it, peers
// whose allowance is whole again are forgotten first; if that is not
// enough, a quarter of the rest go (they start again with a whole
// allowance: under such a flood the limit errs on the side of admitting).
const maxRatePeers = 1 << 16

// peerRate is a token bucket per peer (xinetd's cps): each peer may make
// r.N connections at once and then one every r.Per/r.N, the allowance
// refilling continuously up to r.N (at least 1).
type peerRate struct {
	perSecond float64
	burst     float64
	now       func() time.Time
	max       int

	mu    sync.Mutex
	peers map[string]*allowance
}

type allowance struct {
	tokens float64
	last   time.Time
}

func newPeerRate(r Rate, now func() time.Time) *peerRate {
	return &peerRate{perSecond: r.N / r.Per.Seconds(), burst: max(r.N, 1), now: now, max: maxRatePeers,
		peers: make(map[string]*allowance)}
}

// take spends one of peer's tokens; false means peer is over its rate.
func (p *peerRate) take(peer string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	a := p.peers[peer]
	if a == nil {
		if len(p.peers) >= p.max {
			p.forget(now)
		}
		a = &allowance{tokens: p.burst, last: now}
		p.peers[peer] = a
	} else {
		a.tokens = min(p.burst, a.tokens+now.Sub(a.last).Seconds()*p.perSecond)
		a.last = now
	}
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	return true
}

// forget makes room in a full map: peers whose allowance has refilled
// first, then arbitrary ones down to three quarters of the bound, so the
// sweep's cost is spread over many new peers.
func (p *peerRate) forget(now time.Time) {
	for k, a := range p.peers {
		if a.tokens+now.Sub(a.last).Seconds()*p.perSecond >= p.burst {
			delete(p.peers, k)
		}
	}
	for k := range p.peers {
		if len(p.peers) <= p.max*3/4 {
			break
		}
		delete(p.peers, k)
	}
}
