package reactor

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// connSet tracks a server's open connections so a stop can drain them:
// wait until the last one closes, or abort the rest when time is up.
type connSet[C interface {
	comparable
	Abort()
}] struct {
	mu      sync.Mutex
	conns   map[C]struct{}
	drained chan struct{} // closed once stopping and empty
	stop    bool
}

func newConnSet[C interface {
	comparable
	Abort()
}]() *connSet[C] {
	return &connSet[C]{conns: make(map[C]struct{}), drained: make(chan struct{})}
}

// add counts c in; it reports false once stopping (c is then not counted).
func (s *connSet[C]) add(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// remove counts c out.
func (s *connSet[C]) remove(c C) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.stop && len(s.conns) == 0 {
		closeOnce(s.drained)
	}
}

// drain stops taking connections and waits for the open ones to close
// until ctx ends; then it aborts them, waits for them to be gone and
// returns ctx.Err().
func (s *connSet[C]) drain(ctx context.Context, log *zap.Logger) error {
	s.mu.Lock()
	s.stop = true
	if len(s.conns) == 0 {
		closeOnce(s.drained)
	}
	s.mu.Unlock()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.Abort()
	}
	s.mu.Unlock()
	log.Warn("drain timed out; closed open connections", zap.Int("connections", n))
	<-s.drained
	return ctx.Err()
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}
