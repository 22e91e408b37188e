package policy

import (
	"sync"
	"sync/atomic"
	"time"
)

// idleTicks is how many samples make up one idle period.
const idleTicks = 4

// idleWatch closes a connection that moved no byte for a whole idle period
// (Twisted's TimeoutMixin). The hot path only bumps a counter — no clock
// read — and a timer samples it idleTicks times a period, so a connection
// closes between IdleTimeout and 1¼ × IdleTimeout after its last byte.
type idleWatch struct {
	act    atomic.Uint32
	seen   uint32
	quiet  int
	tick   time.Duration
	onIdle func()
	busy   func() bool // optional: work in progress that is not idleness

	mu    sync.Mutex // the timer may fire before AfterFunc has returned
	timer *time.Timer
}

func newIdleWatch(d time.Duration, onIdle func(), busy func() bool) *idleWatch {
	w := &idleWatch{tick: max(d/idleTicks, time.Millisecond), onIdle: onIdle, busy: busy}
	w.mu.Lock()
	w.timer = time.AfterFunc(w.tick, w.check)
	w.mu.Unlock()
	return w
}

// touch records activity; a nil watch (no idle timeout) does nothing.
func (w *idleWatch) touch() {
	if w != nil {
		w.act.Add(1)
	}
}

func (w *idleWatch) check() {
	if a := w.act.Load(); a != w.seen || (w.busy != nil && w.busy()) {
		w.seen, w.quiet = a, 0
	} else if w.quiet++; w.quiet >= idleTicks {
		w.onIdle()
		return
	}
	w.mu.Lock()
	w.timer.Reset(w.tick)
	w.mu.Unlock()
}

func (w *idleWatch) stop() {
	if w != nil {
		w.mu.Lock()
		w.timer.Stop()
		w.mu.Unlock()
	}
}
