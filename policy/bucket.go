package policy

import (
	"sync"
	"time"
)

// bucket is a token bucket shared by every connection of a service
// (Twisted's ThrottlingFactory, without its one-second bursts): it refills
// at rate bytes per second up to a burst of an eighth of a second, and
// may go into debt — a caller that overdraws waits until it is repaid.
type bucket struct {
	rate  float64 // bytes per second
	burst float64
	now   func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(rate int64, now func() time.Time) *bucket {
	burst := max(float64(rate)/8, 1024)
	return &bucket{rate: float64(rate), burst: burst, now: now, tokens: burst, last: now()}
}

// take spends n bytes and returns how long the caller must pause before
// moving more (0 when the bucket stays in credit).
func (b *bucket) take(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}
