// Package client keeps a connection to a server: a reconnecting client
// service with exponential backoff (Twisted's ClientService and
// ReconnectingClientFactory).
package client

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is how long a Service waits before each new attempt to
// connect. The wait after the n-th attempt in a row that did not connect
// (or, with n = 1, after a connection was lost) grows from Initial by
// Factor up to Max, spread by Jitter:
//
//	base(n) = min(Initial × Factor^(n-1), Max)
//	wait(n) = base(n) × (1 + Jitter × z),  z drawn from N(0, 1)
//
// kept within [base(n)/2, Max]. Zero fields take DefaultBackoff's values
// (Twisted's ReconnectingClientFactory: 1 s, e, 0.1196, one hour); a
// negative Jitter means none. Unlike Twisted's factory, the first retry
// waits Initial (not Initial × Factor) and the jitter of one wait does not
// carry into the next, so the sequence is the same every time but for z.
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Jitter  float64
	Max     time.Duration
	// Normal, when set, draws the z of each wait instead of
	// math/rand/v2's NormFloat64: tests inject a fixed sequence.
	Normal func() float64
}

// DefaultBackoff is Twisted's ReconnectingClientFactory's: an initial
// delay of one second, growing by e, jittered by 11.96 %, at most an hour.
var DefaultBackoff = Backoff{Initial: time.Second, Factor: math.E, Jitter: 0.11962656472, Max: time.Hour}

// withDefaults fills b's zero fields from DefaultBackoff.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Factor < 1 {
		b.Factor = DefaultBackoff.Factor
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoff.Jitter
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Normal == nil {
		b.Normal = rand.NormFloat64
	}
	return b
}

// Delay returns the wait before the next attempt after n attempts in a
// row that did not connect (n ≥ 1; n = 1 also after a lost connection).
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	n = max(n, 1)
	base := float64(b.Max)
	// Factor^(n-1) overflows only long after it passed Max.
	if e := float64(n - 1); e < 2000 {
		base = min(float64(b.Initial)*math.Pow(b.Factor, e), float64(b.Max))
	}
	wait := base
	if b.Jitter > 0 {
		wait = base * (1 + b.Jitter*b.Normal())
	}
	wait = min(max(wait, base/2), float64(b.Max))
	return time.Duration(wait)
}
