package reactor

import (
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// gtimer is a CallLater of a goroutine-driven connection: a time.Timer
// whose function takes the connection's callback lock, so it runs
// serialised with the protocol's callbacks. Each arming gets its own
// time.Timer and generation, so a firing that lost the race with a Stop or
// Reset (it waits for the callback lock while a callback stops it) sees it
// is stale and does nothing.
type gtimer struct {
	c *conn
	f func()
	// Under c.timerMu:
	t       *time.Timer
	gen     uint64
	pending bool
}

// CallLater implements protocol.Transport.
func (c *conn) CallLater(d time.Duration, f func()) protocol.Timer {
	g := &gtimer{c: c, f: f}
	g.Reset(d)
	return g
}

// Reset implements protocol.Timer.
func (g *gtimer) Reset(d time.Duration) bool {
	c := g.c
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.timersDone {
		return false
	}
	was := g.pending
	if g.t != nil {
		g.t.Stop()
	}
	g.gen++
	gen := g.gen
	g.pending = true
	if c.timers == nil {
		c.timers = make(map[*gtimer]struct{})
	}
	c.timers[g] = struct{}{}
	g.t = time.AfterFunc(max(d, 0), func() { g.fire(gen) })
	return was
}

// Stop implements protocol.Timer.
func (g *gtimer) Stop() bool {
	c := g.c
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if !g.pending {
		return false
	}
	g.pending = false
	g.t.Stop()
	delete(c.timers, g)
	return true
}

// fire runs the call under the callback lock, unless it was stopped,
// re-armed, or the connection lost meanwhile.
func (g *gtimer) fire(gen uint64) {
	c := g.c
	c.callMu.Lock()
	defer c.callMu.Unlock()
	c.timerMu.Lock()
	if c.timersDone || !g.pending || g.gen != gen {
		c.timerMu.Unlock()
		return
	}
	g.pending = false
	delete(c.timers, g)
	c.timerMu.Unlock()
	c.s.safely(c, "in a timer", g.f)
}

// stopTimers stops every pending call for good; it runs under the
// callback lock, just before ConnectionLost.
func (c *conn) stopTimers() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	c.timersDone = true
	for g := range c.timers {
		g.pending = false
		g.t.Stop()
	}
	c.timers = nil
}
