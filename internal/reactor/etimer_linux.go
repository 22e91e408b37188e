package reactor

import (
	"container/heap"
	"time"

	"github.com/twistd-go/twistd/protocol"
)

// etimer is a CallLater of a loop-driven connection. Pending timers sit
// in their loop's heap, under the loop's lock; the loop sleeps until the
// earliest is due (no timer, no time limit: an idle loop stays asleep)
// and runs it on its own goroutine, like any callback of the connection.
type etimer struct {
	timerItem
	c *econn
	f func()
}

func (t *etimer) item() *timerItem { return &t.timerItem }

// CallLater implements protocol.Transport.
func (c *econn) CallLater(d time.Duration, f func()) protocol.Timer {
	t := &etimer{c: c, f: f, timerItem: timerItem{i: -1}}
	t.Reset(d)
	return t
}

// Reset implements protocol.Timer.
func (t *etimer) Reset(d time.Duration) bool {
	l := t.c.loop
	l.mu.Lock()
	if t.c.timersDone {
		l.mu.Unlock()
		return false
	}
	was := t.i >= 0
	l.timerSeq++
	t.when, t.seq = time.Now().Add(max(d, 0)), l.timerSeq
	if was {
		heap.Fix(&l.timers, t.i)
	} else {
		heap.Push(&l.timers, t)
		if t.c.timers == nil {
			t.c.timers = make(map[*etimer]struct{})
		}
		t.c.timers[t] = struct{}{}
		l.ntimers.Add(1)
	}
	earliest := l.timers[0] == t
	l.mu.Unlock()
	if earliest {
		// Only wakes a sleeping loop (another goroutine's call): the loop
		// itself looks at the heap before it sleeps.
		l.wake()
	}
	return was
}

// Stop implements protocol.Timer.
func (t *etimer) Stop() bool {
	l := t.c.loop
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.i < 0 {
		return false
	}
	l.removeTimerLocked(t)
	return true
}

func (l *loop) removeTimerLocked(t *etimer) {
	heap.Remove(&l.timers, t.i)
	delete(t.c.timers, t)
	l.ntimers.Add(-1)
}

// stopTimers stops c's pending timers for good; it runs on the loop just
// before ConnectionLost.
func (l *loop) stopTimers(c *econn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.timersDone = true
	for t := range c.timers {
		l.removeTimerLocked(t)
	}
	c.timers = nil
}

// timeoutLocked is how long the loop may sleep for its timers, in
// epoll_wait's milliseconds (rounded up, so a timer is never run early):
// -1 without a timer, 0 when one is due. l.mu is held.
func (l *loop) timeoutLocked() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := time.Until(l.timers[0].when)
	if d <= 0 {
		return 0
	}
	return int(min((d+time.Millisecond-1)/time.Millisecond, 1<<30))
}

// runTimers runs the timers due, one at a time: each may stop another.
func (l *loop) runTimers() {
	if l.ntimers.Load() == 0 {
		return
	}
	now := time.Now()
	for range maxTimersPerTurn {
		l.mu.Lock()
		if len(l.timers) == 0 || l.timers[0].when.After(now) {
			l.mu.Unlock()
			return
		}
		t := heap.Pop(&l.timers).(*etimer)
		delete(t.c.timers, t)
		l.ntimers.Add(-1)
		l.mu.Unlock()
		l.call(t.c, "in a timer", t.f)
	}
}
