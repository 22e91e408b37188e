// Package reactor runs services and protocols outside the twistd
// command line — in a program of your own, a script or a test — on the
// same event loops twistd serves them on (Twisted's reactor.run()).
//
// Start binds each service's endpoints, starts the services in order and
// returns once all of them serve; Stop drains them in reverse order. Run
// does both around a context:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
//	defer stop()
//	err := reactor.Run(ctx, reactor.Options{Logger: logger}, reactor.Service{
//		Name:    "echo",
//		Listen:  []endpoint.Endpoint{ep}, // endpoint.Parse("tcp:8000")
//		Service: &service.Protocols{Stream: echoFactory},
//	})
//
// A reactor started here takes none of the process's signals, pidfile or
// privileges: that is the twistd command line's business (package twistd).
package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/twistd-go/twistd/endpoint"
	"github.com/twistd-go/twistd/internal/reactor"
	"github.com/twistd-go/twistd/service"
)

// The reactors: how stream connections are driven (twistd's -r).
const (
	// Epoll drives plain TCP and unix connections on event loops, with no
	// goroutine and no buffer per idle connection (Linux only, its
	// default).
	Epoll = "epoll"
	// Goroutines drives every connection with a reader and a writer
	// goroutine on Go's own poller: the portable reactor.
	Goroutines = "goroutines"
)

// Names lists the reactors of this build, the default first.
func Names() []string {
	var names []string
	for _, r := range reactor.Reactors() {
		names = append(names, r.Name)
	}
	return names
}

// DefaultShutdownTimeout is how long Stop lets services drain when
// Options.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// Options configure a reactor. The zero value is ready to use.
type Options struct {
	// Logger receives the reactor's log and, named after each service,
	// the services' (Env.Logger); nil discards them.
	Logger *zap.Logger
	// Reactor is Epoll or Goroutines (see Names); empty means the
	// default of the system.
	Reactor string
	// ShutdownTimeout bounds the drain of Stop and Run; then what is
	// left is closed. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// CPUs is how many event loops the epoll reactor runs, and what
	// services learn from Env.CPUs. A busy loop keeps its P, so zero
	// means half of GOMAXPROCS (at least one): the other half stays free
	// for goroutines (timers, TLS connections, your own).
	CPUs int
}

// Service is one service to run and the endpoints bound for it before it
// starts: they are its Env.Listeners, in this order.
type Service struct {
	// Name names the service in logs and errors, and for Addrs; each
	// service of a reactor needs its own.
	Name string
	// Listen are the endpoints to bind (endpoint.Parse); none for a
	// service that only dials out or runs timers.
	Listen []endpoint.Endpoint
	// Service is what runs: its Start receives the Env.
	Service service.Service
}

// Reactor is a running set of services, from Start.
type Reactor struct {
	r      *reactor.Reactor
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Start binds every service's endpoints, starts the services in order
// and returns once every one of them serves. If a bind or a Start fails,
// the services already started are stopped, every socket is released and
// the error is returned. ctx bounds the start only; the reactor runs
// until Stop, or until a service fails (Env.Fail), which stops the rest:
// Done is then closed and Err says why.
func Start(ctx context.Context, opts Options, services ...Service) (*Reactor, error) {
	if opts.Reactor != "" {
		if err := reactor.CheckReactor(opts.Reactor); err != nil {
			return nil, err
		}
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.CPUs <= 0 {
		opts.CPUs = max(1, runtime.GOMAXPROCS(0)/2)
	}
	specs := make([]reactor.Spec, len(services))
	seen := map[string]bool{}
	for i, s := range services {
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("service %d: no name", i+1)
		case seen[s.Name]:
			return nil, fmt.Errorf("service %q: named twice", s.Name)
		case s.Service == nil:
			return nil, fmt.Errorf("service %q: no Service", s.Name)
		}
		seen[s.Name] = true
		specs[i] = reactor.Spec{Name: s.Name, Type: s.Name, Pos: "reactor.Start",
			Listen: s.Listen, Service: s.Service}
	}

	ready := make(chan struct{})
	r := reactor.New(reactor.Options{
		Logger:          opts.Logger,
		ShutdownTimeout: opts.ShutdownTimeout,
		Reactor:         opts.Reactor,
		CPUs:            opts.CPUs,
		// Not the process's signals: a channel nothing sends on.
		Signals: make(chan os.Signal),
		Hooks:   reactor.Hooks{Ready: func() { close(ready) }},
	})
	runCtx, cancel := context.WithCancel(context.Background())
	rr := &Reactor{r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rr.done)
		rr.err = r.Run(runCtx, specs)
	}()
	select {
	case <-ready:
		return rr, nil
	case <-rr.done:
		cancel()
		return nil, rr.err
	case <-ctx.Done():
		cancel()
		<-rr.done
		return nil, fmt.Errorf("starting services: %w", ctx.Err())
	}
}

// Addrs returns the real addresses of the named service's sockets, in
// the order of its Listen (a port-0 endpoint's port filled in), or nil
// when no service has that name.
func (r *Reactor) Addrs(name string) []net.Addr {
	for _, s := range r.r.Services() {
		if s.Name == name {
			return s.Addrs
		}
	}
	return nil
}

// Stop stops the services in reverse order, each draining within
// Options.ShutdownTimeout, releases every socket and returns Err. It is
// safe to call more than once, and after the reactor stopped itself.
func (r *Reactor) Stop() error {
	r.cancel()
	<-r.done
	return r.Err()
}

// Done is closed once the reactor has stopped: after Stop, or after a
// failed service stopped it.
func (r *Reactor) Done() <-chan struct{} { return r.done }

// Err is nil while the reactor runs and after a clean Stop; after a
// service failed, it names the service and its failure.
func (r *Reactor) Err() error {
	select {
	case <-r.done:
	default:
		return nil
	}
	if errors.Is(r.err, context.Canceled) {
		return nil
	}
	return r.err
}

// Run starts services as Start does and runs them until ctx is done,
// then stops them as Stop does. It returns nil after a clean stop, or
// the error of the start or of a service that failed.
func Run(ctx context.Context, opts Options, services ...Service) error {
	r, err := Start(ctx, opts, services...)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-r.Done():
	}
	return r.Stop()
}
