package reactor

import (
	"os"
	"sync"
	"syscall"
)

// signals is the process's signals as the serve loop takes them: nothing
// is dropped however many arrive while the loop is busy (a slow reload),
// repeated reloads and reopens coalesce into one each, and a stop signal
// is taken before any of them.
type signals struct {
	mu      sync.Mutex
	stops   []os.Signal // SIGTERM and SIGINT, in arrival order
	hup     bool
	usr1    bool
	usr2    bool
	pending chan struct{} // one token while anything is pending
}

// newSignals drains in into a signals in the background until in closes.
func newSignals(in <-chan os.Signal) *signals {
	q := &signals{pending: make(chan struct{}, 1)}
	go func() {
		for s := range in {
			q.push(s)
		}
	}()
	return q
}

func (q *signals) push(s os.Signal) {
	q.mu.Lock()
	switch s {
	case syscall.SIGHUP:
		q.hup = true
	case syscall.SIGUSR1:
		q.usr1 = true
	case syscall.SIGUSR2:
		q.usr2 = true
	default:
		q.stops = append(q.stops, s)
	}
	q.mu.Unlock()
	select {
	case q.pending <- struct{}{}:
	default:
	}
}

// next takes the most urgent pending signal: a stop, then a reload, then
// an upgrade, then a reopen. ok is false when none is pending.
func (q *signals) next() (s os.Signal, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer func() {
		if len(q.stops) > 0 || q.hup || q.usr1 || q.usr2 {
			select {
			case q.pending <- struct{}{}:
			default:
			}
		}
	}()
	switch {
	case len(q.stops) > 0:
		s, q.stops = q.stops[0], q.stops[1:]
		return s, true
	case q.hup:
		q.hup = false
		return syscall.SIGHUP, true
	case q.usr2:
		q.usr2 = false
		return syscall.SIGUSR2, true
	case q.usr1:
		q.usr1 = false
		return syscall.SIGUSR1, true
	}
	return nil, false
}

// nextStop takes a pending stop signal, leaving the others pending.
func (q *signals) nextStop() (s os.Signal, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.stops) == 0 {
		return nil, false
	}
	s, q.stops = q.stops[0], q.stops[1:]
	return s, true
}
