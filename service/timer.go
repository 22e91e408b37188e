package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Timer is a Service that calls Func every Interval while it runs,
// Twisted's TimerService: first at Start (in the background; Start does
// not wait for it), then once per Interval. A run that outlasts Interval
// delays the next; missed runs are dropped, never stacked, and runs never
// overlap. An error or panic from Func is logged and the timer goes on
// (Twisted's stops); a job that must not go on reports it with Env.Fail.
//
// Stop lets a run in progress finish until its ctx is done, then cancels
// the context Func was given and returns ctx.Err() without waiting
// longer. Set the fields before Start; a Timer runs once.
type Timer struct {
	Interval time.Duration
	Func     func(ctx context.Context) error

	mu      sync.Mutex
	started bool
	stop    chan struct{} // closed by Stop
	done    chan struct{} // closed when the loop has returned
	cancel  context.CancelFunc
}

// Start runs Func now and then every Interval.
func (t *Timer) Start(_ context.Context, env *Env) error {
	switch {
	case t.Func == nil:
		return errors.New("timer: no Func")
	case t.Interval <= 0:
		return fmt.Errorf("timer: interval %v is not positive", t.Interval)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("timer: started twice")
	}
	t.started = true
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.stop, t.done, t.cancel = make(chan struct{}), make(chan struct{}), cancel
	go t.loop(ctx, log)
	return nil
}

func (t *Timer) loop(ctx context.Context, log *zap.Logger) {
	defer close(t.done)
	tick := time.NewTicker(t.Interval)
	defer tick.Stop()
	for {
		t.run(ctx, log)
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		select { // a Stop that came with a tick wins
		case <-t.stop:
			return
		default:
		}
	}
}

// run calls Func once, logging what goes wrong.
func (t *Timer) run(ctx context.Context, log *zap.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("timer function panicked", zap.String("panic", fmt.Sprint(r)), zap.ByteString("stack", debug.Stack()))
		}
	}()
	if err := t.Func(ctx); err != nil {
		log.Warn("timer function failed", zap.Duration("interval", t.Interval), zap.Error(err))
	}
}

// Stop ends the timer, waiting for a run in progress until ctx is done.
func (t *Timer) Stop(ctx context.Context) error {
	t.mu.Lock()
	if !t.started {
		t.mu.Unlock()
		return nil
	}
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.mu.Unlock()
	select {
	case <-t.done:
		t.cancel()
		return nil
	case <-ctx.Done():
		t.cancel()
		return ctx.Err()
	}
}

var _ Service = (*Timer)(nil)
