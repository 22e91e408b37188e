package reactor

import (
	"container/heap"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// gtimer is a CallLater of a goroutine-driven connection. A connection's
// pending timers sit in its own heap, under c.timerMu, with one
// time.Timer armed for the earliest; when it fires, the due timers run in
// order under the callback lock, serialised with the protocol's
// callbacks.
type gtimer struct {
	timerItem
	c *conn
	f func()
}

func (g *gtimer) item() *timerItem { return &g.timerItem }

// CallLater implements protocol.Transport.
func (c *conn) CallLater(d time.Duration, f func()) protocol.Timer {
	g := &gtimer{c: c, f: f, timerItem: timerItem{i: -1}}
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
	was := g.i >= 0
	c.timerSeq++
	g.when, g.seq = time.Now().Add(max(d, 0)), c.timerSeq
	if was {
		heap.Fix(&c.timers, g.i)
	} else {
		heap.Push(&c.timers, g)
	}
	if c.timers[0] == g {
		c.armLocked(time.Until(g.when))
	}
	return was
}

// Stop implements protocol.Timer. The time.Timer stays armed: when it
// fires it finds nothing due and arms itself for the next timer.
func (g *gtimer) Stop() bool {
	c := g.c
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if g.i < 0 {
		return false
	}
	heap.Remove(&c.timers, g.i)
	return true
}

// armLocked makes the connection's time.Timer fire in d.
func (c *conn) armLocked(d time.Duration) {
	if c.timerWake == nil {
		c.timerWake = time.AfterFunc(max(d, 0), c.runTimers)
		return
	}
	c.timerWake.Reset(max(d, 0))
}

// runTimers runs the timers due, earliest first, under the callback lock.
func (c *conn) runTimers() {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	now := time.Now()
	for range maxTimersPerTurn {
		c.timerMu.Lock()
		if c.timersDone || len(c.timers) == 0 {
			c.timerMu.Unlock()
			return
		}
		if g := c.timers[0]; g.when.After(now) {
			c.armLocked(time.Until(g.when))
			c.timerMu.Unlock()
			return
		}
		g := heap.Pop(&c.timers).(*gtimer)
		c.timerMu.Unlock()
		if !c.s.safely(c, "in a timer", g.f) {
			return
		}
	}
	c.timerMu.Lock()
	if !c.timersDone && len(c.timers) > 0 {
		c.armLocked(0) // more are due: after the connection's I/O had a turn
	}
	c.timerMu.Unlock()
}

// stopTimers stops every pending call for good; it runs under the
// callback lock, just before ConnectionLost.
func (c *conn) stopTimers() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	c.timersDone = true
	for _, g := range c.timers {
		g.i = -1
	}
	c.timers = nil
	if c.timerWake != nil {
		c.timerWake.Stop()
	}
}
