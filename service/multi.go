package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Child is one named service of a Multi with the environment it starts in.
// Children are told apart by Name and Service, so Service must be a
// comparable value (a pointer, as every service is).
type Child struct {
	Name    string
	Service Service
	Env     *Env
}

// Multi is an ordered set of running services, Twisted's MultiService:
// Start starts children in order and, if one fails, stops the ones it
// started in reverse; Stop stops them all in reverse; Replace moves the
// set to another one the same way a reload does. The zero value is an
// empty set.
type Multi struct {
	// life serializes Start, Replace and Stop; mu guards children only,
	// so Children never waits for a slow start.
	life     sync.Mutex
	mu       sync.Mutex
	children []Child // started, in start order
}

// StartError reports which service failed to start.
type StartError struct {
	Service string
	Err     error
}

func (e *StartError) Error() string { return fmt.Sprintf("service %q: %v", e.Service, e.Err) }

func (e *StartError) Unwrap() error { return e.Err }

// Start starts children in order and adds them to the set. On the first
// failure it stops the ones it started (in reverse, bounded by ctx) and
// returns a *StartError naming the failed child; the set is left as it
// was.
func (m *Multi) Start(ctx context.Context, children []Child) error {
	m.life.Lock()
	defer m.life.Unlock()
	if err := startAll(ctx, children); err != nil {
		return err
	}
	m.mu.Lock()
	m.children = append(m.children, children...)
	m.mu.Unlock()
	return nil
}

// Replace makes next the set: the children of next that are not in the
// set start, in order, and the set's children that are not in next are
// returned, still running and in start order, for the caller to stop with
// StopAll when it suits it (a reload drains them in the background). If
// one fails to start, the ones started are stopped again, the set is left
// as it was and the error is a *StartError.
func (m *Multi) Replace(ctx context.Context, next []Child) (gone []Child, err error) {
	m.life.Lock()
	defer m.life.Unlock()
	current := m.Children()
	var fresh []Child
	for _, c := range next {
		if !contains(current, c) {
			fresh = append(fresh, c)
		}
	}
	if err := startAll(ctx, fresh); err != nil {
		return nil, err
	}
	for _, c := range current {
		if !contains(next, c) {
			gone = append(gone, c)
		}
	}
	m.mu.Lock()
	m.children = append([]Child(nil), next...)
	m.mu.Unlock()
	return gone, nil
}

// Stop stops every child in reverse order, each within ctx, and empties
// the set. It goes on past failures and returns them all joined.
func (m *Multi) Stop(ctx context.Context) error {
	m.life.Lock()
	defer m.life.Unlock()
	m.mu.Lock()
	children := m.children
	m.children = nil
	m.mu.Unlock()
	return StopAll(ctx, children)
}

// Children returns the set's children in start order.
func (m *Multi) Children() []Child {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Child(nil), m.children...)
}

// StopAll stops children in reverse order, each within ctx. It goes on
// past failures and returns them all joined.
func StopAll(ctx context.Context, children []Child) error {
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		if err := c.Service.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// startAll starts children in order; on a failure it stops the ones it
// started, in reverse, and names the one that failed.
func startAll(ctx context.Context, children []Child) error {
	for i, c := range children {
		if err := c.Service.Start(ctx, c.Env); err != nil {
			_ = StopAll(ctx, children[:i])
			return &StartError{Service: c.Name, Err: err}
		}
	}
	return nil
}

func contains(children []Child, c Child) bool {
	for _, x := range children {
		if x.Name == c.Name && x.Service == c.Service {
			return true
		}
	}
	return false
}
