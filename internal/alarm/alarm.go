// Package alarm wakes the goroutines waiting on a sync.Cond when the
// nearest of some deadlines comes: the deadlines of a net.Conn written
// over a Protocol's callbacks (protocol.Conn, httpconn's connections).
package alarm

import (
	"sync"
	"time"
)

// Alarm broadcasts on a Cond at a deadline. Its methods are called with
// the Cond's lock held; the zero value is not usable: Init it first.
type Alarm struct {
	cond  *sync.Cond
	timer *time.Timer
}

// Init ties a to cond.
func (a *Alarm) Init(cond *sync.Cond) { a.cond = cond }

// SetLocked wakes the waiters now — a deadline may have moved into the
// past — and again at the earliest of deadlines that is not zero; with
// none, no later wake-up is pending.
func (a *Alarm) SetLocked(deadlines ...time.Time) {
	a.cond.Broadcast()
	var next time.Time
	for _, t := range deadlines {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		a.StopLocked()
		return
	}
	d := time.Until(next)
	if d <= 0 {
		a.StopLocked() // woken just now, and the waiters see it has passed
		return
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(d, a.wake)
		return
	}
	a.timer.Reset(d)
}

// StopLocked cancels the pending wake-up, if any.
func (a *Alarm) StopLocked() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

func (a *Alarm) wake() {
	a.cond.L.Lock()
	a.cond.Broadcast()
	a.cond.L.Unlock()
}
