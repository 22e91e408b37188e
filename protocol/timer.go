package protocol

import (
	"errors"
	"sync"
	"time"
)

// Timer is a call scheduled by Transport.CallLater (Twisted's
// DelayedCall). Its methods are safe to call from any goroutine, the
// connection's callbacks included.
type Timer interface {
	// Stop cancels the call. It reports whether it did: false when the
	// call already ran (or is running), was stopped, or the connection is
	// lost. Called from one of the connection's callbacks, a true Stop
	// means the call will not run.
	Stop() bool
	// Reset schedules the call d from now, whether it is pending, has run
	// or was stopped; it reports whether the call was pending. After the
	// connection is lost it does nothing and returns false.
	Reset(d time.Duration) bool
}

// Clock is implemented by transports that keep their own time, as test
// transports with a simulated clock do; LoopingCall reads the time from
// there when it can, and from time.Now otherwise.
type Clock interface {
	Now() time.Time
}

// LoopingCall calls a function every interval on one connection, through
// its Transport's CallLater (Twisted's task.LoopingCall): serialised with
// the protocol's callbacks, so the function needs no lock, and stopped for
// good when the connection is lost. It keeps a fixed rate: the calls are
// due at start + n×interval, and an interval missed because the
// connection was busy is skipped rather than bunched up.
//
// Its methods may be called from any goroutine; typically Start is
// called from ConnectionMade and Stop from a callback.
type LoopingCall struct {
	t Transport
	f func()

	mu       sync.Mutex
	timer    Timer
	running  bool
	gen      uint64 // counts Starts and Stops: a tick of an older one ends
	interval time.Duration
	start    time.Time
}

// ErrBadInterval is returned by LoopingCall.Start for an interval that is
// not positive.
var ErrBadInterval = errors.New("looping call: interval must be positive")

// NewLoopingCall returns a LoopingCall of f on the connection of t, not
// yet started.
func NewLoopingCall(t Transport, f func()) *LoopingCall {
	return &LoopingCall{t: t, f: f}
}

// Start calls f every interval from now on. With now, the first call is
// as soon as the current callback returns; otherwise after one interval.
// Starting a running LoopingCall starts it again with the new interval.
func (l *LoopingCall) Start(interval time.Duration, now bool) error {
	if interval <= 0 {
		return ErrBadInterval
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopLocked()
	l.running, l.interval, l.start = true, interval, l.now()
	gen := l.gen
	first := interval
	if now {
		first = 0
	}
	l.timer = l.t.CallLater(first, func() { l.tick(gen) })
	return nil
}

// Stop stops the calls; a call already running finishes.
func (l *LoopingCall) Stop() {
	l.mu.Lock()
	l.stopLocked()
	l.mu.Unlock()
}

// Running reports whether the LoopingCall is started and not stopped.
func (l *LoopingCall) Running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

func (l *LoopingCall) stopLocked() {
	l.gen++
	l.running = false
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

func (l *LoopingCall) tick(gen uint64) {
	l.mu.Lock()
	if gen != l.gen {
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.f() // without the lock: f may Stop or Start
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return
	}
	// The next call is due at the first start + n×interval still ahead.
	elapsed := l.now().Sub(l.start)
	next := (elapsed/l.interval + 1) * l.interval
	l.timer.Reset(next - elapsed)
}

func (l *LoopingCall) now() time.Time {
	if c, ok := l.t.(Clock); ok {
		return c.Now()
	}
	return time.Now()
}
