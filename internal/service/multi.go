package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Child is one named service of a Multi with the environment it starts in.
type Child struct {
	Name    string
	Service Service
	Env     *Env
}

// Multi is an ordered set of services: Start starts them in order and, if
// one fails, stops the ones already started in reverse order; Stop stops
// them in reverse order. The zero value is an empty set.
type Multi struct {
	mu      sync.Mutex
	started []Child
}

// StartError reports which service failed to start.
type StartError struct {
	Service string
	Err     error
}

func (e *StartError) Error() string { return fmt.Sprintf("service %q: %v", e.Service, e.Err) }

func (e *StartError) Unwrap() error { return e.Err }

// Start starts children in order. On the first failure it stops the ones
// already started (in reverse, bounded by ctx) and returns a *StartError
// naming the failed child; nothing is left running.
func (m *Multi) Start(ctx context.Context, children []Child) error {
	for _, c := range children {
		if err := c.Service.Start(ctx, c.Env); err != nil {
			_ = m.Stop(ctx)
			return &StartError{Service: c.Name, Err: err}
		}
		m.mu.Lock()
		m.started = append(m.started, c)
		m.mu.Unlock()
	}
	return nil
}

// Stop stops every started child in reverse order, each within ctx. It goes
// on past failures and returns them all joined.
func (m *Multi) Stop(ctx context.Context) error {
	m.mu.Lock()
	started := m.started
	m.started = nil
	m.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		c := started[i]
		if err := c.Service.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Children returns the started children in start order.
func (m *Multi) Children() []Child {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Child(nil), m.started...)
}
