package reactor

import (
	"sync"

	"github.com/twistd-go/twistd/protocol"
)

// feed is a transport's registered producer (the connection feeding it)
// and the wish to have it paused or running. Wishes are made under the
// transport's lock; sync delivers the latest one outside it (the producer
// may be a transport that writes to this one), serialised, so a resume can
// never be overtaken by an older pause. The zero value has no producer.
type feed struct {
	mu      sync.Mutex // a leaf lock: taken under the transport's, never around it
	deliver sync.Mutex // orders deliveries
	p       protocol.Producer
	want    bool // paused, wished
	applied bool // paused, as last delivered
}

// set registers p (nil unregisters), running.
func (f *feed) set(p protocol.Producer) {
	f.mu.Lock()
	f.p, f.want, f.applied = p, false, false
	f.mu.Unlock()
}

// has reports whether a producer is registered. A transport with one
// answers a full write queue by pausing the producer only: its writes come
// from there, not from its own reads, and pausing its own reading too
// could deadlock a relay whose far end echoes (it stops reading while
// blocked writing to us).
func (f *feed) has() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p != nil
}

// wish records that the producer should be paused or running; it reports
// whether sync must be called to deliver it.
func (f *feed) wish(paused bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p == nil || f.want == paused {
		return false
	}
	f.want = paused
	return true
}

// sync delivers the latest wish, if not delivered yet.
func (f *feed) sync() {
	f.deliver.Lock()
	defer f.deliver.Unlock()
	f.mu.Lock()
	p, want, applied := f.p, f.want, f.applied
	f.mu.Unlock()
	if p == nil || want == applied {
		return
	}
	if want {
		p.PauseProducing()
	} else {
		p.ResumeProducing()
	}
	f.mu.Lock()
	if f.p == p {
		f.applied = want
	}
	f.mu.Unlock()
}
