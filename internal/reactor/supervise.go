package reactor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/service"
)

// ErrServiceFailed is wrapped by the error Run returns when a service
// whose on_failure is exit failed after it started: the process drained
// the others and stopped, and should exit 1.
var ErrServiceFailed = errors.New("service failed")

// Backoff is how long the reactor waits before restarting a failed
// service: Initial after the first failure, doubling with each failure
// after that up to Max; a service that stayed up for Reset since its last
// start begins again at Initial (suture and systemd's Restart=on-failure
// behave alike; the numbers are smaller than Twisted procmon's).
type Backoff struct {
	Initial, Max, Reset time.Duration
}

// DefaultBackoff is 1s doubling to 30s, reset after 30s up.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, Reset: 30 * time.Second}

// next returns the delay before the restart that follows a failure, given
// the delay used last (0 for none) and how long the service was up.
func (b Backoff) next(last, up time.Duration) time.Duration {
	if last == 0 || up >= b.Reset {
		return b.Initial
	}
	return min(2*last, b.Max)
}

// health is a service's supervision record. It outlives the service's
// instances: a restarted instance shares its predecessor's.
type health struct {
	mu       sync.Mutex
	failed   bool  // between a failure and the restart that replaces it
	err      error // the last failure
	failures int64
	restarts int64
	delay    time.Duration // the delay before the last restart
	since    time.Time     // when the current instance started
}

// snapshot returns what /status shows.
func (h *health) snapshot() (failed bool, errText string, failures, restarts int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		errText = h.err.Error()
	}
	return h.failed, errText, h.failures, h.restarts
}

// event is a failed instance for the serve loop: to stop the process for
// (exit) or to restart now (its backoff is over).
type event struct {
	rn   *running
	exit bool
}

// events is the queue from failures and restart timers to the serve loop.
type events struct {
	mu    sync.Mutex
	queue []event
	ready chan struct{} // one token while the queue is not empty
}

func (e *events) push(ev event) {
	e.mu.Lock()
	e.queue = append(e.queue, ev)
	e.mu.Unlock()
	select {
	case e.ready <- struct{}{}:
	default:
	}
}

func (e *events) take() []event {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queue
	e.queue = nil
	return q
}

// fail is an instance's Env.Fail: it marks the service failed, counts
// and logs the failure once, forgets the sockets found dead, and has the
// serve loop stop the process or restart the service after its backoff.
func (r *Reactor) fail(rn *running, err error) {
	if err == nil {
		err = errors.New("failed without saying why")
	}
	if r.State() == Stopping {
		return // the stop is tearing everything down anyway
	}
	h := rn.health
	h.mu.Lock()
	if rn.failed {
		h.mu.Unlock()
		return // one report per instance
	}
	rn.failed = true
	h.failed, h.err = true, err
	h.failures++
	delay := r.backoff.next(h.delay, time.Since(h.since))
	h.delay = delay
	h.mu.Unlock()

	fields := []zap.Field{zap.Error(err)}
	var se *service.SocketError
	if errors.As(err, &se) {
		fields = append(fields, zap.String("endpoint", se.Endpoint.String()))
		if se.Addr != nil {
			fields = append(fields, zap.String("addr", se.Addr.String()))
		}
	}
	r.opts.Metrics.ServiceFailures.WithLabelValues(rn.spec.Name).Inc()
	if rn.spec.ExitOnFailure || rn.spec.New == nil {
		rn.env.Logger.Error("service failed; stopping the process (on_failure: exit)", fields...)
		r.events.push(event{rn: rn, exit: true})
		return
	}
	rn.env.Logger.Error("service failed; restarting in "+delay.String()+" (on_failure: restart)", fields...)
	time.AfterFunc(delay, func() { r.events.push(event{rn: rn}) })
}

// restart replaces a failed instance with a fresh one, on the serve loop
// (so never beside a reload). The old instance stops accepting at once
// and drains in the background; the new one binds the endpoints whose
// sockets died and shares the others. If the new one fails to start, it
// is retried after the next backoff.
func (r *Reactor) restart(ctx context.Context, rn *running) {
	if !r.isCurrent(rn) || r.State() == Stopping {
		return // a reload replaced or removed it meanwhile
	}
	if !rn.stopped {
		rn.stopped = true
		rn.accepting.stopAccepting()
		// The sockets reported dead go now (no loop watches them any
		// more), so their endpoints are bound anew below; the healthy ones
		// pass to the new instance.
		h := rn.health
		h.mu.Lock()
		err := h.err
		h.mu.Unlock()
		var se *service.SocketError
		if errors.As(err, &se) {
			for _, l := range rn.env.Listeners {
				if l.Endpoint != se.Endpoint {
					continue
				}
				if l.Stream != nil {
					r.pool.Discard(l.Stream)
				} else {
					r.pool.Discard(l.Packet)
				}
			}
		}
		r.draining.Add(1)
		go func() {
			defer r.draining.Done()
			ctx, cancel := context.WithTimeout(context.Background(), r.opts.ShutdownTimeout)
			defer cancel()
			_ = rn.Stop(ctx)
		}()
	}
	nrn, err := r.renew(ctx, rn)
	h := rn.health
	if err != nil {
		h.mu.Lock()
		h.err = err
		h.failures++
		delay := r.backoff.next(h.delay, 0)
		h.delay = delay
		h.mu.Unlock()
		r.opts.Metrics.ServiceFailures.WithLabelValues(rn.spec.Name).Inc()
		rn.env.Logger.Error("restart failed; retrying in "+delay.String(), zap.Error(err))
		time.AfterFunc(delay, func() { r.events.push(event{rn: rn}) })
		return
	}
	h.mu.Lock()
	h.failed = false
	h.restarts++
	h.since = time.Now()
	h.mu.Unlock()
	r.opts.Metrics.ServiceRestarts.WithLabelValues(rn.spec.Name).Inc()
	nrn.env.Logger.Info("service restarted")
}

// renew binds and starts a fresh instance of rn's service on rn's ports,
// in rn's place in the tree.
func (r *Reactor) renew(ctx context.Context, rn *running) (*running, error) {
	svc, err := rn.spec.New()
	if err != nil {
		return nil, fmt.Errorf("%s: service %q: %w", rn.spec.Pos, rn.spec.Name, err)
	}
	nrn, err := r.prepareOne(rn.spec, svc, takeOverPorts(rn.spec.Listen, rn))
	if err != nil {
		return nil, err
	}
	nrn.health = rn.health
	next := r.running()
	for i, c := range next {
		if c == rn {
			next[i] = nrn
		}
	}
	// rn is stopping already: what Replace hands back is not stopped again.
	if _, err := r.tree.Replace(ctx, children(next)); err != nil {
		return nil, r.startErr([]*running{nrn}, err)
	}
	return nrn, nil
}

// Failed reports whether any service is failed now (and not yet restarted):
// the process is not ready while one is.
func (r *Reactor) Failed() bool {
	for _, rn := range r.running() {
		if failed, _, _, _ := rn.health.snapshot(); failed {
			return true
		}
	}
	return false
}
